//! Atomic file writes and content hashing.

use crate::{Error, Result};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Write `bytes` to `path` atomically: a temporary file in the same folder, then a rename, so a
/// reader (or an interrupted run) sees either the old file or the new one, never half of one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = stage(path, bytes)?;
    std::fs::rename(&tmp, path).map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        Error::Write {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Write `bytes` in full to a temporary file beside `path` (creating its folder) and sync it;
/// returns the temporary file's path, for the caller to rename into place. Nothing is left
/// behind on failure.
pub fn stage(path: &Path, bytes: &[u8]) -> Result<std::path::PathBuf> {
    let err = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp{}", std::process::id()));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    match written {
        Ok(()) => Ok(tmp),
        Err(source) => {
            let _ = std::fs::remove_file(&tmp);
            Err(err(source))
        }
    }
}

/// Fail early, before any computing, if `dir` cannot be created or written into: bad input
/// (the user named an unusable place), reported like a write failure.
pub fn ensure_writable_dir(dir: &Path) -> Result<()> {
    let err = |source| {
        Error::Input(
            Error::Write {
                path: dir.to_path_buf(),
                source,
            }
            .to_string(),
        )
    };
    std::fs::create_dir_all(dir).map_err(err)?;
    let probe = dir.join(format!(".gncond-write-probe{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(err)?;
    std::fs::remove_file(&probe).map_err(err)
}

/// Read a file, naming it in the error.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })
}
