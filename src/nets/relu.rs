//! Two-layer (leaky) ReLU networks `f(x) = W σ(V x)` with `σ(z) = max(z, αz)` (docs/METHODS.md §2):
//! ReLU is α = 0, the linear network α = 1. `V` is m×d, `W` is k×m, no biases.

use super::init::kaiming_normal;
use crate::linalg;
use crate::seed::PointRng;
use nalgebra::DMatrix;

/// A two-layer leaky-ReLU network.
#[derive(Debug, Clone)]
pub struct TwoLayer {
    /// First layer, m×d.
    pub v: DMatrix<f64>,
    /// Second layer, k×m.
    pub w: DMatrix<f64>,
    /// Slope α on the negative side: α ∈ [0, 1] for leaky ReLU; a negative value −a gives the
    /// authors' `σ̃(z) = −a z` (`crate::authors::relu_tilde`).
    pub alpha: f64,
}

/// Kaiming gain of a leaky ReLU with slope α, `√(2 / (1 + α²))`: √2 for ReLU, 1 for the
/// identity (α = 1), as PyTorch's `calculate_gain("leaky_relu", α)`.
pub fn leaky_gain(alpha: f64) -> f64 {
    (2.0 / (1.0 + alpha * alpha)).sqrt()
}

impl TwoLayer {
    /// Kaiming-normal initialisation: V with the leaky-ReLU gain, W (a linear output layer)
    /// with gain 1.
    pub fn kaiming(d: usize, m: usize, k: usize, alpha: f64, rng: &mut PointRng) -> TwoLayer {
        let v = kaiming_normal(m, d, leaky_gain(alpha), rng);
        let w = kaiming_normal(k, m, 1.0, rng);
        TwoLayer { v, w, alpha }
    }

    /// `σ(z) = z` for z > 0, `αz` otherwise (`max(z, αz)` for 0 ≤ α ≤ 1).
    pub fn act(&self, z: f64) -> f64 {
        if z > 0.0 {
            z
        } else {
            self.alpha * z
        }
    }

    /// `σ'(z)`: 1 for z > 0, α otherwise (the slope PyTorch uses at 0 too).
    pub fn act_grad(&self, z: f64) -> f64 {
        if z > 0.0 {
            1.0
        } else {
            self.alpha
        }
    }

    /// Number of parameters p = m (d + k).
    pub fn num_params(&self) -> usize {
        self.v.len() + self.w.len()
    }

    /// Pre-activations `V X` (m×n).
    fn pre(&self, x: &DMatrix<f64>) -> DMatrix<f64> {
        &self.v * x
    }

    /// `F = σ(V X)ᵀ` (n×m), the hidden features of every sample.
    pub fn features(&self, x: &DMatrix<f64>) -> DMatrix<f64> {
        self.pre(x).map(|z| self.act(z)).transpose()
    }

    /// Outputs `W σ(V X)` (k×n).
    pub fn forward(&self, x: &DMatrix<f64>) -> DMatrix<f64> {
        &self.w * self.pre(x).map(|z| self.act(z))
    }

    /// The explicit stacked Jacobian `J ∈ R^{nk×p}` (row `i·k + o`), columns `vec(V)` then
    /// `vec(W)`, both column-major: `∂f_o/∂V[j, a] = W[o, j] σ'(v_jᵀx) x_a`,
    /// `∂f_o/∂W[o', j] = δ_{oo'} σ(v_jᵀx)`.
    pub fn jacobian(&self, x: &DMatrix<f64>) -> DMatrix<f64> {
        let (m, d) = self.v.shape();
        let k = self.w.nrows();
        let n = x.ncols();
        let pre = self.pre(x);
        let mut jac = DMatrix::zeros(n * k, self.num_params());
        for i in 0..n {
            for j in 0..m {
                let (s, g) = (self.act(pre[(j, i)]), self.act_grad(pre[(j, i)]));
                for o in 0..k {
                    let r = i * k + o;
                    for a in 0..d {
                        jac[(r, j + a * m)] = self.w[(o, j)] * g * x[(a, i)];
                    }
                    jac[(r, m * d + o + j * k)] = s;
                }
            }
        }
        jac
    }

    /// The Gram matrix `K = J Jᵀ` (nk×nk, sample-major, output-minor) without forming J:
    /// `K = F Fᵀ ⊗ I_k + (XᵀX ⊗ 1_{k×k}) ∘ (M Mᵀ)`, `M[(i, o), j] = σ'(v_jᵀx_i) W[o, j]`,
    /// which is `F Fᵀ ⊗ I_k + Σ_j (Λ_j XᵀX Λ_j) ⊗ w_j w_jᵀ` written as one product.
    pub fn gram(&self, x: &DMatrix<f64>) -> DMatrix<f64> {
        let m = self.v.nrows();
        let k = self.w.nrows();
        let n = x.ncols();
        let pre = self.pre(x);
        let f = self.features(x);
        let fft = linalg::gram_rows(&f);
        let xtx = linalg::gram_cols(x);
        let mm = DMatrix::from_fn(n * k, m, |r, j| {
            self.act_grad(pre[(j, r / k)]) * self.w[(r % k, j)]
        });
        let mut kmat = linalg::gram_rows(&mm);
        for r in 0..n * k {
            for c in 0..n * k {
                kmat[(r, c)] *= xtx[(r / k, c / k)];
                if r % k == c % k {
                    kmat[(r, c)] += fft[(r / k, c / k)];
                }
            }
        }
        kmat
    }
}
