//! Property tests of every parser gncond runs on input it did not write itself: random byte
//! strings, truncations and single-byte mutations of valid inputs (and, for profiles, random
//! key/value mutations). Every case must end in a result or in a bad-input error of one line
//! (exit 2); never a panic. For safetensors, a mutated file that still holds the same tensors
//! must give the same κ to the bit.
//!
//! The generator is our own (ChaCha20 from a fixed seed), so every run tries the same cases;
//! `GNCOND_FUZZ_SCALE=10` multiplies the number of cases for a longer search.

use gncond::data::{cifar, idx, DataSource};
use gncond::external::{analyse_bytes, Arch};
use gncond::manifest::Manifest;
use gncond::seed::{point_rng, PointRng};
use gncond::Error;
use rand_chacha::rand_core::Rng;
use safetensors::tensor::TensorView;
use safetensors::Dtype;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

/// Cases per parser (at least 10⁴).
fn cases() -> usize {
    let scale: usize = std::env::var("GNCOND_FUZZ_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    10_000 * scale
}

struct Gen(PointRng);

impl Gen {
    fn new(name: &str) -> Gen {
        Gen(point_rng(2026, name, &[], 0))
    }
    fn below(&mut self, n: usize) -> usize {
        (self.0.next_u64() % n.max(1) as u64) as usize
    }
    fn byte(&mut self) -> u8 {
        self.0.next_u64() as u8
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }
    fn normal_ish(&mut self) -> f64 {
        (self.below(2001) as f64 - 1000.0) / 400.0
    }

    /// One mutation of `valid`: random bytes, a truncation, or one byte changed.
    fn mutate(&mut self, valid: &[u8]) -> (Vec<u8>, &'static str) {
        match self.below(8) {
            0 => {
                let n = self.below(valid.len() * 2 + 2);
                (self.bytes(n), "random bytes")
            }
            1 | 2 => (valid[..self.below(valid.len())].to_vec(), "truncated"),
            _ => {
                let mut v = valid.to_vec();
                if !v.is_empty() {
                    let i = self.below(v.len());
                    v[i] = self.byte();
                }
                (v, "one byte changed")
            }
        }
    }
}

/// Run `f` and fail the test on a panic, naming the case.
fn no_panic<T>(what: &str, case: usize, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(_) => panic!("{what}: case {case} panicked"),
    }
}

/// A refusal must be bad input, in one line.
fn assert_refusal(what: &str, case: usize, e: &Error) {
    let msg = e.to_string();
    assert_eq!(e.exit_code(), 2, "{what}: case {case}: {msg}");
    assert!(!msg.contains('\n'), "{what}: case {case}: {msg}");
    assert!(!msg.is_empty(), "{what}: case {case}: empty message");
}

// ---------------------------------------------------------------------------------------
// safetensors (`gncond spectrum`)

/// A safetensors file of f64 tensors.
fn safetensors_file(tensors: &[(&str, Vec<usize>, Vec<f64>)]) -> Vec<u8> {
    let data: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, s, v)| {
            (
                n.to_string(),
                s.clone(),
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            )
        })
        .collect();
    let views: Vec<(String, TensorView)> = data
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                TensorView::new(Dtype::F64, s.clone(), b).unwrap(),
            )
        })
        .collect();
    safetensors::serialize(views, None).unwrap()
}

