//! `gncond check`: regenerate a profile into a scratch folder and compare it with committed
//! reference outputs. Numbers must agree to a relative tolerance, SVGs byte for byte, and every
//! reference artifact must exist.

use crate::config::Profile;
use crate::manifest::{self, Manifest};
use crate::messages::notice;
use crate::pipeline::{self, RunOptions};
use crate::table;
use crate::{Error, Result};
use polars::prelude::DataFrame;
use std::path::{Path, PathBuf};

/// Relative tolerance for numbers in a CSV. The same binary on the same machine reproduces
/// them bit for bit; the tolerance only absorbs a different CPU's SIMD kernel choice.
pub const REL_TOL: f64 = 1e-9;

/// Compare the results in `fresh` with the references in `golden`; returns the differences.
pub fn compare(golden: &Path, fresh: &Path) -> Result<Vec<String>> {
    let manifest = Manifest::load(golden)?;
    let mut diffs = Vec::new();
    for (id, entry) in &manifest.experiments {
        for rel in entry.artifacts.keys() {
            if !golden.join(rel).exists() {
                diffs.push(format!(
                    "{id}: reference {} is missing (listed in the manifest)",
                    golden.join(rel).display()
                ));
            }
            if !fresh.join(rel).exists() {
                diffs.push(format!("{id}: the fresh run did not write {rel}"));
            }
        }
        let csv = manifest::csv_path(id);
        if golden.join(&csv).exists() && fresh.join(&csv).exists() {
            let a = table::read_csv(&golden.join(&csv))?;
            let b = table::read_csv(&fresh.join(&csv))?;
            diffs.extend(compare_frames(id, &a, &b)?);
        }
        let svg = manifest::svg_path(id);
        if golden.join(&svg).exists() && fresh.join(&svg).exists() {
            let a = crate::fsutil::read(&golden.join(&svg))?;
            let b = crate::fsutil::read(&fresh.join(&svg))?;
            if a != b {
                diffs.push(format!(
                    "{id}: {svg} differs ({})",
                    first_difference(&a, &b)
                ));
            }
        }
    }
    Ok(diffs)
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

/// Cell-by-cell comparison of two result tables, naming experiment, column and point.
pub fn compare_frames(id: &str, golden: &DataFrame, fresh: &DataFrame) -> Result<Vec<String>> {
    let mut diffs = Vec::new();
    let (ga, fa): (Vec<String>, Vec<String>) = (
        golden
            .get_column_names()
            .iter()
            .map(|s| s.to_string())
            .collect(),
        fresh
            .get_column_names()
            .iter()
            .map(|s| s.to_string())
            .collect(),
    );
    if ga != fa {
        diffs.push(format!(
            "{id}: columns differ: reference {ga:?}, now {fa:?}"
        ));
        return Ok(diffs);
    }
    if golden.height() != fresh.height() {
        diffs.push(format!(
            "{id}: {} rows in the reference, {} now",
            golden.height(),
            fresh.height()
        ));
        return Ok(diffs);
    }
    for name in &ga {
        let numeric = golden
            .column(name)
            .map(|c| c.dtype().is_primitive_numeric())
            .unwrap_or(false)
            && fresh
                .column(name)
                .map(|c| c.dtype().is_primitive_numeric())
                .unwrap_or(false);
        if numeric {
            let (a, b) = (table::f64_col(golden, name)?, table::f64_col(fresh, name)?);
            for i in 0..a.len() {
                if !numeric_equal(a[i], b[i]) {
                    let rel = (a[i] - b[i]).abs() / a[i].abs().max(b[i].abs());
                    diffs.push(format!(
                        "{id}: column '{name}' at {}: reference {}, now {} (relative change {rel:.3e} > {REL_TOL:e})",
                        row_label(golden, i),
                        a[i],
                        b[i]
                    ));
                }
            }
        } else {
            let (a, b) = (
                table::str_values(golden, name)?,
                table::str_values(fresh, name)?,
            );
            for i in 0..a.len() {
                if a[i] != b[i] {
                    diffs.push(format!(
                        "{id}: column '{name}' at {}: reference '{}', now '{}'",
                        row_label(golden, i),
                        a[i],
                        b[i]
                    ));
                }
            }
        }
    }
    Ok(diffs)
}

/// Regenerate the experiments of `golden`'s manifest with `profile` into a scratch folder
/// (no cache) and compare. The scratch folder is removed when everything matches.
pub fn check(
    golden: &Path,
    profile: &Profile,
    jobs: usize,
    scratch: Option<PathBuf>,
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
        ids,
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
        Ok(())
    } else {
        for d in &diffs {
            crate::messages::finding(format!("check: {d}"));
        }
        Err(Error::CheckFailed(format!(
            "check: {} difference(s) between {} and a fresh run (kept in {})",
            diffs.len(),
            golden.display(),
            scratch.display()
        )))
    }
}
