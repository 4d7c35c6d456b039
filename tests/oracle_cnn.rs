//! Oracles for linear CNNs: direct convolution against the Toeplitz surrogate's forward, the
//! filter Jacobian against central finite differences and against the chain rule through the
//! dense Toeplitz Jacobian, and the two Gauss-Newton matrices (true filter GN, surrogate).

use gncond::data::SecondMoment;
use gncond::gn;
use gncond::nets::LinearCnn;
use gncond::seed::{normal, point_rng, PointRng};
use nalgebra::DMatrix;

fn rng(i: u64) -> PointRng {
    point_rng(17, "oracle-cnn", &[], i)
}

fn gaussian(rows: usize, cols: usize, r: &mut PointRng) -> DMatrix<f64> {
    DMatrix::from_fn(rows, cols, |_, _| normal(r))
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs())
}

/// (d, m, ks, hidden, k, n)
const SHAPES: [(usize, usize, usize, usize, usize, usize); 4] = [
    (9, 2, 3, 1, 2, 5),
    (8, 3, 2, 0, 2, 4),
    (10, 2, 4, 1, 3, 6),
    (7, 1, 3, 1, 2, 12),
];

#[test]
fn direct_convolution_equals_the_toeplitz_network() {
    for (case, &(d, m, ks, h, k, n)) in SHAPES.iter().enumerate() {
        let mut r = rng(case as u64);
        let x = gaussian(d, n, &mut r);
        let net = LinearCnn::kaiming(d, m, ks, h, k, &mut r).unwrap();
        let direct = net.forward(&x);
        let dense = net.toeplitz().forward(&x);
        assert!((direct - dense).abs().max() < 1e-12, "case {case}");
        assert_eq!(net.lengths().last().copied(), Some(d - (h + 1) * (ks - 1)));
    }
    let mut r = rng(99);
    assert!(
        LinearCnn::kaiming(6, 2, 4, 1, 2, &mut r).is_none(),
        "kernels longer than the input"
    );
}

#[test]
fn filter_jacobian_matches_finite_differences_and_the_chain_rule() {
    for (case, &(d, m, ks, h, k, n)) in SHAPES.iter().enumerate() {
        let mut r = rng(10 + case as u64);
        let x = gaussian(d, n, &mut r);
        let net = LinearCnn::kaiming(d, m, ks, h, k, &mut r).unwrap();
        let jac = net.jacobian(&x);
        let theta = net.params();
        assert_eq!(jac.ncols(), theta.len());
        let step = 1e-6;
        for j in 0..theta.len() {
            let (mut p, mut q) = (theta.clone(), theta.clone());
            p[j] += step;
            q[j] -= step;
            let fd =
                (net.with_params(&p).forward(&x) - net.with_params(&q).forward(&x)) / (2.0 * step);
            for i in 0..n {
                for o in 0..k {
                    let an = jac[(i * k + o, j)];
                    assert!(
                        (fd[(o, i)] - an).abs() < 1e-7 * (1.0 + an.abs()),
                        "case {case} θ_{j}"
                    );
                }
            }
        }
        // chain rule: J_filter = J_dense · S, S mapping each filter entry to the Toeplitz
        // entries it fills (dense columns run layer by layer over column-major vec(T_ℓ)).
        let dense_net = net.toeplitz();
        let j_dense = dense_net.jacobian(&x);
        let mut s = DMatrix::zeros(j_dense.ncols(), theta.len());
        let lens = net.lengths();
        let (mut dense_at, mut filt_at) = (0, 0);
        for (l, c) in net.convs.iter().enumerate() {
            let (li, lo) = (lens[l], lens[l + 1]);
            let rows = c.out * lo;
            for o in 0..c.out {
                for i in 0..c.inp {
                    for t in 0..c.ks {
                        for pos in 0..lo {
                            let (a, b) = (o * lo + pos, i * li + pos + t);
                            s[(
                                dense_at + a + b * rows,
                                filt_at + (o * c.inp + i) * c.ks + t,
                            )] = 1.0;
                        }
                    }
                }
            }
            dense_at += rows * c.inp * li;
            filt_at += c.w.len();
        }
        let (hk, hf) = net.head.shape();
        for o in 0..hk {
            for j in 0..hf {
                s[(dense_at + o + j * hk, filt_at + o * hf + j)] = 1.0;
            }
        }
        assert!(
            (&j_dense * &s - &jac).abs().max() < 1e-12,
            "case {case}: chain rule"
        );
    }
}

