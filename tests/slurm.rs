//! Sharding: `--shard` slices partition a profile's points exactly and are balanced; `merge`
//! rejects missing and duplicated shards; and the quick profile submitted to a real one-node
//! Slurm cluster on 127.0.0.1 (a 3-task array plus a dependent merge job) gives the same bytes
//! as a local run. Where Slurm or root is missing the cluster test says so and skips, unless
//! `GNCOND_REQUIRE_SLURM=1` (set by `.ci/run` after installing Slurm), where it fails.

use gncond::config::{Profile, BUILTIN_PROFILES};
use gncond::experiments;
use gncond::shard::{plan, slice, ShardSpec};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_gncond");

fn gncond(args: &[&str], cwd: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env("GNCOND_DATA_DIR", "no-official-data-in-tests")
        .output()
        .unwrap()
}

#[test]
fn shards_partition_the_points_exactly_and_are_balanced() {
    for (name, text) in BUILTIN_PROFILES {
        let profile = Profile::parse(text, name).unwrap();
        let exps: Vec<_> = experiments::registry()
            .into_iter()
            .filter(|e| !e.points(&profile).is_empty())
            .collect();
        let all: BTreeSet<String> = plan(&exps, &profile, 1)
            .into_iter()
            .map(|p| p.seed_text)
            .collect();
        for n in 1..=7 {
            let p = plan(&exps, &profile, n);
            assert_eq!(p, plan(&exps, &profile, n), "{name}: deterministic");
            let slices: Vec<BTreeSet<String>> = (1..=n)
                .map(|k| slice(&p, ShardSpec { index: k, count: n }))
                .collect();
            let union: BTreeSet<String> = slices.iter().flatten().cloned().collect();
            assert_eq!(union, all, "{name} N={n}: the slices cover every point");
            let total: usize = slices.iter().map(|s| s.len()).sum();
            assert_eq!(total, all.len(), "{name} N={n}: no point in two slices");
            // greedy balance: no slice exceeds the mean load by more than the largest point
            let load: Vec<f64> = (0..n)
                .map(|k| p.iter().filter(|q| q.shard == k).map(|q| q.cost).sum())
                .collect();
            let mean = load.iter().sum::<f64>() / n as f64;
            let biggest = p.iter().map(|q| q.cost).fold(0.0, f64::max);
            for (k, l) in load.iter().enumerate() {
                assert!(
                    *l <= mean + biggest + 1e-9,
                    "{name} N={n}: slice {k} load {l} vs mean {mean} (largest point {biggest})"
                );
            }
        }
    }
    assert!("0/3".parse::<ShardSpec>().is_err());
    assert!("4/3".parse::<ShardSpec>().is_err());
    assert!("x".parse::<ShardSpec>().is_err());
    assert_eq!(
        "2/3".parse::<ShardSpec>(),
        Ok(ShardSpec { index: 2, count: 3 })
    );
}

fn read_tree(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                let rel = e.path().strip_prefix(root).unwrap().to_path_buf();
                out.push((rel, std::fs::read(e.path()).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn assert_same_figures(a: &Path, b: &Path) {
    let (ta, tb) = (read_tree(&a.join("figures")), read_tree(&b.join("figures")));
    let names = |t: &[(PathBuf, Vec<u8>)]| t.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&ta), names(&tb));
    for ((name, x), (_, y)) in ta.iter().zip(&tb) {
        assert!(x == y, "{} differs", name.display());
    }
    assert!(ta.len() > 10);
}

#[test]
fn local_shards_merge_to_the_bytes_of_a_single_run_and_merge_refuses_gaps() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let cache = t.join("cache");
    let cache_s = cache.to_str().unwrap();
    let shard = |k: usize| {
        let spec = format!("{k}/3");
        let o = gncond(
            &[
                "run",
                "--profile",
                "quick",
                "--shard",
                &spec,
                "--cache-dir",
                cache_s,
            ],
            t,
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let merge = || {
        gncond(
            &[
                "merge",
                "--profile",
                "quick",
                "--cache-dir",
                cache_s,
                "--out",
                "merged",
            ],
            t,
        )
    };
    for k in [1, 3] {
        shard(k);
    }
    // shard 2 has not run: merge names it, writes nothing
    let o = merge();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("shard 2/3 missing"), "{err}");
    assert!(!t.join("merged").exists(), "nothing written");
    shard(2);
    // a duplicated shard: a copy of record 1 under another shard's name
    let records = std::fs::read_dir(cache.join("shards"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let one = std::fs::read_to_string(records.join("1-of-3.json")).unwrap();
    let three = std::fs::read_to_string(records.join("3-of-3.json")).unwrap();
    let mut dup: serde_json::Value = serde_json::from_str(&three).unwrap();
    let first: serde_json::Value = serde_json::from_str(&one).unwrap();
    dup["points"]
        .as_array_mut()
        .unwrap()
        .push(first["points"][0].clone());
    std::fs::write(records.join("3-of-3.json"), dup.to_string()).unwrap();
    let o = merge();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("a duplicated shard"), "{err}");
    // a stale record of another split
    std::fs::write(records.join("3-of-3.json"), three).unwrap();
    let mut stale: serde_json::Value = serde_json::from_str(&one).unwrap();
    stale["of"] = 4.into();
    std::fs::write(records.join("1-of-4.json"), stale.to_string()).unwrap();
    let o = merge();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("records of different splits")
            && err.contains("shard 1 is recorded more than once"),
        "{err}"
    );
    std::fs::remove_file(records.join("1-of-4.json")).unwrap();
    // complete: the merge equals a single local run byte for byte
    let o = merge();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = gncond(
        &["run", "--profile", "quick", "--no-cache", "--out", "local"],
        t,
    );
    assert!(o.status.success());
    assert_same_figures(&t.join("merged"), &t.join("local"));
}

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Stops the test cluster however the test ends.
struct Cluster(PathBuf);

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(script("local-cluster.sh"))
            .args(["stop", self.0.to_str().unwrap()])
            .output();
    }
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("contrib/slurm")
        .join(name)
}

