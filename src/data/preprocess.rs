//! Preprocessing of docs/METHODS.md §3: pixels to [0, 1], strided subsampling, whitening.

use super::Images;
use crate::linalg;
use crate::{Error, Result};
use nalgebra::DMatrix;

/// Side length after strided subsampling `img[::f, ::f]`: ⌈side / f⌉; `d` is its square.
pub fn downsampled_dim(side: usize, f: usize) -> usize {
    let s = side.div_ceil(f);
    s * s
}

/// The data matrix `X ∈ R^{d×n}` (one column per sample) of the first `n` images, each
/// channel subsampled as `img[::f, ::f]` and scaled to [0, 1]; d = channels · ⌈rows/f⌉ ·
/// ⌈cols/f⌉ in channel-major (CHW) order, as PyTorch flattens a C×H×W tensor.
pub fn design_matrix(images: &Images, n: usize, f: usize) -> Result<DMatrix<f64>> {
    matrix(images, n, f, false)
}

/// As [`design_matrix`] on the grayscale images: each pixel is the mean of its channels,
/// `(R + G + B) / (3 · 255)` for colour images (docs/METHODS.md §3); unchanged for grayscale ones.
pub fn design_matrix_gray(images: &Images, n: usize, f: usize) -> Result<DMatrix<f64>> {
    matrix(images, n, f, true)
}

fn matrix(images: &Images, n: usize, f: usize, gray: bool) -> Result<DMatrix<f64>> {
    if n == 0 || n > images.len() {
        return Err(Error::Input(format!(
            "n = {n} samples requested, the data set ({}) has {}",
            images.source.id,
            images.len()
        )));
    }
    if f == 0 {
        return Err(Error::Input(
            "downsampling factor must be at least 1".into(),
        ));
    }
    let rows: Vec<usize> = (0..images.rows).step_by(f).collect();
    let cols: Vec<usize> = (0..images.cols).step_by(f).collect();
    let plane = images.rows * images.cols;
    let c = images.channels;
    let out_channels = if gray { 1 } else { c };
    let d = out_channels * rows.len() * cols.len();
    let mut x = DMatrix::zeros(d, n);
    for i in 0..n {
        let img = images.image(i);
        let mut r = 0;
        for ch in 0..out_channels {
            for &a in &rows {
                for &b in &cols {
                    let at = a * images.cols + b;
                    x[(r, i)] = if gray {
                        let sum: f64 = (0..c).map(|k| f64::from(img[k * plane + at])).sum();
                        sum / (c as f64 * 255.0)
                    } else {
                        f64::from(img[ch * plane + at]) / 255.0
                    };
                    r += 1;
                }
            }
        }
    }
    Ok(x)
}

/// Whitening by the thin SVD: with `Xᵀ = U S Vᵀ` (n×d), return `(U Vᵀ)ᵀ = V Uᵀ` (d×n): all
/// singular values set to 1, together with the numerical rank of the raw data. For n ≥ d its
/// rows are orthonormal, so `X Xᵀ = I` and κ(Σ) = 1 exactly; for n < d its columns (the
/// samples) are orthonormal, `XᵀX = I_n`, and κ(Σ) = 1 over Σ's n nonzero eigenvalues.
///
/// Rank-deficient data (strided MNIST always is: the image border is blank, so f = 4 leaves
/// about 34 of 49 pixels that ever vary) is whitened the same way the authors' code does it:
/// the singular vectors of the zero singular values, an orthonormal completion chosen by the
/// SVD, fill the missing directions. We check that `U` is orthonormal, so `X Xᵀ = I` holds
/// regardless. For linear networks `G_O` depends on the data only through Σ, so how the
/// completion is chosen cannot change κ.
pub fn whiten(x: &DMatrix<f64>) -> Result<(DMatrix<f64>, usize)> {
    let (d, n) = x.shape();
    let svd = linalg::thin_svd(&x.transpose())?;
    let rank = linalg::numerical_rank_sv(&svd.s, n.max(d));
    // the factor whose columns must be orthonormal: U (n×d) when n ≥ d, else V (d×n)
    let q = if n >= d { &svd.u } else { &svd.v };
    let gram = linalg::gram_cols(q);
    let r = n.min(d);
    let off = (gram - DMatrix::<f64>::identity(r, r)).abs().max();
    if off > 1e-10 {
        return Err(Error::Numerics(format!(
            "whitening: the SVD's singular vectors are not orthonormal (max |QᵀQ − I| = {off:e})"
        )));
    }
    Ok((&svd.v * svd.u.transpose(), rank))
}
