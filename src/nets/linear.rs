//! Deep linear networks `f(x) = W_L ⋯ W_1 x` (no biases), docs/METHODS.md §2.
//!
//! `W_ℓ` is `m_ℓ × m_{ℓ-1}` with `m_0 = d` and `m_L = k`. Depth in figures is the number of
//! hidden layers `h = L − 1`.

use super::init::{kaiming_normal, xavier_normal};
use crate::linalg;
use crate::seed::PointRng;
use crate::{Error, Result};
use nalgebra::DMatrix;

/// A deep linear network, weights in order `W_1, …, W_L`.
#[derive(Debug, Clone)]
pub struct DeepLinear {
    pub weights: Vec<DMatrix<f64>>,
}

/// The partial products of every layer ℓ = 1..L:
/// `P_in(ℓ) = W_{ℓ-1:1}` (m_{ℓ-1}×d, identity for ℓ = 1) and
/// `P_out(ℓ) = W_{L:ℓ+1}` (k×m_ℓ, identity for ℓ = L).
#[derive(Debug, Clone)]
pub struct PartialProducts {
    pub p_in: Vec<DMatrix<f64>>,
    pub p_out: Vec<DMatrix<f64>>,
}

impl DeepLinear {
    /// A network from its weights; consecutive shapes must chain.
    pub fn new(weights: Vec<DMatrix<f64>>) -> Result<DeepLinear> {
        if weights.is_empty() {
            return Err(Error::Input("a network needs at least one layer".into()));
        }
        for (l, pair) in weights.windows(2).enumerate() {
            if pair[1].ncols() != pair[0].nrows() {
                return Err(Error::Input(format!(
                    "layer {} is {}×{} but layer {} has {} outputs",
                    l + 2,
                    pair[1].nrows(),
                    pair[1].ncols(),
                    l + 1,
                    pair[0].nrows()
                )));
            }
        }
        Ok(DeepLinear { weights })
    }

    /// Kaiming-normal (fan-in, gain 1) network with layer sizes `dims = [d, m_1, …, k]`.
    pub fn kaiming(dims: &[usize], rng: &mut PointRng) -> DeepLinear {
        let weights = dims
            .windows(2)
            .map(|w| kaiming_normal(w[1], w[0], 1.0, rng))
            .collect();
        DeepLinear { weights }
    }

    /// Xavier-normal network (variance 2/(fan_in + fan_out)) with layer sizes `dims`.
    pub fn xavier(dims: &[usize], rng: &mut PointRng) -> DeepLinear {
        let weights = dims
            .windows(2)
            .map(|w| xavier_normal(w[1], w[0], rng))
            .collect();
        DeepLinear { weights }
    }

    /// The linear residual network with weights `W̃_ℓ = W_ℓ + β I` (rectangular identity on
    /// the first and last layer): a deep linear network in the shifted weights, so every route
    /// and bound of the deep linear case applies to it.
    pub fn residual(&self, beta: f64) -> DeepLinear {
        let weights = self
            .weights
            .iter()
            .map(|w| {
                let mut t = w.clone();
                for i in 0..w.nrows().min(w.ncols()) {
                    t[(i, i)] += beta;
                }
                t
            })
            .collect();
        DeepLinear { weights }
    }

    /// Layer sizes `[d, m_1, …, m_{L-1}, k]`.
    pub fn dims(&self) -> Vec<usize> {
        let mut dims = vec![self.weights[0].ncols()];
        dims.extend(self.weights.iter().map(|w| w.nrows()));
        dims
    }

    /// Number of parameters p = Σ_ℓ m_ℓ m_{ℓ-1}.
    pub fn num_params(&self) -> usize {
        self.weights.iter().map(|w| w.len()).sum()
    }