/// Tiny valid networks of every architecture but the ResNet (whose smallest case is slower).
fn valid_networks(g: &mut Gen) -> Vec<(Arch, Vec<u8>)> {
    let mut m = |r: usize, c: usize| -> (Vec<usize>, Vec<f64>) {
        (vec![r, c], (0..r * c).map(|_| g.normal_ish()).collect())
    };
    let (n, d, h, k) = (5, 4, 6, 3);
    let x = m(n, d);
    let (w0, w1, w2) = (m(h, d), m(h, h), m(k, h));
    let linear = safetensors_file(&[
        ("X", x.0.clone(), x.1.clone()),
        ("0.weight", w0.0.clone(), w0.1.clone()),
        ("1.weight", w1.0.clone(), w1.1.clone()),
        ("2.weight", w2.0.clone(), w2.1.clone()),
    ]);
    let relu = safetensors_file(&[
        ("X", x.0.clone(), x.1.clone()),
        ("0.weight", w0.0.clone(), w0.1.clone()),
        ("2.weight", vec![k, h], w2.1.clone()),
    ]);
    let bn = safetensors_file(&[
        ("X", x.0.clone(), x.1.clone()),
        ("0.weight", w0.0.clone(), w0.1.clone()),
        ("1.weight", vec![h], vec![1.0; h]),
        ("1.bias", vec![h], vec![0.0; h]),
        ("2.weight", vec![k, h], w2.1.clone()),
    ]);
    let (ks, f) = (2, 2);
    let conv0: Vec<f64> = (0..f * ks).map(|_| 0.5).collect();
    let head_in = f * (d - (ks - 1));
    let cnn = safetensors_file(&[
        ("X", x.0.clone(), x.1.clone()),
        ("0.weight", vec![f, 1, ks], conv0),
        (
            "2.weight",
            vec![k, head_in],
            (0..k * head_in).map(|i| (i as f64).sin()).collect(),
        ),
    ]);
    vec![
        (Arch::Linear, linear.clone()),
        (Arch::Residual, linear),
        (Arch::Relu, relu),
        (Arch::Batchnorm, bn),
        (Arch::Cnn, cnn),
    ]
}

/// name → (dtype, shape, bytes).
type Tensors = BTreeMap<String, (String, Vec<usize>, Vec<u8>)>;

/// The tensors of a safetensors file, or None if unreadable.
fn tensors_of(bytes: &[u8]) -> Option<Tensors> {
    let st = safetensors::SafeTensors::deserialize(bytes).ok()?;
    Some(
        st.tensors()
            .into_iter()
            .map(|(n, t)| {
                (
                    n,
                    (
                        format!("{:?}", t.dtype()),
                        t.shape().to_vec(),
                        t.data().to_vec(),
                    ),
                )
            })
            .collect(),
    )
}

#[test]
fn safetensors_inputs_are_refused_in_one_line_or_give_the_same_kappa() {
    let mut g = Gen::new("fuzz-safetensors");
    let nets = valid_networks(&mut g);
    let mut originals = Vec::new();
    for (arch, bytes) in &nets {
        let r = analyse_bytes(bytes, "net.safetensors", *arch, Some(0.5), 0.1)
            .unwrap_or_else(|e| panic!("{arch:?}: the valid file is refused: {e}"));
        originals.push(r.spectrum.spectrum.kappa);
    }
    let (mut ok, mut same) = (0, 0);
    let total = cases();
    for case in 0..total {
        let which = g.below(nets.len());
        let (arch, valid) = &nets[which];
        let (bytes, how) = g.mutate(valid);
        let r = no_panic("safetensors", case, || {
            analyse_bytes(&bytes, "net.safetensors", *arch, Some(0.5), 0.1)
        });
        match r {
            Err(e) => assert_refusal(&format!("safetensors ({how})"), case, &e),
            Ok(report) => {
                ok += 1;
                if tensors_of(&bytes) == tensors_of(valid) {
                    same += 1;
                    assert_eq!(
                        report.spectrum.spectrum.kappa.to_bits(),
                        originals[which].to_bits(),
                        "case {case} ({how}): the same tensors gave another κ"
                    );
                }
            }
        }
    }
    eprintln!("safetensors: {total} cases, {ok} accepted ({same} with unchanged tensors)");
    assert!(
        ok > 0,
        "no mutated file was ever accepted: the mutations are too blunt"
    );
}

