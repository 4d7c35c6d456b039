//! Oracles for the batch-norm network: the Jacobian (with its coupling across the samples of
//! the batch) against central finite differences of the batch forward pass, and the spectrum
//! routes against each other.

use gncond::gn;
use gncond::nets::BatchNormNet;
use gncond::seed::{normal, point_rng, PointRng};
use nalgebra::DMatrix;

fn rng(i: u64) -> PointRng {
    point_rng(19, "oracle-bn", &[], i)
}

fn gaussian(rows: usize, cols: usize, r: &mut PointRng) -> DMatrix<f64> {
    DMatrix::from_fn(rows, cols, |_, _| normal(r))
}

#[test]
fn jacobian_matches_finite_differences_including_batch_coupling() {
    for (case, &(d, m, k, n)) in [(3, 4, 2, 5), (4, 2, 3, 6), (2, 5, 2, 3)]
        .iter()
        .enumerate()
    {
        let mut r = rng(case as u64);
        let x = gaussian(d, n, &mut r);
        let mut net = BatchNormNet::kaiming(d, m, k, &mut r);
        // non-trivial affine parameters
        net.gamma = net.gamma.map(|g| g + 0.3 * normal(&mut r));
        net.beta = net.beta.map(|_| 0.2 * normal(&mut r));
        let jac = net.jacobian(&x);
        let theta = net.params();
        assert_eq!(net.with_params(&theta).params(), theta);
        let h = 1e-6;
        for j in 0..theta.len() {
            let (mut p, mut q) = (theta.clone(), theta.clone());
            p[j] += h;
            q[j] -= h;
            let fd =
                (net.with_params(&p).forward(&x) - net.with_params(&q).forward(&x)) / (2.0 * h);
            for i in 0..n {
                for o in 0..k {
                    let an = jac[(i * k + o, j)];
                    assert!(
                        (fd[(o, i)] - an).abs() < 2e-6 * (1.0 + an.abs()),
                        "case {case}, θ_{j}, sample {i}, output {o}: fd {} vs {an}",
                        fd[(o, i)]
                    );
                }
            }
        }
        // a W₁ entry moves every sample's output through the batch statistics
        let col = 0;
        let touched = (0..n).filter(|&i| jac[(i * k, col)].abs() > 1e-12).count();
        assert_eq!(touched, n, "case {case}: coupling across the batch");
    }
}

#[test]
fn both_gram_orientations_agree() {
    for (case, &(d, m, k, n)) in [(3, 4, 2, 5), (5, 2, 2, 12)].iter().enumerate() {
        let mut r = rng(10 + case as u64);
        let x = gaussian(d, n, &mut r);
        let net = BatchNormNet::kaiming(d, m, k, &mut r);
        let jac = net.jacobian(&x);
        let (a, b) = (
            gn::dense_jtj(&jac, n).unwrap().spectrum,
            gn::gram(&jac, n).unwrap().spectrum,
        );
        assert_eq!(a.rank, b.rank);
        assert!(
            (a.kappa - b.kappa).abs() < 1e-9 * a.kappa,
            "{} vs {}",
            a.kappa,
            b.kappa
        );
        let route = gn::batchnorm(&net, &x).unwrap();
        assert_eq!(route.order, jac.nrows().min(jac.ncols()));
        assert!((route.spectrum.kappa - a.kappa).abs() < 1e-9 * a.kappa);
    }
}
