//! Network architectures, each with the same verbs: `forward`, `jacobian` (the explicit
//! per-sample Jacobian, the oracle) and what the fast spectrum routes need.

pub mod init;
pub mod linear;

pub use linear::{DeepLinear, PartialProducts};
