//! Official-data fetching without the internet: a small HTTP server on 127.0.0.1 inside the
//! test serves tiny hand-made MNIST and CIFAR-10 files, a truncated download and an altered
//! one. Also the CIFAR-10 reader, grayscale conversion, the selection rule and `data info`.

use flate2::write::GzEncoder;
use flate2::Compression;
use gncond::data::cifar::{parse_batches, RECORD, TRAIN_BATCHES};
use gncond::data::official::{self, Catalog, Dataset, RemoteFile};
use gncond::data::{design_matrix, design_matrix_gray, DataConfig, DataPolicy, DataSource, Want};
use md5::{Digest, Md5};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const BIN: &str = env!("CARGO_BIN_EXE_gncond");

/// What the server answers for a path.
#[derive(Clone)]
enum Reply {
    Ok(Vec<u8>),
    /// Announce the full length, send only the first `usize` bytes, close.
    Truncated(Vec<u8>, usize),
}

/// A one-thread HTTP/1.1 server on an ephemeral port; returns its base URL and a request
/// counter. Unknown paths get 404.
fn serve(files: HashMap<String, Reply>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            let _ = match files.get(&path) {
                Some(Reply::Ok(body)) => stream
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .and_then(|_| stream.write_all(body)),
                Some(Reply::Truncated(body, sent)) => stream
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .and_then(|_| stream.write_all(&body[..*sent])),
                None => stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                ),
            };
            let _ = stream.flush();
        }
    });
    (base, count)
}

fn md5_hex(b: &[u8]) -> String {
    Md5::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// An IDX file of unsigned bytes with the given dimensions, gzip-compressed.
fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut raw = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        raw.extend_from_slice(&d.to_be_bytes());
    }
    raw.extend_from_slice(data);
    gz(&raw)
}

/// Tiny MNIST: 3 training images of 4×4 (pixel = 10·image + position), 2 test images.
fn tiny_mnist() -> Vec<(String, Vec<u8>)> {
    let train: Vec<u8> = (0..3u8)
        .flat_map(|i| (0..16u8).map(move |p| 10 * i + p))
        .collect();
    vec![
        ("train-images-idx3-ubyte.gz".into(), idx(&[3, 4, 4], &train)),
        ("train-labels-idx1-ubyte.gz".into(), idx(&[3], &[7, 2, 1])),
        (
            "t10k-images-idx3-ubyte.gz".into(),
            idx(&[2, 4, 4], &train[..32]),
        ),
        ("t10k-labels-idx1-ubyte.gz".into(), idx(&[2], &[0, 1])),
    ]
}

/// `count` CIFAR-10 records with label i % 10 and pixels (channel c, position p) =
/// (i + 3c + p) mod 256.
fn cifar_records(start: usize, count: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(count * RECORD);
    for i in start..start + count {
        out.push((i % 10) as u8);
        for c in 0..3 {
            for p in 0..1024 {
                out.push(((i + 3 * c + p) % 256) as u8);
            }
        }
    }
    out
}

/// The CIFAR-10 binary archive layout with `per_batch` records in each of the 5 training
/// batches and in the test batch.
fn tiny_cifar_archive(per_batch: usize) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut add = |name: &str, bytes: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        builder
            .append_data(&mut h, format!("cifar-10-batches-bin/{name}"), bytes)
            .unwrap();
    };
    for (b, name) in TRAIN_BATCHES.iter().enumerate() {
        add(name, &cifar_records(b * per_batch, per_batch));
    }
    add("test_batch.bin", &cifar_records(1000, per_batch));
    add("batches.meta.txt", b"airplane\nautomobile\n");
    gz(&builder.into_inner().unwrap())
}

fn catalog(dataset: Dataset, mirrors: Vec<String>, files: &[(String, Vec<u8>)]) -> Catalog {
    Catalog {
        dataset,
        mirrors,
        files: files
            .iter()
            .map(|(n, b)| RemoteFile {
                name: n.clone(),
                md5: md5_hex(b),
            })
            .collect(),
    }
}

