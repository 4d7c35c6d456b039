//! The two-stage symmetric eigensolver (`symeig`) against faer's and nalgebra's eigensolvers
//! (the reference kernels it replaces), and each stage against what it must preserve.

use faer::Par;
use gncond::seed::point_rng;
use gncond::symeig::{self, Band};
use nalgebra::DMatrix;
use rand_chacha::rand_core::Rng;

/// A matrix of entries uniform in [−1, 1) from our own generator and a fixed seed.
fn uniform(rows: usize, cols: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = point_rng(2026, "symeig", &[], seed);
    DMatrix::from_fn(rows, cols, |_, _| {
        (rng.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    })
}

fn random_symmetric(n: usize, seed: u64) -> DMatrix<f64> {
    let m = uniform(n, n, seed);
    (&m + m.transpose()) * 0.5
}

/// `J Jᵀ` with J of `n × r`: positive semi-definite of rank `min(n, r)`.
fn gram(n: usize, r: usize, seed: u64) -> DMatrix<f64> {
    let j = uniform(n, r, seed);
    &j * j.transpose()
}

/// faer's eigenvalues (increasing), the reference.
fn faer_eigenvalues(a: &DMatrix<f64>) -> Vec<f64> {
    gncond::linalg::faer_sym_eigenvalues(a).unwrap()
}

fn ours(a: &DMatrix<f64>) -> Vec<f64> {
    let n = a.nrows();
    let mut buf = a.as_slice().to_vec();
    symeig::eigenvalues(&mut buf, n, |_| Par::Seq).unwrap()
}

/// Largest |difference| of two increasing spectra, over `n ε max|λ|` (backward stability
/// allows a modest multiple of it).
fn error_in_units(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len());
    let scale = x
        .iter()
        .chain(y)
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(f64::MIN_POSITIVE);
    let n = x.len().max(1) as f64;
    x.iter()
        .zip(y)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
        / (n * f64::EPSILON * scale)
}

#[test]
fn random_symmetric_matrices_agree_with_faer_and_nalgebra() {
    for (i, n) in [
        0usize, 1, 2, 3, 4, 5, 31, 32, 33, 34, 35, 64, 65, 66, 97, 130, 257,
    ]
    .into_iter()
    .enumerate()
    {
        let a = random_symmetric(n, 17 + i as u64);
        let got = ours(&a);
        let reference = faer_eigenvalues(&a);
        let mut na: Vec<f64> = if n == 0 {
            Vec::new()
        } else {
            a.clone()
                .symmetric_eigen()
                .eigenvalues
                .iter()
                .copied()
                .collect()
        };
        na.sort_by(f64::total_cmp);
        let (e1, e2) = (error_in_units(&got, &reference), error_in_units(&got, &na));
        assert!(
            e1 < 4.0 && e2 < 4.0,
            "n = {n}: {e1} and {e2} units of n ε ‖A‖"
        );
    }
}

#[test]
fn rank_deficient_gram_matrices_keep_their_zero_eigenvalues_at_roundoff() {
    for (n, r) in [(40, 7), (100, 33), (150, 1), (200, 150)] {
        let a = gram(n, r, n as u64);
        let got = ours(&a);
        let reference = faer_eigenvalues(&a);
        let e = error_in_units(&got, &reference);
        assert!(e < 4.0, "n = {n}, rank {r}: {e} units");
        let lmax = got[n - 1];
        let zeros = got
            .iter()
            .filter(|v| v.abs() <= lmax * n as f64 * f64::EPSILON)
            .count();
        assert_eq!(
            zeros,
            n - r,
            "n = {n}, rank {r}: the null space at roundoff"
        );
    }
}

#[test]
fn structured_matrices_diagonal_identity_and_zero() {
    let n = 90;
    let diag: Vec<f64> = (0..n).map(|i| ((i * 37) % n) as f64 - 40.0).collect();
    let a = DMatrix::from_diagonal(&nalgebra::DVector::from_vec(diag.clone()));
    let mut want = diag;
    want.sort_by(f64::total_cmp);
    assert_eq!(ours(&a), want, "a diagonal matrix is left alone, exactly");
    let id = DMatrix::<f64>::identity(n, n) * 3.0;
    assert!(ours(&id).iter().all(|&v| v == 3.0));
    assert!(ours(&DMatrix::zeros(n, n)).iter().all(|&v| v == 0.0));
    // a tight cluster next to a large eigenvalue
    let mut c = DMatrix::<f64>::identity(n, n);
    c[(0, 0)] = 1e6;
    let q = {
        let r = random_symmetric(n, 5);
        r.qr().q()
    };
    let c = &q * c * q.transpose();
    let c = (&c + c.transpose()) * 0.5;
    let e = error_in_units(&ours(&c), &faer_eigenvalues(&c));
    assert!(e < 4.0, "cluster: {e} units");
}

#[test]
fn only_the_lower_triangle_is_read() {
    let a = random_symmetric(70, 3);
    let mut garbage = a.clone();
    for j in 0..70 {
        for i in 0..j {
            garbage[(i, j)] = f64::NAN;
        }
    }
    assert_eq!(ours(&a), ours(&garbage));
}

