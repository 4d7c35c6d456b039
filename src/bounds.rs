//! The paper's upper bounds on κ(G_O) (docs/METHODS.md §5), one function each.
//!
//! Notation: `σ_min(P_in(ℓ))` is the d-th singular value of the m_{ℓ-1}×d matrix `P_in(ℓ)`
//! (zero when a width is below d) and `σ_min(P_out(ℓ))` the k-th singular value of the k×m_ℓ
//! matrix `P_out(ℓ)`. A bound that is undefined (a zero denominator) is +∞, never NaN.

use crate::linalg;
use crate::nets::{PartialProducts, TwoLayer};
use crate::Result;
use nalgebra::DMatrix;

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

/// κ of a partial product, `σ_max / σ_min` (+∞ when σ_min is zero).
fn kappa_of(max: f64, min: f64) -> f64 {
    if min > 0.0 {
        max / min
    } else {
        f64::INFINITY
    }
}

impl PartialSingularValues {
    /// κ(P_in(ℓ)) for every layer.
    pub fn kappa_in(&self) -> Vec<f64> {
        (0..self.in_max.len())
            .map(|l| kappa_of(self.in_max[l], self.in_min[l]))
            .collect()
    }

    /// κ(P_out(ℓ)) for every layer.
    pub fn kappa_out(&self) -> Vec<f64> {
        (0..self.out_max.len())
            .map(|l| kappa_of(self.out_max[l], self.out_min[l]))
            .collect()
    }
}

/// **B-loose**: `κ(G_O) ≤ κ(Σ) · max_ℓ κ²(P_out(ℓ)) κ²(P_in(ℓ))`. Never tighter than B-convex,
/// since a convex combination is at most its largest term.
pub fn b_loose(sv: &PartialSingularValues, kappa_sigma: f64) -> f64 {
    let (ki, ko) = (sv.kappa_in(), sv.kappa_out());
    let worst = ki
        .iter()
        .zip(&ko)
        .map(|(a, b)| (a * b).powi(2))
        .fold(0.0, f64::max);
    kappa_sigma * worst
}

/// **B-kaiming** (one hidden layer of width m at Kaiming init, `σ_w² = 1/m`, `σ_v² = 1/d`),
/// holding with probability at least `1 − 8 e^{−t²/2}`:
/// `κ ≤ κ(Σ) [σ_w²(√m+√k+t)² + σ_v²(√m+√d+t)²] / [σ_w²(√m−√k−t)² + σ_v²(√m−√d−t)²]`.
/// +∞ unless `√m > √d + t` and `√m > √k + t` (the singular-value tail bounds are vacuous).
pub fn b_kaiming(m: usize, d: usize, k: usize, t: f64, kappa_sigma: f64) -> f64 {
    let (sm, sd, sk) = ((m as f64).sqrt(), (d as f64).sqrt(), (k as f64).sqrt());
    if sm <= sd + t || sm <= sk + t {
        return f64::INFINITY;
    }
    let (vw, vv) = (1.0 / m as f64, 1.0 / d as f64);
    let num = vw * (sm + sk + t).powi(2) + vv * (sm + sd + t).powi(2);
    let den = vw * (sm - sk - t).powi(2) + vv * (sm - sd - t).powi(2);
    kappa_sigma * num / den
}

/// The probability level of B-kaiming, `1 − 8 e^{−t²/2}` (negative means vacuous).
pub fn b_kaiming_probability(t: f64) -> f64 {
    1.0 - 8.0 * (-t * t / 2.0).exp()
}

/// **B-residual**: B-convex evaluated on the partial products of the residual weights
/// `W̃_ℓ = W_ℓ + βI` (pass the singular values of those products).
pub fn b_residual(sv_tilde: &PartialSingularValues, kappa_sigma: f64) -> f64 {
    b_convex(sv_tilde, kappa_sigma)
}

