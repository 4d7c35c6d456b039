//! Training: loss gradients and every trainable layer's gradient against central finite
//! differences, bit-for-bit repeatable SGD for a fixed seed, pruning masks kept through
//! training.

use gncond::nets::resnet::TensorKind;
use gncond::nets::{DeepLinear, ResNet, ResNetSpec};
use gncond::seed::{normal, point_rng, PointRng};
use gncond::train::{magnitude_mask, permutation, train, Loss, PruneScope, Schedule, Trainable};
use nalgebra::DMatrix;

fn rng(i: u64) -> PointRng {
    point_rng(29, "train-tests", &[], i)
}

fn gaussian(rows: usize, cols: usize, r: &mut PointRng) -> DMatrix<f64> {
    DMatrix::from_fn(rows, cols, |_, _| normal(r))
}

fn labels(n: usize, k: usize) -> Vec<u8> {
    (0..n).map(|i| ((i * 7 + 3) % k) as u8).collect()
}

/// Central differences of `f` at `theta` in coordinates `coords`, against `grad`.
fn fd_check(f: impl Fn(&[f64]) -> f64, theta: &[f64], grad: &[f64], coords: &[usize], what: &str) {
    let h = 1e-6;
    for &j in coords {
        let (mut p, mut q) = (theta.to_vec(), theta.to_vec());
        p[j] += h;
        q[j] -= h;
        let fd = (f(&p) - f(&q)) / (2.0 * h);
        assert!(
            (fd - grad[j]).abs() < 1e-6 * (1.0 + grad[j].abs()),
            "{what}: θ_{j}: fd {fd} vs {}",
            grad[j]
        );
    }
}

#[test]
fn loss_gradients_match_finite_differences() {
    let mut r = rng(0);
    let (k, b) = (4, 5);
    let f = gaussian(k, b, &mut r);
    let y = labels(b, k);
    for loss in [Loss::Mse, Loss::CrossEntropy] {
        let (_, g) = loss.value_and_grad(&f, &y);
        let flat: Vec<f64> = f.iter().copied().collect();
        let value = |t: &[f64]| {
            loss.value_and_grad(&DMatrix::from_column_slice(k, b, t), &y)
                .0
        };
        let coords: Vec<usize> = (0..k * b).collect();
        fd_check(value, &flat, g.as_slice(), &coords, &format!("{loss:?}"));
    }
    // cross-entropy of equal logits is log k; MSE of exact one-hot outputs is 0
    let (ce, _) = Loss::CrossEntropy.value_and_grad(&DMatrix::zeros(k, b), &y);
    assert!((ce - (k as f64).ln()).abs() < 1e-15);
    let onehot = DMatrix::from_fn(k, b, |o, i| if usize::from(y[i]) == o { 1.0 } else { 0.0 });
    assert_eq!(Loss::Mse.value_and_grad(&onehot, &y).0, 0.0);
}

#[test]
fn deep_linear_gradient_matches_finite_differences_in_every_layer() {
    let mut r = rng(1);
    let net = DeepLinear::kaiming(&[5, 4, 3, 3], &mut r);
    let x = gaussian(5, 6, &mut r);
    let y = labels(6, 3);
    for loss in [Loss::Mse, Loss::CrossEntropy] {
        let (_, g) = net.loss_and_grad(&x, &y, loss);
        let theta = net.params();
        let coords: Vec<usize> = (0..theta.len()).collect();
        fd_check(
            |t| net.with_params(t).loss(&x, &y, loss),
            &theta,
            &g,
            &coords,
            &format!("deep linear {loss:?}"),
        );
    }
}

fn tiny_resnet(r: &mut PointRng) -> ResNet {
    ResNet::kaiming(
        ResNetSpec {
            channels: 1,
            height: 5,
            width: 5,
            base_width: 2,
            blocks_per_stage: 1,
            classes: 3,
        },
        r,
    )
}

#[test]
fn resnet_cross_entropy_gradient_matches_finite_differences_in_every_tensor() {
    let mut r = rng(2);
    let net = tiny_resnet(&mut r);
    let x = gaussian(25, 4, &mut r);
    let y = labels(4, 3);
    let (_, g) = net.loss_and_grad(&x, &y, Loss::CrossEntropy);
    // three entries of every tensor: first, middle, last
    let coords: Vec<usize> = net
        .tensors
        .iter()
        .flat_map(|t| [t.offset, t.offset + t.len() / 2, t.offset + t.len() - 1])
        .collect();
    let f = |t: &[f64]| net.with_params(t).loss(&x, &y, Loss::CrossEntropy);
    fd_check(f, &net.theta, &g, &coords, "resnet");
}

fn schedule(epochs: usize) -> Schedule {
    Schedule {
        epochs,
        batch: 4,
        lr: 0.05,
        momentum: 0.9,
        weight_decay: 1e-4,
        loss: Loss::CrossEntropy,
        checkpoints: vec![0, epochs],
    }
}