#[test]
fn stage_one_leaves_a_band_with_the_same_eigenvalues() {
    let (n, b) = (120, 8);
    let a = random_symmetric(n, 11);
    let mut buf = a.as_slice().to_vec();
    symeig::to_band(&mut buf, n, b, |_| Par::Seq);
    let mut band = DMatrix::from_column_slice(n, n, &buf);
    for j in 0..n {
        for i in 0..j {
            band[(i, j)] = band[(j, i)];
        }
        for i in j + b + 1..n {
            assert_eq!(band[(i, j)], 0.0, "({i}, {j}) below the band");
        }
    }
    let e = error_in_units(&faer_eigenvalues(&band), &faer_eigenvalues(&a));
    assert!(e < 4.0, "{e} units");
}

/// A random symmetric matrix with every entry more than `b` off the diagonal set to zero.
fn random_band(n: usize, b: usize, seed: u64) -> DMatrix<f64> {
    let mut a = random_symmetric(n, seed);
    for j in 0..n {
        for i in 0..n {
            if i.abs_diff(j) > b {
                a[(i, j)] = 0.0;
            }
        }
    }
    a
}

#[test]
fn stage_two_tridiagonalises_a_band_matrix_without_changing_its_eigenvalues() {
    for (n, b) in [(3, 2), (10, 3), (60, 5), (61, 1), (100, 16)] {
        let a = random_band(n, b, n as u64 + 100);
        let (d, e) = Band::from_lower(a.as_slice(), n, b).tridiagonalize();
        let t = DMatrix::from_fn(n, n, |i, j| match i.abs_diff(j) {
            0 => d[i],
            1 => e[i.min(j)],
            _ => 0.0,
        });
        let err = error_in_units(&faer_eigenvalues(&t), &faer_eigenvalues(&a));
        assert!(err < 4.0, "n = {n}, b = {b}: {err} units");
    }
}

/// Stage 2 on two threads is a schedule of the same rotations: the same bits as one thread,
/// run after run (a broken order or a race would show as a changed bit sooner or later), for
/// bands narrower and wider than the matrix, cuts inside the first chain, one chain, none.
#[test]
fn stage_two_on_two_threads_gives_the_bits_of_one_thread() {
    for (n, b) in [
        (0, 3),
        (1, 3),
        (2, 3),
        (3, 2),
        (4, 3),
        (10, 3),
        (33, 32),
        (61, 1),
        (64, 2),
        (100, 16),
        (150, 32),
        (257, 7),
        (700, 32),
    ] {
        let a = random_band(n, b, n as u64 + 300);
        let bits = |(d, e): (Vec<f64>, Vec<f64>)| -> Vec<u64> {
            d.iter().chain(&e).map(|v| v.to_bits()).collect()
        };
        let one = bits(Band::from_lower(a.as_slice(), n, b).tridiagonalize());
        for run in 0..5 {
            let two = bits(Band::from_lower(a.as_slice(), n, b).tridiagonalize_pipelined());
            assert_eq!(one, two, "n = {n}, b = {b}, run {run}");
        }
    }
}

#[test]
fn tridiagonal_ql_finds_the_eigenvalues_of_the_discrete_laplacian() {
    let n = 200;
    let got = {
        let mut v = symeig::tridiagonal_eigenvalues(vec![2.0; n], vec![-1.0; n - 1]).unwrap();
        v.sort_by(f64::total_cmp);
        v
    };
    for (k, g) in got.iter().enumerate() {
        let want = 2.0 - 2.0 * ((k + 1) as f64 * std::f64::consts::PI / (n + 1) as f64).cos();
        assert!((g - want).abs() < 1e-13, "λ_{k}: {g} vs {want}");
    }
}

#[test]
fn the_split_of_the_products_does_not_change_a_bit() {
    let a = gram(300, 260, 9);
    let mut one = a.as_slice().to_vec();
    let mut split = one.clone();
    let x = symeig::eigenvalues(&mut one, 300, |_| Par::Seq).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    let y = pool.install(|| symeig::eigenvalues(&mut split, 300, gncond::linalg::par_for).unwrap());
    let pool1 = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let mut again = a.as_slice().to_vec();
    let z =
        pool1.install(|| symeig::eigenvalues(&mut again, 300, gncond::linalg::par_for).unwrap());
    assert_eq!(y, z, "the same parts on 3 threads and on 1");
    let e = error_in_units(&x, &y);
    assert!(e < 4.0, "{e} units");
}

/// What every route calls: `linalg::sym_eigenvalues` takes this solver from
/// `TWO_STAGE_MIN_ORDER` on (here on a rank-deficient Gram matrix of that order).
#[test]
fn linalg_routes_large_matrices_here_and_they_agree_with_faer() {
    let n = gncond::linalg::TWO_STAGE_MIN_ORDER;
    let a = gram(n, n / 2, 21);
    let got = gncond::linalg::sym_eigenvalues(&a).unwrap();
    assert_eq!(got, ours(&a), "the route is this solver");
    let e = error_in_units(&got, &faer_eigenvalues(&a));
    assert!(e < 4.0, "{e} units");
}
