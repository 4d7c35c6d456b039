//! The command line end to end: determinism across thread counts, the cache, bad input
//! (exit 2, nothing written, earlier artifacts untouched), `check` catching drift and `verify`.

mod common;
use common::{check, copy_dir, gncond, s, BIN};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn same_bytes_at_any_thread_count() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("j1"), tmp.path().join("j2"));
    for (dir, jobs) in [(&a, "1"), (&b, "2")] {
        let o = gncond(&[
            "run",
            "--profile",
            "quick",
            "--jobs",
            jobs,
            "--no-cache",
            "--out",
            s(dir),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let manifest = read(&a.join("figures/manifest.json"));
    assert_eq!(
        manifest,
        read(&b.join("figures/manifest.json")),
        "manifest differs between --jobs 1 and 2"
    );
    let ids: Vec<String> = gncond::experiments::registry()
        .iter()
        .map(|e| e.id().to_string())
        .collect();
    assert!(ids.len() >= 7);
    for id in &ids {
        for rel in [
            format!("figures/data/{id}.csv"),
            format!("figures/{id}.svg"),
            format!("figures/{id}.png"),
        ] {
            assert_eq!(
                read(&a.join(&rel)),
                read(&b.join(&rel)),
                "{rel} differs between --jobs 1 and 2"
            );
            // and the committed references are what this binary makes
            if !rel.ends_with(".png") {
                assert_eq!(
                    read(&a.join(&rel)),
                    read(&golden().join(&rel)),
                    "{rel} differs from tests/golden"
                );
            }
        }
    }
}

#[test]
fn second_run_comes_from_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, cache) = (tmp.path().join("out"), tmp.path().join("cache"));
    let args = [
        "run",
        "--profile",
        "quick",
        "--out",
        s(&out),
        "--cache-dir",
        s(&cache),
    ];
    let first = gncond(&args);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stderr(&first).contains("0 from the cache, 16 to compute"),
        "{}",
        stderr(&first)
    );
    let csv = read(&out.join("figures/data/depth-width.csv"));
    let second = gncond(&args);
    assert!(second.status.success());
    assert!(
        stderr(&second).contains("all 16 points from the cache, nothing to recompute"),
        "{}",
        stderr(&second)
    );
    assert_eq!(csv, read(&out.join("figures/data/depth-width.csv")));
}

fn assert_bad_input(o: &Output, needle: &str) {
    assert_eq!(o.status.code(), Some(2), "{}", stderr(o));
    let err = stderr(o);
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err}"
    );
    assert!(err.starts_with("gncond: ") && err.contains(needle), "{err}");
}

#[test]
fn bad_input_is_one_line_exit_2_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert_bad_input(
        &gncond(&["run", "nope", "--profile", "quick", "--out", s(&out)]),
        "unknown experiment 'nope'",
    );
    assert_bad_input(
        &gncond(&["run", "--profile", "quik", "--out", s(&out)]),
        "unknown profile 'quik'",
    );
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\ndescription = \"d\"\nmaster_seed = 1\n[experiments.depth-width]\nn = 100\ndownsample = 4\nwhiten = true\ndepths = [1]\nwidths = [0]\nseeds = 1\n").unwrap();
    assert_bad_input(
        &gncond(&["run", "--profile", s(&bad), "--out", s(&out)]),
        "experiments.depth-width.widths",
    );
    std::fs::write(&bad, "name = [\n").unwrap();
    assert_bad_input(
        &gncond(&["run", "--profile", s(&bad), "--out", s(&out)]),
        "bad.toml",
    );
    assert!(!out.exists(), "bad input must not create the output folder");
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let under_file = file.join("out");
    assert_bad_input(
        &gncond(&["run", "--profile", "quick", "--out", s(&under_file)]),
        "cannot write",
    );
    assert_bad_input(
        &gncond(&["report", "--out", s(&out)]),
        "run `gncond run` first",
    );
}

