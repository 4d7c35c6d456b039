//! Typed errors and the exit code each maps to (0 ok, 1 a failed check, 2 bad input).

use std::path::PathBuf;

/// Every failure a user can cause or meet.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Something the user typed or a file they gave is wrong (exit 2).
    #[error("{0}")]
    Input(String),
    /// A profile file is malformed or holds an impossible value (exit 2).
    #[error("{file}: {msg}")]
    Config { file: String, msg: String },
    /// Data is missing, truncated or fails its checksum (exit 2).
    #[error("data: {0}")]
    Data(String),
    /// An output could not be written (exit 2: the user named an unusable place).
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// An input file could not be read (exit 2).
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A claim, a bound or a golden comparison failed (exit 1).
    #[error("{0}")]
    CheckFailed(String),
    /// A numerical kernel failed to converge or met a non-finite value (exit 1).
    #[error("numerical failure: {0}")]
    Numerics(String),
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::CheckFailed(_) | Error::Numerics(_) => 1,
            _ => 2,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