#[test]
fn random_shapes_and_dtypes_never_panic() {
    let mut g = Gen::new("fuzz-safetensors-shapes");
    let dtypes = [
        Dtype::F64,
        Dtype::F32,
        Dtype::I32,
        Dtype::F16,
        Dtype::U8,
        Dtype::BOOL,
    ];
    let archs = [
        Arch::Linear,
        Arch::Residual,
        Arch::Relu,
        Arch::Batchnorm,
        Arch::Cnn,
    ];
    let names = [
        "X", "0.weight", "1.weight", "1.bias", "2.weight", "3.weight", "extra",
    ];
    let total = cases();
    for case in 0..total {
        let count = 1 + g.below(5);
        let mut data = Vec::new();
        for _ in 0..count {
            let dtype = dtypes[g.below(dtypes.len())];
            let rank = g.below(4);
            let shape: Vec<usize> = (0..rank).map(|_| g.below(6)).collect();
            let elems: usize = shape.iter().product();
            let width = match dtype {
                Dtype::F64 => 8,
                Dtype::F32 | Dtype::I32 => 4,
                Dtype::F16 => 2,
                _ => 1,
            };
            let bytes: Vec<u8> = if dtype == Dtype::F64 {
                (0..elems)
                    .flat_map(|_| g.normal_ish().to_le_bytes())
                    .collect()
            } else {
                g.bytes(elems * width)
            };
            data.push((names[g.below(names.len())].to_string(), dtype, shape, bytes));
        }
        data.sort_by(|a, b| a.0.cmp(&b.0));
        data.dedup_by(|a, b| a.0 == b.0);
        let views: Vec<(String, TensorView)> = data
            .iter()
            .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
            .collect();
        let file = safetensors::serialize(views, None).unwrap();
        let arch = archs[g.below(archs.len())];
        let r = no_panic("shapes", case, || {
            analyse_bytes(&file, "net.safetensors", arch, Some(1.0), 0.5)
        });
        if let Err(e) = r {
            assert_refusal("random shapes", case, &e);
        }
    }
}

// ---------------------------------------------------------------------------------------
// profiles

const VALUES: [&str; 16] = [
    "0",
    "1",
    "-1",
    "3.5",
    "1e400",
    "\"x\"",
    "\"1/L\"",
    "[]",
    "[0]",
    "[1, 2]",
    "[0.5, 2.0]",
    "true",
    "99999999999999999999",
    "{ a = 1 }",
    "\"\"",
    "[\"1/L\", 7]",
];

#[test]
fn profile_mutations_are_refused_in_one_line() {
    let mut g = Gen::new("fuzz-profiles");
    let quick = gncond::config::BUILTIN_PROFILES[0].1;
    let lines: Vec<&str> = quick.lines().collect();
    let total = cases();
    let mut accepted = 0;
    for case in 0..total {
        let mut l: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
        let i = g.below(l.len());
        match g.below(6) {
            0 => {
                if let Some((key, _)) = l[i].split_once('=') {
                    l[i] = format!("{key}= {}", VALUES[g.below(VALUES.len())]);
                }
            }
            1 => {
                if let Some((_, value)) = l[i].split_once('=') {
                    l[i] = format!("{}x ={value}", l[i].split('=').next().unwrap().trim());
                }
            }
            2 => {
                l.remove(i);
            }
            3 => {
                let dup = l[i].clone();
                l.insert(i, dup);
            }
            4 => {
                let mut bytes = l[i].clone().into_bytes();
                if !bytes.is_empty() {
                    let j = g.below(bytes.len());
                    bytes[j] = b" =[]\"x0.,#\n"[g.below(11)];
                }
                l[i] = String::from_utf8_lossy(&bytes).into_owned();
            }
            _ => {
                let n = g.below(quick.len());
                l = vec![quick[..quick.floor_char_boundary(n)].to_string()];
            }
        }
        let text = l.join("\n");
        let r = no_panic("profile", case, || {
            gncond::plan::parse_profile(&text, "fuzz.toml")
        });
        match r {
            Err(e) => {
                assert_refusal("profile", case, &e);
                assert!(e.to_string().starts_with("fuzz.toml: "), "{e}");
            }
            Ok(p) => {
                accepted += 1;
                // what was accepted is usable: every experiment gives its grid
                for exp in gncond::experiments::registry() {
                    let _ = no_panic("profile grid", case, || exp.points(&p));
                }
            }
        }
    }
    eprintln!("profiles: {total} cases, {accepted} accepted");
}

