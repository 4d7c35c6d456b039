//! An experiment's artifact set (CSV, SVG, PNG, manifest entry) is replaced together or not at
//! all: concurrent runs into one folder keep both entries, a corrupt manifest is bad input,
//! and a disk that fills up mid-write leaves the previous set byte for byte.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_gncond");

fn gncond(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("GNCOND_EMBEDDED_DATA_DIR")
        .env("GNCOND_DATA_DIR", "target/no-official-data-in-tests");
    c
}

fn run(args: &[&str]) -> Output {
    gncond(args).output().expect("gncond runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn manifest_ids(out: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(out.join("figures/manifest.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["experiments"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn concurrent_runs_into_one_folder_keep_both_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, cache) = (tmp.path().join("out"), tmp.path().join("cache"));
    for round in 0..10 {
        let _ = std::fs::remove_file(out.join("figures/manifest.json"));
        let children: Vec<_> = ["kaiming-table", "residual"]
            .iter()
            .map(|id| {
                gncond(&[
                    "run",
                    id,
                    "--profile",
                    "quick",
                    "--jobs",
                    "1",
                    "--quiet",
                    "--out",
                    s(&out),
                    "--cache-dir",
                    s(&cache),
                ])
                .spawn()
                .unwrap()
            })
            .collect();
        for c in children {
            let o = c.wait_with_output().unwrap();
            assert!(o.status.success(), "round {round}: {}", stderr(&o));
        }
        assert_eq!(
            manifest_ids(&out),
            vec!["kaiming-table".to_string(), "residual".to_string()],
            "round {round} lost an entry"
        );
    }
    // no staged file or lock content is left beside the artifacts
    let stray: Vec<_> = snapshot(&out)
        .into_iter()
        .filter(|(p, _)| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains(".tmp"))
        })
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}

#[test]
fn a_corrupt_manifest_is_bad_input_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = run(&[
        "run",
        "kaiming-table",
        "--profile",
        "quick",
        "--no-cache",
        "--quiet",
        "--out",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let manifest = out.join("figures/manifest.json");
    std::fs::write(&manifest, b"{\"gncond_version\": \"0.1.0\", \"experim").unwrap();
    let before = snapshot(&out);
    for args in [
        vec![
            "run",
            "kaiming-table",
            "--profile",
            "quick",
            "--no-cache",
            "--quiet",
            "--out",
            s(&out),
        ],
        vec!["report", "--out", s(&out)],
        vec!["verify", "--out", s(&out)],
    ] {
        let o = run(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.contains("manifest.json") && err.contains("not a gncond manifest"),
            "{err}"
        );
        assert_eq!(snapshot(&out), before, "{args:?} changed the folder");
    }
}

/// A tmpfs of `kib` KiB at `dir`, unmounted when dropped (None where mounting is impossible).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, kib: usize) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={kib}k"),
                "tmpfs",
                s(dir),
            ])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[test]
fn a_full_disk_mid_write_keeps_the_previous_artifacts() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("small");
    let Some(_fs) = Tmpfs::mount(&out, 2048) else {
        assert!(
            !is_root(),
            "root could not mount a tmpfs for the full-disk test"
        );
        eprintln!("SKIPPED: mounting a tmpfs needs root");
        return;
    };
    let o = run(&[
        "run",
        "depth-width",
        "--profile",
        "quick",
        "--no-cache",
        "--quiet",
        "--out",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = snapshot(&out);
    let set: usize = before.iter().map(|(_, b)| b.len()).sum();
    // leave room for part of a new set only: the CSV and SVG fit, the PNG does not
    let free = {
        let o = Command::new("df")
            .args(["--output=avail", "-B1", s(&out)])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        text.lines()
            .nth(1)
            .unwrap()
            .trim()
            .parse::<usize>()
            .unwrap()
    };
    let leave = set / 3;
    std::fs::write(out.join("filler"), vec![0u8; free.saturating_sub(leave)]).unwrap();
    let with_filler = snapshot(&out);
    // another master seed, so that every artifact's bytes change
    let profile = tmp.path().join("other-seed.toml");
    let quick =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/quick.toml"))
            .unwrap();
    let seed_line = quick
        .lines()
        .find(|l| l.starts_with("master_seed"))
        .unwrap();
    std::fs::write(&profile, quick.replace(seed_line, "master_seed = 7")).unwrap();
    let o = run(&[
        "run",
        "depth-width",
        "--profile",
        s(&profile),
        "--no-cache",
        "--quiet",
        "--out",
        s(&out),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.to_lowercase().contains("no space left"), "{err}");
    assert!(
        err.contains("figures/"),
        "the message names the file: {err}"
    );
    assert!(
        !err.contains("Custom {") && !err.contains("kind:"),
        "a Debug dump: {err}"
    );
    assert_eq!(
        snapshot(&out),
        with_filler,
        "the previous artifacts changed"
    );
}

#[test]
fn a_corrupt_cache_entry_is_recomputed_and_the_run_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, cache) = (tmp.path().join("out"), tmp.path().join("cache"));
    let args = [
        "run",
        "kaiming-table",
        "--profile",
        "quick",
        "--out",
        s(&out),
        "--cache-dir",
        s(&cache),
    ];
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read(out.join("figures/data/kaiming-table.csv")).unwrap();
    let entry = snapshot(&cache)
        .into_iter()
        .map(|(p, _)| p)
        .find(|p| p.extension().is_some_and(|e| e == "row"))
        .expect("a cache entry");
    let mut bytes = std::fs::read(&entry).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&entry, bytes).unwrap();
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("1 corrupt cache entry recomputed"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        csv,
        std::fs::read(out.join("figures/data/kaiming-table.csv")).unwrap()
    );
    let o = run(&args);
    assert!(
        stderr(&o).contains("from the cache, nothing to recompute"),
        "{}",
        stderr(&o)
    );
}