#[test]
fn corrupted_data_is_refused_and_earlier_artifacts_survive() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let ok = gncond(&["run", "--profile", "quick", "--no-cache", "--out", s(&out)]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let before: Vec<Vec<u8>> = [
        "figures/data/depth-width.csv",
        "figures/depth-width.svg",
        "figures/manifest.json",
    ]
    .iter()
    .map(|r| read(&out.join(r)))
    .collect();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    for name in [
        "mnist5k-images-idx3-ubyte.gz",
        "mnist5k-labels-idx1-ubyte.gz",
    ] {
        std::fs::copy(src.join(name), data.join(name)).unwrap();
    }
    let img = data.join("mnist5k-images-idx3-ubyte.gz");
    let mut bytes = read(&img);
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&img, bytes).unwrap();
    let o = Command::new(BIN)
        .args(["run", "--profile", "quick", "--no-cache", "--out", s(&out)])
        .env("GNCOND_EMBEDDED_DATA_DIR", &data)
        .output()
        .unwrap();
    assert_bad_input(&o, "is corrupted: sha256");
    let after: Vec<Vec<u8>> = [
        "figures/data/depth-width.csv",
        "figures/depth-width.svg",
        "figures/manifest.json",
    ]
    .iter()
    .map(|r| read(&out.join(r)))
    .collect();
    assert_eq!(
        before, after,
        "a failed run must leave earlier artifacts untouched"
    );
}

