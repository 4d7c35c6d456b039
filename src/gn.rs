//! The nonzero spectrum of the Gauss-Newton matrix `G_O = (1/n) Σ_i J_iᵀ J_i` (docs/METHODS.md §4).
//!
//! Routes: the Kronecker dual for deep linear networks (a dk×dk matrix, never p×p), and the
//! dense oracles `JᵀJ/n` (p×p) and `JJᵀ/n` (nk×nk) from an explicit Jacobian.

use crate::data::SecondMoment;
use crate::linalg::{self, Spectrum};
use crate::nets::{BatchNormNet, BnMode, BnStats, LinearCnn, PartialProducts, ResNet, TwoLayer};
use crate::Result;
use nalgebra::DMatrix;
use rayon::prelude::*;

/// Which computation produced a spectrum; written into every CSV row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `Σ_ℓ A_ℓ ⊗ B_ℓ`, order r·k with r = min(n, d).
    Kronecker,
    /// Singular values of the stacked factor of the Kronecker form (κ above 1e10).
    KroneckerSvd,
    /// Closed-form Kronecker sum (one hidden layer, whitened data), order dk.
    KroneckerSum,
    /// `JᵀJ / n` built from the explicit Jacobian, order p.
    DenseJtJ,
    /// Singular values of the explicit Jacobian (the oracle for ill-conditioned cases).
    JacobianSvd,
    /// `J Jᵀ / n`, order nk (built layer by layer, or from an explicit Jacobian).
    Gram,
}

impl Route {
    /// Short name used in CSVs and the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Kronecker => "kronecker-eig",
            Route::KroneckerSum => "kronecker-sum",
            Route::KroneckerSvd => "kronecker-svd",
            Route::JacobianSvd => "jacobian-svd",
            Route::DenseJtJ => "dense-jtj-eig",
            Route::Gram => "gram-eig",
        }
    }
}

/// The nonzero spectrum of `G_O`, how it was computed, and the rank theory predicts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GnSpectrum {
    pub spectrum: Spectrum,
    /// Order of the matrix that was eigensolved.
    pub order: usize,
    pub route: Route,
    /// The rank docs/METHODS.md §4 predicts, where it gives one.
    pub rank_theory: Option<usize>,
}

/// Rank of `G_O` for a deep linear network: `q (s + k − q)` with `s = rank Σ` and
/// `q = min(s, k, m_1, …, m_{L-1})`.
pub fn linear_rank_theory(dims: &[usize], sigma_rank: usize) -> usize {
    let k = *dims.last().expect("dims has d and k");
    let q = dims[1..dims.len() - 1]
        .iter()
        .copied()
        .fold(sigma_rank.min(k), usize::min);
    q * (sigma_rank + k - q)
}

/// Above this κ, an eigensolve of a Gram matrix has lost λ_min⁺ to rounding (its absolute
/// error is about λ_max · ε); the spectrum is then recomputed from singular values of a factor.
pub const KAPPA_SVD_SWITCH: f64 = 1e10;

/// Kronecker route for deep linear (and residual) networks, eigen-solve first and, when κ
/// passes `KAPPA_SVD_SWITCH`, singular values of the factor (`kronecker_linear_svd`).
pub fn kronecker_linear(pp: &PartialProducts, moment: &SecondMoment) -> Result<GnSpectrum> {
    let eig = kronecker_linear_eig(pp, moment)?;
    if eig.spectrum.kappa > KAPPA_SVD_SWITCH {
        kronecker_linear_svd(pp, moment)
    } else {
        Ok(eig)
    }
}

/// Kronecker route for deep linear (and residual) networks:
/// `spec⁺(G_O) = spec⁺(Σ_ℓ A_ℓ ⊗ B_ℓ)` with `A_ℓ = F P_in(ℓ)ᵀ P_in(ℓ) Fᵀ` (F the factor of
/// Σ, `FᵀF = Σ`, so A_ℓ has the spectrum of `Σ^{1/2} P_inᵀ P_in Σ^{1/2}`) and
/// `B_ℓ = P_out(ℓ) P_out(ℓ)ᵀ`. Cost O(L m (m + d) d + L m k²) + one (rk)×(rk) eigensolve.
pub fn kronecker_linear_eig(pp: &PartialProducts, moment: &SecondMoment) -> Result<GnSpectrum> {
    let eigs = kronecker_linear_eigenvalues(pp, moment)?;
    let order = eigs.len();
    Ok(GnSpectrum {
        spectrum: Spectrum::from_eigenvalues(&eigs, order),
        order,
        route: Route::Kronecker,
        rank_theory: Some(linear_rank_theory(&dims_of(pp, moment), moment.rank)),
    })
}

