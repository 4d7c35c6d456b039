//! Reader for the CIFAR-10 binary distribution (`cifar-10-binary.tar.gz`).
//!
//! Each batch file is a sequence of 3073-byte records: one label byte (0–9), then the 32×32
//! image as 1024 red, 1024 green and 1024 blue bytes, each channel row-major. The training set
//! is `data_batch_1.bin` … `data_batch_5.bin` (10000 records each), in that order.

use super::{DataSource, Images};
use crate::{Error, Result};

/// Image side.
pub const SIDE: usize = 32;
/// Bytes per record: label + 3 channels of 32×32.
pub const RECORD: usize = 1 + 3 * SIDE * SIDE;
/// The training batches, in the order the first n images are taken from.
pub const TRAIN_BATCHES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];

/// Decode concatenated batches (`what` names them in errors). Labels must be 0–9 and the
/// length a whole number of records.
pub fn parse_batches(parts: &[(&str, &[u8])], source: DataSource) -> Result<Images> {
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for (what, bytes) in parts {
        if bytes.is_empty() || bytes.len() % RECORD != 0 {
            return Err(Error::Data(format!(
                "{what}: {} bytes is not a whole number of {RECORD}-byte CIFAR-10 records \
                 (truncated or not a CIFAR-10 binary batch)",
                bytes.len()
            )));
        }
        for (r, rec) in bytes.chunks_exact(RECORD).enumerate() {
            if rec[0] > 9 {
                return Err(Error::Data(format!(
                    "{what}: record {r} has label {}, expected 0–9",
                    rec[0]
                )));
            }
            labels.push(rec[0]);
            pixels.extend_from_slice(&rec[1..]);
        }
    }
    Ok(Images {
        channels: 3,
        rows: SIDE,
        cols: SIDE,
        pixels,
        labels,
        source,
    })
}
