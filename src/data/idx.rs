//! Reader for the IDX format of the MNIST distribution (raw or gzip-compressed).
//!
//! Layout: two zero bytes, a type byte (0x08 = unsigned byte), a byte giving the number of
//! dimensions, then each dimension as a big-endian u32, then the data in row-major order.

use crate::{Error, Result};
use std::io::Read;

/// An IDX array of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Decompress `bytes` if they start with the gzip magic number, else return them as they are.
pub fn maybe_gunzip(bytes: &[u8], what: &str) -> Result<Vec<u8>> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map_err(|e| Error::Data(format!("{what}: corrupt gzip stream ({e})")))?;
        Ok(out)
    } else {
        Ok(bytes.to_vec())
    }
}

/// Parse an IDX file of unsigned bytes (gzip allowed); `what` names it in errors.
pub fn parse_idx(bytes: &[u8], what: &str) -> Result<IdxArray> {
    let raw = maybe_gunzip(bytes, what)?;
    let bad = |msg: String| Error::Data(format!("{what}: {msg}"));
    if raw.len() < 4 {
        return Err(bad(format!(
            "{} bytes is too short for an IDX header",
            raw.len()
        )));
    }
    if raw[0] != 0 || raw[1] != 0 {
        return Err(bad(
            "not an IDX file (the first two bytes must be zero)".into()
        ));
    }
    if raw[2] != 0x08 {
        return Err(bad(format!(
            "element type 0x{:02x} is not supported (only 0x08, unsigned byte)",
            raw[2]
        )));
    }
    let ndim = raw[3] as usize;
    let header = 4 + 4 * ndim;
    if ndim == 0 || raw.len() < header {
        return Err(bad(format!("truncated header ({ndim} dimensions)")));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|i| {
            let b = &raw[4 + 4 * i..8 + 4 * i];
            u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
        })
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| bad("dimensions overflow".into()))?;
    let got = raw.len() - header;
    if got != expected {
        return Err(bad(format!(
            "dimensions {dims:?} need {expected} data bytes, the file has {got}"
        )));
    }
    Ok(IdxArray {
        dims,
        data: raw[header..].to_vec(),
    })
}
