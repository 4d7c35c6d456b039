//! Oracles for the CIFAR-style ResNet: the reverse-mode Jacobian against central finite
//! differences of the forward pass (batch statistics, with their coupling across samples, and
//! frozen statistics), the parameter count of ResNet20 against its published value, and the
//! spectrum route against the explicit `JᵀJ` and the singular values of J.

use gncond::gn;
use gncond::nets::resnet::TensorKind;
use gncond::nets::{BnMode, ResNet, ResNetSpec};
use gncond::seed::{normal, point_rng, PointRng};
use nalgebra::DMatrix;

fn rng(i: u64) -> PointRng {
    point_rng(23, "oracle-resnet", &[], i)
}

/// A tiny ResNet: every kind of layer (stride-2 blocks with zero-padded shortcuts included).
fn tiny(channels: usize, side: usize, blocks: usize, k: usize, r: &mut PointRng) -> ResNet {
    let spec = ResNetSpec {
        channels,
        height: side,
        width: side,
        base_width: 2,
        blocks_per_stage: blocks,
        classes: k,
    };
    let mut net = ResNet::kaiming(spec, r);
    // non-trivial batch-norm affine parameters, so γ and β are tested away from 1 and 0
    for t in net.tensors.clone() {
        match t.kind {
            TensorKind::BnWeight => {
                for v in &mut net.theta[t.range()] {
                    *v = 1.0 + 0.3 * normal(r);
                }
            }
            TensorKind::BnBias => {
                for v in &mut net.theta[t.range()] {
                    *v = 0.2 * normal(r);
                }
            }
            _ => {}
        }
    }
    net
}

fn data(d: usize, n: usize, r: &mut PointRng) -> DMatrix<f64> {
    DMatrix::from_fn(d, n, |_, _| normal(r))
}

fn check_fd(
    jac: &DMatrix<f64>,
    f: impl Fn(&[f64]) -> DMatrix<f64>,
    theta: &[f64],
    k: usize,
    what: &str,
) {
    let h = 1e-6;
    let mut worst: f64 = 0.0;
    for j in 0..theta.len() {
        let (mut p, mut q) = (theta.to_vec(), theta.to_vec());
        p[j] += h;
        q[j] -= h;
        let fd = (f(&p) - f(&q)) / (2.0 * h);
        for i in 0..fd.nrows() {
            for o in 0..k {
                let an = jac[(i * k + o, j)];
                let err = (fd[(i, o)] - an).abs() / (1.0 + an.abs());
                worst = worst.max(err);
                assert!(
                    err < 1e-5,
                    "{what}: θ_{j}, sample {i}, output {o}: fd {} vs {an}",
                    fd[(i, o)]
                );
            }
        }
    }
    assert!(worst < 1e-5, "{what}: worst {worst}");
}

#[test]
fn batch_jacobian_matches_finite_differences() {
    for (case, &(c, side, blocks, k, n)) in [(1, 5, 1, 3, 3), (3, 4, 2, 2, 2)].iter().enumerate() {
        let mut r = rng(case as u64);
        let net = tiny(c, side, blocks, k, &mut r);
        let x = data(net.spec.input_dim(), n, &mut r);
        let jac = net.jacobian(&x);
        assert_eq!((jac.nrows(), jac.ncols()), (n * k, net.num_params()));
        check_fd(
            &jac,
            |t| net.with_params(t).forward(&x),
            &net.theta,
            k,
            &format!("batch case {case}"),
        );
        // the stem convolution moves every sample's outputs through the batch statistics
        let touched = (0..n)
            .filter(|&i| (0..9).any(|j| jac[(i * k, j)].abs() > 1e-12))
            .count();
        assert_eq!(touched, n, "case {case}: coupling across the batch");
    }
}

#[test]
fn frozen_jacobian_matches_finite_differences() {
    let mut r = rng(10);
    let (k, n) = (3, 4);
    let net = tiny(1, 5, 1, k, &mut r);
    let x = data(net.spec.input_dim(), n, &mut r);
    let stats = net.batch_stats(&x);
    // with the batch's own statistics the frozen network computes the same outputs
    let diff = (net.forward_frozen(&x, &stats) - net.forward(&x))
        .abs()
        .max();
    assert!(diff < 1e-12, "frozen vs batch outputs differ by {diff}");
    let jac = net.jacobian_frozen(&x, &stats);
    check_fd(
        &jac,
        |t| net.with_params(t).forward_frozen(&x, &stats),
        &net.theta,
        k,
        "frozen",
    );
    // per-sample function: sample 0's outputs do not depend on sample 1's input
    let mut x2 = x.clone();
    x2.column_mut(1).fill(3.0);
    let a = net.forward_frozen(&x, &stats);
    let b = net.forward_frozen(&x2, &stats);
    assert_eq!(a.row(0), b.row(0));
    // ... whereas with batch statistics they do
    assert!(
        (net.forward(&x).row(0) - net.forward(&x2).row(0))
            .abs()
            .max()
            > 1e-6
    );
}