/// The **spectral-shift** estimate for residual networks, which assumes aligned singular
/// vectors (not a guaranteed bound):
/// `κ(Σ) Π_ℓ ((s₁(W_ℓ)+β)/(s_r(W_ℓ)+β))² · Σ_ℓ (s₁+β)⁻² / Σ_ℓ (s_r+β)⁻²`,
/// with `s₁`, `s_r` the largest and the min(rows, cols)-th singular value of `W_ℓ`.
pub fn b_spectral_shift(extremes: &[(f64, f64)], beta: f64, kappa_sigma: f64) -> f64 {
    let prod: f64 = extremes
        .iter()
        .map(|&(s1, sr)| ((s1 + beta) / (sr + beta)).powi(2))
        .product();
    let num: f64 = extremes.iter().map(|&(s1, _)| (s1 + beta).powi(-2)).sum();
    let den: f64 = extremes.iter().map(|&(_, sr)| (sr + beta).powi(-2)).sum();
    let v = kappa_sigma * prod * num / den;
    if v.is_nan() {
        f64::INFINITY
    } else {
        v
    }
}

/// Extreme eigenvalues of the Gram blocks of a two-layer (leaky) ReLU network `W σ(V X)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReluBlocks {
    /// λ_max and λ_min of `XᵀX` (n×n).
    pub xtx: (f64, f64),
    /// λ_max and λ_min of `W Wᵀ` (k×k).
    pub wwt: (f64, f64),
    /// λ_max and λ_min of `F Fᵀ`, `F = σ(VX)ᵀ` (n×m).
    pub fft: (f64, f64),
    /// λ_max and λ_min of `Xᵀ Vᵀ V X` (n×n), used only by the invalid linear-style variant.
    pub xvvx: (f64, f64),
}

impl ReluBlocks {
    /// The extreme eigenvalues of the four blocks for network `net` on inputs `X` (d×n).
    pub fn of(net: &TwoLayer, x: &DMatrix<f64>) -> Result<ReluBlocks> {
        let ends = |a: DMatrix<f64>| -> Result<(f64, f64)> {
            let e = linalg::sym_eigenvalues(&a)?;
            Ok((*e.last().expect("non-empty"), e[0]))
        };
        let f = net.features(x);
        let vx = &net.v * x;
        Ok(ReluBlocks {
            xtx: ends(linalg::gram_cols(x))?,
            wwt: ends(linalg::gram_rows(&net.w))?,
            fft: ends(linalg::gram_rows(&f))?,
            xvvx: ends(linalg::gram_cols(&vx))?,
        })
    }
}

/// **B-relu** (two layers, leaky slope α): with Weyl on the two blocks of
/// `K = F Fᵀ ⊗ I_k + Σ_j (Λ_j XᵀX Λ_j) ⊗ w_j w_jᵀ` and `α² I⊗WWᵀ ⪯ Σ_j Λ_j² ⊗ w_j w_jᵀ ⪯ I⊗WWᵀ`,
/// `κ ≤ [λ_max(XᵀX) λ_max(WWᵀ) + λ_max(FFᵀ)] / [α² λ_min(XᵀX) λ_min(WWᵀ) + λ_min(FFᵀ)]`.
/// Finite when α > 0 and n ≤ d (XᵀX ≻ 0), or m ≥ n (FFᵀ ≻ 0); +∞ otherwise.
pub fn b_relu(b: &ReluBlocks, alpha: f64) -> f64 {
    let num = b.xtx.0 * b.wwt.0 + b.fft.0;
    let den = alpha * alpha * b.xtx.1.max(0.0) * b.wwt.1.max(0.0) + b.fft.1.max(0.0);
    if den > 0.0 {
        num / den
    } else {
        f64::INFINITY
    }
}

/// The linear-style variant the authors' code also evaluates, with `λ(XᵀVᵀVX)` in place of
/// `λ(FFᵀ)` and divided by α². **Not a valid bound** (a violating case exists); reported only
/// labelled as such.
pub fn b_relu_linear_style(b: &ReluBlocks, alpha: f64) -> f64 {
    let num = b.xtx.0 * b.wwt.0 + b.xvvx.0;
    let den = b.xtx.1.max(0.0) * b.wwt.1.max(0.0) + b.xvvx.1.max(0.0);
    if den > 0.0 && alpha > 0.0 {
        num / (alpha * alpha * den)
    } else {
        f64::INFINITY
    }
}
