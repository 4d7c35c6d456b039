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

/// The triangular factor R of a thin QR decomposition `A = Q R` (min(rows, cols) × cols),
/// so that `RᵀR = AᵀA` without squaring A's condition number.
pub fn qr_r(a: &DMatrix<f64>) -> Result<DMatrix<f64>> {
    check_finite(a, "QR")?;
    let qr = to_faer(a).qr();
    let r = qr.thin_R();
    // thin_R is min(rows, cols) × cols; its strictly lower part is zero by construction
    Ok(DMatrix::from_fn(r.nrows(), r.ncols(), |i, j| {
        if j >= i {
            r[(i, j)]
        } else {
            0.0
        }
    }))
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
    /// The spectrum of `ZᵀZ` from the singular values of `Z` (order = max(rows, cols) of Z):
    /// eigenvalues are the squared singular values; the rank rule is applied to the singular
    /// values, `s > s_max · order · ε`, which keeps λ_min⁺ accurate far beyond κ ≈ 1e10.
    pub fn from_singular_values(s: &[f64], order: usize) -> Spectrum {
        let smax = s.iter().copied().fold(0.0, f64::max);
        let tol = smax * order as f64 * f64::EPSILON;
        let nonzero: Vec<f64> = s.iter().copied().filter(|&v| v > tol).collect();
        let smin = nonzero.iter().copied().fold(f64::INFINITY, f64::min);
        let rank = nonzero.len();
        Spectrum {
            lambda_max: smax * smax,
            lambda_min_nonzero: if rank == 0 { 0.0 } else { smin * smin },
            kappa: if rank == 0 {
                f64::INFINITY
            } else {
                (smax / smin).powi(2)
            },
            rank,
            threshold: tol * tol,
        }
    }

    /// Not computed (written as NaN, rank 0): a quantity that does not exist for this point.
    pub fn undefined() -> Spectrum {
        Spectrum {
            lambda_max: f64::NAN,
            lambda_min_nonzero: f64::NAN,
            kappa: f64::NAN,
            rank: 0,
            threshold: f64::NAN,
        }
    }

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
