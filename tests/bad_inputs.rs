//! The catalogue of bad inputs: one row per mistake a user can make, with the exit code it
//! must give and the words its one-line message must contain. Bad input is exit 2 and writes
//! nothing. The README's "exit codes" section points here.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_gncond");

/// A tensor for a test file: name, shape, f64 values.
type T = (&'static str, Vec<usize>, Vec<f64>);

fn mat(name: &'static str, r: usize, c: usize, f: impl Fn(usize) -> f64) -> T {
    (name, vec![r, c], (0..r * c).map(f).collect())
}

fn wave(i: usize) -> f64 {
    ((i * 7 + 3) as f64).sin()
}

/// A safetensors file of f64 tensors (plus raw (name, dtype, shape, bytes) ones).
fn st_file(
    dir: &Path,
    name: &str,
    tensors: &[T],
    raw: &[(&str, safetensors::Dtype, Vec<usize>, Vec<u8>)],
) -> PathBuf {
    let mut data: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, s, v)| {
            (
                n.to_string(),
                safetensors::Dtype::F64,
                s.clone(),
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            )
        })
        .collect();
    data.extend(
        raw.iter()
            .map(|(n, d, s, b)| (n.to_string(), *d, s.clone(), b.clone())),
    );
    let views: Vec<(String, safetensors::tensor::TensorView)> = data
        .iter()
        .map(|(n, d, s, b)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap(),
            )
        })
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
    path
}

fn x(n: usize, d: usize) -> T {
    mat("X", n, d, wave)
}

/// What a case runs: the arguments, given a scratch folder.
type Setup = fn(&Path) -> Vec<String>;

struct Case {
    what: &'static str,
    setup: Setup,
    code: i32,
    words: &'static [&'static str],
}

fn spectrum(file: PathBuf, arch: &str) -> Vec<String> {
    vec![
        "spectrum".into(),
        file.display().to_string(),
        "--arch".into(),
        arch.into(),
    ]
}

fn profile_with(dir: &Path, edit: impl Fn(&str) -> String) -> Vec<String> {
    let quick =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/quick.toml"))
            .unwrap();
    let path = dir.join("bad.toml");
    std::fs::write(&path, edit(&quick)).unwrap();
    let out = dir.join("out");
    vec![
        "run".into(),
        "depth-width".into(),
        "--profile".into(),
        path.display().to_string(),
        "--no-cache".into(),
        "--out".into(),
        out.display().to_string(),
    ]
}

