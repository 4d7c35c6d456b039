//! Speed of the spectrum engine, always as ratios against a baseline in the same run:
//! - `eigensolve/{gncond,faer,faer-sequential,nalgebra-eigenvalues}/n`: the symmetric
//!   eigensolve behind every route (`symeig`: dense → band by blocked Householder products, band
//!   → tridiagonal by rotations, implicit QL; its products split into a fixed number of parts
//!   on all cores) against the solver it replaced (faer's, eigenvalues only, with the same
//!   split), faer's in one part, and nalgebra's eigenvalues-only solver (n ≤ 2000);
//! - `band-to-tridiagonal/{one-thread,two-threads}/n`: the solver's stage 2 in the reference
//!   order against the same rotations pipelined on two threads;
//! - `deep-linear/kronecker/m`: κ of a deep linear net (d = 49, k = 10, h = 10) by the
//!   Kronecker route at growing width (its cost grows like m², not m³), against
//!   `deep-linear/explicit-jacobian/m`, which builds J and eigensolves J Jᵀ (n = 10);
//! - `relu-gram/{gram,explicit}/n`: the two-layer ReLU Gram matrix built without J against
//!   J Jᵀ from the explicit Jacobian;
//! - `resnet-jacobian/{frozen,batch}/n`: the Jacobian of a small CIFAR-style ResNet (7×7
//!   grayscale, w = 4, one block per stage, k = 10) with frozen batch-norm statistics (one
//!   backward pass of k rows per sample) against batch statistics (every output row is a
//!   backward pass through the whole coupled batch, so its cost grows like n² instead of n);
//! - `resnet20-gram/{jacobian+gram,bare-gram}/n`: ResNet20 at 3×32×32 with frozen batch norm,
//!   Jᵀ and `JJᵀ` against the bare Gram product of a matrix of the same shape (the floor), and
//!   `resnet20-gram/batch-spectrum/8`: the batch-statistics spectrum of 8 images.
//!
//! `benches/reference.py` times numpy (`eigvalsh`, `A @ A.T`) on the same shapes and torch
//! (`jacrev` → J Jᵀ → `eigvalsh` on a ResNet20 it writes for `gncond spectrum --arch resnet`),
//! for the comparisons the issue notes record; neither is needed to build or test.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use gncond::data::SecondMoment;
use gncond::gn;
use gncond::linalg;
use gncond::nets::{DeepLinear, ResNet, ResNetSpec, TwoLayer};
use gncond::seed::{normal, point_rng, PointRng};
use gncond::symeig::{self, Band};
use nalgebra::DMatrix;
use std::hint::black_box;
use std::time::Duration;

fn rng(tag: &str) -> PointRng {
    point_rng(5, "bench", &[("case", tag.to_string())], 0)
}

fn gaussian(rows: usize, cols: usize, r: &mut PointRng) -> DMatrix<f64> {
    DMatrix::from_fn(rows, cols, |_, _| normal(r))
}

fn spd(n: usize) -> DMatrix<f64> {
    let a = gaussian(n, n, &mut rng("spd"));
    a.transpose() * a
}

fn eigensolve(c: &mut Criterion) {
    let mut g = c.benchmark_group("eigensolve");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    // faer's own convenience methods read a global setting (all threads by default);
    // gncond never uses them, so setting it here only makes the baseline single-threaded
    faer::set_global_parallelism(faer::Par::Seq);
    for n in [500, 1000, 2000, 5000] {
        let a = spd(n);
        // what every route calls: split into linalg::PAR_WAYS parts on all cores
        g.bench_with_input(BenchmarkId::new("gncond", n), &a, |b, a| {
            b.iter(|| linalg::sym_eigenvalues(black_box(a)).unwrap())
        });
        // the solver it replaced, with the same split
        g.bench_with_input(BenchmarkId::new("faer", n), &a, |b, a| {
            b.iter(|| linalg::faer_sym_eigenvalues(black_box(a)).unwrap())
        });
        // the same solver in one part on one core
        g.bench_with_input(BenchmarkId::new("faer-sequential", n), &a, |b, a| {
            b.iter(|| {
                faer::MatRef::from_column_major_slice(black_box(a).as_slice(), n, n)
                    .self_adjoint_eigenvalues(faer::Side::Lower)
                    .unwrap()
            })
        });
        if n <= 2000 {
            g.bench_with_input(BenchmarkId::new("nalgebra-eigenvalues", n), &a, |b, a| {
                b.iter(|| black_box(a).clone().symmetric_eigenvalues())
            });
        }
    }
    g.finish();
}