#[test]
fn training_is_bit_for_bit_repeatable_and_learns() {
    let mut r = rng(3);
    let x = gaussian(25, 10, &mut r);
    let y = labels(10, 3);
    let run = |seed: u64| {
        let mut net = tiny_resnet(&mut rng(100));
        let mut seen = Vec::new();
        let h = train(
            &mut net,
            &x,
            &y,
            &schedule(15),
            None,
            &mut rng(seed),
            |e, _, l| {
                seen.push((e, l));
                Ok(())
            },
        )
        .unwrap();
        (net.theta, h.loss, seen)
    };
    let (a, la, sa) = run(7);
    let (b, lb, _) = run(7);
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&a), bits(&b), "same seed, same parameters to the bit");
    assert_eq!(bits(&la), bits(&lb));
    assert_eq!(sa.iter().map(|s| s.0).collect::<Vec<_>>(), [0, 15]);
    let (c, _, _) = run(8);
    assert_ne!(
        bits(&a),
        bits(&c),
        "another minibatch order gives other parameters"
    );
    assert!(la[15] < 0.5 * la[0], "loss {} → {}", la[0], la[15]);
}

#[test]
fn pruned_weights_stay_zero_and_only_weights_are_pruned() {
    let mut r = rng(4);
    let mut net = tiny_resnet(&mut r);
    let mask = magnitude_mask(&net, 0.4, PruneScope::Weights);
    for t in &net.tensors {
        let kept = mask[t.range()].iter().filter(|&&k| k).count();
        match t.kind {
            TensorKind::Conv | TensorKind::Linear => {
                assert_eq!(
                    kept,
                    t.len() - (0.4 * t.len() as f64).floor() as usize,
                    "{}",
                    t.name
                );
                // the pruned entries are the smallest in magnitude
                let vals = &net.theta[t.range()];
                let max_pruned = (0..t.len())
                    .filter(|&i| !mask[t.offset + i])
                    .map(|i| vals[i].abs())
                    .fold(0.0, f64::max);
                let min_kept = (0..t.len())
                    .filter(|&i| mask[t.offset + i])
                    .map(|i| vals[i].abs())
                    .fold(f64::INFINITY, f64::min);
                assert!(max_pruned <= min_kept, "{}", t.name);
            }
            TensorKind::BnWeight | TensorKind::BnBias => assert_eq!(kept, t.len(), "{}", t.name),
        }
    }
    let x = gaussian(25, 8, &mut r);
    let y = labels(8, 3);
    train(
        &mut net,
        &x,
        &y,
        &schedule(5),
        Some(&mask),
        &mut rng(5),
        |_, _, _| Ok(()),
    )
    .unwrap();
    for (v, keep) in net.theta.iter().zip(&mask) {
        if !keep {
            assert_eq!(*v, 0.0);
        }
    }
    assert!(net.theta.iter().zip(&mask).any(|(v, &k)| k && *v != 0.0));
}

#[test]
fn permutations_are_permutations_and_seeded() {
    let p = permutation(100, &mut rng(6));
    let mut s = p.clone();
    s.sort_unstable();
    assert_eq!(s, (0..100).collect::<Vec<_>>());
    assert_eq!(p, permutation(100, &mut rng(6)));
    assert_ne!(p, permutation(100, &mut rng(7)));
}

#[test]
fn pruning_every_tensor_switches_off_the_same_channels_in_gamma_and_beta() {
    let mut r = rng(9);
    let net = tiny_resnet(&mut r);
    let mask = magnitude_mask(&net, 0.5, PruneScope::EveryTensor);
    let pruned = |t: &gncond::nets::resnet::TensorInfo| -> Vec<usize> {
        (0..t.len()).filter(|&i| !mask[t.offset + i]).collect()
    };
    let mut bn_layers = 0;
    for (i, t) in net.tensors.iter().enumerate() {
        assert_eq!(pruned(t).len(), t.len() / 2, "{}", t.name);
        if t.kind == TensorKind::BnWeight {
            // γ = 1 and β = 0 everywhere at initialisation: ties, broken by position, so the
            // first half of the channels lose both
            let beta = &net.tensors[i + 1];
            assert_eq!(
                beta.kind,
                TensorKind::BnBias,
                "{} then {}",
                t.name,
                beta.name
            );
            assert_eq!(
                pruned(t),
                (0..t.len() / 2).collect::<Vec<_>>(),
                "{}",
                t.name
            );
            assert_eq!(pruned(t), pruned(beta), "{} and {}", t.name, beta.name);
            bn_layers += 1;
        }
    }
    assert!(bn_layers >= 3);
    // the stem's channel 0 is switched off: its output no longer depends on the stem
    // convolution's weights of that channel, while channel 1's still matter
    let mut theta = net.theta.clone();
    for (v, &keep) in theta.iter_mut().zip(&mask) {
        if !keep {
            *v = 0.0;
        }
    }
    let pruned_net = net.with_params(&theta);
    let x = gaussian(25, 6, &mut r);
    let j = pruned_net.jacobian(&x);
    let stem = &net.tensors[0];
    assert_eq!(stem.kind, TensorKind::Conv);
    let per_channel = stem.len() / stem.shape[0];
    let column_norm = |c: usize| j.column(stem.offset + c).norm();
    assert!((0..per_channel).all(|c| column_norm(c) == 0.0));
    assert!((per_channel..2 * per_channel).any(|c| column_norm(c) > 0.0));
    // the scope of gncond's own pruning leaves batch norm alone
    let ours = magnitude_mask(&net, 0.5, PruneScope::Weights);
    for t in &net.tensors {
        let kept = ours[t.range()].iter().filter(|&&k| k).count();
        if matches!(t.kind, TensorKind::BnWeight | TensorKind::BnBias) {
            assert_eq!(kept, t.len(), "{}", t.name);
        }
    }
}
