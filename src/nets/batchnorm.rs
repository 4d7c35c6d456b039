//! One hidden linear layer with batch normalisation (docs/METHODS.md §2):
//! `Linear(d→m) → BatchNorm(m) → Linear(m→k)`, no biases, batch statistics over the n samples
//! (PyTorch's training mode: biased variance, ε = 1e-5), affine parameters γ, β trained.
//! The outputs of all samples are coupled through the batch mean and variance, so the
//! Jacobian of one sample's output has entries for every sample's input statistics.

use super::init::kaiming_normal;
use crate::seed::PointRng;
use nalgebra::{DMatrix, DVector};

/// PyTorch's default ε of BatchNorm1d.
pub const BN_EPS: f64 = 1e-5;

/// `f(X) = W₂ (γ ∘ ẑ(W₁ X) + β)` with `ẑ_j = (z_j − mean z_j) / √(var z_j + ε)` per unit.
#[derive(Debug, Clone)]
pub struct BatchNormNet {
    /// m×d
    pub w1: DMatrix<f64>,
    pub gamma: DVector<f64>,
    pub beta: DVector<f64>,
    /// k×m
    pub w2: DMatrix<f64>,
    pub eps: f64,
}

/// Per-unit batch statistics of `Z = W₁ X` (m×n): normalised `ẑ` and `s = √(var + ε)`.
struct Normalised {
    zhat: DMatrix<f64>,
    s: Vec<f64>,
}

impl BatchNormNet {
    /// Kaiming-normal W₁, W₂ (gain 1); γ = 1, β = 0 as PyTorch initialises them.
    pub fn kaiming(d: usize, m: usize, k: usize, rng: &mut PointRng) -> BatchNormNet {
        let w1 = kaiming_normal(m, d, 1.0, rng);
        let w2 = kaiming_normal(k, m, 1.0, rng);
        BatchNormNet {
            w1,
            gamma: DVector::from_element(m, 1.0),
            beta: DVector::zeros(m),
            w2,
            eps: BN_EPS,
        }
    }

    /// Number of parameters p = m d + 2 m + k m.
    pub fn num_params(&self) -> usize {
        self.w1.len() + 2 * self.gamma.len() + self.w2.len()
    }

    /// Parameters in the Jacobian's column order: W₁ row by row, γ, β, W₂ row by row.
    pub fn params(&self) -> Vec<f64> {
        let mut p = Vec::with_capacity(self.num_params());
        for j in 0..self.w1.nrows() {
            p.extend(self.w1.row(j).iter());
        }
        p.extend(self.gamma.iter());
        p.extend(self.beta.iter());
        for o in 0..self.w2.nrows() {
            p.extend(self.w2.row(o).iter());
        }
        p
    }

    /// The same architecture with parameters `theta` (in `params` order).
    pub fn with_params(&self, theta: &[f64]) -> BatchNormNet {
        let (m, d) = self.w1.shape();
        let k = self.w2.nrows();
        let w1 = DMatrix::from_row_slice(m, d, &theta[..m * d]);
        let gamma = DVector::from_column_slice(&theta[m * d..m * d + m]);
        let beta = DVector::from_column_slice(&theta[m * d + m..m * d + 2 * m]);
        let w2 = DMatrix::from_row_slice(k, m, &theta[m * d + 2 * m..]);
        BatchNormNet {
            w1,
            gamma,
            beta,
            w2,
            eps: self.eps,
        }
    }

    fn normalise(&self, x: &DMatrix<f64>) -> Normalised {
        let z = &self.w1 * x;
        let (m, n) = z.shape();
        let mut zhat = DMatrix::zeros(m, n);
        let mut s = Vec::with_capacity(m);
        for j in 0..m {
            let row = z.row(j);
            let mean = row.sum() / n as f64;
            let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
            let sj = (var + self.eps).sqrt();
            for i in 0..n {
                zhat[(j, i)] = (z[(j, i)] - mean) / sj;
            }
            s.push(sj);
        }
        Normalised { zhat, s }
    }

    /// Hidden features after batch norm and the affine map (m×n).
    fn hidden(&self, nz: &Normalised) -> DMatrix<f64> {
        let (m, n) = nz.zhat.shape();
        DMatrix::from_fn(m, n, |j, i| self.gamma[j] * nz.zhat[(j, i)] + self.beta[j])
    }

    /// Outputs (k×n) of the batch X (d×n).
    pub fn forward(&self, x: &DMatrix<f64>) -> DMatrix<f64> {
        &self.w2 * self.hidden(&self.normalise(x))
    }

    /// The Jacobian of all nk outputs of the batch (row `i·k + o`) in every parameter:
    /// `∂ẑ_{j,i}/∂W₁[j,a] = (X[a,i] − X̄_a − ẑ_{j,i} c_{j,a}) / s_j` with
    /// `c_{j,a} = (1/n) Σ_l ẑ_{j,l} X[a,l]`, times `W₂[o,j] γ_j`; `∂f/∂γ_j = W₂[o,j] ẑ_{j,i}`;
    /// `∂f/∂β_j = W₂[o,j]`; `∂f_o/∂W₂[o,j] = γ_j ẑ_{j,i} + β_j`.
    pub fn jacobian(&self, x: &DMatrix<f64>) -> DMatrix<f64> {
        let (m, d) = self.w1.shape();
        let k = self.w2.nrows();
        let n = x.ncols();
        let nz = self.normalise(x);
        let h = self.hidden(&nz);
        let xbar: Vec<f64> = (0..d).map(|a| x.row(a).sum() / n as f64).collect();
        // c[j, a] = (1/n) Σ_l ẑ_{j,l} X[a,l]
        let c = &nz.zhat * x.transpose() / n as f64;
        let (g0, b0, w0) = (m * d, m * d + m, m * d + 2 * m);
        let mut jac = DMatrix::zeros(n * k, self.num_params());
        for i in 0..n {
            for j in 0..m {
                let zh = nz.zhat[(j, i)];
                for o in 0..k {
                    let r = i * k + o;
                    let wg = self.w2[(o, j)] * self.gamma[j] / nz.s[j];
                    for a in 0..d {
                        jac[(r, j * d + a)] = wg * (x[(a, i)] - xbar[a] - zh * c[(j, a)]);
                    }
                    jac[(r, g0 + j)] = self.w2[(o, j)] * zh;
                    jac[(r, b0 + j)] = self.w2[(o, j)];
                    jac[(r, w0 + o * m + j)] = h[(j, i)];
                }
            }
        }
        jac
    }
}