/// Every eigenvalue (ascending, zeros included) of the Kronecker form `Σ_ℓ A_ℓ ⊗ B_ℓ`, whose
/// nonzero part is the nonzero spectrum of `G_O` (order r·k, r = rows of the factor of Σ).
pub fn kronecker_linear_eigenvalues(
    pp: &PartialProducts,
    moment: &SecondMoment,
) -> Result<Vec<f64>> {
    let r = moment.factor.nrows();
    let k = pp.p_out[0].nrows();
    let order = r * k;
    // only the lower triangle, which the eigensolver reads, column by column (the columns in
    // parallel, each entry's sum over the layers in layer order): entry (ai·k + i, bi·k + j)
    // of A_ℓ ⊗ B_ℓ is A_ℓ[ai, bi] B_ℓ[i, j]
    let ft = moment.factor.transpose();
    let factors: Vec<(DMatrix<f64>, DMatrix<f64>)> = pp
        .p_in
        .iter()
        .zip(&pp.p_out)
        .map(|(p_in, p_out)| (linalg::gram_cols(&(p_in * &ft)), linalg::gram_rows(p_out)))
        .collect();
    let mut kmat = DMatrix::zeros(order, order);
    let fill = |(col, dst): (usize, &mut [f64])| {
        let (bi, j) = (col / k, col % k);
        for (a, b) in &factors {
            let (a, b) = (a.column(bi), b.column(j));
            for ai in bi..r {
                let s = a[ai];
                let first = if ai == bi { j } else { 0 };
                for (d, bij) in dst[ai * k + first..(ai + 1) * k]
                    .iter_mut()
                    .zip(&b.as_slice()[first..])
                {
                    *d += s * bij;
                }
            }
        }
    };
    kmat.as_mut_slice()
        .par_chunks_mut(order)
        .enumerate()
        .for_each(fill);
    let mut eigs = linalg::sym_eigenvalues(&kmat)?;
    eigs.sort_by(f64::total_cmp);
    Ok(eigs)
}

fn dims_of(pp: &PartialProducts, moment: &SecondMoment) -> Vec<usize> {
    let mut dims = vec![moment.d];
    dims.extend(pp.p_in[1..].iter().map(|p| p.nrows()));
    dims.push(pp.p_out[0].nrows());
    dims
}

/// The Kronecker route through singular values, for very ill-conditioned networks. With the
/// thin QR factors `P_in(ℓ) Fᵀ = Q T_ℓ` and `P_out(ℓ)ᵀ = Q' S_ℓ`, `A_ℓ ⊗ B_ℓ = (T_ℓ ⊗ S_ℓ)ᵀ
/// (T_ℓ ⊗ S_ℓ)`, so `Σ_ℓ A_ℓ ⊗ B_ℓ = ZᵀZ` with Z the blocks `T_ℓ ⊗ S_ℓ` stacked (at most
/// L·rk × rk), and the spectrum is the squared singular values of Z: no squaring of κ.
pub fn kronecker_linear_svd(pp: &PartialProducts, moment: &SecondMoment) -> Result<GnSpectrum> {
    let r = moment.factor.nrows();
    let k = pp.p_out[0].nrows();
    let ft = moment.factor.transpose();
    let mut blocks = Vec::with_capacity(pp.p_in.len());
    for (p_in, p_out) in pp.p_in.iter().zip(&pp.p_out) {
        let t = linalg::qr_r(&(p_in * &ft))?;
        let s = linalg::qr_r(&p_out.transpose())?;
        blocks.push(t.kronecker(&s));
    }
    let rows: usize = blocks.iter().map(|b| b.nrows()).sum();
    let mut z = DMatrix::zeros(rows, r * k);
    let mut at = 0;
    for b in &blocks {
        z.view_mut((at, 0), b.shape()).copy_from(b);
        at += b.nrows();
    }
    let order = r * k;
    let s = linalg::singular_values(&z)?;
    Ok(GnSpectrum {
        spectrum: Spectrum::from_singular_values(&s, rows.max(order)),
        order,
        route: Route::KroneckerSvd,
        rank_theory: Some(linear_rank_theory(&dims_of(pp, moment), moment.rank)),
    })
}

