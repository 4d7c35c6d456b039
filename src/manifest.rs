//! The output folder's record of what produced its artifacts (`figures/manifest.json`), the
//! artifacts' paths, and the commit of one experiment's artifact set: CSV, SVG, PNG and
//! manifest entry are replaced together or not at all.
//!
//! Committing an artifact set: under an exclusive advisory lock on `figures/.manifest.lock`
//! (so that two runs into one folder cannot lose each other's entries), every new file and the
//! updated manifest are first written in full beside their targets (staged, synced); only when
//! all of them are written are they renamed into place, the manifest last. A failure while
//! staging (a full disk, say) removes the staged files and leaves the previous set untouched.

use crate::data::DataSource;
use crate::fsutil::{sha256_hex, write_atomic};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Relative path of the manifest under an output folder.
pub const MANIFEST_PATH: &str = "figures/manifest.json";
/// Relative path of the lock that serialises updates of the manifest.
pub const LOCK_PATH: &str = "figures/.manifest.lock";
/// Relative path of the (non-deterministic, untracked) timings of the last runs.
pub const TIMINGS_PATH: &str = "report/timings.json";

/// Relative path of an experiment's result table.
pub fn csv_path(id: &str) -> String {
    format!("figures/data/{id}.csv")
}

/// Relative path of the SVG figure.
pub fn svg_path(id: &str) -> String {
    format!("figures/{id}.svg")
}

/// Relative path of the PNG figure.
pub fn png_path(id: &str) -> String {
    format!("figures/{id}.png")
}

/// The deterministic record of what produced the artifacts in an output folder.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Manifest {
    pub gncond_version: String,
    pub experiments: BTreeMap<String, ManifestEntry>,
}

/// One experiment's provenance and artifact checksums.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub paper: String,
    pub profile: String,
    pub profile_source: String,
    pub profile_sha256: String,
    pub master_seed: u64,
    pub config: serde_json::Value,
    pub data: DataSource,
    /// Grid points computed (each may give several rows).
    pub points: usize,
    /// Rows in the CSV.
    pub rows: usize,
    /// Path (relative to the output folder) → SHA-256.
    pub artifacts: BTreeMap<String, String>,
}

impl Manifest {
    /// Read `out`'s manifest: missing or corrupt is an error naming the file.
    pub fn load(out: &Path) -> Result<Manifest> {
        let path = out.join(MANIFEST_PATH);
        if !path.exists() {
            return Err(Error::Input(format!(
                "no results in {}: {} is missing (run `gncond run` first)",
                out.display(),
                MANIFEST_PATH
            )));
        }
        Manifest::parse(&path)
    }

    fn parse(path: &Path) -> Result<Manifest> {
        Manifest::from_bytes(&crate::fsutil::read(path)?, path)
    }

    /// A manifest from the bytes of the file at `path` (named in errors).
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Manifest> {
        serde_json::from_slice(bytes).map_err(|e| {
            Error::Input(format!(
                "{}: not a gncond manifest ({e}); remove it, or run into another --out",
                path.display()
            ))
        })
    }

    /// Read `out`'s manifest, or an empty one if there is none yet (a corrupt one is an error).
    fn load_or_default(out: &Path) -> Result<Manifest> {
        let path = out.join(MANIFEST_PATH);
        if path.exists() {
            Manifest::parse(&path)
        } else {
            Ok(Manifest::default())
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        (serde_json::to_string_pretty(self).expect("manifest serialises") + "\n").into_bytes()
    }
}

/// One experiment's new artifacts: relative path → bytes.
pub struct ArtifactSet {
    pub id: String,
    pub files: Vec<(String, Vec<u8>)>,
}

impl ArtifactSet {
    /// Path → SHA-256 of every file, for the manifest entry.
    pub fn checksums(&self) -> BTreeMap<String, String> {
        self.files
            .iter()
            .map(|(p, b)| (p.clone(), sha256_hex(b)))
            .collect()
    }
}

/// Replace the artifacts of `set.id` in `out` and its manifest entry by `entry`, all or
/// nothing (see the module documentation). `version` is recorded in the manifest.
pub fn commit(out: &Path, set: &ArtifactSet, entry: ManifestEntry, version: &str) -> Result<()> {
    let _lock = lock(out)?;
    let mut manifest = Manifest::load_or_default(out)?;
    manifest.gncond_version = version.to_string();
    manifest.experiments.insert(set.id.clone(), entry);
    let mut files: Vec<(PathBuf, &[u8])> = set
        .files
        .iter()
        .map(|(rel, bytes)| (out.join(rel), bytes.as_slice()))
        .collect();
    let manifest_bytes = manifest.to_bytes();
    files.push((out.join(MANIFEST_PATH), &manifest_bytes));
    let mut staged: Vec<(PathBuf, PathBuf)> = Vec::new();
    for (path, bytes) in &files {
        match crate::fsutil::stage(path, bytes) {
            Ok(tmp) => staged.push((tmp, path.clone())),
            Err(e) => {
                for (tmp, _) in &staged {
                    let _ = std::fs::remove_file(tmp);
                }
                return Err(e);
            }
        }
    }
    for (i, (tmp, path)) in staged.iter().enumerate() {
        if let Err(source) = std::fs::rename(tmp, path) {
            for (tmp, _) in &staged[i..] {
                let _ = std::fs::remove_file(tmp);
            }
            return Err(Error::Write {
                path: path.clone(),
                source,
            });
        }
    }
    Ok(())
}

/// The exclusive lock on `out`'s manifest, released when dropped.
fn lock(out: &Path) -> Result<std::fs::File> {
    let path = out.join(LOCK_PATH);
    let err = |source| Error::Write {
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(err)?;
    file.lock().map_err(err)?;
    Ok(file)
}

/// Timings of the last run of each experiment in a folder (not deterministic, not in git).
pub type Timings = BTreeMap<String, crate::runner::RunStats>;

/// Read `out`'s timings (empty if none or unreadable: they are informative only).
pub fn load_timings(out: &Path) -> Timings {
    std::fs::read(out.join(TIMINGS_PATH))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Record the timings of the experiments just run, keeping the others'.
pub fn save_timings(out: &Path, new: Timings) -> Result<()> {
    let mut timings = load_timings(out);
    timings.extend(new);
    let text = serde_json::to_string_pretty(&timings).expect("timings serialise") + "\n";
    write_atomic(&out.join(TIMINGS_PATH), text.as_bytes())
}
