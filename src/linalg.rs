//! The one door to dense kernels. Matrices cross the crate in nalgebra; the eigensolves and
//! SVDs run in faer (sequential, so results do not depend on thread count).
//!
//! Rank rule: a singular value counts as nonzero when `s > s_max · N · ε`, an eigenvalue of a
//! positive semi-definite matrix when `λ > λ_max · N · ε` (N the matrix order, ε machine
//! epsilon). The threshold scales with the matrix, never an absolute 1e-7.

use crate::{Error, Result};
use faer::{Mat, Side};
use nalgebra::DMatrix;

/// A thin SVD `A = U diag(s) Vᵀ` with singular values in decreasing order.
#[derive(Debug, Clone)]
pub struct ThinSvd {
    pub u: DMatrix<f64>,
    pub s: Vec<f64>,
    pub v: DMatrix<f64>,
}

fn to_faer(a: &DMatrix<f64>) -> Mat<f64> {
    Mat::from_fn(a.nrows(), a.ncols(), |i, j| a[(i, j)])
}

fn from_faer(a: faer::MatRef<'_, f64>) -> DMatrix<f64> {
    DMatrix::from_fn(a.nrows(), a.ncols(), |i, j| a[(i, j)])
}

fn check_finite(a: &DMatrix<f64>, what: &str) -> Result<()> {
    if a.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(Error::Numerics(format!(
            "{what}: the matrix holds a NaN or infinity"
        )))
    }
}

/// Eigenvalues of a symmetric matrix in increasing order (only the lower triangle is read).
pub fn sym_eigenvalues(a: &DMatrix<f64>) -> Result<Vec<f64>> {
    check_finite(a, "symmetric eigensolve")?;
    to_faer(a)
        .self_adjoint_eigenvalues(Side::Lower)
        .map_err(|e| Error::Numerics(format!("symmetric eigensolve did not converge: {e:?}")))
}

/// Singular values in decreasing order.
pub fn singular_values(a: &DMatrix<f64>) -> Result<Vec<f64>> {
    check_finite(a, "singular values")?;
    if a.nrows() == 0 || a.ncols() == 0 {
        return Ok(Vec::new());
    }
    to_faer(a)
        .singular_values()
        .map_err(|e| Error::Numerics(format!("SVD did not converge: {e:?}")))
}

/// Thin SVD with vectors.
pub fn thin_svd(a: &DMatrix<f64>) -> Result<ThinSvd> {
    check_finite(a, "thin SVD")?;
    let svd = to_faer(a)
        .thin_svd()
        .map_err(|e| Error::Numerics(format!("SVD did not converge: {e:?}")))?;
    let s = svd.S().column_vector().iter().copied().collect();
    Ok(ThinSvd {
        u: from_faer(svd.U()),
        s,
        v: from_faer(svd.V()),
    })
}

/// Number of singular values (any order) above `s_max · order · ε`.
pub fn numerical_rank_sv(s: &[f64], order: usize) -> usize {
    let smax = s.iter().copied().fold(0.0, f64::max);
    let tol = smax * order as f64 * f64::EPSILON;
    s.iter().filter(|&&v| v > tol).count()
}

/// The nonzero part of a positive semi-definite spectrum, as the paper's κ needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spectrum {
    pub lambda_max: f64,
    /// Smallest eigenvalue above the rank threshold, λ_min⁺.
    pub lambda_min_nonzero: f64,
    /// κ = λ_max / λ_min⁺ (∞ for the zero matrix).
    pub kappa: f64,
    /// Number of eigenvalues above the threshold.
    pub rank: usize,
    /// The threshold `λ_max · N · ε` that separated zero from nonzero.
    pub threshold: f64,
}

impl Spectrum {
    /// Apply the rank rule to the eigenvalues of a PSD matrix of order `order`.
    pub fn from_eigenvalues(eigs: &[f64], order: usize) -> Spectrum {
        let lambda_max = eigs.iter().copied().fold(0.0, f64::max);
        let threshold = lambda_max * order as f64 * f64::EPSILON;
        let nonzero = eigs.iter().copied().filter(|&v| v > threshold);
        let (rank, lambda_min_nonzero) =
            nonzero.fold((0, f64::INFINITY), |(r, m), v| (r + 1, m.min(v)));
        let kappa = if rank == 0 {
            f64::INFINITY
        } else {
            lambda_max / lambda_min_nonzero
        };
        Spectrum {
            lambda_max,
            lambda_min_nonzero: if rank == 0 { 0.0 } else { lambda_min_nonzero },
            kappa,
            rank,
            threshold,
        }
    }
}
