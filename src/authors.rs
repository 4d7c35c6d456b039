//! What the authors' code computes where it departs from the mathematics (docs/METHODS.md §7),
//! evaluated exactly so that the report can show it beside the correct quantity.
//!
//! **CNN.** For a linear CNN with one hidden convolution, their κ is that of the Kronecker form
//! of the two-layer linear network made of the two convolutions' Toeplitz matrices `T₁`
//! (first) and `T₂` (second), without the linear head:
//! `H = T₂T₂ᵀ ⊗ Σ + I ⊗ (S T₁ᵀ T₁ S)`, where the slot `S` should hold `Σ^{1/2}` but their
//! `cov_xx**1/2` evaluates to `Σ/2`. Its rank is taken with the rule
//! `σ > σ_max · N · ε` (N the order of H), the same rule as ours at that order.
//!
//! We never form H (order `q·d`, q = rows of `T₂`): with `T₂T₂ᵀ = Q diag(δ) Qᵀ`,
//! `(Q ⊗ I) ᵀ H (Q ⊗ I) = diag(δ) ⊗ Σ + I ⊗ B` is block diagonal, so the spectrum of H is
//! the union over i of the spectra of the d×d matrices `δ_i Σ + B`, `B = S T₁ᵀ T₁ S`.
//!
//! **ReLU.** Their Gram matrix of a two-layer leaky-ReLU network uses the slope `−α` (not α)
//! on the negative side, in the feature block as in the derivative block: it is exactly the
//! Gauss-Newton Gram matrix of `W σ̃(V x)` with `σ̃(z) = z` for z > 0 and `σ̃(z) = −α z`
//! otherwise ([`relu_tilde`]). At α = 0 both are the ReLU network.

use crate::linalg::{self, Spectrum};
use crate::nets::{PartialProducts, TwoLayer};
use crate::Result;
use nalgebra::DMatrix;

/// Which matrix fills the first-layer slot of the authors' CNN formula.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// `Σ/2`: what `cov_xx**1/2` evaluates to (their code as written).
    Halved,
    /// `Σ^{1/2}`: what the formula means.
    Root,
}

/// `Σ/2` or `Σ^{1/2}` from Σ's factor `F` (r×d, `FᵀF = Σ`, rows `f_i = s_i v_iᵀ` with
/// orthogonal `v_i`): `Σ^{1/2} = Σ_i f_i f_iᵀ / ‖f_i‖`.
pub fn slot_matrix(factor: &DMatrix<f64>, slot: Slot) -> DMatrix<f64> {
    match slot {
        Slot::Halved => factor.transpose() * factor / 2.0,
        Slot::Root => {
            let d = factor.ncols();
            let mut root = DMatrix::zeros(d, d);
            for f in factor.row_iter() {
                let norm = f.norm();
                if norm > 0.0 {
                    root += f.transpose() * f / norm;
                }
            }
            root
        }
    }
}

/// Every eigenvalue (ascending) of `H = T₂T₂ᵀ ⊗ Σ + I ⊗ (S T₁ᵀ T₁ S)`, by its block
/// diagonalisation (module text). `sigma` is Σ (d×d), `slot` is S.
pub fn cnn_formula_eigenvalues(
    t1: &DMatrix<f64>,
    t2: &DMatrix<f64>,
    sigma: &DMatrix<f64>,
    slot: &DMatrix<f64>,
) -> Result<Vec<f64>> {
    let deltas = linalg::sym_eigenvalues(&(t2 * t2.transpose()))?;
    let c = t1 * slot;
    let b = c.transpose() * &c;
    let mut eigs = Vec::with_capacity(deltas.len() * sigma.nrows());
    for delta in deltas {
        eigs.extend(linalg::sym_eigenvalues(&(sigma * delta + &b))?);
    }
    eigs.sort_by(f64::total_cmp);
    Ok(eigs)
}

/// κ and rank of the authors' CNN formula with the given slot, by their rank rule (the order
/// of H is `rows(T₂) · d`).
pub fn cnn_formula(
    t1: &DMatrix<f64>,
    t2: &DMatrix<f64>,
    factor: &DMatrix<f64>,
    slot: Slot,
) -> Result<Spectrum> {
    let sigma = factor.transpose() * factor;
    let eigs = cnn_formula_eigenvalues(t1, t2, &sigma, &slot_matrix(factor, slot))?;
    Ok(Spectrum::from_eigenvalues(
        &eigs,
        t2.nrows() * sigma.nrows(),
    ))
}

