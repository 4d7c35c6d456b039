//! `gncond check`: regenerate a profile into a scratch folder and compare it with committed
//! reference outputs. Numbers must agree to a relative tolerance, SVGs byte for byte, and every
//! reference artifact must exist. On any difference it writes a diff folder (`figdiff`):
//! every changed cell, and every changed figure as reference | now | difference.

use crate::config::Profile;
use crate::figdiff::{self, CellDiff, ExperimentDiff};
use crate::manifest::{self, Manifest};
use crate::messages::{finding, notice};
use crate::pipeline::{self, RunOptions};
use crate::table;
use crate::{Error, Result};
use polars::prelude::DataFrame;
use std::path::{Path, PathBuf};

/// Relative tolerance for numbers in a CSV. The same binary on the same machine reproduces
/// them bit for bit; the tolerance only absorbs a different CPU's SIMD kernel choice.
pub const REL_TOL: f64 = 1e-9;

/// Compare the results in `fresh` with the references in `golden`: per experiment with a
/// difference, its changed cells, its changed figures (side by side) and other notes.
pub fn compare(golden: &Path, fresh: &Path) -> Result<Vec<ExperimentDiff>> {
    let manifest = Manifest::load(golden)?;
    let mut all = Vec::new();
    for (id, entry) in &manifest.experiments {
        let mut d = ExperimentDiff {
            id: id.clone(),
            cells: Vec::new(),
            figures: Vec::new(),
            notes: Vec::new(),
        };
        for rel in entry.artifacts.keys() {
            if !golden.join(rel).exists() {
                d.notes.push(format!(
                    "reference {} is missing (listed in the manifest)",
                    golden.join(rel).display()
                ));
            }
            if !fresh.join(rel).exists() {
                d.notes.push(format!("the fresh run did not write {rel}"));
            }
        }
        let csv = manifest::csv_path(id);
        if golden.join(&csv).exists() && fresh.join(&csv).exists() {
            let a = table::read_csv(&golden.join(&csv))?;
            let b = table::read_csv(&fresh.join(&csv))?;
            let (cells, notes) = compare_frames(&a, &b)?;
            d.cells = cells;
            d.notes.extend(notes);
        }
        let svg = manifest::svg_path(id);
        if golden.join(&svg).exists() && fresh.join(&svg).exists() {
            let a = crate::fsutil::read(&golden.join(&svg))?;
            let b = crate::fsutil::read(&fresh.join(&svg))?;
            if a != b {
                d.notes
                    .push(format!("{svg} differs ({})", first_difference(&a, &b)));
                let (ra, rb) = (
                    figdiff::rasterize(&String::from_utf8_lossy(&a))?,
                    figdiff::rasterize(&String::from_utf8_lossy(&b))?,
                );
                let (png, changed) = figdiff::side_by_side(&ra, &rb)?;
                d.figures.push((format!("{id}.png"), png, changed));
            }
        }
        if !(d.cells.is_empty() && d.notes.is_empty()) {
            all.push(d);
        }
    }
    Ok(all)
}

fn first_difference(a: &[u8], b: &[u8]) -> String {
    let (ta, tb) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
    for (i, (la, lb)) in ta.lines().zip(tb.lines()).enumerate() {
        if la != lb {
            let cut = |s: &str| s.chars().take(100).collect::<String>();
            return format!("line {}: reference `{}`, now `{}`", i + 1, cut(la), cut(lb));
        }
    }
    format!("{} vs {} lines", ta.lines().count(), tb.lines().count())
}

/// The label of row `i`: the leading columns up to and including `seed`.
fn row_label(df: &DataFrame, i: usize) -> String {
    let mut parts = Vec::new();
    for name in df.get_column_names() {
        let v = table::str_values(df, name.as_str())
            .ok()
            .and_then(|v| v.get(i).cloned())
            .unwrap_or_default();
        parts.push(format!("{name}={v}"));
        if name.as_str() == "seed" {
            break;
        }
    }
    parts.join(" ")
}

fn numeric_equal(a: f64, b: f64) -> bool {
    if a == b || (a.is_nan() && b.is_nan()) {
        return true;
    }
    (a - b).abs() <= REL_TOL * a.abs().max(b.abs())
}