/// Closed form for one hidden layer on whitened data (`Σ = s·I`, network `W₂ W₁`): the
/// Kronecker sum `s (I_d ⊗ W₂W₂ᵀ + W₁ᵀW₁ ⊗ I_k)`, whose eigenvalues are
/// `s (λ_i(W₁ᵀW₁) + λ_j(W₂W₂ᵀ))` for all pairs. Cost: two small eigensolves; when m < d the
/// d×d `W₁ᵀW₁` is replaced by the m×m `W₁W₁ᵀ` (the same nonzero eigenvalues) and d − m zeros.
pub fn kronecker_sum_one_hidden(
    w1: &DMatrix<f64>,
    w2: &DMatrix<f64>,
    s: f64,
) -> Result<GnSpectrum> {
    let (d, m, k) = (w1.ncols(), w1.nrows(), w2.nrows());
    let a = if m < d {
        let mut a = linalg::sym_eigenvalues(&linalg::gram_rows(w1))?;
        a.resize(d, 0.0);
        a
    } else {
        linalg::sym_eigenvalues(&linalg::gram_cols(w1))?
    };
    let b = linalg::sym_eigenvalues(&(w2 * w2.transpose()))?;
    let eigs: Vec<f64> = a
        .iter()
        .flat_map(|x| b.iter().map(move |y| s * (x.max(0.0) + y.max(0.0))))
        .collect();
    let order = eigs.len();
    Ok(GnSpectrum {
        spectrum: Spectrum::from_eigenvalues(&eigs, order),
        order,
        route: Route::KroneckerSum,
        rank_theory: Some(linear_rank_theory(&[d, m, k], d)),
    })
}

/// One hidden layer (`W₂ W₁`) on any data, by block diagonalisation: the Kronecker form is
/// `A₁ ⊗ W₂W₂ᵀ + A₂ ⊗ I_k` with `A₁ = F Fᵀ`, `A₂ = F W₁ᵀW₁ Fᵀ` (F Σ's r×d factor); with
/// `W₂W₂ᵀ = Q diag(δ) Qᵀ` it is similar to `⊕_j (δ_j A₁ + A₂)`, so its spectrum is that of k
/// r×r eigensolves (order r·k in all). Cost O(m d² + k r³) instead of one (rk)³ eigensolve.
pub fn kronecker_one_hidden(
    w1: &DMatrix<f64>,
    w2: &DMatrix<f64>,
    moment: &SecondMoment,
) -> Result<GnSpectrum> {
    let f = &moment.factor;
    let a1 = linalg::gram_rows(f);
    let g = linalg::matmul(w1, &f.transpose());
    let a2 = linalg::gram_cols(&g);
    let mut eigs = Vec::new();
    for delta in linalg::sym_eigenvalues(&(w2 * w2.transpose()))? {
        eigs.extend(linalg::sym_eigenvalues(&(&a1 * delta + &a2))?);
    }
    let order = eigs.len();
    Ok(GnSpectrum {
        spectrum: Spectrum::from_eigenvalues(&eigs, order),
        order,
        route: Route::Kronecker,
        rank_theory: Some(linear_rank_theory(
            &[w1.ncols(), w1.nrows(), w2.nrows()],
            moment.rank,
        )),
    })
}

/// Two-layer leaky-ReLU network by the cheapest exact route: the Gram form `J Jᵀ / n`
/// (nk×nk, built without J) when nk ≤ p, else `JᵀJ / n` (p×p) from the explicit Jacobian.
/// The p×p matrix is never formed when p > nk.
pub fn two_layer(net: &TwoLayer, x: &DMatrix<f64>) -> Result<GnSpectrum> {
    let n = x.ncols();
    let nk = n * net.w.nrows();
    if nk <= net.num_params() {
        let g = net.gram(x) / n as f64;
        Ok(GnSpectrum {
            spectrum: Spectrum::from_eigenvalues(&linalg::sym_eigenvalues(&g)?, nk),
            order: nk,
            route: Route::Gram,
            rank_theory: None,
        })
    } else {
        dense_jtj(&net.jacobian(x), n)
    }
}