fn served(files: &[(String, Vec<u8>)], prefix: &str) -> HashMap<String, Reply> {
    files
        .iter()
        .map(|(n, b)| (format!("{prefix}/{n}"), Reply::Ok(b.clone())))
        .collect()
}

/// Every entry of a folder, recursively (what a failed fetch must not leave behind).
fn entries(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            out.push(e.file_name().to_string_lossy().into_owned());
            out.extend(entries(&e.path()));
        }
    }
    out
}

#[test]
fn mnist_fetch_verifies_installs_and_loads() {
    let files = tiny_mnist();
    let (base, count) = serve(served(&files, "/mirror"));
    let dir = tempfile::tempdir().unwrap();
    // the first mirror answers 404 for everything; the second has the files
    let cat = catalog(
        Dataset::Mnist,
        vec![format!("{base}/gone"), format!("{base}/mirror")],
        &files,
    );
    let folder = official::fetch(&cat, dir.path(), false).unwrap();
    assert!(official::is_installed(dir.path(), Dataset::Mnist));
    let mut names = entries(dir.path());
    names.sort();
    assert_eq!(
        names,
        [
            "SOURCE.txt",
            "mnist",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz"
        ]
    );
    let source = std::fs::read_to_string(folder.join("SOURCE.txt")).unwrap();
    assert!(source.contains(&format!("from {base}/mirror/train-images-idx3-ubyte.gz")));
    let images = official::load_mnist(&folder).unwrap();
    assert_eq!((images.len(), images.rows, images.channels), (3, 4, 1));
    assert_eq!(images.labels, [7, 2, 1]);
    assert_eq!(images.source.id, "mnist-official");
    let x = design_matrix(&images, 2, 2).unwrap();
    // img[::2, ::2] of image 1 keeps positions 0, 2, 8, 10 → pixels 10, 12, 18, 20
    assert_eq!(
        x.column(1).as_slice(),
        &[10.0 / 255.0, 12.0 / 255.0, 18.0 / 255.0, 20.0 / 255.0]
    );
    // installed: a second fetch does not touch the network
    let before = count.load(Ordering::SeqCst);
    official::fetch(&cat, dir.path(), false).unwrap();
    assert_eq!(count.load(Ordering::SeqCst), before);
}

#[test]
fn truncated_and_altered_downloads_are_refused_leaving_nothing() {
    let files = tiny_mnist();
    let good = catalog(Dataset::Mnist, vec![], &files);
    // truncated: the server announces the full length and closes half way
    let mut map = served(&files, "/m");
    let (name, body) = &files[0];
    map.insert(
        format!("/m/{name}"),
        Reply::Truncated(body.clone(), body.len() / 2),
    );
    let (base, _) = serve(map);
    let dir = tempfile::tempdir().unwrap();
    let cat = Catalog {
        mirrors: vec![format!("{base}/m")],
        ..good.clone()
    };
    let err = official::fetch(&cat, dir.path(), false)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("train-images-idx3-ubyte.gz")
            && (err.contains("truncated") || err.contains("interrupted")),
        "{err}"
    );
    assert!(err.contains("nothing was installed"), "{err}");
    assert!(
        entries(dir.path()).is_empty(),
        "left behind: {:?}",
        entries(dir.path())
    );

    // altered: the bytes arrive complete but differ from the published checksum
    let mut map = served(&files, "/m");
    let mut altered = files[1].1.clone();
    let last = altered.len() - 1;
    altered[last] ^= 0xff;
    map.insert(format!("/m/{}", files[1].0), Reply::Ok(altered.clone()));
    let (base, _) = serve(map);
    let cat = Catalog {
        mirrors: vec![format!("{base}/m")],
        ..good
    };
    let err = official::fetch(&cat, dir.path(), false)
        .unwrap_err()
        .to_string();
    let want = format!(
        "md5 {} does not match the published {}",
        md5_hex(&altered),
        md5_hex(&files[1].1)
    );
    assert!(err.contains(&want), "{err}");
    assert!(
        entries(dir.path()).is_empty(),
        "left behind: {:?}",
        entries(dir.path())
    );
    assert!(!official::is_installed(dir.path(), Dataset::Mnist));
}

