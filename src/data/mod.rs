//! Real data: the embedded MNIST subset, the IDX reader, and the preprocessing of docs/METHODS.md §3.

pub mod cifar;
pub mod embedded;
pub mod idx;
pub mod moment;
pub mod official;
pub mod preprocess;

pub use embedded::{load_embedded_mnist, EMBEDDED_MNIST_LEN};
pub use moment::SecondMoment;
pub use official::{DataConfig, DataPolicy, Want};
pub use preprocess::{design_matrix, design_matrix_gray, downsampled_dim, whiten};

/// A set of labelled images, pixels in 0..=255, each image channel after channel (CHW), each
/// channel row-major.
#[derive(Debug, Clone)]
pub struct Images {
    /// 1 for grayscale (MNIST), 3 for colour (CIFAR-10: red, green, blue).
    pub channels: usize,
    pub rows: usize,
    pub cols: usize,
    /// `len × channels × rows × cols` bytes, image after image.
    pub pixels: Vec<u8>,
    pub labels: Vec<u8>,
    /// Where the images came from, for captions and the report.
    pub source: DataSource,
}

impl Images {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The pixels of image `i` (all channels).
    pub fn image(&self, i: usize) -> &[u8] {
        let size = self.channels * self.rows * self.cols;
        &self.pixels[i * size..(i + 1) * size]
    }
}

/// Provenance of a data set, carried into every CSV and the report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DataSource {
    /// Short id written into CSVs (`mnist5k-embedded`).
    pub id: String,
    /// One sentence for captions and the report.
    pub description: String,
    /// SHA-256 of the files the images were read from, joined in a fixed order.
    pub sha256: String,
}
