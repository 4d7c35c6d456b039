//! The official datasets (MNIST IDX files, the CIFAR-10 binary archive): download with the
//! published MD5 checksums, atomic unpacking into a data folder, loading, and the selection
//! rule every experiment follows.
//!
//! Data folder: `--data-dir`, else `$GNCOND_DATA_DIR`, else `.gncond-data/` in the working
//! directory. A dataset lives in `<dir>/mnist/` or `<dir>/cifar10/`, which appear only after
//! every file of it downloaded, matched its checksum and decoded: downloads go to a staging
//! folder `<dir>/.<name>.partial-<pid>/` that is renamed into place at the end, or removed.
//!
//! Selection (policy `auto`, the default): an experiment that the paper ran on MNIST uses the
//! first n images of the official MNIST training set when it is present, else the embedded
//! subset; one the paper ran on CIFAR-10 uses the first n official CIFAR-10 training images
//! when present, else whatever MNIST the first rule picks. Policy `embedded` (the quick
//! profile, so that the committed references never depend on a data folder) always uses the
//! embedded subset. Every CSV row, caption and report section names the data it used.

use super::cifar;
use super::idx::parse_idx;
use super::{load_embedded_mnist, DataSource, Images};
use crate::fsutil::sha256_hex;
use crate::{Error, Result};
use md5::{Digest, Md5};
use std::fs;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Environment variable naming the data folder (overridden by `--data-dir`).
pub const DATA_DIR_ENV: &str = "GNCOND_DATA_DIR";
/// The data folder when neither the flag nor the environment names one.
pub const DEFAULT_DATA_DIR: &str = ".gncond-data";

/// An official dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Dataset {
    /// MNIST: the four IDX files (training and test images and labels), gzip-compressed.
    Mnist,
    /// CIFAR-10, binary version: five training batches and the test batch.
    Cifar10,
}

impl Dataset {
    /// Folder name under the data folder, and the name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Mnist => "mnist",
            Dataset::Cifar10 => "cifar10",
        }
    }

    /// Files that must be present for the dataset to count as installed.
    pub fn installed_files(self) -> Vec<&'static str> {
        match self {
            Dataset::Mnist => MNIST_FILES.iter().map(|(n, _)| *n).collect(),
            Dataset::Cifar10 => {
                let mut v = cifar::TRAIN_BATCHES.to_vec();
                v.push("test_batch.bin");
                v
            }
        }
    }
}

const MNIST_FILES: [(&str, &str); 4] = [
    (
        "train-images-idx3-ubyte.gz",
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    ),
    (
        "train-labels-idx1-ubyte.gz",
        "d53e105ee54ea40749a09fcbcd1e9432",
    ),
    (
        "t10k-images-idx3-ubyte.gz",
        "9fb629c4189551a2d022fa330f9573f3",
    ),
    (
        "t10k-labels-idx1-ubyte.gz",
        "ec29112dd5afa0611ce80d1b7f02629c",
    ),
];
const CIFAR_ARCHIVE: (&str, &str) = ("cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530");

/// One file to download and the MD5 it must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    pub name: String,
    pub md5: String,
}

/// Where a dataset's files come from: mirrors tried in order, each serving every file at
/// `<mirror>/<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    pub dataset: Dataset,
    pub mirrors: Vec<String>,
    pub files: Vec<RemoteFile>,
}

impl Catalog {
    /// The official files with their published MD5 checksums: MNIST from the mirror PyTorch's
    /// torchvision uses, then Yann LeCun's page; CIFAR-10 from Alex Krizhevsky's page.
    pub fn official(dataset: Dataset) -> Catalog {
        let (mirrors, files): (Vec<&str>, Vec<(&str, &str)>) = match dataset {
            Dataset::Mnist => (
                vec![
                    "https://ossci-datasets.s3.amazonaws.com/mnist",
                    "http://yann.lecun.com/exdb/mnist",
                ],
                MNIST_FILES.to_vec(),
            ),
            Dataset::Cifar10 => (
                vec!["https://www.cs.toronto.edu/~kriz"],
                vec![CIFAR_ARCHIVE],
            ),
        };
        Catalog {
            dataset,
            mirrors: mirrors.into_iter().map(String::from).collect(),
            files: files
                .into_iter()
                .map(|(n, m)| RemoteFile {
                    name: n.into(),
                    md5: m.into(),
                })
                .collect(),
        }
    }

    /// The same files and checksums from another mirror (a local copy, say).
    pub fn with_mirror(mut self, base: &str) -> Catalog {
        self.mirrors = vec![base.trim_end_matches('/').to_string()];
        self
    }
}

