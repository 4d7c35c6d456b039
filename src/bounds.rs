//! The paper's upper bounds on κ(G_O) (PAPER.md §5), one function each.
//!
//! Notation: `σ_min(P_in(ℓ))` is the d-th singular value of the m_{ℓ-1}×d matrix `P_in(ℓ)`
//! (zero when a width is below d) and `σ_min(P_out(ℓ))` the k-th singular value of the k×m_ℓ
//! matrix `P_out(ℓ)`. A bound that is undefined (a zero denominator) is +∞, never NaN.

use crate::linalg;
use crate::nets::PartialProducts;
use crate::Result;

/// Largest and "minimum" singular values of every partial product, as the bounds use them.
#[derive(Debug, Clone, PartialEq)]
pub struct PartialSingularValues {
    pub in_max: Vec<f64>,
    /// d-th singular value of P_in(ℓ), 0 when m_{ℓ-1} < d.
    pub in_min: Vec<f64>,
    pub out_max: Vec<f64>,
    /// k-th singular value of P_out(ℓ), 0 when m_ℓ < k.
    pub out_min: Vec<f64>,
}

/// The `r`-th largest singular value (1-based) of a matrix of order `order`; 0 when the matrix
/// has fewer than `r`, or when it is below the rank threshold `s_max · order · ε` (a product
/// through a narrow layer is rank-deficient in exact arithmetic, and its rounding residue
/// must not turn an infinite bound into a huge finite one).
fn sv_at(s: &[f64], r: usize, order: usize) -> f64 {
    let v = s.get(r - 1).copied().unwrap_or(0.0);
    let smax = s.first().copied().unwrap_or(0.0);
    if v > smax * order as f64 * f64::EPSILON {
        v
    } else {
        0.0
    }
}

impl PartialSingularValues {
    /// Singular values of every P_in(ℓ) and P_out(ℓ).
    pub fn of(pp: &PartialProducts) -> Result<PartialSingularValues> {
        let d = pp.p_in[0].ncols();
        let k = pp.p_out[0].nrows();
        let mut out = PartialSingularValues {
            in_max: vec![],
            in_min: vec![],
            out_max: vec![],
            out_min: vec![],
        };
        for (p_in, p_out) in pp.p_in.iter().zip(&pp.p_out) {
            let si = linalg::singular_values(p_in)?;
            let so = linalg::singular_values(p_out)?;
            let (oi, oo) = (p_in.nrows().max(d), p_out.ncols().max(k));
            out.in_max.push(si.first().copied().unwrap_or(0.0));
            out.in_min.push(sv_at(&si, d, oi));
            out.out_max.push(so.first().copied().unwrap_or(0.0));
            out.out_min.push(sv_at(&so, k, oo));
        }
        Ok(out)
    }
}

/// **B-convex**, the main deep-linear bound (Weyl + Kronecker):
/// `κ(G_O) ≤ κ(Σ) · Σ_ℓ σ²_max(P_out(ℓ)) σ²_max(P_in(ℓ)) / Σ_ℓ σ²_min(P_out(ℓ)) σ²_min(P_in(ℓ))`.
/// Finite only when every width is at least max(d, k); exact for one hidden layer on whitened
/// data.
pub fn b_convex(sv: &PartialSingularValues, kappa_sigma: f64) -> f64 {
    let num: f64 = (0..sv.in_max.len())
        .map(|l| (sv.out_max[l] * sv.in_max[l]).powi(2))
        .sum();
    let den: f64 = (0..sv.in_min.len())
        .map(|l| (sv.out_min[l] * sv.in_min[l]).powi(2))
        .sum();
    if den > 0.0 {
        kappa_sigma * num / den
    } else {
        f64::INFINITY
    }
}