#[test]
fn check_names_a_changed_number_and_a_missing_figure() {
    let tmp = tempfile::tempdir().unwrap();
    let refs = tmp.path().join("golden");
    copy_dir(&golden(), &refs);
    let ok = check(
        &tmp.path().join("scratch1"),
        &refs,
        &tmp.path().join("diff"),
    );
    assert!(
        ok.status.success(),
        "an unmodified copy must pass: {}",
        stderr(&ok)
    );

    let csv = refs.join("figures/data/depth-width.csv");
    let text = String::from_utf8(read(&csv)).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let col = lines[0].split(',').position(|c| c == "kappa").unwrap();
    let mut cells: Vec<String> = lines[1].split(',').map(String::from).collect();
    let v: f64 = cells[col].parse().unwrap();
    cells[col] = format!("{}", v * 1.001);
    lines[1] = cells.join(",");
    std::fs::write(&csv, lines.join("\n") + "\n").unwrap();
    let o = check(
        &tmp.path().join("scratch2"),
        &refs,
        &tmp.path().join("diff"),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("depth-width: column 'kappa' at depth=1 width=64 seed=0"),
        "{err}"
    );

    std::fs::write(&csv, text).unwrap();
    std::fs::remove_file(refs.join("figures/depth-width.svg")).unwrap();
    let o = check(
        &tmp.path().join("scratch3"),
        &refs,
        &tmp.path().join("diff"),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("depth-width.svg is missing"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn verify_gates_on_theorems_and_reports_paper_claims() {
    let o = gncond(&["verify", "--out", s(&golden()), "--fail-on", "guaranteed"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("PASS Guaranteed depth-width/b-convex-holds"));
    assert!(!stdout.contains("FAIL Guaranteed"), "{stdout}");
    // every failed or undecided claim on the references is the paper's (or a stored number),
    // never a theorem, and plain `verify` exits 1 on it
    let not_passed: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("FAIL") || l.starts_with("UNDECIDED"))
        .collect();
    let failed = not_passed.len();
    let plain = gncond(&["verify", "--out", s(&golden())]);
    if failed > 0 {
        assert!(
            not_passed
                .iter()
                .all(|l| l.contains(" Paper ") || l.contains(" Stored ")),
            "{not_passed:?}"
        );
        assert_eq!(plain.status.code(), Some(1), "{}", stderr(&plain));
        assert!(stderr(&o).contains("not reproduced"), "{}", stderr(&o));
    } else {
        assert!(plain.status.success());
    }
}

#[test]
fn help_says_where_things_go() {
    let o = gncond(&["run", "--help"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("figures/data/<id>.csv") && out.contains("--jobs"),
        "{out}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let o = gncond(&["list", "--profile", "quick", "--cache-dir", s(tmp.path())]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("depth-width") && out.contains("Fig. 2a"),
        "{out}"
    );
}

/// Seconds of every experiment `gncond list` prints ("~N s on 1 core"), with the last line.
fn listed_seconds(cache: &Path, profile: &str) -> (Vec<f64>, String) {
    let o = gncond(&["list", "--profile", profile, "--cache-dir", s(cache)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    let seconds = out
        .lines()
        .filter_map(|l| {
            let (_, rest) = l.split_once(" points, ~")?;
            rest.split_once(" s on 1 core")?.0.parse().ok()
        })
        .collect();
    (seconds, out.lines().last().unwrap_or("").to_string())
}

#[test]
fn list_scales_its_estimates_by_the_cached_speed_of_this_machine() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("calibration.txt");
    let rate = gncond::calibrate::REFERENCE_GFLOPS;
    std::fs::write(&file, format!("gemm_gflops_one_core = {rate}\n")).unwrap();
    let (same, last) = listed_seconds(tmp.path(), "paper");
    assert!(
        last.contains("cached calibration") && last.contains("×1.00"),
        "{last}"
    );
    std::fs::write(&file, format!("gemm_gflops_one_core = {}\n", rate / 4.0)).unwrap();
    let (slow, last) = listed_seconds(tmp.path(), "paper");
    assert!(last.contains("×4.00"), "{last}");
    assert_eq!(same.len(), slow.len());
    assert!(same.len() >= 10, "{same:?}");
    for (a, b) in same.iter().zip(&slow) {
        assert!((b - 4.0 * a).abs() <= 2.5, "{a} s became {b} s, not 4×");
    }
    // an unreadable file is measured again and replaced
    std::fs::write(&file, "gemm_gflops_one_core = fast\n").unwrap();
    let (_, last) = listed_seconds(tmp.path(), "quick");
    assert!(last.contains("measured now"), "{last}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("gemm_gflops_one_core = "), "{text}");
}

#[test]
fn a_violated_bound_fails_verify_whatever_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let refs = tmp.path().join("golden");
    copy_dir(&golden(), &refs);
    let csv = refs.join("figures/data/depth-width.csv");
    let text = String::from_utf8(read(&csv)).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let (kc, bc) = (
        header.iter().position(|c| *c == "kappa").unwrap(),
        header.iter().position(|c| *c == "b_convex").unwrap(),
    );
    let mut cells: Vec<String> = lines[2].split(',').map(String::from).collect();
    let bound: f64 = cells[bc].parse().unwrap();
    cells[kc] = format!("{}", bound * 1.01);
    lines[2] = cells.join(",");
    std::fs::write(&csv, lines.join("\n") + "\n").unwrap();
    let o = gncond(&["verify", "--out", s(&refs), "--fail-on", "guaranteed"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("FAIL Guaranteed depth-width/b-convex-holds")
    );
    assert!(
        stderr(&o).contains("guaranteed bound(s) violated"),
        "{}",
        stderr(&o)
    );
}

/// `paper_dimension`: without CIFAR-10 the training-dynamics recipe runs a second time on MNIST
/// at f = 2 (d = 196, nearest the paper's 192); both sizes reach the table, the figure and
/// `verify`, whose claim at the profile's d names the paper-dimension claim as its cause when
/// it fails there and the other holds.
#[test]
fn training_dynamics_also_runs_at_the_paper_dimension() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let profile = tmp.path().join("td.toml");
    std::fs::write(
        &profile,
        "name = \"td\"\ndescription = \"d\"\nmaster_seed = 1\n\
         [experiments.training-dynamics]\nn = 100\ndownsample = 4\nwhiten = true\nwidth = 8\n\
         hidden = 1\nepochs = 4\nevery = 2\nlr = 0.1\nbatch = 50\nseeds = 2\n\
         paper_dimension = true\n",
    )
    .unwrap();
    let run = gncond(&[
        "run",
        "--profile",
        s(&profile),
        "--no-cache",
        "--out",
        s(&out),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let csv = String::from_utf8(read(&out.join("figures/data/training-dynamics.csv"))).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let d = header.iter().position(|c| *c == "d").unwrap();
    let mut dims: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(d).unwrap())
        .collect();
    dims.dedup();
    assert_eq!(dims, ["49", "196"], "one run per size, the profile's first");
    let svg = String::from_utf8(read(&out.join("figures/training-dynamics.svg"))).unwrap();
    assert!(svg.contains("d = 49 and 196"), "the title names both sizes");
    let verify = gncond(&["verify", "--out", s(&out)]);
    let text = String::from_utf8_lossy(&verify.stdout).into_owned();
    let line = |id: &str| {
        text.lines()
            .find(|l| l.ends_with(&format!(" {id}:")) || l.contains(&format!(" {id}: ")))
            .unwrap_or_else(|| panic!("{id} missing from\n{text}"))
            .to_string()
    };
    let at_paper = line("training-dynamics/kappa-stays-near-init-at-paper-dimension");
    let profile_d = line("training-dynamics/kappa-stays-near-init");
    assert!(at_paper.contains("d = 196"), "{at_paper}");
    if profile_d.starts_with("FAIL") && at_paper.starts_with("PASS") {
        assert!(
            profile_d.contains("cause: training-dynamics/kappa-stays-near-init-at-paper-dimension"),
            "{profile_d}"
        );
    } else {
        assert!(!profile_d.contains("cause:"), "{profile_d}");
    }
}