#[test]
fn true_filter_gn_and_toeplitz_surrogate() {
    for (case, &(d, m, ks, h, k, n)) in SHAPES.iter().enumerate() {
        let mut r = rng(20 + case as u64);
        let x = gaussian(d, n, &mut r);
        let net = LinearCnn::kaiming(d, m, ks, h, k, &mut r).unwrap();
        let filt = gn::cnn_filters(&net, &x).unwrap();
        let jac = net.jacobian(&x);
        // both orientations of the explicit Jacobian agree
        let (a, b) = (
            gn::dense_jtj(&jac, n).unwrap().spectrum,
            gn::gram(&jac, n).unwrap().spectrum,
        );
        assert_eq!(a.rank, b.rank, "case {case}");
        assert!(rel(a.kappa, b.kappa) < 1e-9, "case {case}");
        assert!(rel(filt.spectrum.kappa, a.kappa) < 1e-9, "case {case}");
        assert!(
            filt.order == jac.ncols().min(jac.nrows()),
            "case {case}: the smaller Gram"
        );
        // the surrogate by the Kronecker route against its explicit Jacobian
        let dense = net.toeplitz();
        let moment = SecondMoment::of(&x).unwrap();
        let sur = gn::kronecker_linear(&dense.partial_products(), &moment).unwrap();
        let sur_oracle = gn::gram(&dense.jacobian(&x), n).unwrap();
        assert_eq!(sur.spectrum.rank, sur_oracle.spectrum.rank, "case {case}");
        assert!(
            rel(sur.spectrum.kappa, sur_oracle.spectrum.kappa) < 1e-9,
            "case {case}"
        );
        // tying the Toeplitz entries can only lower the rank: range(J S) ⊆ range(J_dense)
        assert!(filt.spectrum.rank <= sur.spectrum.rank, "case {case}");
    }
}

/// The filter GN on the r rows of Σ's factor (virtual samples) equals the one on the n samples,
/// eigenvalue by eigenvalue: full-rank Σ (n > d) and rank-deficient Σ (n < d), raw inputs.
#[test]
fn filter_gn_from_the_second_moment_equals_the_one_from_the_samples() {
    for (case, &(d, m, ks, h, k, n)) in SHAPES.iter().enumerate() {
        for n in [n, d + 7] {
            let mut r = rng(40 + case as u64);
            // non-whitened: columns with very different scales
            let scale = DMatrix::from_fn(d, 1, |i, _| 10f64.powf(i as f64 / 3.0));
            let x = DMatrix::from_fn(d, n, |i, _| scale[(i, 0)] * normal(&mut r));
            let net = LinearCnn::kaiming(d, m, ks, h, k, &mut r).unwrap();
            let moment = SecondMoment::of(&x).unwrap();
            let from_x = gn::cnn_filters(&net, &x).unwrap().spectrum;
            let fast = gn::cnn_filters_from_moment(&net, &moment).unwrap().spectrum;
            assert_eq!(fast.rank, from_x.rank, "case {case} n {n}");
            assert!(
                rel(fast.lambda_max, from_x.lambda_max) < 1e-12,
                "case {case} n {n}"
            );
            assert!(
                rel(fast.lambda_min_nonzero, from_x.lambda_min_nonzero) < 1e-8,
                "case {case} n {n}: {} vs {}",
                fast.lambda_min_nonzero,
                from_x.lambda_min_nonzero
            );
        }
    }
}

/// The authors' CNN formula with Σ^{1/2} is the Gauss-Newton matrix of the network made of the
/// CNN's two Toeplitz matrices (no head): checked against that network's explicit Jacobian.
#[test]
fn authors_formula_with_the_root_is_the_two_toeplitz_gauss_newton_matrix() {
    use gncond::authors::{cnn_formula, Slot};
    use gncond::nets::DeepLinear;
    for (case, &(d, m, ks, _, k, n)) in SHAPES.iter().enumerate() {
        let mut r = rng(60 + case as u64);
        let x = gaussian(d, n.max(d), &mut r);
        let net = LinearCnn::kaiming(d, m, ks, 1, k, &mut r).unwrap();
        let convs = net.toeplitz_convs();
        let moment = SecondMoment::of(&x).unwrap();
        let formula = cnn_formula(&convs[0], &convs[1], &moment.factor, Slot::Root).unwrap();
        let two = DeepLinear::new(convs.clone()).unwrap();
        let direct = gn::gram(&two.jacobian(&x), x.ncols()).unwrap().spectrum;
        assert_eq!(formula.rank, direct.rank, "case {case}");
        assert!(rel(formula.kappa, direct.kappa) < 1e-8, "case {case}");
        // Σ/2 is another matrix: another κ
        let halved = cnn_formula(&convs[0], &convs[1], &moment.factor, Slot::Halved).unwrap();
        assert!(rel(halved.kappa, direct.kappa) > 1e-3, "case {case}");
    }
}