/// The data folder: the flag, else `$GNCOND_DATA_DIR`, else `.gncond-data`; with how it was
/// chosen, for `data info`.
pub fn data_dir(flag: Option<&Path>) -> (PathBuf, &'static str) {
    if let Some(p) = flag {
        return (p.to_path_buf(), "--data-dir");
    }
    match std::env::var_os(DATA_DIR_ENV) {
        Some(v) if !v.is_empty() => (PathBuf::from(v), "$GNCOND_DATA_DIR"),
        _ => (PathBuf::from(DEFAULT_DATA_DIR), "default"),
    }
}

/// True when every file of `dataset` is in its folder under `dir`.
pub fn is_installed(dir: &Path, dataset: Dataset) -> bool {
    let folder = dir.join(dataset.name());
    dataset
        .installed_files()
        .iter()
        .all(|f| folder.join(f).is_file())
}

/// Download, verify and unpack `catalog` into `<dir>/<dataset>/`, atomically. Returns the
/// dataset folder. Nothing is left behind on failure; an installed dataset is not fetched
/// again.
pub fn fetch(catalog: &Catalog, dir: &Path, progress: bool) -> Result<PathBuf> {
    let dataset = catalog.dataset;
    let target = dir.join(dataset.name());
    if is_installed(dir, dataset) {
        return Ok(target);
    }
    fs::create_dir_all(dir)
        .map_err(|e| Error::Input(format!("cannot create data folder {}: {e}", dir.display())))?;
    let staging = dir.join(format!(
        ".{}.partial-{}",
        dataset.name(),
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging)
        .map_err(|e| Error::Input(format!("cannot create {}: {e}", staging.display())))?;
    let result = fetch_into(catalog, &staging, progress).and_then(|()| {
        if target.exists() {
            fs::remove_dir_all(&target).map_err(|e| {
                Error::Data(format!(
                    "cannot replace incomplete {}: {e}",
                    target.display()
                ))
            })?;
        }
        fs::rename(&staging, &target)
            .map_err(|e| Error::Data(format!("cannot move {} into place: {e}", staging.display())))
    });
    if result.is_err() {
        let _ = fs::remove_dir_all(&staging);
    }
    result.map(|()| target)
}

fn fetch_into(catalog: &Catalog, staging: &Path, progress: bool) -> Result<()> {
    let mut provenance = String::new();
    for file in &catalog.files {
        let dest = staging.join(&file.name);
        let mut failures = Vec::new();
        let mut url_used = None;
        for mirror in &catalog.mirrors {
            let url = format!("{mirror}/{}", file.name);
            match download(&url, &dest, &file.md5, progress) {
                Ok(()) => {
                    url_used = Some(url);
                    break;
                }
                Err(e) => {
                    let _ = fs::remove_file(&dest);
                    failures.push(e);
                }
            }
        }
        let Some(url) = url_used else {
            return Err(Error::Data(format!(
                "could not fetch {} ({}): {}; nothing was installed",
                file.name,
                catalog.dataset.name(),
                failures.join("; ")
            )));
        };
        provenance.push_str(&format!("{}  md5 {}  from {url}\n", file.name, file.md5));
    }
    match catalog.dataset {
        Dataset::Mnist => check_mnist(staging)?,
        Dataset::Cifar10 => {
            let archive = staging.join(CIFAR_ARCHIVE.0);
            unpack_cifar(&archive, staging)?;
            fs::remove_file(&archive).map_err(|e| Error::Data(format!("{e}")))?;
            load_cifar(staging)?;
        }
    }
    for f in catalog.dataset.installed_files() {
        if !staging.join(f).is_file() {
            return Err(Error::Data(format!(
                "{} is missing from the downloaded {}; nothing was installed",
                f,
                catalog.dataset.name()
            )));
        }
    }
    fs::write(staging.join("SOURCE.txt"), provenance).map_err(|e| Error::Data(format!("{e}")))
}

/// Stream `url` into `dest`, checking the byte count against Content-Length and the MD5
/// against `md5`. Errors are one phrase naming the URL.
fn download(url: &str, dest: &Path, md5: &str, progress: bool) -> std::result::Result<(), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_recv_body(Some(Duration::from_secs(1800)))
        .build()
        .into();
    if progress && !std::io::stderr().is_terminal() {
        crate::messages::notice(format!("data: fetching {url}"));
    }
    let mut resp = agent.get(url).call().map_err(|e| format!("{url}: {e}"))?;
    let expected: Option<u64> = resp
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse().ok());
    let mut reader = resp.body_mut().as_reader();
    let mut out = fs::File::create(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut got: u64 = 0;
    let mut bar = Bar::new(url, expected, progress);
    loop {
        let k = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) => {
                bar.finish();
                return Err(format!(
                    "{url}: download interrupted after {got} bytes ({e})"
                ));
            }
        };
        hasher.update(&buf[..k]);
        out.write_all(&buf[..k])
            .map_err(|e| format!("{}: {e}", dest.display()))?;
        got += k as u64;
        bar.update(got);
    }
    bar.finish();
    if let Some(len) = expected {
        if got != len {
            return Err(format!("{url}: truncated: received {got} of {len} bytes"));
        }
    }
    let digest: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if digest != md5 {
        return Err(format!(
            "{url}: md5 {digest} does not match the published {md5} (altered or truncated file, discarded)"
        ));
    }
    out.sync_all()
        .map_err(|e| format!("{}: {e}", dest.display()))
}

