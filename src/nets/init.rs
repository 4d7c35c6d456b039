//! Weight initialisations (docs/METHODS.md §2). Entries are drawn row by row, layer by layer, from
//! the point's generator, so a weight matrix matches PyTorch's row-major storage order.

use crate::seed::{normal, PointRng};
use nalgebra::DMatrix;

/// Kaiming normal, fan-in mode: entries `N(0, gain² / fan_in)` with fan_in = `cols`.
/// Gain 1 for linear layers, √2 for (leaky) ReLU.
pub fn kaiming_normal(rows: usize, cols: usize, gain: f64, rng: &mut PointRng) -> DMatrix<f64> {
    let std = gain / (cols as f64).sqrt();
    gaussian(rows, cols, std, rng)
}

/// Xavier (Glorot) normal: entries `N(0, 2 / (fan_in + fan_out))`.
pub fn xavier_normal(rows: usize, cols: usize, rng: &mut PointRng) -> DMatrix<f64> {
    let std = (2.0 / (rows + cols) as f64).sqrt();
    gaussian(rows, cols, std, rng)
}

fn gaussian(rows: usize, cols: usize, std: f64, rng: &mut PointRng) -> DMatrix<f64> {
    let mut w = DMatrix::zeros(rows, cols);
    for i in 0..rows {
        for j in 0..cols {
            w[(i, j)] = std * normal(rng);
        }
    }
    w
}
