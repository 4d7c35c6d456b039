//! Embeds the SHA-256 of the sources (`src/`, `templates/`, `profiles/`, `Cargo.toml`,
//! `Cargo.lock`, and the authors' stored numbers `data/published-values.csv`) as `GNCOND_SOURCE_SHA256`, so the report names the code that made it
//! without asking git (whose commit of a report cannot contain that report).

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    let mut paths = Vec::new();
    for dir in ["src", "templates", "profiles"] {
        println!("cargo:rerun-if-changed={dir}");
        files(Path::new(dir), &mut paths);
    }
    for file in ["Cargo.toml", "Cargo.lock", "data/published-values.csv"] {
        println!("cargo:rerun-if-changed={file}");
        paths.push(PathBuf::from(file));
    }
    paths.sort();
    let mut hash = Sha256::new();
    for path in &paths {
        let name = path.to_string_lossy().replace('\\', "/");
        hash.update(name.as_bytes());
        hash.update([0]);
        hash.update(std::fs::read(path).unwrap_or_default());
        hash.update([0]);
    }
    let hex: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    println!("cargo:rustc-env=GNCOND_SOURCE_SHA256={hex}");
}