#[test]
fn quick_profile_on_a_local_slurm_cluster_matches_a_local_run() {
    let required = std::env::var("GNCOND_REQUIRE_SLURM").is_ok_and(|v| v == "1");
    let missing: Vec<&str> = ["slurmctld", "slurmd", "munged", "sbatch", "squeue"]
        .into_iter()
        .filter(|c| !have(c))
        .collect();
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !missing.is_empty() || !root {
        let why = if root {
            format!("not installed: {}", missing.join(", "))
        } else {
            "the test cluster's daemons need root".to_string()
        };
        assert!(
            !required,
            "GNCOND_REQUIRE_SLURM=1 but Slurm cannot run here: {why}"
        );
        eprintln!("SKIPPED: Slurm cluster test ({why}; apt-get install slurm-wlm munge)");
        return;
    }
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let state = t.join("cluster");
    // a port pair unlikely to collide with another test run
    let port = 20000 + (std::process::id() % 20000) as u16 / 2 * 2;
    let up = Command::new(script("local-cluster.sh"))
        .args(["start", state.to_str().unwrap()])
        .env("GNCOND_SLURM_PORT", port.to_string())
        .output()
        .unwrap();
    let _cluster = Cluster(state.clone());
    assert!(
        up.status.success(),
        "cluster did not start: {}{}",
        String::from_utf8_lossy(&up.stdout),
        String::from_utf8_lossy(&up.stderr)
    );
    let conf = state.join("slurm.conf");
    let out = t.join("merged");
    let submit = Command::new(script("submit.sh"))
        .arg("3")
        .current_dir(t)
        .env("SLURM_CONF", &conf)
        .env("GNCOND_BIN", BIN)
        .env("GNCOND_PROFILE", "quick")
        .env("GNCOND_CACHE", t.join("cache"))
        .env("GNCOND_OUT", &out)
        .env("GNCOND_DATA_DIR", t.join("no-data"))
        .output()
        .unwrap();
    assert!(
        submit.status.success(),
        "sbatch: {}",
        String::from_utf8_lossy(&submit.stderr)
    );
    let ids = String::from_utf8_lossy(&submit.stdout).to_string();
    let merge_id = ids.split_whitespace().nth(1).unwrap().to_string();
    // wait (bounded) until the merge job has left the queue
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let q = Command::new("squeue")
            .args(["-h", "-j", &merge_id, "-o", "%T"])
            .env("SLURM_CONF", &conf)
            .output()
            .unwrap();
        let state_text = String::from_utf8_lossy(&q.stdout).trim().to_string();
        if state_text.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "merge job {merge_id} still {state_text} after 600 s"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let logs: Vec<String> = std::fs::read_dir(t)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".out"))
        .map(|e| {
            format!(
                "{}:\n{}",
                e.file_name().to_string_lossy(),
                std::fs::read_to_string(e.path()).unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(logs.len(), 4, "3 shard logs and a merge log: {logs:?}");
    assert!(
        out.join("figures/manifest.json").exists() && out.join("report/report.md").exists(),
        "merge job produced no outputs; job logs:\n{}",
        logs.join("\n")
    );
    let local = gncond(
        &["run", "--profile", "quick", "--no-cache", "--out", "local"],
        t,
    );
    assert!(local.status.success());
    assert_same_figures(&out, &t.join("local"));
    eprintln!(
        "slurm: 3 shards + merge on a one-node cluster matched the local run in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