/// The true Gauss-Newton matrix of a linear CNN in its filter (and head) parameters, from the
/// explicit filter Jacobian (p is small: m·ks + h·m²·ks + k·m·d_L): `JᵀJ / n` when p ≤ nk,
/// else `J Jᵀ / n`. (Its dense-Toeplitz surrogate goes through `kronecker_linear`.)
pub fn cnn_filters(net: &LinearCnn, x: &DMatrix<f64>) -> Result<GnSpectrum> {
    smaller_gram(&net.jacobian(x), x.ncols())
}

/// [`cnn_filters`] on the `r` rows `f_i` of Σ's factor instead of the n samples: the network
/// is linear in x, so `J(x) = Σ_a x_a J(e_a)` and `(1/n) Σ_x J(x)ᵀJ(x) = Σ_{ab} Σ_ab J(e_a)ᵀJ(e_b)
/// = Σ_i J(f_i)ᵀ J(f_i)` (as `FᵀF = Σ`): the same matrix from r ≤ d virtual samples.
pub fn cnn_filters_from_moment(net: &LinearCnn, moment: &SecondMoment) -> Result<GnSpectrum> {
    let r = moment.factor.nrows();
    let virtual_x = moment.factor.transpose() * (r as f64).sqrt();
    smaller_gram(&net.jacobian(&virtual_x), r)
}

/// The network with batch norm, from its explicit Jacobian (the batch couples the samples,
/// so J is built for the whole batch at once), by the smaller Gram matrix.
pub fn batchnorm(net: &BatchNormNet, x: &DMatrix<f64>) -> Result<GnSpectrum> {
    smaller_gram(&net.jacobian(x), x.ncols())
}

/// A CIFAR-style ResNet, from its explicit Jacobian by the smaller Gram matrix. With
/// `BnMode::Batch` the function is the whole batch (statistics differentiated through); with
/// `BnMode::Frozen` the statistics of `x` are held fixed and each sample is its own function.
/// Above κ = 1e10 the singular values of J are taken instead of an eigensolve.
pub fn resnet(net: &ResNet, x: &DMatrix<f64>, mode: BnMode) -> Result<GnSpectrum> {
    match mode {
        BnMode::Batch => {
            let jac = net.jacobian(x);
            let fast = smaller_gram(&jac, x.ncols())?;
            if fast.spectrum.kappa > KAPPA_SVD_SWITCH {
                return jacobian_svd(&jac, x.ncols());
            }
            Ok(fast)
        }
        BnMode::Frozen => resnet_frozen(net, x, &net.batch_stats(x), None, usize::MAX),
    }
}