/// Cell-by-cell comparison of two result tables: the changed cells, and notes for a change
/// of shape (other columns or another number of rows, when cells cannot be paired).
pub fn compare_frames(
    golden: &DataFrame,
    fresh: &DataFrame,
) -> Result<(Vec<CellDiff>, Vec<String>)> {
    let names = |df: &DataFrame| -> Vec<String> {
        df.get_column_names()
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let (ga, fa) = (names(golden), names(fresh));
    if ga != fa {
        return Ok((
            Vec::new(),
            vec![format!("columns differ: reference {ga:?}, now {fa:?}")],
        ));
    }
    if golden.height() != fresh.height() {
        return Ok((
            Vec::new(),
            vec![format!(
                "{} rows in the reference, {} now",
                golden.height(),
                fresh.height()
            )],
        ));
    }
    let is_numeric = |df: &DataFrame, name: &str| {
        df.column(name)
            .map(|c| c.dtype().is_primitive_numeric())
            .unwrap_or(false)
    };
    let mut cells = Vec::new();
    for name in &ga {
        if is_numeric(golden, name) && is_numeric(fresh, name) {
            let (a, b) = (table::f64_col(golden, name)?, table::f64_col(fresh, name)?);
            for i in 0..a.len() {
                if !numeric_equal(a[i], b[i]) {
                    cells.push(CellDiff {
                        key: row_label(golden, i),
                        column: name.clone(),
                        reference: a[i].to_string(),
                        now: b[i].to_string(),
                        relative: (a[i] - b[i]).abs() / a[i].abs().max(b[i].abs()),
                    });
                }
            }
        } else {
            let (a, b) = (
                table::str_values(golden, name)?,
                table::str_values(fresh, name)?,
            );
            for i in 0..a.len() {
                if a[i] != b[i] {
                    cells.push(CellDiff {
                        key: row_label(golden, i),
                        column: name.clone(),
                        reference: a[i].clone(),
                        now: b[i].clone(),
                        relative: f64::NAN,
                    });
                }
            }
        }
    }
    Ok((cells, Vec::new()))
}

/// One line per difference, for the terminal (the first `limit`).
fn lines(diffs: &[ExperimentDiff], limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    for d in diffs {
        for n in &d.notes {
            out.push(format!("{}: {n}", d.id));
        }
        for c in &d.cells {
            out.push(if c.relative.is_nan() {
                format!(
                    "{}: column '{}' at {}: reference '{}', now '{}'",
                    d.id, c.column, c.key, c.reference, c.now
                )
            } else {
                format!(
                    "{}: column '{}' at {}: reference {}, now {} (relative change {:.3e} > {REL_TOL:e})",
                    d.id, c.column, c.key, c.reference, c.now, c.relative
                )
            });
        }
    }
    let total = out.len();
    out.truncate(limit);
    if total > limit {
        out.push(format!(
            "… and {} more (see the diff folder)",
            total - limit
        ));
    }
    out
}

/// Regenerate the experiments of `golden`'s manifest with `profile` into a scratch folder
/// (no cache) and compare. When everything matches, the scratch folder is removed and nothing
/// is written; otherwise `diff_dir` gets the diff report (see `figdiff`), replacing an older
/// one, and the check fails naming it.
pub fn check(
    golden: &Path,
    profile: &Profile,
    jobs: usize,
    scratch: Option<PathBuf>,
    diff_dir: &Path,
) -> Result<()> {
    let manifest = Manifest::load(golden)?;
    let ids: Vec<String> = manifest.experiments.keys().cloned().collect();
    let scratch = scratch.unwrap_or_else(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        std::env::temp_dir().join(format!("gncond-check-{}-{nanos}", std::process::id()))
    });
    pipeline::run(&RunOptions {
        ids: ids.clone(),
        profile: profile.clone(),
        out: scratch.clone(),
        jobs,
        cache_dir: None,
        data_dir: crate::data::official::data_dir(None).0,
        mode: pipeline::RunMode::Full,
    })?;
    let diffs = compare(golden, &scratch)?;
    if diffs.is_empty() {
        let _ = std::fs::remove_dir_all(&scratch);
        notice(format!(
            "check: {} experiment(s) match {} (numbers within {REL_TOL:e} relative, SVG byte-identical)",
            manifest.experiments.len(),
            golden.display()
        ));
        return Ok(());
    }
    for line in lines(&diffs, 40) {
        finding(format!("check: {line}"));
    }
    if diff_dir.exists() {
        // only an earlier diff report (or an empty folder) is replaced, never a folder the user
        // named by mistake
        let empty = std::fs::read_dir(diff_dir).is_ok_and(|mut d| d.next().is_none());
        if !empty && !diff_dir.join("index.html").exists() {
            return Err(Error::Input(format!(
                "check: {} exists and is not a diff report of gncond check (no index.html): \
                 give an empty or new --diff-dir",
                diff_dir.display()
            )));
        }
        std::fs::remove_dir_all(diff_dir).map_err(|source| Error::Write {
            path: diff_dir.to_path_buf(),
            source,
        })?;
    }
    figdiff::write_report(diff_dir, &ids, &diffs)?;
    let count: usize = diffs.iter().map(|d| d.cells.len() + d.notes.len()).sum();
    Err(Error::CheckFailed(format!(
        "check: {count} difference(s) in {} experiment(s) between {} and a fresh run (kept in {}); diff: {}",
        diffs.len(),
        golden.display(),
        scratch.display(),
        diff_dir.join("index.html").display()
    )))
}
