//! Network architectures, each with the same verbs: `forward`, `jacobian` (the explicit
//! per-sample Jacobian, the oracle) and what the fast spectrum routes need.

pub mod batchnorm;
pub mod cnn;
pub mod init;
pub mod linear;
pub mod relu;
pub mod resnet;

pub use batchnorm::BatchNormNet;
pub use cnn::LinearCnn;
pub use linear::{DeepLinear, PartialProducts};
pub use relu::TwoLayer;
pub use resnet::{BnMode, BnStats, ResNet, ResNetSpec};