/// The upper bound the authors' CNN code stores beside κ (their Eq. 56/57 for the two Toeplitz
/// layers, one hidden convolution): `κ(Σ) · [λ_max(T₂T₂ᵀ) + λ_max(T₁T₁ᵀ)] / [λ_min(T₂T₂ᵀ) +
/// λ_min(T₁T₁ᵀ)]`, where the `I` of the other factor in each term has extreme eigenvalues 1.
/// `T₁T₁ᵀ` is singular when T₁ has more rows than columns; its λ_min is then 0 (their eigensolver
/// returns rounding noise there).
pub fn cnn_bound_as_written(t1: &DMatrix<f64>, t2: &DMatrix<f64>, kappa_sigma: f64) -> Result<f64> {
    let ends = |t: &DMatrix<f64>| -> Result<(f64, f64)> {
        let e = linalg::sym_eigenvalues(&(t * t.transpose()))?;
        let max = e.iter().copied().fold(0.0, f64::max);
        let min = if t.nrows() > t.ncols() {
            0.0
        } else {
            e.iter().copied().fold(f64::INFINITY, f64::min)
        };
        Ok((max, min))
    };
    let ((max1, min1), (max2, min2)) = (ends(t1)?, ends(t2)?);
    Ok(kappa_sigma * (max1 + max2) / (min1 + min2))
}

/// κ of a deep linear network as the authors' linear-network code computes it:
/// `H = [Σ_ℓ P_out(ℓ)P_out(ℓ)ᵀ ⊗ P_in(ℓ)ᵀP_in(ℓ)] (I_k ⊗ Σ)`, which is not symmetric unless
/// Σ ∝ I, handed to `eigvalsh` (which reads only the lower triangle, so it eigensolves
/// `tril(H) + tril(H, −1)ᵀ`), with the rank of H from its singular values (`σ > σ_max · N · ε`)
/// and κ the largest |eigenvalue| over the rank-th largest. On whitened inputs this is κ(G_O).
pub fn linear_kappa_as_written(pp: &PartialProducts, sigma: &DMatrix<f64>) -> Result<f64> {
    let d = sigma.nrows();
    let k = pp.p_out[0].nrows();
    let n = k * d;
    let mut h = DMatrix::zeros(n, n);
    for (p_in, p_out) in pp.p_in.iter().zip(&pp.p_out) {
        let a = p_in.transpose() * p_in * sigma;
        let b = p_out * p_out.transpose();
        for (bi, bj) in (0..k).flat_map(|i| (0..k).map(move |j| (i, j))) {
            let s = b[(bi, bj)];
            for (ai, aj) in (0..d).flat_map(|i| (0..d).map(move |j| (i, j))) {
                h[(bi * d + ai, bj * d + aj)] += s * a[(ai, aj)];
            }
        }
    }
    let lower = DMatrix::from_fn(n, n, |i, j| if i >= j { h[(i, j)] } else { h[(j, i)] });
    let mut e: Vec<f64> = linalg::sym_eigenvalues(&lower)?
        .into_iter()
        .map(f64::abs)
        .collect();
    e.sort_by(f64::total_cmp);
    let sv = linalg::singular_values(&h)?;
    let top = sv.iter().copied().fold(0.0, f64::max);
    let rank = sv
        .iter()
        .filter(|&&v| v > top * n as f64 * f64::EPSILON)
        .count();
    Ok(if rank == 0 {
        f64::INFINITY
    } else {
        e[n - 1] / e[n - rank]
    })
}

/// B-kaiming as the authors' notebook evaluates it: the same formula without the validity
/// condition `√m > √d + t` and `√m > √k + t` (where it fails the squares in the denominator
/// still give a finite number, but no bound). Equal to [`crate::bounds::b_kaiming`] where that
/// is finite.
pub fn b_kaiming_as_written(m: usize, d: usize, k: usize, t: f64) -> f64 {
    let (sm, sd, sk) = ((m as f64).sqrt(), (d as f64).sqrt(), (k as f64).sqrt());
    let (vw, vv) = (1.0 / m as f64, 1.0 / d as f64);
    let num = vw * (sm + sk + t).powi(2) + vv * (sm + sd + t).powi(2);
    let den = vw * (sm - sk - t).powi(2) + vv * (sm - sd - t).powi(2);
    num / den
}

