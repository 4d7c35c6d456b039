//! The uncentred second moment `Σ = X Xᵀ / n` and a factor `F` with `FᵀF = Σ`.

use crate::linalg;
use crate::Result;
use nalgebra::DMatrix;

/// `Σ = X Xᵀ / n` of a data matrix `X ∈ R^{d×n}`, with what the spectrum engine needs.
#[derive(Debug, Clone)]
pub struct SecondMoment {
    /// Input dimension d.
    pub d: usize,
    /// Number of samples n.
    pub n: usize,
    /// A factor `F` (r×d, r = min(n, d)) with `FᵀF = Σ`: `F = S Vᵀ / √n` from the thin SVD
    /// `Xᵀ = U S Vᵀ`. Taken from the SVD of X rather than an eigensolve of Σ so that small
    /// eigenvalues of Σ keep their relative accuracy.
    pub factor: DMatrix<f64>,
    /// Eigenvalues of Σ in decreasing order (squared singular values over n).
    pub eigenvalues: Vec<f64>,
    /// Numerical rank s of Σ (singular values of X above `s_max · max(n, d) · ε`).
    pub rank: usize,
    /// κ(Σ) = λ_max(Σ) / λ_min⁺(Σ).
    pub kappa: f64,
}

impl SecondMoment {
    /// Compute Σ's factor, spectrum, rank and κ from `X` (d×n).
    pub fn of(x: &DMatrix<f64>) -> Result<SecondMoment> {
        let (d, n) = x.shape();
        let svd = linalg::thin_svd(&x.transpose())?;
        let scale = 1.0 / (n as f64).sqrt();
        let r = svd.s.len();
        let mut factor = DMatrix::zeros(r, d);
        for i in 0..r {
            for j in 0..d {
                factor[(i, j)] = svd.s[i] * scale * svd.v[(j, i)];
            }
        }
        let rank = linalg::numerical_rank_sv(&svd.s, n.max(d));
        let eigenvalues: Vec<f64> = svd.s.iter().map(|s| s * s / n as f64).collect();
        let kappa = if rank == 0 {
            f64::INFINITY
        } else {
            eigenvalues[0] / eigenvalues[rank - 1]
        };
        Ok(SecondMoment {
            d,
            n,
            factor,
            eigenvalues,
            rank,
            kappa,
        })
    }
}
