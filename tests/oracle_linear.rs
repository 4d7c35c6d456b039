//! Oracles for the deep-linear spectrum engine: the Kronecker route against κ of an explicitly
//! built JᵀJ and JJᵀ, the Jacobian against central finite differences, ranks against theory,
//! and B-convex against the exact κ on small random cases (whitened, non-whitened,
//! rank-deficient, bottlenecks).

use gncond::bounds::{b_convex, PartialSingularValues};
use gncond::data::{whiten, SecondMoment};
use gncond::gn;
use gncond::nets::DeepLinear;
use gncond::seed::{normal, point_rng, PointRng};
use nalgebra::DMatrix;

fn rng(tag: &str, i: u64) -> PointRng {
    point_rng(7, "oracle-linear", &[("case", tag.to_string())], i)
}

fn gaussian(rows: usize, cols: usize, r: &mut PointRng) -> DMatrix<f64> {
    DMatrix::from_fn(rows, cols, |_, _| normal(r))
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs())
}

/// A small case: data, network, and whether the data is whitened.
struct Case {
    name: String,
    x: DMatrix<f64>,
    net: DeepLinear,
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    // (d, n, hidden widths, k, whiten, rank-deficient data)
    type Shape = (usize, usize, &'static [usize], usize, bool, bool);
    let shapes: &[Shape] = &[
        (3, 8, &[4], 2, false, false),
        (3, 8, &[4], 2, true, false),
        (3, 8, &[4, 4], 2, false, false),
        (3, 8, &[4, 5, 4], 2, true, false),
        (4, 9, &[2], 3, false, false),      // bottleneck m < d
        (4, 9, &[5, 2, 5], 3, true, false), // bottleneck in the middle
        (5, 3, &[6], 2, false, false),      // n < d: rank Σ = 3
        (5, 10, &[6, 6], 3, false, true),   // duplicated pixel: rank Σ = 4
        (3, 7, &[1], 2, false, false),      // width below k
        (6, 12, &[3, 7], 4, false, true),
    ];
    for (i, &(d, n, hidden, k, whitened, deficient)) in shapes.iter().enumerate() {
        for rep in 0..3u64 {
            let mut r = rng(&format!("case{i}"), rep);
            let mut x = gaussian(d, n, &mut r);
            // non-isotropic data: scale pixels so that κ(Σ) is far from 1
            for a in 0..d {
                let s = 1.0 + a as f64;
                x.row_mut(a).scale_mut(s);
            }
            if deficient {
                let row0 = x.row(0).clone_owned();
                x.set_row(d - 1, &(row0 * 2.0));
            }
            let x = if whitened { whiten(&x).unwrap().0 } else { x };
            let mut dims = vec![d];
            dims.extend_from_slice(hidden);
            dims.push(k);
            let net = DeepLinear::kaiming(&dims, &mut r);
            out.push(Case {
                name: format!("d={d} n={n} hidden={hidden:?} k={k} whiten={whitened} deficient={deficient} rep={rep}"),
                x,
                net,
            });
        }
    }
    out
}

#[test]
fn kronecker_route_matches_explicit_jacobian() {
    for c in cases() {
        let n = c.x.ncols();
        let moment = SecondMoment::of(&c.x).unwrap();
        let fast = gn::kronecker_linear(&c.net.partial_products(), &moment).unwrap();
        let jac = c.net.jacobian(&c.x);
        let dense = gn::dense_jtj(&jac, n).unwrap();
        let gram = gn::gram(&jac, n).unwrap();
        for oracle in [dense, gram] {
            let (a, b) = (fast.spectrum, oracle.spectrum);
            assert_eq!(
                a.rank, b.rank,
                "{}: rank {} vs {} ({:?})",
                c.name, a.rank, b.rank, oracle.route
            );
            assert!(
                rel(a.kappa, b.kappa) < 1e-9,
                "{}: κ {} vs {} ({:?})",
                c.name,
                a.kappa,
                b.kappa,
                oracle.route
            );
            assert!(rel(a.lambda_max, b.lambda_max) < 1e-9, "{}: λ_max", c.name);
            assert!(
                rel(a.lambda_min_nonzero, b.lambda_min_nonzero) < 1e-9,
                "{}: λ_min⁺",
                c.name
            );
        }
        assert_eq!(
            Some(fast.spectrum.rank),
            fast.rank_theory,
            "{}: numerical rank against q(s + k − q)",
            c.name
        );
        // The Kronecker route eigensolves an (rk)×(rk) matrix, r = min(n, d): never p×p.
        let k = *c.net.dims().last().unwrap();
        assert_eq!(fast.order, moment.factor.nrows() * k, "{}", c.name);
        assert!(fast.order <= moment.d * k, "{}", c.name);
    }
}

#[test]
fn jacobian_matches_central_finite_differences() {
    for c in cases().into_iter().take(12) {
        let jac = c.net.jacobian(&c.x);
        let theta = c.net.params();
        let (k, n) = (c.net.dims().last().copied().unwrap(), c.x.ncols());
        let h = 1e-6;
        for j in 0..theta.len() {
            let mut plus = theta.clone();
            let mut minus = theta.clone();
            plus[j] += h;
            minus[j] -= h;
            let fp = c.net.with_params(&plus).forward(&c.x);
            let fm = c.net.with_params(&minus).forward(&c.x);
            for i in 0..n {
                for o in 0..k {
                    let fd = (fp[(o, i)] - fm[(o, i)]) / (2.0 * h);
                    let an = jac[(i * k + o, j)];
                    assert!(
                        (fd - an).abs() <= 1e-7 * (1.0 + an.abs()),
                        "{}: ∂f_{o}(x_{i})/∂θ_{j}: finite difference {fd}, Jacobian {an}",
                        c.name
                    );
                }
            }
        }
    }
}

#[test]
fn b_convex_bounds_kappa_on_random_cases() {
    let mut finite = 0;
    for c in cases() {
        let moment = SecondMoment::of(&c.x).unwrap();
        let pp = c.net.partial_products();
        let kappa = gn::kronecker_linear(&pp, &moment).unwrap().spectrum.kappa;
        let bound = b_convex(&PartialSingularValues::of(&pp).unwrap(), moment.kappa);
        assert!(!bound.is_nan(), "{}: bound is NaN", c.name);
        assert!(
            kappa <= bound * (1.0 + 1e-9),
            "{}: κ = {kappa} > B-convex = {bound}",
            c.name
        );
        let dims = c.net.dims();
        let min_width = dims[1..dims.len() - 1].iter().min().copied().unwrap();
        if min_width >= dims[0].max(*dims.last().unwrap()) {
            assert!(bound.is_finite(), "{}: B-convex should be finite", c.name);
            finite += 1;
        } else {
            assert!(
                bound.is_infinite(),
                "{}: B-convex should be +∞ below max(d, k)",
                c.name
            );
        }
    }
    assert!(finite >= 10, "too few cases with a finite bound: {finite}");
}

#[test]
fn b_convex_is_exact_for_one_hidden_layer_on_whitened_data() {
    for rep in 0..20 {
        let mut r = rng("exact", rep);
        let (d, k, m, n) = (3 + (rep as usize % 3), 2, 6 + rep as usize % 4, 15);
        let x = whiten(&gaussian(d, n, &mut r)).unwrap().0;
        let net = DeepLinear::kaiming(&[d, m, k], &mut r);
        let moment = SecondMoment::of(&x).unwrap();
        let pp = net.partial_products();
        let kappa = gn::kronecker_linear(&pp, &moment).unwrap().spectrum.kappa;
        let bound = b_convex(&PartialSingularValues::of(&pp).unwrap(), moment.kappa);
        assert!(
            rel(kappa, bound) < 1e-9,
            "rep {rep}: κ = {kappa}, B-convex = {bound}"
        );
    }
}

#[test]
fn partial_products_are_the_layer_products() {
    let mut r = rng("pp", 0);
    let net = DeepLinear::kaiming(&[3, 4, 5, 2], &mut r);
    let pp = net.partial_products();
    let w = &net.weights;
    assert_eq!(pp.p_in[0], DMatrix::identity(3, 3));
    assert!((&pp.p_in[2] - &w[1] * &w[0]).abs().max() < 1e-14);
    assert!((&pp.p_out[0] - &w[2] * &w[1]).abs().max() < 1e-14);
    assert_eq!(pp.p_out[2], DMatrix::identity(2, 2));
}

#[test]
fn closed_form_kronecker_sum_matches_the_jacobian() {
    // m ≥ d (the d×d eigensolve) and m < d (the m×m one with d − m zeros)
    for rep in 0..9 {
        let mut r = rng("ksum", rep);
        let (d, m, k, n) = if rep < 6 {
            (3 + rep as usize % 2, 4 + rep as usize % 3, 2, 9)
        } else {
            (6, 2 + rep as usize % 3, 3, 9)
        };
        let x = whiten(&gaussian(d, n, &mut r)).unwrap().0;
        let net = DeepLinear::kaiming(&[d, m, k], &mut r);
        // whitened: X Xᵀ = I, so Σ = I / n
        let closed =
            gn::kronecker_sum_one_hidden(&net.weights[0], &net.weights[1], 1.0 / n as f64).unwrap();
        let dense = gn::dense_jtj(&net.jacobian(&x), n).unwrap();
        let (a, b) = (closed.spectrum, dense.spectrum);
        assert_eq!(a.rank, b.rank, "rep {rep}");
        assert!(
            rel(a.kappa, b.kappa) < 1e-9,
            "rep {rep}: {} vs {}",
            a.kappa,
            b.kappa
        );
        assert!(rel(a.lambda_max, b.lambda_max) < 1e-9, "rep {rep}");
        assert_eq!(Some(a.rank), closed.rank_theory, "rep {rep}");
    }
}

#[test]
fn residual_network_gauss_newton_matches_finite_differences() {
    // f(x) = Π_ℓ (W_ℓ + βI) x as a function of the W_ℓ: its Jacobian is the shifted network's,
    // and so is κ(G_O); check both against central differences in W.
    for (rep, beta) in [0.0, 0.25, 1.0].into_iter().enumerate() {
        let mut r = rng("residual", rep as u64);
        let (d, n) = (3, 7);
        let x = gaussian(d, n, &mut r);
        let base = DeepLinear::kaiming(&[d, 4, 4, 2], &mut r);
        let shifted = base.residual(beta);
        let jac = shifted.jacobian(&x);
        let theta = base.params();
        let h = 1e-6;
        let mut fd = DMatrix::zeros(jac.nrows(), jac.ncols());
        for j in 0..theta.len() {
            let (mut p, mut m) = (theta.clone(), theta.clone());
            p[j] += h;
            m[j] -= h;
            let fp = base.with_params(&p).residual(beta).forward(&x);
            let fm = base.with_params(&m).residual(beta).forward(&x);
            for i in 0..n {
                for o in 0..2 {
                    fd[(i * 2 + o, j)] = (fp[(o, i)] - fm[(o, i)]) / (2.0 * h);
                }
            }
        }
        assert!(
            (&fd - &jac).abs().max() < 1e-7 * (1.0 + jac.abs().max()),
            "β = {beta}"
        );
        let moment = SecondMoment::of(&x).unwrap();
        let fast = gn::kronecker_linear(&shifted.partial_products(), &moment).unwrap();
        let oracle = gn::dense_jtj(&fd, n).unwrap();
        assert!(
            rel(fast.spectrum.kappa, oracle.spectrum.kappa) < 1e-6,
            "β = {beta}"
        );
        let sv = PartialSingularValues::of(&shifted.partial_products()).unwrap();
        let bound = gncond::bounds::b_residual(&sv, moment.kappa);
        assert!(fast.spectrum.kappa <= bound * (1.0 + 1e-9), "β = {beta}");
    }
}

#[test]
fn b_loose_is_never_tighter_than_b_convex() {
    for c in cases() {
        let moment = SecondMoment::of(&c.x).unwrap();
        let sv = PartialSingularValues::of(&c.net.partial_products()).unwrap();
        let (convex, loose) = (
            b_convex(&sv, moment.kappa),
            gncond::bounds::b_loose(&sv, moment.kappa),
        );
        assert!(
            convex <= loose * (1.0 + 1e-12),
            "{}: {convex} > {loose}",
            c.name
        );
    }
}

#[test]
fn ill_conditioned_networks_switch_to_singular_values_and_stay_exact() {
    // inputs with one nearly dead pixel: κ(Σ) ≈ tiny⁻², and every block of G_O inherits it
    for (rep, tiny) in [1e-5, 1e-6, 1e-7].into_iter().enumerate() {
        let mut r = rng("ill", rep as u64);
        let (d, k, n) = (3, 2, 9);
        let mut x = whiten(&gaussian(d, n, &mut r)).unwrap().0;
        x.row_mut(0).scale_mut(tiny);
        let net = DeepLinear::kaiming(&[d, 4, 4, k], &mut r);
        let moment = SecondMoment::of(&x).unwrap();
        let pp = net.partial_products();
        let fast = gn::kronecker_linear(&pp, &moment).unwrap();
        let oracle = gn::jacobian_svd(&net.jacobian(&x), n).unwrap();
        assert!(
            fast.spectrum.kappa > gn::KAPPA_SVD_SWITCH,
            "tiny = {tiny}: κ = {}",
            fast.spectrum.kappa
        );
        assert_eq!(fast.route, gn::Route::KroneckerSvd);
        assert_eq!(fast.spectrum.rank, oracle.spectrum.rank, "tiny = {tiny}");
        assert_eq!(Some(fast.spectrum.rank), fast.rank_theory, "tiny = {tiny}");
        assert!(
            rel(fast.spectrum.kappa, oracle.spectrum.kappa) < 1e-9,
            "tiny = {tiny}: κ {} vs {}",
            fast.spectrum.kappa,
            oracle.spectrum.kappa
        );
        // for the record: how far the eigen route alone is from the oracle here (graded
        // matrices keep much of their accuracy; the switch is the safety net)
        let eig = gn::kronecker_linear_eig(&pp, &moment).unwrap();
        println!(
            "tiny = {tiny}: κ = {:.6e} (svd), {:.6e} (eig), rel. error of eig {:.1e}",
            fast.spectrum.kappa,
            eig.spectrum.kappa,
            rel(eig.spectrum.kappa, oracle.spectrum.kappa)
        );
    }
}

#[test]
fn svd_and_eig_routes_agree_on_well_conditioned_cases() {
    for c in cases() {
        let moment = SecondMoment::of(&c.x).unwrap();
        let pp = c.net.partial_products();
        let a = gn::kronecker_linear_eig(&pp, &moment).unwrap().spectrum;
        let b = gn::kronecker_linear_svd(&pp, &moment).unwrap().spectrum;
        assert_eq!(a.rank, b.rank, "{}", c.name);
        assert!(
            rel(a.kappa, b.kappa) < 1e-9,
            "{}: {} vs {}",
            c.name,
            a.kappa,
            b.kappa
        );
    }
}

/// Invariance (docs/METHODS.md §3): a linear network's G_O depends on the inputs only through
/// Σ, so two different input sets whitened to Σ = I (here embedded MNIST and Gaussian data of
/// the same d) give the same spectrum for the same weights, eigenvalue by eigenvalue.
#[test]
fn whitened_inputs_matter_only_through_d() {
    let img = gncond::data::load_embedded_mnist().unwrap();
    let mnist = gncond::data::design_matrix(&img, 300, 7).unwrap(); // d = 16
    let d = mnist.nrows();
    let mut r = rng("invariance", 0);
    // the same n: whitening gives X Xᵀ = I, so Σ = I/n
    let gauss = gaussian(d, 300, &mut r);
    let (a, b) = (whiten(&mnist).unwrap().0, whiten(&gauss).unwrap().0);
    let net = DeepLinear::kaiming(&[d, 20, 15, 10], &mut r);
    let pp = net.partial_products();
    let ea = gn::kronecker_linear_eigenvalues(&pp, &SecondMoment::of(&a).unwrap()).unwrap();
    let eb = gn::kronecker_linear_eigenvalues(&pp, &SecondMoment::of(&b).unwrap()).unwrap();
    assert_eq!(ea.len(), eb.len());
    let top = ea[ea.len() - 1];
    for (u, v) in ea.iter().zip(&eb) {
        assert!((u - v).abs() < 1e-11 * top, "{u} vs {v}");
    }
    // and raw inputs, with another Σ, give another spectrum
    let raw = gn::kronecker_linear_eigenvalues(&pp, &SecondMoment::of(&mnist).unwrap()).unwrap();
    assert!(rel(raw[raw.len() - 1], top) > 1e-3);
}

/// The one-hidden-layer block route equals the Kronecker route on raw (non-whitened) data,
/// full-rank and rank-deficient Σ alike.
#[test]
fn one_hidden_block_route_equals_the_kronecker_route() {
    for (case, &(d, m, k, n)) in [(3, 4, 2, 20), (5, 7, 3, 4), (6, 2, 4, 30)]
        .iter()
        .enumerate()
    {
        let mut r = rng("one-hidden", case as u64);
        let scale = DMatrix::from_fn(d, 1, |i, _| 3f64.powi(i as i32));
        let x = DMatrix::from_fn(d, n, |i, _| scale[(i, 0)] * normal(&mut r));
        let moment = SecondMoment::of(&x).unwrap();
        let net = DeepLinear::kaiming(&[d, m, k], &mut r);
        let slow = gn::kronecker_linear_eig(&net.partial_products(), &moment).unwrap();
        let fast = gn::kronecker_one_hidden(&net.weights[0], &net.weights[1], &moment).unwrap();
        assert_eq!(fast.order, slow.order, "case {case}");
        assert_eq!(fast.spectrum.rank, slow.spectrum.rank, "case {case}");
        assert!(
            rel(fast.spectrum.kappa, slow.spectrum.kappa) < 1e-9,
            "case {case}"
        );
        assert!(rel(fast.spectrum.lambda_max, slow.spectrum.lambda_max) < 1e-12);
    }
}

/// `linalg::singular_values` skips the SVD for an exact identity (the first and last partial
/// products of every network): the values equal the full SVD's, to the bit, and a matrix next
/// to the identity still goes through the SVD.
#[test]
fn identity_singular_values_equal_the_svd() {
    for d in [1, 5, 49, 196] {
        let eye = DMatrix::<f64>::identity(d, d);
        assert_eq!(
            gncond::linalg::singular_values(&eye).unwrap(),
            gncond::linalg::thin_svd(&eye).unwrap().s
        );
    }
    let mut near = DMatrix::<f64>::identity(4, 4);
    near[(0, 1)] = 1e-3;
    let s = gncond::linalg::singular_values(&near).unwrap();
    assert_eq!(s, gncond::linalg::thin_svd(&near).unwrap().s);
    assert!(s[0] > 1.0 && s[3] < 1.0);
}

#[test]
fn forward_through_the_end_to_end_matrix_equals_the_layer_by_layer_product() {
    // n large against k: forward takes the end-to-end k×d matrix first
    let (d, k, n) = (6, 2, 50);
    let mut r = rng("forward-order", 0);
    let weights = vec![
        gaussian(7, d, &mut r),
        gaussian(5, 7, &mut r),
        gaussian(k, 5, &mut r),
    ];
    let x = gaussian(d, n, &mut r);
    let layered = &weights[2] * (&weights[1] * (&weights[0] * &x));
    let net = DeepLinear { weights };
    let f = net.forward(&x);
    let err = (&f - &layered).abs().max() / layered.abs().max();
    assert!(err < 1e-13, "relative error {err:e}");
    // and n = 1 (layer by layer is cheaper): the same outputs
    let one = x.columns(0, 1).into_owned();
    let err1 = (net.forward(&one) - layered.columns(0, 1)).abs().max() / layered.abs().max();
    assert!(err1 < 1e-13, "relative error {err1:e}");
}