/// A ResNet with batch-norm statistics `stats` held fixed (a per-sample function), in the
/// parameters `mask` keeps (all when None): the Gauss-Newton matrix of the kept parameters.
/// J is held whole only when it fits in `max_bytes`; then the smaller of `JᵀJ` and `J Jᵀ` is
/// eigensolved, or the singular values of J when κ passes 1e10. Otherwise every Jacobian
/// entry is still computed once: with p_kept ≤ nk, `JᵀJ = Σ_a J_aᵀ J_a` over blocks of
/// samples; with p_kept > nk, `J Jᵀ = Σ_s J_s J_sᵀ` over slices of consecutive basic blocks
/// ([`ResNet::segments`]), one slice of at most `max_bytes` in memory at a time (a slice
/// holds at least one block). Never the p×p matrix when p > nk.
pub fn resnet_frozen(
    net: &ResNet,
    x: &DMatrix<f64>,
    stats: &[BnStats],
    mask: Option<&[bool]>,
    max_bytes: usize,
) -> Result<GnSpectrum> {
    let (n, k) = (x.ncols(), net.spec.classes);
    let p = mask.map_or(net.num_params(), |m| m.iter().filter(|&&kept| kept).count());
    if p.saturating_mul(n * k * 8) <= max_bytes {
        let jt = net.jacobian_frozen_t(x, stats, mask);
        let fast = smaller_gram_t(&jt, n)?;
        if fast.spectrum.kappa > KAPPA_SVD_SWITCH {
            return svd_route(&jt, n, jt.nrows());
        }
        return Ok(fast);
    }
    let (g, route) = if p <= n * k {
        let block = (max_bytes / (k * p * 8).max(1)).clamp(1, n);
        let mut g = DMatrix::zeros(p, p);
        for a in (0..n).step_by(block) {
            let xa = x.columns(a, block.min(n - a)).into_owned();
            g += linalg::gram_rows(&net.jacobian_frozen_t(&xa, stats, mask));
        }
        (g, Route::DenseJtJ)
    } else {
        let mut g = DMatrix::zeros(n * k, n * k);
        let segments = net.segments(mask, max_bytes / (n * k * 8));
        // the forward tapes are kept when they fit in the same budget as one slice
        net.jacobian_frozen_t_segments(x, stats, mask, &segments, max_bytes, |_, jt| {
            linalg::add_gram_cols_lower(&mut g, jt)
        });
        linalg::mirror_lower(&mut g);
        (g, Route::Gram)
    };
    eigen_route(g / n as f64, route)
}

/// The spectrum of an explicit Gauss-Newton (or Gram) matrix by one symmetric eigensolve.
fn eigen_route(g: DMatrix<f64>, route: Route) -> Result<GnSpectrum> {
    let order = g.nrows();
    Ok(GnSpectrum {
        spectrum: Spectrum::from_eigenvalues(&linalg::sym_eigenvalues(&g)?, order),
        order,
        route,
        rank_theory: None,
    })
}

/// [`smaller_gram`] from `Jᵀ` (p×nk): `JᵀJ / n` is `Jᵀ(Jᵀ)ᵀ / n`, `J Jᵀ / n` is `(Jᵀ)ᵀJᵀ / n`.
pub fn smaller_gram_t(jt: &DMatrix<f64>, n: usize) -> Result<GnSpectrum> {
    if jt.nrows() <= jt.ncols() {
        eigen_route(linalg::gram_rows(jt) / n as f64, Route::DenseJtJ)
    } else {
        eigen_route(linalg::gram_cols(jt) / n as f64, Route::Gram)
    }
}

/// `JᵀJ / n` when p ≤ nk, else `J Jᵀ / n`: never the larger of the two.
pub fn smaller_gram(jac: &DMatrix<f64>, n: usize) -> Result<GnSpectrum> {
    if jac.ncols() <= jac.nrows() {
        dense_jtj(jac, n)
    } else {
        gram(jac, n)
    }
}

/// Oracle for ill-conditioned cases: squared singular values of the explicit `J / √n`.
pub fn jacobian_svd(jac: &DMatrix<f64>, n: usize) -> Result<GnSpectrum> {
    svd_route(jac, n, jac.ncols())
}

/// Squared singular values of `J / √n` given J or Jᵀ; `order` is p, the order of G_O.
fn svd_route(jac: &DMatrix<f64>, n: usize, order: usize) -> Result<GnSpectrum> {
    let s = linalg::singular_values(&(jac / (n as f64).sqrt()))?;
    Ok(GnSpectrum {
        spectrum: Spectrum::from_singular_values(&s, jac.nrows().max(jac.ncols())),
        order,
        route: Route::JacobianSvd,
        rank_theory: None,
    })
}

/// Oracle: eigenvalues of the explicit `JᵀJ / n` (p×p).
pub fn dense_jtj(jac: &DMatrix<f64>, n: usize) -> Result<GnSpectrum> {
    eigen_route(linalg::gram_cols(jac) / n as f64, Route::DenseJtJ)
}

/// Oracle: eigenvalues of the explicit `J Jᵀ / n` (nk×nk), same nonzero spectrum as `JᵀJ / n`.
pub fn gram(jac: &DMatrix<f64>, n: usize) -> Result<GnSpectrum> {
    eigen_route(linalg::gram_rows(jac) / n as f64, Route::Gram)
}
