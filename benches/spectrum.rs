//! Speed of the spectrum engine, always as ratios against a baseline in the same run:
//! - `eigensolve/{faer,nalgebra-eigenvalues,nalgebra-SymmetricEigen}/n`: the symmetric
//!   eigensolve behind every route (linalg.rs uses faer, eigenvalues only); the baselines are
//!   nalgebra's eigenvalues-only solver and its full `SymmetricEigen` decomposition;
//! - `deep-linear/kronecker/m`: κ of a deep linear net (d = 49, k = 10, h = 10) by the
//!   Kronecker route at growing width (its cost grows like m², not m³), against
//!   `deep-linear/explicit-jacobian/m`, which builds J and eigensolves J Jᵀ (n = 10);
//! - `relu-gram/{gram,explicit}/n`: the two-layer ReLU Gram matrix built without J against
//!   J Jᵀ from the explicit Jacobian;
//! - `resnet-jacobian/{frozen,batch}/n`: the Jacobian of a small CIFAR-style ResNet (7×7
//!   grayscale, w = 4, one block per stage, k = 10) with frozen batch-norm statistics (one
//!   sample per backward pass) against batch statistics (every backward pass runs through the
//!   whole coupled batch, so its cost grows like n² instead of n).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use gncond::data::SecondMoment;
use gncond::gn;
use gncond::linalg;
use gncond::nets::{DeepLinear, ResNet, ResNetSpec, TwoLayer};
use gncond::seed::{normal, point_rng, PointRng};
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
    for n in [500, 1000, 2000] {
        let a = spd(n);
        g.bench_with_input(BenchmarkId::new("faer", n), &a, |b, a| {
            b.iter(|| linalg::sym_eigenvalues(black_box(a)).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("nalgebra-eigenvalues", n), &a, |b, a| {
            b.iter(|| black_box(a).clone().symmetric_eigenvalues())
        });
        g.bench_with_input(
            BenchmarkId::new("nalgebra-SymmetricEigen", n),
            &a,
            |b, a| b.iter(|| nalgebra::SymmetricEigen::new(black_box(a).clone())),
        );
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
            b.iter(|| net.jacobian_frozen(x, &stats))
        });
        g.bench_with_input(BenchmarkId::new("batch", n), &x, |b, x| {
            b.iter(|| net.jacobian(x))
        });
    }
    g.finish();
}

criterion_group!(benches, eigensolve, deep_linear, relu_gram, resnet_jacobian);
criterion_main!(benches);