// ---------------------------------------------------------------------------------------
// IDX and CIFAR-10 files

#[test]
fn idx_and_cifar_files_are_refused_in_one_line() {
    let mut g = Gen::new("fuzz-idx");
    let mut idx_file = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3];
    idx_file.extend(g.bytes(18));
    let labels = vec![0, 0, 8, 1, 0, 0, 0, 4, 3, 1, 4, 1];
    let gz = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&idx_file).unwrap();
        e.finish().unwrap()
    };
    let valid = [idx_file, labels, gz];
    for v in &valid {
        idx::parse_idx(v, "valid.idx").unwrap();
    }
    let total = cases();
    for case in 0..total {
        let which = g.below(valid.len());
        let (bytes, how) = g.mutate(&valid[which]);
        let r = no_panic("idx", case, || idx::parse_idx(&bytes, "file.idx"));
        if let Err(e) = r {
            assert_refusal(&format!("idx ({how})"), case, &e);
        }
    }
    let source = || DataSource {
        id: "fuzz".into(),
        description: "fuzz".into(),
        sha256: String::new(),
    };
    let mut record = vec![3u8];
    record.extend(g.bytes(cifar::RECORD - 1));
    let two = [record.clone(), record].concat();
    for case in 0..total {
        let (bytes, how) = g.mutate(&two);
        let r = no_panic("cifar", case, || {
            cifar::parse_batches(&[("data_batch_1.bin", &bytes)], source())
        });
        if let Err(e) = r {
            assert_refusal(&format!("cifar ({how})"), case, &e);
        }
    }
}

// ---------------------------------------------------------------------------------------
// cache entries, manifests, shard records

#[test]
fn cache_entries_manifests_and_shard_records_never_panic() {
    let mut g = Gen::new("fuzz-records");
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/figures/manifest.json");
    let manifest = std::fs::read(&golden).unwrap();
    Manifest::from_bytes(&manifest, &golden).unwrap();
    let rows = [
        gncond::table::Row::new()
            .float("kappa", 3.5)
            .int("width", 64)
            .text("route", "kronecker"),
        gncond::table::Row::new()
            .float("kappa", 4.0)
            .int("width", 128)
            .text("route", "kronecker"),
    ];
    let texts: Vec<String> = rows.iter().map(|r| r.to_cache_text()).collect();
    let body = format!("seconds\t0.25\n{}", texts.join("---\n"));
    let sum = gncond::fsutil::sha256_hex(body.as_bytes());
    let entry = format!("{body}sha256\t{sum}\n").into_bytes();
    assert!(
        gncond::runner::parse_entry(&entry).is_some(),
        "the valid cache entry is refused"
    );
    let record = br#"{"profile":"quick","profile_sha256":"ab","program":"p","shard":1,"of":1,"points":["a","b"]}"#.to_vec();
    let total = cases();
    let (mut manifests_ok, mut entries_ok) = (0, 0);
    for case in 0..total {
        let (bytes, how) = g.mutate(&manifest);
        match no_panic("manifest", case, || Manifest::from_bytes(&bytes, &golden)) {
            Ok(_) => manifests_ok += 1,
            Err(e) => assert_refusal(&format!("manifest ({how})"), case, &e),
        }
        let (bytes, _) = g.mutate(&entry);
        if no_panic("cache entry", case, || gncond::runner::parse_entry(&bytes)).is_some() {
            entries_ok += 1;
        }
        let (bytes, how) = g.mutate(&record);
        if let Err(e) = no_panic("shard record", case, || {
            gncond::shard::ShardRecord::from_bytes(&bytes, Path::new("1-of-1.json"))
        }) {
            assert_refusal(&format!("shard record ({how})"), case, &e);
        }
    }
    eprintln!(
        "records: {total} cases each; manifests accepted {manifests_ok}, cache entries {entries_ok}"
    );
}