/// A progress bar on stderr when it is a terminal; otherwise one line per file.
struct Bar {
    name: String,
    total: Option<u64>,
    tty: bool,
    last: Instant,
    shown: bool,
}

impl Bar {
    fn new(url: &str, total: Option<u64>, enabled: bool) -> Bar {
        let tty = enabled && std::io::stderr().is_terminal();
        Bar {
            name: url.rsplit('/').next().unwrap_or(url).to_string(),
            total,
            tty,
            last: Instant::now(),
            shown: false,
        }
    }

    fn update(&mut self, got: u64) {
        if !self.tty || self.last.elapsed() < Duration::from_millis(100) {
            return;
        }
        self.last = Instant::now();
        self.shown = true;
        let mb = |b: u64| b as f64 / 1e6;
        let line = match self.total {
            Some(t) if t > 0 => {
                let frac = got as f64 / t as f64;
                let filled = (frac * 30.0).round() as usize;
                format!(
                    "{} [{}{}] {:.1}/{:.1} MB",
                    self.name,
                    "#".repeat(filled.min(30)),
                    " ".repeat(30 - filled.min(30)),
                    mb(got),
                    mb(t)
                )
            }
            _ => format!("{} {:.1} MB", self.name, mb(got)),
        };
        crate::messages::redraw(&line);
    }

    fn finish(&mut self) {
        if self.shown {
            crate::messages::end_redraw();
            self.shown = false;
        }
    }
}

/// Both MNIST training files decode and agree in length; the test files decode.
fn check_mnist(folder: &Path) -> Result<()> {
    load_mnist(folder)?;
    for f in ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
        parse_idx(&crate::fsutil::read(&folder.join(f))?, f)?;
    }
    Ok(())
}

/// Extract the batch files of the CIFAR-10 archive (entries `cifar-10-batches-bin/*.bin` and
/// `batches.meta.txt`) flat into `folder`; other entries are ignored, and no entry's path is
/// used beyond its file name.
fn unpack_cifar(archive: &Path, folder: &Path) -> Result<()> {
    let what = archive.display().to_string();
    let bad = |e: std::io::Error| Error::Data(format!("{what}: not a valid .tar.gz ({e})"));
    let file = fs::File::open(archive).map_err(bad)?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let wanted = Dataset::Cifar10.installed_files();
    for entry in tar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let path = entry.path().map_err(bad)?.into_owned();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(String::from) else {
            continue;
        };
        if !(wanted.contains(&name.as_str()) || name == "batches.meta.txt") {
            continue;
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(bad)?;
        fs::write(folder.join(&name), bytes).map_err(|e| Error::Data(format!("{e}")))?;
    }
    Ok(())
}

fn file_sha(path: &Path) -> Result<(Vec<u8>, String)> {
    let bytes = crate::fsutil::read(path)?;
    let sha = sha256_hex(&bytes);
    Ok((bytes, sha))
}

/// The official MNIST training set from `folder` (60000 images in the official files).
pub fn load_mnist(folder: &Path) -> Result<Images> {
    let (images, h_img) = file_sha(&folder.join(MNIST_FILES[0].0))?;
    let (labels, h_lab) = file_sha(&folder.join(MNIST_FILES[1].0))?;
    let img = parse_idx(&images, MNIST_FILES[0].0)?;
    let lab = parse_idx(&labels, MNIST_FILES[1].0)?;
    if img.dims.len() != 3 || lab.dims.len() != 1 || img.dims[0] != lab.dims[0] {
        return Err(Error::Data(format!(
            "{}: MNIST images {:?} and labels {:?} do not match",
            folder.display(),
            img.dims,
            lab.dims
        )));
    }
    Ok(Images {
        channels: 1,
        rows: img.dims[1],
        cols: img.dims[2],
        pixels: img.data,
        labels: lab.data,
        source: DataSource {
            id: "mnist-official".into(),
            description: format!(
                "official MNIST training set ({} images; the first n are used, as the authors did)",
                lab.dims[0]
            ),
            sha256: sha256_hex(format!("{h_img}{h_lab}").as_bytes()),
        },
    })
}