fn deep_linear(c: &mut Criterion) {
    let mut g = c.benchmark_group("deep-linear");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    let (d, k, h) = (49, 10, 10);
    let mut r = rng("deep-linear");
    for m in [128, 256, 512, 1024] {
        let mut dims = vec![d];
        dims.extend(std::iter::repeat_n(m, h));
        dims.push(k);
        let net = DeepLinear::kaiming(&dims, &mut r);
        let x = gaussian(d, 1000, &mut r);
        let moment = SecondMoment::of(&x).unwrap();
        g.bench_with_input(BenchmarkId::new("kronecker", m), &net, |b, net| {
            b.iter(|| gn::kronecker_linear(&net.partial_products(), &moment).unwrap())
        });
        if m <= 256 {
            let x10 = x.columns(0, 10).into_owned();
            g.bench_with_input(BenchmarkId::new("explicit-jacobian", m), &net, |b, net| {
                b.iter(|| gn::gram(&net.jacobian(&x10), 10).unwrap())
            });
        }
    }
    g.finish();
}

fn relu_gram(c: &mut Criterion) {
    let mut g = c.benchmark_group("relu-gram");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    let (d, m, k) = (49, 256, 10);
    let mut r = rng("relu");
    let net = TwoLayer::kaiming(d, m, k, 0.0, &mut r);
    for n in [200, 500] {
        let x = gaussian(d, n, &mut r);
        g.bench_with_input(BenchmarkId::new("gram", n), &x, |b, x| {
            b.iter(|| net.gram(x))
        });
        if n <= 200 {
            g.bench_with_input(BenchmarkId::new("explicit", n), &x, |b, x| {
                b.iter(|| {
                    let j = net.jacobian(x);
                    &j * j.transpose()
                })
            });
        }
    }
    g.finish();
}

fn resnet_jacobian(c: &mut Criterion) {
    let mut g = c.benchmark_group("resnet-jacobian");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    let spec = ResNetSpec {
        channels: 1,
        height: 7,
        width: 7,
        base_width: 4,
        blocks_per_stage: 1,
        classes: 10,
    };
    let mut r = rng("resnet");
    let net = ResNet::kaiming(spec, &mut r);
    for n in [20, 40, 80] {
        let x = gaussian(spec.input_dim(), n, &mut r);
        let stats = net.batch_stats(&x);
        g.bench_with_input(BenchmarkId::new("frozen", n), &x, |b, x| {
            b.iter(|| net.jacobian_frozen_t(x, &stats, None))
        });
        g.bench_with_input(BenchmarkId::new("batch", n), &x, |b, x| {
            b.iter(|| net.jacobian(x))
        });
    }
    g.finish();
}

/// ResNet20 at full CIFAR resolution (3×32×32, k = 10), frozen batch norm: the Jacobian and
/// its Gram matrix `JJᵀ` (what a pruning checkpoint costs before its eigensolve) against the
/// bare Gram product of a matrix of the same shape with the same kernel, the floor.
fn resnet20_gram(c: &mut Criterion) {
    let mut g = c.benchmark_group("resnet20-gram");
    g.sample_size(10).measurement_time(Duration::from_secs(60));
    let spec = ResNetSpec::resnet20(3, 32, 32, 10);
    let mut r = rng("resnet20");
    let net = ResNet::kaiming(spec, &mut r);
    for n in [20, 100] {
        let x = gaussian(spec.input_dim(), n, &mut r);
        let stats = net.batch_stats(&x);
        g.bench_with_input(BenchmarkId::new("jacobian+gram", n), &x, |b, x| {
            b.iter(|| linalg::gram_cols(&net.jacobian_frozen_t(x, &stats, None)))
        });
        let same_shape = gaussian(net.num_params(), n * spec.classes, &mut r);
        g.bench_with_input(BenchmarkId::new("bare-gram", n), &same_shape, |b, a| {
            b.iter(|| linalg::gram_cols(black_box(a)))
        });
    }
    // the batch-statistics spectrum (every sample coupled) as `gncond spectrum --arch resnet`
    let x = gaussian(spec.input_dim(), 8, &mut r);
    g.bench_with_input(BenchmarkId::new("batch-spectrum", 8), &x, |b, x| {
        b.iter(|| gn::resnet(&net, x, gncond::nets::BnMode::Batch).unwrap())
    });
    g.finish();
}

/// Stage 2 of the eigensolver (band → tridiagonal) on one thread, the reference order,
/// against the same rotations pipelined on two threads (the same bits).
fn band_to_tridiagonal(c: &mut Criterion) {
    let mut g = c.benchmark_group("band-to-tridiagonal");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    for n in [2000, 5000] {
        let mut a = spd(n).as_slice().to_vec();
        symeig::to_band(&mut a, n, symeig::BAND, linalg::par_for);
        g.bench_with_input(BenchmarkId::new("one-thread", n), &a, |bch, a| {
            bch.iter(|| Band::from_lower(black_box(a), n, symeig::BAND).tridiagonalize())
        });
        g.bench_with_input(BenchmarkId::new("two-threads", n), &a, |bch, a| {
            bch.iter(|| Band::from_lower(black_box(a), n, symeig::BAND).tridiagonalize_pipelined())
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    eigensolve,
    band_to_tridiagonal,
    deep_linear,
    relu_gram,
    resnet_jacobian,
    resnet20_gram
);
criterion_main!(benches);
