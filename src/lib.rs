//! gncond: exact, deterministic reproduction of *Theoretical characterisation of the
//! Gauss-Newton conditioning in Neural Networks* (Zhao, Singh, Lucchi, NeurIPS 2024).
//!
//! The path of one number: a profile (`config`) names experiments and their grids; each grid
//! point draws its weights from a seeded generator (`seed`) on real data (`data`); the spectrum
//! engine (`gn`) gives the exact nonzero spectrum of the Gauss-Newton matrix `G_O`; `bounds`
//! evaluates the paper's bounds; `pipeline` caches and tabulates the points (polars), `plot`
//! draws the figures (plotters), `verify` checks the paper's claims and `report` renders the
//! Markdown report (minijinja). `check` compares a fresh quick run with the committed goldens.

pub mod bounds;
pub mod check;
pub mod config;
pub mod data;
pub mod error;
pub mod experiments;
pub mod external;
pub mod fsutil;
pub mod gn;
pub mod linalg;
pub mod nets;
pub mod pipeline;
pub mod plot;
pub mod report;
pub mod seed;
pub mod shard;
pub mod table;
pub mod train;
pub mod verify;

pub use error::{Error, Result};

/// The crate version, recorded in every cache key and manifest.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
