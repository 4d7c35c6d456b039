//! Data: IDX reader, the embedded subset and its checksum, strided subsampling, Σ and κ(Σ),
//! and whitening, on inputs small enough to check by hand.

use gncond::data::idx::parse_idx;
use gncond::data::{
    design_matrix, downsampled_dim, load_embedded_mnist, whiten, DataSource, Images, SecondMoment,
};
use nalgebra::DMatrix;

fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend_from_slice(data);
    b
}

#[test]
fn idx_reader_reads_raw_and_gzip() {
    let raw = idx_bytes(&[2, 3], &[1, 2, 3, 4, 5, 6]);
    let a = parse_idx(&raw, "tiny").unwrap();
    assert_eq!(a.dims, vec![2, 3]);
    assert_eq!(a.data, vec![1, 2, 3, 4, 5, 6]);
    let mut gz = Vec::new();
    {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::default());
        enc.write_all(&raw).unwrap();
    }
    assert_eq!(parse_idx(&gz, "tiny.gz").unwrap(), a);
}

#[test]
fn idx_reader_refuses_bad_files_naming_them() {
    let truncated = idx_bytes(&[2, 3], &[1, 2, 3]);
    let e = parse_idx(&truncated, "t.idx").unwrap_err().to_string();
    assert!(
        e.contains("t.idx") && e.contains("need 6 data bytes"),
        "{e}"
    );
    let e = parse_idx(&[0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0], "f.idx")
        .unwrap_err()
        .to_string();
    assert!(e.contains("not supported"), "{e}");
    let e = parse_idx(b"PK\x03\x04", "z.idx").unwrap_err().to_string();
    assert!(e.contains("not an IDX file"), "{e}");
    let e = parse_idx(&[0x1f, 0x8b, 8, 0, 1, 2], "g.idx.gz")
        .unwrap_err()
        .to_string();
    assert!(e.contains("corrupt gzip"), "{e}");
}

#[test]
fn embedded_subset_loads_verified_and_class_balanced() {
    let img = load_embedded_mnist().unwrap();
    assert_eq!((img.len(), img.rows, img.cols), (5000, 28, 28));
    assert_eq!(img.pixels.len(), 5000 * 784);
    // classes interleaved: every prefix of length 10·j holds j images of each digit
    for i in 0..5000 {
        assert_eq!(img.labels[i] as usize, i % 10);
    }
    // real images: ink in the middle, blank border
    let ink: u32 = img.image(0).iter().map(|&p| p as u32).sum();
    assert!(ink > 10_000, "image 0 looks empty");
    assert!((0..5000).all(|i| img.image(i)[..28].iter().all(|&p| p == 0)));
    assert_eq!(img.source.id, "mnist5k-embedded");
}

fn tiny_images() -> Images {
    // two 4×4 images with pixel value = 16·image + 4·row + col
    let pixels: Vec<u8> = (0..2u8)
        .flat_map(|i| (0..16u8).map(move |p| 16 * i + p))
        .collect();
    Images {
        channels: 1,
        rows: 4,
        cols: 4,
        pixels,
        labels: vec![0, 1],
        source: DataSource {
            id: "tiny".into(),
            description: "tiny".into(),
            sha256: String::new(),
        },
    }
}

#[test]
fn strided_subsampling_takes_every_f_th_pixel() {
    assert_eq!(downsampled_dim(28, 4), 49);
    assert_eq!(downsampled_dim(28, 5), 36);
    assert_eq!(downsampled_dim(28, 1), 784);
    let x = design_matrix(&tiny_images(), 2, 2).unwrap();
    assert_eq!(x.shape(), (4, 2));
    // img[::2, ::2] keeps (0,0), (0,2), (2,0), (2,2): pixels 0, 2, 8, 10
    let want = [0.0, 2.0, 8.0, 10.0];
    for (r, w) in want.iter().enumerate() {
        assert_eq!(x[(r, 0)], w / 255.0);
        assert_eq!(x[(r, 1)], (w + 16.0) / 255.0);
    }
    assert!(design_matrix(&tiny_images(), 3, 2).is_err());
}

#[test]
fn second_moment_and_kappa_by_hand() {
    // X = [[1, 0], [0, 2]] (d = 2, n = 2): Σ = X Xᵀ / 2 = diag(1/2, 2), κ(Σ) = 4
    let x = DMatrix::from_row_slice(2, 2, &[1.0, 0.0, 0.0, 2.0]);
    let m = SecondMoment::of(&x).unwrap();
    assert_eq!(m.rank, 2);
    assert!((m.kappa - 4.0).abs() < 1e-12);
    assert!((m.eigenvalues[0] - 2.0).abs() < 1e-12 && (m.eigenvalues[1] - 0.5).abs() < 1e-12);
    let ftf = m.factor.transpose() * &m.factor;
    let sigma = DMatrix::from_row_slice(2, 2, &[0.5, 0.0, 0.0, 2.0]);
    assert!((ftf - sigma).abs().max() < 1e-12);
    // rank-deficient: a zero pixel, κ over the nonzero part only
    let x = DMatrix::from_row_slice(3, 2, &[1.0, 0.0, 0.0, 0.0, 0.0, 3.0]);
    let m = SecondMoment::of(&x).unwrap();
    assert_eq!(m.rank, 2);
    assert!((m.kappa - 9.0).abs() < 1e-12);
}

#[test]
fn whitening_gives_identity_second_moment() {
    let img = load_embedded_mnist().unwrap();
    let x = design_matrix(&img, 200, 4).unwrap();
    let raw = SecondMoment::of(&x).unwrap();
    assert!(
        raw.kappa > 100.0,
        "raw MNIST should be ill-conditioned, κ(Σ) = {}",
        raw.kappa
    );
    let (xw, rank) = whiten(&x).unwrap();
    assert_eq!(rank, raw.rank);
    assert!(rank < 49, "strided MNIST has blank border pixels");
    let g = &xw * xw.transpose();
    assert!((g - DMatrix::<f64>::identity(49, 49)).abs().max() < 1e-12);
    let white = SecondMoment::of(&xw).unwrap();
    assert!((white.kappa - 1.0).abs() < 1e-12);
    assert_eq!(white.rank, 49);
}

/// With fewer samples than dimensions, whitening makes the samples orthonormal (XᵀX = I_n):
/// Σ's n nonzero eigenvalues are equal, so κ(Σ) = 1 over them.
#[test]
fn whitening_with_fewer_samples_makes_them_orthonormal() {
    let img = load_embedded_mnist().unwrap();
    let x = design_matrix(&img, 30, 4).unwrap();
    let (xw, rank) = whiten(&x).unwrap();
    assert_eq!(xw.shape(), (49, 30));
    // the raw rank is reported (27 here: the samples span fewer directions than their count),
    // and the completion still makes all 30 whitened samples orthonormal
    assert_eq!(rank, SecondMoment::of(&x).unwrap().rank);
    assert!(rank < 30);
    let g = xw.transpose() * &xw;
    assert!((g - DMatrix::<f64>::identity(30, 30)).abs().max() < 1e-12);
    let white = SecondMoment::of(&xw).unwrap();
    assert_eq!(white.rank, 30);
    assert!((white.kappa - 1.0).abs() < 1e-12);
}