/// A two-layer network initialised as the authors' code does for (leaky) ReLU:
/// `kaiming_normal_(nonlinearity = "relu" or "leaky_relu")` on both layers, whose default
/// slope argument 0 gives the gain √2 to V and to the linear output layer W alike, whatever α.
pub fn relu_kaiming_as_written(
    d: usize,
    m: usize,
    k: usize,
    alpha: f64,
    rng: &mut crate::seed::PointRng,
) -> TwoLayer {
    let gain = std::f64::consts::SQRT_2;
    let v = crate::nets::init::kaiming_normal(m, d, gain, rng);
    let w = crate::nets::init::kaiming_normal(k, m, gain, rng);
    TwoLayer { v, w, alpha }
}

/// The network whose Gauss-Newton Gram matrix the authors' ReLU code builds: the same weights
/// with slope `−α` on the negative side (`σ̃(z) = −αz` for z ≤ 0, `σ̃' = −α` there), which our
/// two-layer network evaluates piecewise for any slope.
pub fn relu_tilde(net: &TwoLayer) -> TwoLayer {
    TwoLayer {
        v: net.v.clone(),
        w: net.w.clone(),
        alpha: -net.alpha,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kronecker product, written out (the oracle for the block route).
    fn kron(a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
        let (ar, ac) = a.shape();
        let (br, bc) = b.shape();
        DMatrix::from_fn(ar * br, ac * bc, |i, j| {
            a[(i / br, j / bc)] * b[(i % br, j % bc)]
        })
    }

    /// d = 4, kernel 2, 2 filters, written out by hand: conv1 (1 → 2 channels) has filters
    /// (1, 2) and (−1, 3), so `T₁` is 6×4 (two 3×4 bands); conv2 (2 → 2) has filters
    /// w[0,0] = (1, 0), w[0,1] = (0, 1), w[1,0] = (2, −1), w[1,1] = (1, 1), so `T₂` is 4×6.
    fn hand_case() -> (DMatrix<f64>, DMatrix<f64>, DMatrix<f64>) {
        #[rustfmt::skip]
        let t1 = DMatrix::from_row_slice(6, 4, &[
            1.0, 2.0, 0.0, 0.0,
            0.0, 1.0, 2.0, 0.0,
            0.0, 0.0, 1.0, 2.0,
            -1.0, 3.0, 0.0, 0.0,
            0.0, -1.0, 3.0, 0.0,
            0.0, 0.0, -1.0, 3.0,
        ]);
        #[rustfmt::skip]
        let t2 = DMatrix::from_row_slice(4, 6, &[
            1.0, 0.0, 0.0,   0.0, 1.0, 0.0,
            0.0, 1.0, 0.0,   0.0, 0.0, 1.0,
            2.0, -1.0, 0.0,  1.0, 1.0, 0.0,
            0.0, 2.0, -1.0,  0.0, 1.0, 1.0,
        ]);
        // a factor F (4×4) of a non-diagonal Σ = FᵀF with orthogonal rows (as SecondMoment's)
        let q = nalgebra::Rotation3::from_euler_angles(0.3, -0.7, 1.1);
        let mut v = DMatrix::identity(4, 4);
        v.view_mut((0, 0), (3, 3)).copy_from(q.matrix());
        let s = DMatrix::from_diagonal(&nalgebra::DVector::from_vec(vec![3.0, 1.5, 0.5, 0.1]));
        (t1, t2, s * v.transpose())
    }

    fn explicit(
        t1: &DMatrix<f64>,
        t2: &DMatrix<f64>,
        sigma: &DMatrix<f64>,
        slot: &DMatrix<f64>,
    ) -> Vec<f64> {
        let q = t2.nrows();
        let h = kron(&(t2 * t2.transpose()), sigma)
            + kron(
                &DMatrix::identity(q, q),
                &(slot * t1.transpose() * t1 * slot),
            );
        let mut e = linalg::sym_eigenvalues(&h).unwrap();
        e.sort_by(f64::total_cmp);
        e
    }

    #[test]
    fn block_route_equals_the_explicit_kronecker_form_for_both_slots() {
        let (t1, t2, f) = hand_case();
        let sigma = f.transpose() * &f;
        for slot in [Slot::Halved, Slot::Root] {
            let s = slot_matrix(&f, slot);
            let fast = cnn_formula_eigenvalues(&t1, &t2, &sigma, &s).unwrap();
            let slow = explicit(&t1, &t2, &sigma, &s);
            assert_eq!(fast.len(), 16);
            let top = slow[15];
            for (a, b) in fast.iter().zip(&slow) {
                assert!((a - b).abs() <= 1e-12 * top, "{slot:?}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn the_hand_written_toeplitz_matrices_are_the_cnn_s() {
        // the filters of `hand_case`, stored as PyTorch does: w[o][i][t] at (o·inp + i)·ks + t
        use crate::nets::cnn::{Conv, LinearCnn};
        let net = LinearCnn {
            d: 4,
            convs: vec![
                Conv {
                    out: 2,
                    inp: 1,
                    ks: 2,
                    w: vec![1.0, 2.0, -1.0, 3.0],
                },
                Conv {
                    out: 2,
                    inp: 2,
                    ks: 2,
                    w: vec![1.0, 0.0, 0.0, 1.0, 2.0, -1.0, 1.0, 1.0],
                },
            ],
            head: DMatrix::zeros(1, 4),
        };
        let (t1, t2, _) = hand_case();
        let t = net.toeplitz_convs();
        assert_eq!(t[0], t1);
        assert_eq!(t[1], t2);
    }

    #[test]
    fn the_linear_formula_as_written_is_exact_only_for_whitened_inputs() {
        use crate::data::SecondMoment;
        use crate::nets::DeepLinear;
        let mut rng = crate::seed::point_rng(3, "authors-linear", &[], 0);
        let net = DeepLinear::kaiming(&[4, 6, 5, 3], &mut rng);
        let pp = net.partial_products();
        let (_, _, f) = hand_case();
        // whitened: Σ = I, the product is symmetric and the formula is κ(G_O)
        let white = SecondMoment::of(&(DMatrix::<f64>::identity(4, 4) * 2.0)).unwrap();
        let sigma_w = white.factor.transpose() * &white.factor;
        let ours = crate::gn::kronecker_linear(&pp, &white)
            .unwrap()
            .spectrum
            .kappa;
        let theirs = linear_kappa_as_written(&pp, &sigma_w).unwrap();
        assert!(((ours - theirs) / ours).abs() < 1e-10, "{ours} vs {theirs}");
        // raw: Σ is not ∝ I, eigvalsh of the lower triangle is another number
        let raw = SecondMoment::of(&(f.transpose() * 2.0)).unwrap();
        let sigma_r = f.transpose() * &f;
        let ours = crate::gn::kronecker_linear(&pp, &raw)
            .unwrap()
            .spectrum
            .kappa;
        let theirs = linear_kappa_as_written(&pp, &sigma_r).unwrap();
        assert!(((ours - theirs) / ours).abs() > 1e-3, "{ours} vs {theirs}");
    }

    #[test]
    fn the_slots_are_sigma_over_two_and_its_square_root() {
        let (_, _, f) = hand_case();
        let sigma = f.transpose() * &f;
        let half = slot_matrix(&f, Slot::Halved);
        assert!((&half * 2.0 - &sigma).norm() < 1e-14 * sigma.norm());
        let root = slot_matrix(&f, Slot::Root);
        assert!((&root * &root - &sigma).norm() < 1e-12 * sigma.norm());
        assert!((&root - root.transpose()).norm() < 1e-14);
        // Σ/2 differs from Σ^{1/2} (the two only agree when Σ = 4 I)
        assert!((half - root).norm() > 0.1);
    }

    #[test]
    fn the_root_slot_is_the_gauss_newton_matrix_of_the_two_toeplitz_network() {
        // with Σ^{1/2}, H's nonzero spectrum is that of G_O of x ↦ T₂ T₁ x, whose Jacobian we
        // build explicitly on virtual samples √r f_i (G_O = Σ_i J(f_i)ᵀ J(f_i))
        let (t1, t2, f) = hand_case();
        let net = crate::nets::DeepLinear::new(vec![t1.clone(), t2.clone()]).unwrap();
        let x = f.transpose() * 2.0; // r = 4 virtual samples scaled by √r
        let jac = net.jacobian(&x);
        let g = jac.transpose() * &jac / 4.0;
        let mut direct = linalg::sym_eigenvalues(&g).unwrap();
        direct.sort_by(f64::total_cmp);
        let sigma = f.transpose() * &f;
        let fast = cnn_formula_eigenvalues(&t1, &t2, &sigma, &slot_matrix(&f, Slot::Root)).unwrap();
        let top = fast[fast.len() - 1];
        let nonzero =
            |e: &[f64]| -> Vec<f64> { e.iter().copied().filter(|v| *v > 1e-10 * top).collect() };
        let (a, b) = (nonzero(&fast), nonzero(&direct));
        assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
        for (u, v) in a.iter().zip(&b) {
            assert!((u - v).abs() <= 1e-10 * top, "{u} vs {v}");
        }
    }
}