fn run_quick(dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["run", "--profile", "quick", "--no-cache", "--out"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(dir.join("out").display().to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

const CASES: &[Case] = &[
    Case {
        what: "a ReLU network (0.weight, 2.weight) read as --arch linear",
        setup: |d| {
            spectrum(
                st_file(
                    d,
                    "relu.st",
                    &[
                        x(6, 5),
                        mat("0.weight", 8, 5, wave),
                        mat("2.weight", 3, 8, wave),
                    ],
                    &[],
                ),
                "linear",
            )
        },
        code: 2,
        words: &["'2.weight'", "index 1 holds no weight", "try --arch relu"],
    },
    Case {
        what: "a three-layer ReLU network read as --arch relu",
        setup: |d| {
            spectrum(
                st_file(
                    d,
                    "relu3.st",
                    &[
                        x(6, 5),
                        mat("0.weight", 8, 5, wave),
                        mat("2.weight", 8, 8, wave),
                        mat("4.weight", 3, 8, wave),
                    ],
                    &[],
                ),
                "relu",
            )
        },
        code: 2,
        words: &["'4.weight'", "two-layer"],
    },
    Case {
        what: "a tensor no architecture reads",
        setup: |d| {
            spectrum(
                st_file(
                    d,
                    "extra.st",
                    &[
                        x(6, 5),
                        mat("0.weight", 8, 5, wave),
                        mat("1.weight", 3, 8, wave),
                        mat("foo", 2, 2, wave),
                    ],
                    &[],
                ),
                "linear",
            )
        },
        code: 2,
        words: &["'foo'", "not part of a --arch linear network"],
    },
    Case {
        what: "a bias",
        setup: |d| {
            spectrum(
                st_file(
                    d,
                    "bias.st",
                    &[
                        x(6, 5),
                        mat("0.weight", 8, 5, wave),
                        ("0.bias", vec![8], vec![0.1; 8]),
                        mat("1.weight", 3, 8, wave),
                    ],
                    &[],
                ),
                "linear",
            )
        },
        code: 2,
        words: &["'0.bias'", "no biases"],
    },
    Case {
        what: "batch-norm running statistics",
        setup: |d| {
            spectrum(
                st_file(
                    d,
                    "running.st",
                    &[
                        x(6, 5),
                        mat("0.weight", 8, 5, wave),
                        ("1.weight", vec![8], vec![1.0; 8]),
                        ("1.bias", vec![8], vec![0.0; 8]),
                        ("1.running_mean", vec![8], vec![0.0; 8]),
                        mat("2.weight", 3, 8, wave),
                    ],
                    &[],
                ),
                "batchnorm",
            )
        },
        code: 2,
        words: &["'1.running_mean'", "batch statistics"],
    },
    Case {
        what: "X with no rows",
        setup: |d| {
            spectrum(
                st_file(
                    d,
                    "x0.st",
                    &[
                        ("X", vec![0, 5], vec![]),
                        mat("0.weight", 8, 5, wave),
                        mat("1.weight", 3, 8, wave),
                    ],
                    &[],
                ),
                "linear",
            )
        },
        code: 2,
        words: &["X is 0×5", "at least one sample"],
    },
    Case {
        what: "X all zeros",
        setup: |d| {
            spectrum(
                st_file(
                    d,
                    "xzero.st",
                    &[
                        mat("X", 6, 5, |_| 0.0),
                        mat("0.weight", 8, 5, wave),
                        mat("1.weight", 3, 8, wave),
                    ],
                    &[],
                ),
                "linear",
            )
        },
        code: 2,
        words: &["Gauss-Newton matrix is zero", "X is all zeros"],
    },
    Case {
        what: "all weights zero",
        setup: |d| {
            spectrum(
                st_file(
                    d,
                    "wzero.st",
                    &[
                        x(6, 5),
                        mat("0.weight", 8, 5, |_| 0.0),
                        mat("1.weight", 3, 8, |_| 0.0),
                    ],
                    &[],
                ),
                "linear",
            )
        },
        code: 2,
        words: &["Gauss-Newton matrix is zero", "block every path"],
    },
    Case {
        what: "weights whose products overflow float64",
        setup: |d| {
            spectrum(
                st_file(
                    d,
                    "huge.st",
                    &[
                        x(6, 5),
                        mat("0.weight", 8, 5, |i| 1e100 * wave(i)),
                        mat("1.weight", 8, 8, |i| 1e100 * wave(i)),
                        mat("2.weight", 3, 8, |i| 1e100 * wave(i)),
                    ],
                    &[],
                ),
                "linear",
            )
        },
        code: 2,
        words: &["overflows float64", "multiply out", "rescale"],
    },
    Case {
        what: "a weight too large to square in float64",
        setup: |d| {
            spectrum(
                st_file(
                    d,
                    "square.st",
                    &[
                        x(6, 5),
                        mat("0.weight", 8, 5, |i| 1e200 * wave(i)),
                        mat("1.weight", 3, 8, wave),
                    ],
                    &[],
                ),
                "linear",
            )
        },
        code: 2,
        words: &["'0.weight'", "overflow float64 when squared", "rescale"],
    },
    Case {
        what: "a NaN weight",
        setup: |d| {
            spectrum(
                st_file(
                    d,
                    "nan.st",
                    &[
                        x(6, 5),
                        mat("0.weight", 8, 5, |i| if i == 1 { f64::NAN } else { 1.0 }),
                        mat("1.weight", 3, 8, wave),
                    ],
                    &[],
                ),
                "linear",
            )
        },
        code: 2,
        words: &["'0.weight'", "NaN or infinity at [0, 1]"],
    },
    Case {
        what: "an integer tensor",
        setup: |d| {
            spectrum(
                st_file(
                    d,
                    "i32.st",
                    &[x(6, 5), mat("1.weight", 3, 8, wave)],
                    &[(
                        "0.weight",
                        safetensors::Dtype::I32,
                        vec![8, 5],
                        vec![0; 160],
                    )],
                ),
                "linear",
            )
        },
        code: 2,
        words: &["I32", "only F32 and F64"],
    },
    Case {
        what: "no X",
        setup: |d| {
            spectrum(
                st_file(d, "nox.st", &[mat("0.weight", 8, 5, wave)], &[]),
                "linear",
            )
        },
        code: 2,
        words: &["tensor 'X' is missing"],
    },
    Case {
        what: "no first layer",
        setup: |d| {
            spectrum(
                st_file(d, "now.st", &[x(6, 5), mat("1.weight", 3, 8, wave)], &[]),
                "linear",
            )
        },
        code: 2,
        words: &["'0.weight' is missing"],
    },
    Case {
        what: "a first layer that does not fit X",
        setup: |d| {
            spectrum(
                st_file(
                    d,
                    "fit.st",
                    &[
                        x(6, 4),
                        mat("0.weight", 8, 5, wave),
                        mat("1.weight", 3, 8, wave),
                    ],
                    &[],
                ),
                "linear",
            )
        },
        code: 2,
        words: &["'0.weight' has 5 inputs but X has d = 4"],
    },
    Case {
        what: "layers that do not chain",
        setup: |d| {
            spectrum(
                st_file(
                    d,
                    "chain.st",
                    &[
                        x(6, 5),
                        mat("0.weight", 8, 5, wave),
                        mat("1.weight", 3, 7, wave),
                    ],
                    &[],
                ),
                "linear",
            )
        },
        code: 2,
        words: &["chain.st"],
    },
    Case {
        what: "a weight with three dimensions under --arch linear",
        setup: |d| {
            spectrum(
                st_file(
                    d,
                    "rank3.st",
                    &[
                        x(6, 5),
                        ("0.weight", vec![2, 4, 5], vec![0.5; 40]),
                        mat("1.weight", 3, 8, wave),
                    ],
                    &[],
                ),
                "linear",
            )
        },
        code: 2,
        words: &["'0.weight' has shape [2, 4, 5], expected 2 dimensions"],
    },
    Case {
        what: "a file that is not safetensors",
        setup: |d| {
            let p = d.join("garbage.st");
            std::fs::write(&p, b"this is not a tensor file at all").unwrap();
            spectrum(p, "linear")
        },
        code: 2,
        words: &["not a safetensors file"],
    },
    Case {
        what: "a truncated safetensors file",
        setup: |d| {
            let p = st_file(
                d,
                "whole.st",
                &[
                    x(6, 5),
                    mat("0.weight", 8, 5, wave),
                    mat("1.weight", 3, 8, wave),
                ],
                &[],
            );
            let bytes = std::fs::read(&p).unwrap();
            let cut = d.join("cut.st");
            std::fs::write(&cut, &bytes[..bytes.len() - 40]).unwrap();
            spectrum(cut, "linear")
        },
        code: 2,
        words: &["not a safetensors file"],
    },
    Case {
        what: "a file that does not exist",
        setup: |d| spectrum(d.join("missing.st"), "linear"),
        code: 2,
        words: &["cannot read", "no such file"],
    },
    Case {
        what: "--arch residual without --beta",
        setup: |d| {
            spectrum(
                st_file(
                    d,
                    "res.st",
                    &[
                        x(6, 5),
                        mat("0.weight", 8, 5, wave),
                        mat("1.weight", 3, 8, wave),
                    ],
                    &[],
                ),
                "residual",
            )
        },
        code: 2,
        words: &["--arch residual needs a finite --beta"],
    },
    Case {
        what: "a leaky-ReLU slope outside [0, 1]",
        setup: |d| {
            let mut a = spectrum(
                st_file(
                    d,
                    "alpha.st",
                    &[
                        x(6, 5),
                        mat("0.weight", 8, 5, wave),
                        mat("2.weight", 3, 8, wave),
                    ],
                    &[],
                ),
                "relu",
            );
            a.extend(["--alpha".into(), "2".into()]);
            a
        },
        code: 2,
        words: &["--alpha 2 is outside [0, 1]"],
    },
    Case {
        what: "batch norm on one sample",
        setup: |d| {
            spectrum(
                st_file(
                    d,
                    "bn1.st",
                    &[
                        x(1, 5),
                        mat("0.weight", 8, 5, wave),
                        ("1.weight", vec![8], vec![1.0; 8]),
                        ("1.bias", vec![8], vec![0.0; 8]),
                        mat("2.weight", 3, 8, wave),
                    ],
                    &[],
                ),
                "batchnorm",
            )
        },
        code: 2,
        words: &["at least 2 samples"],
    },
    Case {
        what: "a ResNet head with a bias",
        setup: |d| {
            spectrum(
                st_file(
                    d,
                    "resnet.st",
                    &[
                        x(2, 16),
                        ("conv1.weight", vec![2, 1, 3, 3], vec![0.1; 18]),
                        mat("linear.weight", 3, 8, wave),
                        ("linear.bias", vec![3], vec![0.0; 3]),
                    ],
                    &[],
                ),
                "resnet",
            )
        },
        code: 2,
        words: &["'linear.bias'", "bias-free head"],
    },
    Case {
        what: "an unknown experiment",
        setup: |d| run_quick(d, &["nope"]),
        code: 2,
        words: &["unknown experiment 'nope'"],
    },
    Case {
        what: "an unknown profile name",
        setup: |d| {
            vec![
                "run".into(),
                "--profile".into(),
                "quik".into(),
                "--out".into(),
                d.join("out").display().to_string(),
            ]
        },
        code: 2,
        words: &["unknown profile 'quik'"],
    },
    Case {
        what: "a misspelt key in a profile",
        setup: |d| profile_with(d, |t| t.replacen("seeds = ", "seedz = ", 1)),
        code: 2,
        words: &["bad.toml", "seedz"],
    },
    Case {
        what: "a value of the wrong type in a profile",
        setup: |d| profile_with(d, |t| t.replacen("widths = [", "widths = \"wide\" #[", 1)),
        code: 2,
        words: &["bad.toml", "line", "widths"],
    },
    Case {
        what: "an impossible value in a profile",
        setup: |d| profile_with(d, |t| t.replacen("downsample = 4", "downsample = 0", 1)),
        code: 2,
        words: &["experiments.depth-width.downsample", "use 1 to 28"],
    },
    Case {
        what: "a misspelt experiment table in a profile",
        setup: |d| {
            profile_with(d, |t| {
                t.replacen("[experiments.residual]", "[experiments.residuals]", 1)
            })
        },
        code: 2,
        words: &["unknown experiment `residuals`"],
    },
    Case {
        what: "a profile that is not TOML",
        setup: |d| profile_with(d, |_| "name = [".into()),
        code: 2,
        words: &["bad.toml", "line 1"],
    },
    Case {
        what: "no worker threads",
        setup: |d| run_quick(d, &["depth-width", "--jobs", "0"]),
        code: 2,
        words: &["--jobs must be at least 1"],
    },
    Case {
        what: "an output folder that is a file",
        setup: |d| {
            let f = d.join("a-file");
            std::fs::write(&f, b"x").unwrap();
            vec![
                "run".into(),
                "depth-width".into(),
                "--profile".into(),
                "quick".into(),
                "--no-cache".into(),
                "--out".into(),
                f.join("out").display().to_string(),
            ]
        },
        code: 2,
        words: &["cannot write", "not a directory"],
    },
    Case {
        what: "a report of a folder without results",
        setup: |d| vec!["report".into(), "--out".into(), d.display().to_string()],
        code: 2,
        words: &["no results in", "run `gncond run` first"],
    },
    Case {
        what: "verify on a corrupt manifest",
        setup: |d| {
            std::fs::create_dir_all(d.join("figures")).unwrap();
            std::fs::write(d.join("figures/manifest.json"), b"{\"gncond_version\": 1").unwrap();
            vec!["verify".into(), "--out".into(), d.display().to_string()]
        },
        code: 2,
        words: &["manifest.json", "not a gncond manifest"],
    },
    Case {
        what: "a merge before any shard ran",
        setup: |d| {
            vec![
                "merge".into(),
                "--profile".into(),
                "quick".into(),
                "--cache-dir".into(),
                d.join("cache").display().to_string(),
                "--out".into(),
                d.join("out").display().to_string(),
            ]
        },
        code: 2,
        words: &["no shard records"],
    },
    Case {
        what: "a golden folder that does not exist",
        setup: |d| {
            vec![
                "check".into(),
                "--golden".into(),
                d.join("nothing").display().to_string(),
            ]
        },
        code: 2,
        words: &["no results in"],
    },
    Case {
        what: "a data folder profile that does not exist",
        setup: |d| {
            vec![
                "data".into(),
                "info".into(),
                "--profile".into(),
                d.join("none.toml").display().to_string(),
            ]
        },
        code: 2,
        words: &["cannot read", "none.toml"],
    },
];

#[test]
fn every_bad_input_is_one_line_with_its_exit_code_and_writes_nothing() {
    assert!(CASES.len() >= 30, "the catalogue has {} cases", CASES.len());
    let mut failures = Vec::new();
    for case in CASES {
        let tmp = tempfile::tempdir().unwrap();
        let args = (case.setup)(tmp.path());
        let before = listing(tmp.path());
        let o = Command::new(BIN)
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("GNCOND_DATA_DIR", "target/no-official-data-in-tests")
            .env_remove("GNCOND_EMBEDDED_DATA_DIR")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        let mut problems = Vec::new();
        if o.status.code() != Some(case.code) {
            problems.push(format!(
                "exit {:?}, expected {}",
                o.status.code(),
                case.code
            ));
        }
        if err.trim_end().lines().count() != 1 || !err.starts_with("gncond: ") {
            problems.push("not one line starting with `gncond: `".into());
        }
        for w in case.words {
            if !err.contains(w) {
                problems.push(format!("no `{w}`"));
            }
        }
        if listing(tmp.path()) != before {
            problems.push("the scratch folder changed".into());
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{}: {} — stderr: {}",
                case.what,
                problems.join(", "),
                err.trim_end()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every path under `dir`.
fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        if let Ok(entries) = std::fs::read_dir(&d) {
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p.clone());
                }
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
