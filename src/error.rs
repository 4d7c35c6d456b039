//! Typed errors and the exit code each maps to:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | a check failed: a claim, a bound, a golden comparison |
//! | 2 | bad input: something typed or a file given (profile, data, experiment id, output folder) |
//! | 3 | an output could not be written (disk full, permissions); the previous artifacts stay |
//! | 4 | an internal error: a template, a figure, a numerical kernel failed (a bug to report) |

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
    /// An input file could not be read (exit 2).
    #[error("cannot read {}: {}", path.display(), io_reason(source))]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A claim, a bound or a golden comparison failed (exit 1).
    #[error("{0}")]
    CheckFailed(String),
    /// An output could not be written while the run was writing it (exit 3).
    #[error("cannot write {}: {}", path.display(), io_reason(source))]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A numerical kernel failed to converge or met a non-finite value (exit 4).
    #[error("numerical failure: {0}")]
    Numerics(String),
    /// Training diverged (the loss became infinite or NaN) (exit 4).
    #[error("{0}")]
    Diverged(String),
    /// Our own machinery failed: a template, a figure, a table (exit 4).
    #[error("internal error: {0}")]
    Internal(String),
}

/// An OS error in words, lower case, without the Debug dump: `no space left on device (os
/// error 28)`.
fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => format!("{:?}", e.kind()),
    }
}

impl Error {
    /// The process exit code for this error (see the table above).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::CheckFailed(_) => 1,
            Error::Input(_) | Error::Config { .. } | Error::Data(_) | Error::Read { .. } => 2,
            Error::Write { .. } => 3,
            Error::Numerics(_) | Error::Diverged(_) | Error::Internal(_) => 4,
        }
    }

    /// The same error with `context` (e.g. the experiment and point) put in front.
    pub fn context(self, context: &str) -> Error {
        match self {
            Error::Numerics(m) => Error::Numerics(format!("{context}: {m}")),
            Error::Input(m) => Error::Input(format!("{context}: {m}")),
            Error::Internal(m) => Error::Internal(format!("{context}: {m}")),
            other => other,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