/// The official CIFAR-10 training set from `folder`: the five batches in order.
pub fn load_cifar(folder: &Path) -> Result<Images> {
    let mut parts = Vec::new();
    let mut shas = String::new();
    for name in cifar::TRAIN_BATCHES {
        let (bytes, sha) = file_sha(&folder.join(name))?;
        shas.push_str(&sha);
        parts.push((name, bytes));
    }
    let views: Vec<(&str, &[u8])> = parts.iter().map(|(n, b)| (*n, b.as_slice())).collect();
    let mut images = cifar::parse_batches(
        &views,
        DataSource {
            id: "cifar10-official".into(),
            description: String::new(),
            sha256: sha256_hex(shas.as_bytes()),
        },
    )?;
    images.source.description = format!(
        "official CIFAR-10 training set ({} images, data_batch_1 to 5 in order; the first n are used, as the authors did)",
        images.len()
    );
    Ok(images)
}

/// Which data an experiment asks for: what the paper ran it on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Want {
    Mnist,
    Cifar10,
}

/// Whether official data may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DataPolicy {
    /// Official data when present, else the embedded subset.
    #[default]
    Auto,
    /// Always the embedded subset.
    Embedded,
}

/// The data folder and the policy of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataConfig {
    pub dir: PathBuf,
    pub policy: DataPolicy,
}

impl DataConfig {
    /// The images experiment data `want` resolves to (see the module documentation).
    pub fn resolve(&self, want: Want) -> Result<Images> {
        if self.policy == DataPolicy::Embedded {
            return load_embedded_mnist();
        }
        if want == Want::Cifar10 && is_installed(&self.dir, Dataset::Cifar10) {
            return load_cifar(&self.dir.join(Dataset::Cifar10.name()));
        }
        if is_installed(&self.dir, Dataset::Mnist) {
            return load_mnist(&self.dir.join(Dataset::Mnist.name()));
        }
        load_embedded_mnist()
    }

    /// The id of the data `want` resolves to, without loading it.
    pub fn resolved_id(&self, want: Want) -> &'static str {
        match self.policy {
            DataPolicy::Embedded => "mnist5k-embedded",
            DataPolicy::Auto
                if want == Want::Cifar10 && is_installed(&self.dir, Dataset::Cifar10) =>
            {
                "cifar10-official"
            }
            DataPolicy::Auto if is_installed(&self.dir, Dataset::Mnist) => "mnist-official",
            DataPolicy::Auto => "mnist5k-embedded",
        }
    }
}

/// `gncond data info`: the data folder, what is installed there with checksums, and which
/// data each experiment (id, what the paper used) will use under `policy`.
pub fn info(
    flag: Option<&Path>,
    policy: DataPolicy,
    experiments: &[(&str, Want)],
) -> Result<String> {
    let (dir, how) = data_dir(flag);
    let mut s = format!("data folder: {} ({how})\n", dir.display());
    for ds in [Dataset::Mnist, Dataset::Cifar10] {
        let folder = dir.join(ds.name());
        if is_installed(&dir, ds) {
            s.push_str(&format!(
                "{}: installed in {}\n",
                ds.name(),
                folder.display()
            ));
            for f in ds.installed_files() {
                let (bytes, sha) = file_sha(&folder.join(f))?;
                let md5: String = Md5::digest(&bytes)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                s.push_str(&format!(
                    "  {f}  {} bytes  md5 {md5}  sha256 {sha}\n",
                    bytes.len()
                ));
            }
        } else {
            s.push_str(&format!(
                "{}: not installed (gncond data fetch {})\n",
                ds.name(),
                ds.name()
            ));
        }
    }
    s.push_str("embedded: mnist5k-embedded (5000 real MNIST training images, always available)\n");
    let cfg = DataConfig { dir, policy };
    s.push_str(&format!(
        "experiments that read data (policy {}):\n",
        if policy == DataPolicy::Auto {
            "auto"
        } else {
            "embedded"
        }
    ));
    for (id, want) in experiments {
        let paper = match want {
            Want::Mnist => "MNIST",
            Want::Cifar10 => "CIFAR-10",
        };
        s.push_str(&format!(
            "  {id:<18} paper: {paper:<9} uses: {}\n",
            cfg.resolved_id(*want)
        ));
    }
    Ok(s)
}

/// `gncond data fetch`: download and install each of `datasets` not yet in `dir` (from
/// `mirror` when given), one notice per dataset.
pub fn fetch_datasets(dir: &Path, datasets: &[Dataset], mirror: Option<&str>) -> Result<()> {
    for &ds in datasets {
        if is_installed(dir, ds) {
            crate::messages::notice(format!(
                "data: {} already installed in {}",
                ds.name(),
                dir.join(ds.name()).display()
            ));
            continue;
        }
        let mut catalog = Catalog::official(ds);
        if let Some(m) = mirror {
            catalog = catalog.with_mirror(m);
        }
        let folder = fetch(&catalog, dir, true)?;
        crate::messages::notice(format!(
            "data: {} verified and installed in {}",
            ds.name(),
            folder.display()
        ));
    }
    Ok(())
}
