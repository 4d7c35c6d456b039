//! The dense kernels of `linalg` give the same bits whatever the number of threads that runs
//! them: each large kernel is split into a fixed number of parts (`linalg::PAR_WAYS`), never
//! into as many parts as the machine has cores. Checked by running every kernel inside rayon
//! pools of 1, 2 and 3 threads, and against the plain nalgebra product as an oracle for values.

use gncond::linalg;
use gncond::seed::{normal, point_rng};
use nalgebra::DMatrix;

fn gaussian(rows: usize, cols: usize, tag: &str) -> DMatrix<f64> {
    let mut r = point_rng(11, "determinism", &[("case", tag.to_string())], 0);
    DMatrix::from_fn(rows, cols, |_, _| normal(&mut r))
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Every kernel's output, as bits, computed in a pool of `threads` threads.
fn outputs(threads: usize, a: &DMatrix<f64>, b: &DMatrix<f64>) -> Vec<Vec<u64>> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let g = linalg::gram_rows(a);
        let svd = linalg::thin_svd(b).unwrap();
        let mut acc = DMatrix::zeros(a.ncols(), a.ncols());
        for rows in [0..a.nrows() / 3, a.nrows() / 3..a.nrows()] {
            let block = a.rows(rows.start, rows.len()).into_owned();
            linalg::add_gram_cols_lower(&mut acc, &block);
        }
        vec![
            bits(g.as_slice()),
            bits(acc.as_slice()),
            bits(linalg::matmul(a, &a.transpose()).as_slice()),
            bits(&linalg::sym_eigenvalues(&g).unwrap()),
            bits(&linalg::singular_values(b).unwrap()),
            bits(&svd.s),
            bits(svd.u.as_slice()),
            bits(svd.v.as_slice()),
            bits(linalg::qr_r(b).unwrap().as_slice()),
        ]
    })
}

#[test]
fn kernels_give_the_same_bits_on_one_two_and_three_threads() {
    // above linalg::PAR_MIN_ORDER, so every kernel takes its split path
    let n = 2 * linalg::PAR_MIN_ORDER;
    let a = gaussian(n, n + 37, "a");
    let b = gaussian(n + 50, n - 20, "b");
    let one = outputs(1, &a, &b);
    for threads in [2, 3] {
        let other = outputs(threads, &a, &b);
        for (kernel, (x, y)) in one.iter().zip(&other).enumerate() {
            assert!(
                x == y,
                "kernel {kernel} differs between 1 and {threads} threads"
            );
        }
    }
}

/// The two-stage eigensolver (orders from `linalg::TWO_STAGE_MIN_ORDER`) runs its products
/// split like every kernel: the same bits on 1, 2 and 3 threads.
#[test]
fn large_eigensolves_give_the_same_bits_on_one_two_and_three_threads() {
    let n = linalg::TWO_STAGE_MIN_ORDER;
    let g = linalg::gram_rows(&gaussian(n, n - 100, "large"));
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        bits(&pool.install(|| linalg::sym_eigenvalues(&g).unwrap()))
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
}

#[test]
fn split_kernels_agree_with_the_plain_product() {
    let n = 2 * linalg::PAR_MIN_ORDER;
    let a = gaussian(n, 300, "values");
    let plain = &a * a.transpose();
    let scale = plain.amax();
    for g in [linalg::gram_rows(&a), linalg::matmul(&a, &a.transpose())] {
        assert!((&g - &plain).amax() <= 1e-13 * scale);
        assert_eq!(g, g.transpose(), "Gram matrix not exactly symmetric");
    }
    let gc = linalg::gram_cols(&a);
    let plain_c = a.transpose() * &a;
    assert!((&gc - &plain_c).amax() <= 1e-13 * plain_c.amax());
    // AᵀA accumulated from row blocks of A, Σ_s A_sᵀA_s, in the lower triangle only: the
    // upper triangle (NaN here) is neither read nor written until it is mirrored
    let m = a.ncols();
    let mut acc = DMatrix::from_fn(m, m, |i, j| if i >= j { 0.0 } else { f64::NAN });
    for (start, rows) in [(0, 100), (100, 1), (101, n - 101)] {
        linalg::add_gram_cols_lower(&mut acc, &a.rows(start, rows).into_owned());
    }
    for j in 0..m {
        for i in 0..m {
            let got = acc[(i, j)];
            if i >= j {
                assert!((got - plain_c[(i, j)]).abs() <= 1e-13 * plain_c.amax());
            } else {
                assert!(got.is_nan(), "upper triangle written at ({i}, {j})");
            }
        }
    }
    linalg::mirror_lower(&mut acc);
    assert_eq!(
        acc,
        acc.transpose(),
        "mirrored Gram matrix not exactly symmetric"
    );
    // eigenvalues of A Aᵀ are the squared singular values of A
    // (n > 300: the n − 300 smallest eigenvalues are zero)
    let eig = linalg::sym_eigenvalues(&plain).unwrap();
    let sq: Vec<f64> = linalg::singular_values(&a)
        .unwrap()
        .iter()
        .map(|s| s * s)
        .collect();
    assert!(eig[..n - 300].iter().all(|e| e.abs() <= 1e-10 * scale));
    for (e, s) in eig.iter().rev().zip(&sq) {
        assert!((e - s).abs() <= 1e-10 * scale, "{e} vs {s}");
    }
    // RᵀR = BᵀB
    let b = gaussian(n + 50, n - 20, "qr");
    let r = linalg::qr_r(&b).unwrap();
    let btb = b.transpose() * &b;
    assert!((r.transpose() * &r - &btb).amax() <= 1e-11 * btb.amax());
}

/// The ResNet's per-sample parallel loops (convolutions, Jacobian columns, the summed training
/// gradient) give the same bits in pools of 1, 2 and 3 threads.
#[test]
fn resnet_jacobians_and_gradients_give_the_same_bits_on_any_thread_count() {
    use gncond::nets::{BnMode, ResNet, ResNetSpec};
    let spec = ResNetSpec {
        channels: 3,
        height: 8,
        width: 8,
        base_width: 4,
        blocks_per_stage: 1,
        classes: 3,
    };
    let mut r = point_rng(11, "determinism", &[("case", "resnet".to_string())], 0);
    let net = ResNet::kaiming(spec, &mut r);
    let x = DMatrix::from_fn(spec.input_dim(), 5, |_, _| normal(&mut r));
    let dy = DMatrix::from_fn(5, spec.classes, |_, _| normal(&mut r));
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let stats = net.batch_stats(&x);
            let tape = net.forward_tape(&x, BnMode::Batch, None);
            vec![
                bits(net.jacobian_frozen_t(&x, &stats, None).as_slice()),
                bits(net.jacobian(&x).as_slice()),
                bits(&net.backward(&tape, &dy)),
                bits(tape.output.as_slice()),
            ]
        })
    };
    let one = run(1);
    for threads in [2, 3] {
        assert!(
            one == run(threads),
            "differs between 1 and {threads} threads"
        );
    }
}