#[test]
fn cifar_archive_is_unpacked_read_and_made_grayscale() {
    let archive = vec![("cifar-10-binary.tar.gz".to_string(), tiny_cifar_archive(2))];
    let (base, _) = serve(served(&archive, ""));
    let dir = tempfile::tempdir().unwrap();
    let cat = catalog(Dataset::Cifar10, vec![base], &archive);
    let folder = official::fetch(&cat, dir.path(), false).unwrap();
    assert!(
        !folder.join("cifar-10-binary.tar.gz").exists(),
        "archive removed"
    );
    assert!(folder.join("batches.meta.txt").exists());
    let images = official::load_cifar(&folder).unwrap();
    assert_eq!((images.len(), images.channels, images.rows), (10, 3, 32));
    // training batches in order: record i of the concatenation is image i
    assert_eq!(images.labels, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert_eq!(images.source.id, "cifar10-official");
    // colour, f = 4: d = 3 · 8 · 8 = 192, channel-major; pixel (c, p) of image i = i + 3c + p
    let x = design_matrix(&images, 3, 4).unwrap();
    assert_eq!(x.nrows(), 192);
    let (i, c, p) = (2usize, 1usize, 4 * 32 + 8); // row 4, column 8 → index 1·8 + 2 in channel 1
    assert_eq!(x[(64 + 8 + 2, i)], ((i + 3 * c + p) % 256) as f64 / 255.0);
    // grayscale = mean of the channels: (3(i + p) + 9) / 3 / 255 for pixel p of image i
    let g = design_matrix_gray(&images, 3, 4).unwrap();
    assert_eq!(g.nrows(), 64);
    let want = (3 * (i + p) + 9) as f64 / (3.0 * 255.0);
    assert!((g[(8 + 2, i)] - want).abs() < 1e-15);
}

#[test]
fn cifar_reader_refuses_partial_records_and_bad_labels() {
    let src = DataSource {
        id: "t".into(),
        description: "t".into(),
        sha256: String::new(),
    };
    let rec = cifar_records(0, 2);
    let err = parse_batches(&[("b.bin", &rec[..RECORD + 5])], src.clone()).unwrap_err();
    assert!(
        err.to_string()
            .contains("b.bin: 3078 bytes is not a whole number"),
        "{err}"
    );
    let mut bad = rec.clone();
    bad[RECORD] = 12;
    let err = parse_batches(&[("b.bin", &bad)], src.clone()).unwrap_err();
    assert!(err.to_string().contains("record 1 has label 12"), "{err}");
    assert_eq!(parse_batches(&[("b.bin", &rec)], src).unwrap().len(), 2);
}

#[test]
fn selection_prefers_official_data_and_falls_back_to_the_embedded_subset() {
    let dir = tempfile::tempdir().unwrap();
    let auto = DataConfig {
        dir: dir.path().to_path_buf(),
        policy: DataPolicy::Auto,
    };
    let embedded = DataConfig {
        policy: DataPolicy::Embedded,
        ..auto.clone()
    };
    // nothing installed: the embedded subset for both
    assert_eq!(
        auto.resolve(Want::Mnist).unwrap().source.id,
        "mnist5k-embedded"
    );
    assert_eq!(
        auto.resolve(Want::Cifar10).unwrap().source.id,
        "mnist5k-embedded"
    );
    // MNIST installed: MNIST experiments and the CIFAR-10 ones (CIFAR-10 absent) use it
    let files = tiny_mnist();
    let (base, _) = serve(served(&files, ""));
    official::fetch(
        &catalog(Dataset::Mnist, vec![base], &files),
        dir.path(),
        false,
    )
    .unwrap();
    assert_eq!(
        auto.resolve(Want::Mnist).unwrap().source.id,
        "mnist-official"
    );
    assert_eq!(
        auto.resolve(Want::Cifar10).unwrap().source.id,
        "mnist-official"
    );
    // CIFAR-10 installed too
    let archive = vec![("cifar-10-binary.tar.gz".to_string(), tiny_cifar_archive(1))];
    let (base, _) = serve(served(&archive, ""));
    official::fetch(
        &catalog(Dataset::Cifar10, vec![base], &archive),
        dir.path(),
        false,
    )
    .unwrap();
    assert_eq!(
        auto.resolve(Want::Cifar10).unwrap().source.id,
        "cifar10-official"
    );
    assert_eq!(
        auto.resolve(Want::Mnist).unwrap().source.id,
        "mnist-official"
    );
    // the embedded policy ignores the folder
    assert_eq!(
        embedded.resolve(Want::Cifar10).unwrap().source.id,
        "mnist5k-embedded"
    );
    for w in [Want::Mnist, Want::Cifar10] {
        assert_eq!(auto.resolved_id(w), auto.resolve(w).unwrap().source.id);
    }
    // data info says the same
    let out = Command::new(BIN)
        .args(["data", "info", "--data-dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("mnist: installed"), "{text}");
    assert!(text.contains("cifar10: installed"), "{text}");
    assert!(
        text.contains(&format!("md5 {}", md5_hex(&files[0].1))),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("whitening") && l.contains("cifar10-official")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("depth-width") && l.contains("mnist-official")),
        "{text}"
    );
}

#[test]
fn cli_fetch_against_a_mirror_with_wrong_files_is_one_line_exit_2() {
    // the mirror serves our tiny files, whose checksums are not the published ones
    let (base, _) = serve(served(&tiny_mnist(), ""));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = Command::new(BIN)
        .args(["data", "fetch", "mnist", "--mirror", &base, "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.trim().lines().last().unwrap_or_default().to_string();
    assert!(
        last.starts_with("gncond: ")
            && last.contains("does not match the published f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        "{err}"
    );
    assert!(
        entries(&data).is_empty(),
        "left behind: {:?}",
        entries(&data)
    );
}

fn run_whitening(profile: &Path, out_dir: &Path, data: &Path) -> (String, String, String) {
    let out = Command::new(BIN)
        .args(["run", "whitening", "--no-cache", "--jobs", "1", "--profile"])
        .arg(profile)
        .arg("--out")
        .arg(out_dir)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    let csv = std::fs::read_to_string(out_dir.join("figures/data/whitening.csv")).unwrap();
    let svg = std::fs::read_to_string(out_dir.join("figures/whitening.svg")).unwrap();
    (stderr, csv, svg)
}

#[test]
fn a_run_says_which_data_it_uses_embedded_then_official_cifar10() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let profile = dir.path().join("p.toml");
    std::fs::write(
        &profile,
        "name = \"t\"\ndescription = \"t\"\nmaster_seed = 1\ndata = \"auto\"\n\
         [experiments.whitening]\nn = 250\ndownsample = 4\nwidth = 16\ndepths = [1]\nseeds = 1\n",
    )
    .unwrap();
    let out_dir = dir.path().join("out");
    // nothing installed (as with no network): the embedded subset, and the run says so
    let (stderr, csv, svg) = run_whitening(&profile, &out_dir, &data);
    assert!(stderr.contains("data: using mnist5k-embedded"), "{stderr}");
    assert!(stderr.contains("gncond data fetch"), "{stderr}");
    assert!(csv.contains("mnist5k-embedded"), "{csv}");
    assert!(
        svg.contains("Whitening on embedded MNIST (CIFAR-10 absent): d = 49"),
        "title"
    );
    // 5 batches of 60 records: 300 colour images, enough to whiten d = 192 with n = 250
    let archive = vec![("cifar-10-binary.tar.gz".to_string(), tiny_cifar_archive(60))];
    let (base, _) = serve(served(&archive, ""));
    official::fetch(
        &catalog(Dataset::Cifar10, vec![base], &archive),
        &data,
        false,
    )
    .unwrap();
    let (stderr, csv, svg) = run_whitening(&profile, &out_dir, &data);
    assert!(stderr.contains("data: using cifar10-official"), "{stderr}");
    assert!(csv.contains("cifar10-official"), "{csv}");
    assert!(
        svg.contains("Whitening on CIFAR-10 (official): d = 192, n = 250"),
        "title"
    );
    let manifest = std::fs::read_to_string(out_dir.join("figures/manifest.json")).unwrap();
    assert!(
        manifest.contains("official CIFAR-10 training set"),
        "{manifest}"
    );
}