    /// Outputs `W_L ⋯ W_1 X` (k×n) for inputs `X` (d×n), in the cheaper of two orders (by
    /// the shapes alone): layer by layer from the input, `Σ_ℓ m_ℓ m_{ℓ−1} n` multiply-adds,
    /// or the k×d end-to-end matrix `(⋯(W_L W_{L−1})⋯) W_1` from the output side first, then
    /// times X, `Σ_{ℓ<L} k m_ℓ m_{ℓ−1} + k d n` (far less for a full data set and k ≪ m).
    pub fn forward(&self, x: &DMatrix<f64>) -> DMatrix<f64> {
        let dims = self.dims();
        let (l, k, n) = (self.weights.len(), dims[dims.len() - 1], x.ncols());
        let from_input: usize = dims.windows(2).map(|w| w[0] * w[1] * n).sum();
        let from_output: usize =
            dims[..l].windows(2).map(|w| k * w[0] * w[1]).sum::<usize>() + k * dims[0] * n;
        if from_output < from_input {
            let end_to_end = self.weights[..l - 1]
                .iter()
                .rev()
                .fold(self.weights[l - 1].clone(), |p, w| linalg::matmul(&p, w));
            return linalg::matmul(&end_to_end, x);
        }
        self.weights
            .iter()
            .fold(x.clone(), |h, w| linalg::matmul(w, &h))
    }

    /// `P_in` accumulated from the input side and `P_out` from the output side, so that no
    /// product of two m×m matrices is ever formed: cost O(L m² (d + k)).
    pub fn partial_products(&self) -> PartialProducts {
        let l = self.weights.len();
        let d = self.weights[0].ncols();
        let k = self.weights[l - 1].nrows();
        let mut p_in = Vec::with_capacity(l);
        p_in.push(DMatrix::identity(d, d));
        for w in &self.weights[..l - 1] {
            let next = linalg::matmul(w, p_in.last().expect("non-empty"));
            p_in.push(next);
        }
        let mut p_out = vec![DMatrix::identity(k, k)];
        for w in self.weights[1..].iter().rev() {
            let next = linalg::matmul(p_out.last().expect("non-empty"), w);
            p_out.push(next);
        }
        p_out.reverse();
        PartialProducts { p_in, p_out }
    }

    /// The explicit stacked Jacobian `J ∈ R^{nk×p}` (the oracle for the fast routes).
    ///
    /// Row `i·k + o` is output o of sample i; the columns run layer by layer over `vec(W_ℓ)`
    /// in column-major order, with `∂f_o(x)/∂W_ℓ[a, b] = P_out(ℓ)[o, a] · (P_in(ℓ) x)[b]`.
    pub fn jacobian(&self, x: &DMatrix<f64>) -> DMatrix<f64> {
        let pp = self.partial_products();
        let n = x.ncols();
        let k = pp.p_out[0].nrows();
        let mut j = DMatrix::zeros(n * k, self.num_params());
        let mut offset = 0;
        for (l, w) in self.weights.iter().enumerate() {
            let (rows, cols) = w.shape();
            let h = &pp.p_in[l] * x;
            for i in 0..n {
                for b in 0..cols {
                    for a in 0..rows {
                        let col = offset + a + b * rows;
                        for o in 0..k {
                            j[(i * k + o, col)] = pp.p_out[l][(o, a)] * h[(b, i)];
                        }
                    }
                }
            }
            offset += rows * cols;
        }
        j
    }

    /// Parameters as one vector in the Jacobian's column order.
    pub fn params(&self) -> Vec<f64> {
        self.weights
            .iter()
            .flat_map(|w| w.iter().copied())
            .collect()
    }

    /// A network with the same shapes and the given parameter vector.
    pub fn with_params(&self, theta: &[f64]) -> DeepLinear {
        let mut offset = 0;
        let weights = self
            .weights
            .iter()
            .map(|w| {
                let (r, c) = w.shape();
                let m = DMatrix::from_column_slice(r, c, &theta[offset..offset + r * c]);
                offset += r * c;
                m
            })
            .collect();
        DeepLinear { weights }
    }
}