#[test]
fn gradient_is_the_jacobian_transpose_times_the_cotangent() {
    // the training gradient of a loss L(f) is Jᵀ ∂L/∂f; checked against finite differences
    // of the mean-squared error of the batch
    let mut r = rng(20);
    let (k, n) = (2, 3);
    let net = tiny(1, 4, 1, k, &mut r);
    let x = data(net.spec.input_dim(), n, &mut r);
    let target = DMatrix::from_fn(n, k, |_, _| normal(&mut r));
    let loss = |t: &[f64]| -> f64 {
        let f = net.with_params(t).forward(&x);
        (f - &target).norm_squared() / (2.0 * n as f64)
    };
    let tape = net.forward_tape(&x, BnMode::Batch, None);
    let dy = (&tape.output - &target) / n as f64;
    let grad = net.backward(&tape, &dy);
    let h = 1e-6;
    for j in (0..net.num_params()).step_by(7) {
        let (mut p, mut q) = (net.theta.clone(), net.theta.clone());
        p[j] += h;
        q[j] -= h;
        let fd = (loss(&p) - loss(&q)) / (2.0 * h);
        assert!(
            (fd - grad[j]).abs() < 1e-6 * (1.0 + grad[j].abs()),
            "θ_{j}: fd {fd} vs {}",
            grad[j]
        );
    }
}

#[test]
fn resnet20_has_the_published_parameter_count() {
    // ResNet20 for CIFAR-10 has 269,722 parameters with the head's bias; ours has no bias
    let mut r = rng(30);
    let net = ResNet::kaiming(ResNetSpec::resnet20(3, 32, 32, 10), &mut r);
    assert_eq!(net.num_params(), 269_722 - 10);
    assert_eq!(net.spec.depth(), 20);
    let convs = net
        .tensors
        .iter()
        .filter(|t| t.kind == TensorKind::Conv)
        .count();
    assert_eq!(convs, 19);
    assert_eq!(net.tensors.last().unwrap().name, "linear.weight");
    // output shape on two 32×32 colour images
    let x = data(3 * 32 * 32, 2, &mut r);
    let f = net.forward(&x);
    assert_eq!((f.nrows(), f.ncols()), (2, 10));
    assert!(f.iter().all(|v| v.is_finite()));
}

#[test]
fn spectrum_route_agrees_with_explicit_jtj_and_svd() {
    for (case, &(n, k, mode)) in [
        (3, 2, BnMode::Batch),
        (4, 3, BnMode::Frozen),
        (40, 3, BnMode::Frozen),
    ]
    .iter()
    .enumerate()
    {
        let mut r = rng(40 + case as u64);
        let net = tiny(1, 5, 1, k, &mut r);
        let x = data(net.spec.input_dim(), n, &mut r);
        let jac = match mode {
            BnMode::Batch => net.jacobian(&x),
            BnMode::Frozen => net.jacobian_frozen(&x, &net.batch_stats(&x)),
        };
        let route = gn::resnet(&net, &x, mode).unwrap();
        assert_eq!(
            route.order,
            (n * k).min(net.num_params()),
            "never the larger Gram"
        );
        let dense = gn::dense_jtj(&jac, n).unwrap().spectrum;
        let svd = gn::jacobian_svd(&jac, n).unwrap().spectrum;
        for (what, other) in [("JᵀJ", dense), ("svd", svd)] {
            assert_eq!(route.spectrum.rank, other.rank, "case {case} vs {what}");
            let rel = (route.spectrum.kappa - other.kappa).abs() / other.kappa;
            assert!(rel < 1e-9, "case {case} vs {what}: relative {rel}");
        }
        // a per-sample function with generic weights and p > nk has full rank nk
        if mode == BnMode::Frozen {
            assert_eq!(route.spectrum.rank, n * k, "case {case}: generic full rank");
        }
    }
}

#[test]
fn blocked_masked_gram_equals_the_explicit_one() {
    // J in blocks of a few samples (recomputed where they do not fit) must give the same
    // spectrum as the whole masked Jacobian, in both orientations (p_kept > nk and ≤ nk)
    let mut r = rng(60);
    let net = tiny(1, 5, 1, 3, &mut r);
    for (case, &(n, keep_every)) in [(5usize, 1usize), (7, 2), (90, 7)].iter().enumerate() {
        let x = data(net.spec.input_dim(), n, &mut r);
        let stats = net.batch_stats(&x);
        let mask: Vec<bool> = (0..net.num_params()).map(|j| j % keep_every == 0).collect();
        let kept: Vec<usize> = (0..net.num_params()).filter(|&j| mask[j]).collect();
        let full = net.jacobian_frozen(&x, &stats);
        let jac = DMatrix::from_fn(full.nrows(), kept.len(), |i, c| full[(i, kept[c])]);
        let want = gn::jacobian_svd(&jac, n).unwrap().spectrum;
        let bytes_per_sample = 3 * kept.len() * 8;
        for budget in [usize::MAX, 2 * bytes_per_sample, bytes_per_sample] {
            let got = gn::resnet_frozen(&net, &x, &stats, Some(&mask), budget).unwrap();
            assert_eq!(got.order, (n * 3).min(kept.len()), "case {case}");
            assert_eq!(got.spectrum.rank, want.rank, "case {case} budget {budget}");
            let rel = (got.spectrum.kappa - want.kappa).abs() / want.kappa;
            assert!(rel < 1e-9, "case {case} budget {budget}: relative {rel}");
        }
    }
}
