//! gncond: exact, deterministic reproduction of *Theoretical characterisation of the
//! Gauss-Newton conditioning in Neural Networks* (Zhao, Singh, Lucchi, NeurIPS 2024).
//! The methods are written down in `docs/METHODS.md`.
//!
//! Layers, each using only those below it:
//!
//! 1. `cli` (the command line) → `plan` (profile checked, experiments selected) →
//!    `pipeline` (run, shard, merge), `report`, `verify`, `check`, `shard`, `external`,
//!    `calibrate` (this machine's speed for `list`);
//! 2. `experiments` (the registry; one file per figure, helpers in `experiments::kit`);
//! 3. `experiment` (what an experiment is, and the typed adapter), `runner` (points through
//!    the cache and thread pool), `manifest` (artifact sets and their record);
//! 4. the engine: `gn` (the nonzero spectrum of G_O), `authors` (what the authors' code
//!    computes where it departs), `bounds`, `nets`, `train`, `linalg`,
//!    `data`, `seed`, `table`, `plot`, `claims`, `format`, `config`, `messages`, `fsutil`,
//!    `error`.

pub mod authors;
pub mod bounds;
pub mod calibrate;
pub mod check;
pub mod claims;
pub mod cli;
pub mod config;
pub mod data;
pub mod error;
pub mod experiment;
pub mod experiments;
pub mod external;
pub mod figdiff;
pub mod format;
pub mod fsutil;
pub mod gn;
pub mod linalg;
pub mod manifest;
pub mod messages;
pub mod nets;
pub mod pipeline;
pub mod plan;
pub mod plot;
pub mod report;
pub mod runner;
pub mod seed;
pub mod shard;
pub mod symeig;
pub mod table;
pub mod train;
pub mod verify;

pub use error::{Error, Result};

/// The crate version, recorded in every cache key and manifest.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
