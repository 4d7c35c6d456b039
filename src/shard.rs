//! Scaling out: `gncond run --shard K/N` computes one of N deterministic slices of a profile's
//! grid points into the shared content-hash cache, and `gncond merge` assembles the outputs
//! from the cache once every slice is there. The merged files are byte-identical to a
//! single-machine run, because a cached point is exactly the computed one.
//!
//! Slices are balanced by estimated cost: every point gets its experiment's estimated seconds
//! shared out by [`Experiment::point_weight`], points are taken from the most to the least
//! expensive (ties in grid order) and each goes to the slice with the least load so far (ties
//! to the lowest index). Each shard writes a record of its points to
//! `<cache>/shards/<profile sha256, 16 hex>/<K>-of-<N>.json` (atomically, one file per shard),
//! which `merge` checks: every K of 1..N present, one split only, the same program, no point in
//! two records.

use crate::config::Profile;
use crate::experiment::Experiment;
use crate::fsutil::write_atomic;
use crate::seed;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `K/N`: slice K (1-based) of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardSpec {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for ShardSpec {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad = || format!("--shard {s}: expected K/N with 1 ≤ K ≤ N, e.g. 2/8");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(ShardSpec { index, count })
    }
}

impl std::fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// One grid point in the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedPoint {
    /// The point's seed text (names experiment, parameters, replicate: unique).
    pub seed_text: String,
    pub experiment: &'static str,
    pub label: String,
    /// Estimated seconds.
    pub cost: f64,
    /// Slice index, 0-based.
    pub shard: usize,
}

/// Assign every point of `experiments` in `profile` to one of `count` slices (see the module
/// documentation). Deterministic: depends only on the profile and the experiment list.
pub fn plan(
    experiments: &[&'static dyn Experiment],
    profile: &Profile,
    count: usize,
) -> Vec<PlannedPoint> {
    let mut items = Vec::new();
    for exp in experiments {
        let points = exp.points(profile);
        let weights: Vec<f64> = points
            .iter()
            .map(|p| exp.point_weight(p).max(0.0))
            .collect();
        let total: f64 = weights.iter().sum();
        let seconds = exp.cost_hint(profile).seconds;
        for (p, w) in points.iter().zip(&weights) {
            let share = if total > 0.0 {
                w / total
            } else {
                1.0 / points.len() as f64
            };
            items.push(PlannedPoint {
                seed_text: seed::seed_text(profile.master_seed, exp.id(), &p.params, p.replicate),
                experiment: exp.id(),
                label: p.label(),
                cost: seconds * share,
                shard: 0,
            });
        }
    }
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| items[b].cost.total_cmp(&items[a].cost).then(a.cmp(&b)));
    let mut load = vec![0.0f64; count.max(1)];
    for i in order {
        let s = (0..load.len())
            .min_by(|&a, &b| load[a].total_cmp(&load[b]).then(a.cmp(&b)))
            .expect("at least one shard");
        load[s] += items[i].cost;
        items[i].shard = s;
    }
    items
}

/// The seed texts of slice `spec`.
pub fn slice(plan: &[PlannedPoint], spec: ShardSpec) -> BTreeSet<String> {
    plan.iter()
        .filter(|p| p.shard == spec.index - 1)
        .map(|p| p.seed_text.clone())
        .collect()
}

/// What a shard leaves behind for `merge`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRecord {
    pub profile: String,
    pub profile_sha256: String,
    /// SHA-256 of the program that computed the points (the cache is keyed by it).
    pub program: String,
    pub shard: usize,
    pub of: usize,
    /// Seed texts of the points this shard holds in the cache.
    pub points: Vec<String>,
}

impl ShardRecord {
    /// A record from the bytes of the file at `path` (named in errors).
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<ShardRecord> {
        serde_json::from_slice(bytes).map_err(|err| {
            Error::Input(format!(
                "merge: {}: not a shard record ({err})",
                path.display()
            ))
        })
    }
}

/// The folder of a profile's shard records under a cache folder.
pub fn records_dir(cache_dir: &Path, profile: &Profile) -> PathBuf {
    cache_dir
        .join("shards")
        .join(&profile.sha256[..16.min(profile.sha256.len())])
}

/// Write a shard's record (atomically).
pub fn write_record(cache_dir: &Path, profile: &Profile, record: &ShardRecord) -> Result<PathBuf> {
    let path =
        records_dir(cache_dir, profile).join(format!("{}-of-{}.json", record.shard, record.of));
    let text = serde_json::to_string_pretty(record).expect("record serialises") + "\n";
    write_atomic(&path, text.as_bytes())?;
    Ok(path)
}

/// Check the shard records of `profile` before a merge: exactly one split, all of its shards,
/// the running program, and no point held by two records. Returns the split's N.
pub fn check_records(cache_dir: &Path, profile: &Profile, program: &str) -> Result<usize> {
    let dir = records_dir(cache_dir, profile);
    let bad = |m: String| Error::Input(format!("merge: {m}"));
    let mut records: BTreeMap<String, ShardRecord> = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".json") {
                continue;
            }
            let r = ShardRecord::from_bytes(&crate::fsutil::read(&e.path())?, &e.path())?;
            if name != format!("{}-of-{}.json", r.shard, r.of) {
                return Err(bad(format!(
                    "{}: holds shard {}/{}, not what its name says (a copied record?)",
                    e.path().display(),
                    r.shard,
                    r.of
                )));
            }
            records.insert(name, r);
        }
    }
    if records.is_empty() {
        return Err(bad(format!(
            "no shard records for profile '{}' in {} (run `gncond run --shard K/N` first)",
            profile.name,
            dir.display()
        )));
    }
    let splits: BTreeSet<usize> = records.values().map(|r| r.of).collect();
    if splits.len() > 1 {
        let names: Vec<&str> = records.keys().map(String::as_str).collect();
        return Err(bad(format!(
            "records of different splits in {} ({}): shard {} is recorded more than once; remove the stale records",
            dir.display(),
            names.join(", "),
            duplicated_index(&records).map_or("?".into(), |k| k.to_string())
        )));
    }
    let n = *splits.iter().next().expect("one split");
    let missing: Vec<String> = (1..=n)
        .filter(|k| !records.contains_key(&format!("{k}-of-{n}.json")))
        .map(|k| format!("{k}/{n}"))
        .collect();
    if !missing.is_empty() {
        return Err(bad(format!(
            "shard {} missing: no record in {} (did the job fail or not run yet?)",
            missing.join(", "),
            dir.display()
        )));
    }
    let mut owner: BTreeMap<&str, usize> = BTreeMap::new();
    for r in records.values() {
        if r.program != program {
            return Err(bad(format!(
                "shard {}/{} was computed by another gncond binary (sha256 {}…); merge with the same binary",
                r.shard,
                r.of,
                &r.program[..12.min(r.program.len())]
            )));
        }
        for p in &r.points {
            if let Some(other) = owner.insert(p, r.shard) {
                return Err(bad(format!(
                    "shards {other}/{n} and {}/{n} both hold the point `{p}`: a duplicated shard",
                    r.shard
                )));
            }
        }
    }
    Ok(n)
}

fn duplicated_index(records: &BTreeMap<String, ShardRecord>) -> Option<usize> {
    let mut seen = BTreeSet::new();
    records.values().map(|r| r.shard).find(|k| !seen.insert(*k))
}
