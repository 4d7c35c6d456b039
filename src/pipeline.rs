//! Running a profile: grid points through the content-hash cache and a thread pool, result
//! tables to CSV, figures, and a manifest with the SHA-256 of every artifact.
//!
//! Determinism: a point's numbers depend only on its parameters and seed; points run in
//! parallel but each computation is sequential, and rows come back in plan order, so CSV and
//! SVG bytes do not depend on `--jobs`.

use crate::config::Profile;
use crate::data::{DataConfig, DataPolicy, DataSource, Images, Want};
use crate::experiments::{self, Experiment};
use crate::fsutil::{ensure_writable_dir, sha256_hex, write_atomic};
use crate::seed::{self, PointRng};
use crate::table::{self, Row};
use crate::{Error, Result, VERSION};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

/// One grid point: its parameters (in a fixed order) and replicate (seed index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    pub params: Vec<(&'static str, String)>,
    pub replicate: u64,
}

impl Point {
    /// `key=value …` for messages.
    pub fn label(&self) -> String {
        let mut s: Vec<String> = self
            .params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        s.push(format!("seed={}", self.replicate));
        s.join(" ")
    }
}

/// How points are cached: one small file per point, named by the hash of everything the
/// point's numbers depend on (the program itself, experiment, parameters, master seed,
/// replicate, data checksum).
#[derive(Debug, Clone)]
pub struct Cache {
    pub dir: PathBuf,
    /// SHA-256 of the running executable: any change to the code that computes a point
    /// changes it, so a cache never serves numbers from other code.
    pub program: String,
}

impl Cache {
    /// A cache in `dir`, keyed to the running program.
    pub fn new(dir: PathBuf) -> Cache {
        let program = std::env::current_exe()
            .ok()
            .and_then(|p| std::fs::read(p).ok())
            .map(|b| sha256_hex(&b))
            .unwrap_or_else(|| format!("version-{VERSION}"));
        Cache { dir, program }
    }

    fn key(&self, seed_text: &str, data_sha: &str) -> String {
        let program = &self.program;
        sha256_hex(
            format!(
                "gncond-cache-v1|version={VERSION}|program={program}|{seed_text}|data={data_sha}"
            )
            .as_bytes(),
        )
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2]).join(format!("{key}.row"))
    }
}

/// The line that separates the rows of one point in a cache entry (a cell line always holds
/// two tabs, so it cannot be mistaken for one).
const ROW_SEPARATOR: &str = "---";

/// Per-experiment counts and time of one run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunStats {
    pub points: usize,
    /// Points computed in this run.
    pub computed: usize,
    /// Points taken from the cache in this run.
    pub cached: usize,
    /// Wall-clock seconds of this run of the experiment (compute, tables, figures).
    pub seconds: f64,
    /// Sum over all points of the seconds each took to compute, whether in this run or
    /// in the run that filled the cache: the experiment's cost on one core.
    pub point_seconds: f64,
    pub jobs: usize,
}

/// What the experiments share during a run.
pub struct RunContext {
    pub master_seed: u64,
    cache: Option<Cache>,
    pool: rayon::ThreadPool,
    data: DataConfig,
    mnist: OnceLock<Images>,
    cifar: OnceLock<Images>,
    stats: Mutex<RunStats>,
    /// The data set the last `compute_points` ran on, for the manifest.
    source: Mutex<Option<DataSource>>,
    jobs: usize,
    mode: Mode,
    /// Seed texts of the points this shard computed or found cached.
    shard_points: Mutex<Vec<String>>,
}

/// What a run does with the grid points.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Mode {
    /// Compute (or read from the cache) every point, write every output.
    #[default]
    Full,
    /// Compute only the points whose seed texts are listed (one slice of `--shard K/N`)
    /// into the cache; write no figures.
    Shard(std::collections::BTreeSet<String>),
    /// Take every point from the cache; a missing point is an error.
    Merge,
}

impl RunContext {
    /// A context with `jobs` worker threads, an optional cache, and the data to use.
    pub fn new(
        master_seed: u64,
        jobs: usize,
        cache: Option<Cache>,
        data: DataConfig,
    ) -> Result<RunContext> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .build()
            .map_err(|e| Error::Input(format!("cannot start {jobs} worker threads: {e}")))?;
        Ok(RunContext {
            master_seed,
            cache,
            pool,
            data,
            mnist: OnceLock::new(),
            cifar: OnceLock::new(),
            stats: Mutex::new(RunStats::default()),
            source: Mutex::new(None),
            jobs,
            mode: Mode::Full,
            shard_points: Mutex::new(Vec::new()),
        })
    }

    /// The images for an experiment the paper ran on `want`, chosen by the run's data policy
    /// (official data when installed, else the embedded subset; see `data::official`), loaded
    /// once per run.
    pub fn data(&self, want: Want) -> Result<&Images> {
        let lock = match (want, self.data.resolved_id(want)) {
            (Want::Cifar10, "cifar10-official") => &self.cifar,
            _ => &self.mnist,
        };
        if let Some(img) = lock.get() {
            return Ok(img);
        }
        let img = self.data.resolve(want)?;
        let hint = if img.source.id == "mnist5k-embedded" && self.data.policy == DataPolicy::Auto {
            format!(
                " (no official data in {}; `gncond data fetch` installs it)",
                self.data.dir.display()
            )
        } else {
            String::new()
        };
        eprintln!(
            "data: using {}: {}{hint}",
            img.source.id, img.source.description
        );
        Ok(lock.get_or_init(|| img))
    }

    /// Compute every point of experiment `id` on data `data_source`, in parallel, through the
    /// cache; rows come back in the order of `points`.
    pub fn compute_points<F>(
        &self,
        id: &str,
        points: &[Point],
        data_source: &DataSource,
        compute: F,
    ) -> Result<Vec<Row>>
    where
        F: Fn(&Point, &mut PointRng) -> Result<Vec<Row>> + Sync,
    {
        let started = Instant::now();
        let texts: Vec<String> = points
            .iter()
            .map(|p| seed::seed_text(self.master_seed, id, &p.params, p.replicate))
            .collect();
        let cached: Vec<Option<(Vec<Row>, f64)>> = texts
            .iter()
            .map(|t| {
                let cache = self.cache.as_ref()?;
                let path = cache.path(&cache.key(t, &data_source.sha256));
                let text = std::fs::read_to_string(path).ok()?;
                let (first, rest) = text.split_once('\n')?;
                let seconds = first.strip_prefix("seconds\t")?.parse().ok()?;
                let mut chunks = vec![String::new()];
                for line in rest.lines() {
                    if line == ROW_SEPARATOR {
                        chunks.push(String::new());
                    } else {
                        let last = chunks.last_mut().expect("non-empty");
                        last.push_str(line);
                        last.push('\n');
                    }
                }
                let rows: Option<Vec<Row>> =
                    chunks.iter().map(|c| Row::from_cache_text(c)).collect();
                Some((rows?, seconds))
            })
            .collect();
        // a shard computes only its slice; merge computes nothing
        let mine: Vec<bool> = texts
            .iter()
            .map(|t| match &self.mode {
                Mode::Shard(set) => set.contains(t),
                Mode::Full | Mode::Merge => true,
            })
            .collect();
        if let Mode::Shard(_) = self.mode {
            let mut record = self.shard_points.lock().expect("shard lock");
            record.extend(
                texts
                    .iter()
                    .zip(&mine)
                    .filter(|(_, m)| **m)
                    .map(|(t, _)| t.clone()),
            );
        }
        if self.mode == Mode::Merge {
            let missing: Vec<String> = points
                .iter()
                .zip(&cached)
                .filter(|(_, c)| c.is_none())
                .map(|(p, _)| p.label())
                .collect();
            if !missing.is_empty() {
                let dir = self.cache.as_ref().map(|c| c.dir.display().to_string());
                return Err(Error::Input(format!(
                    "merge: {} point(s) of {id} are not in the cache {}: {}{}",
                    missing.len(),
                    dir.unwrap_or_default(),
                    missing[..missing.len().min(3)].join("; "),
                    if missing.len() > 3 { "; …" } else { "" }
                )));
            }
        }
        let cached: Vec<Option<(Vec<Row>, f64)>> = cached
            .into_iter()
            .zip(&mine)
            .map(|(c, &m)| if m { c } else { Some((Vec::new(), 0.0)) })
            .collect();
        let hits = cached
            .iter()
            .zip(&mine)
            .filter(|(c, &m)| m && c.is_some())
            .count();
        let todo = cached.iter().filter(|c| c.is_none()).count();
        let points_here = mine.iter().filter(|&&m| m).count();
        let why = if self.cache.is_none() {
            "cache disabled (--no-cache)"
        } else if hits == 0 {
            "no cache entry for any point: new parameters, seed, data or program"
        } else {
            "no cache entry for these points"
        };
        let of = if points_here < points.len() {
            format!(" (this shard's {points_here} of {})", points.len())
        } else {
            String::new()
        };
        if todo == 0 {
            eprintln!("{id}: all {points_here} points{of} from the cache, nothing to recompute");
        } else {
            eprintln!(
                "{id}: {points_here} points{of}, {hits} from the cache, {todo} to compute ({why})"
            );
        }
        let done = AtomicUsize::new(0);
        let step = todo.div_ceil(10).max(1);
        let rows: Result<Vec<(Vec<Row>, f64)>> = self.pool.install(|| {
            points
                .par_iter()
                .zip(cached.into_par_iter())
                .zip(texts.par_iter())
                .map(|((point, hit), text)| {
                    if let Some(hit) = hit {
                        return Ok(hit);
                    }
                    let t0 = Instant::now();
                    let mut rng =
                        seed::point_rng(self.master_seed, id, &point.params, point.replicate);
                    let row = compute(point, &mut rng)
                        .map_err(|e| annotate(e, &format!("{id} at {}", point.label())))?;
                    let seconds = t0.elapsed().as_secs_f64();
                    if let Some(cache) = &self.cache {
                        let path = cache.path(&cache.key(text, &data_source.sha256));
                        let texts: Vec<String> = row.iter().map(Row::to_cache_text).collect();
                        let sep = format!("{ROW_SEPARATOR}\n");
                        let entry = format!("seconds\t{seconds}\n{}", texts.join(&sep));
                        write_atomic(&path, entry.as_bytes())?;
                    }
                    let k = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if k % step == 0 || k == todo {
                        eprintln!(
                            "{id}: computed {k}/{todo} ({:.1} s)",
                            started.elapsed().as_secs_f64()
                        );
                    }
                    Ok((row, seconds))
                })
                .collect()
        });
        let rows = rows?;
        *self.source.lock().expect("source lock") = Some(data_source.clone());
        let mut stats = self.stats.lock().expect("stats lock");
        *stats = RunStats {
            points: points.len(),
            computed: todo,
            cached: hits,
            seconds: 0.0,
            point_seconds: rows.iter().map(|r| r.1).sum(),
            jobs: self.jobs,
        };
        Ok(rows.into_iter().flat_map(|r| r.0).collect())
    }

    /// Set what the run does with the points (see [`Mode`]).
    pub fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
    }

    fn take_stats(&self) -> RunStats {
        std::mem::take(&mut *self.stats.lock().expect("stats lock"))
    }
}

fn annotate(e: Error, context: &str) -> Error {
    match e {
        Error::Numerics(m) => Error::Numerics(format!("{context}: {m}")),
        Error::Input(m) => Error::Input(format!("{context}: {m}")),
        other => other,
    }
}

/// The deterministic record of what produced the artifacts in an output folder.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Manifest {
    pub gncond_version: String,
    pub experiments: BTreeMap<String, ManifestEntry>,
}

/// One experiment's provenance and artifact checksums.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub paper: String,
    pub profile: String,
    pub profile_source: String,
    pub profile_sha256: String,
    pub master_seed: u64,
    pub config: serde_json::Value,
    pub data: DataSource,
    /// Grid points computed (each may give several rows).
    pub points: usize,
    /// Rows in the CSV.
    pub rows: usize,
    /// Path (relative to the output folder) → SHA-256.
    pub artifacts: BTreeMap<String, String>,
}

/// Relative path of the manifest under an output folder.
pub const MANIFEST_PATH: &str = "figures/manifest.json";
/// Relative path of the (non-deterministic) timings of the last runs.
pub const TIMINGS_PATH: &str = "report/timings.json";

impl Manifest {
    /// Read `out`'s manifest.
    pub fn load(out: &Path) -> Result<Manifest> {
        let path = out.join(MANIFEST_PATH);
        if !path.exists() {
            return Err(Error::Input(format!(
                "no results in {}: {} is missing (run `gncond run` first)",
                out.display(),
                MANIFEST_PATH
            )));
        }
        let text = crate::fsutil::read(&path)?;
        serde_json::from_slice(&text)
            .map_err(|e| Error::Data(format!("{}: not a gncond manifest ({e})", path.display())))
    }

    fn load_or_default(out: &Path) -> Manifest {
        Manifest::load(out).unwrap_or_default()
    }
}

/// Timings of the last run of each experiment in a folder.
pub type Timings = BTreeMap<String, RunStats>;

/// Read `out`'s timings (empty if none).
pub fn load_timings(out: &Path) -> Timings {
    std::fs::read(out.join(TIMINGS_PATH))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// What `gncond run` was asked to do.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Experiment ids; empty means every experiment the profile configures.
    pub ids: Vec<String>,
    pub profile: Profile,
    pub out: PathBuf,
    pub jobs: usize,
    pub cache_dir: Option<PathBuf>,
    /// The data folder (official datasets, when installed); the profile's `data` policy says
    /// whether they may be used.
    pub data_dir: PathBuf,
    /// Everything, one `--shard` slice into the cache, or a merge from the cache.
    pub mode: RunMode,
}

/// Which part of the work `run` does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RunMode {
    #[default]
    Full,
    /// Compute one slice into the cache and record it; write no outputs.
    Shard(crate::shard::ShardSpec),
    /// Check the shard records, then build every output from the cache alone.
    Merge,
}

/// Resolve experiment ids against the registry and the profile.
pub fn select(ids: &[String], profile: &Profile) -> Result<Vec<&'static dyn Experiment>> {
    let known: Vec<&str> = experiments::registry().iter().map(|e| e.id()).collect();
    if ids.is_empty() {
        let all: Vec<_> = experiments::registry()
            .into_iter()
            .filter(|e| !e.points(profile).is_empty())
            .collect();
        if all.is_empty() {
            return Err(Error::Input(format!(
                "{} configures no experiment",
                profile.source
            )));
        }
        return Ok(all);
    }
    ids.iter()
        .map(|id| {
            let exp = experiments::find(id).ok_or_else(|| {
                Error::Input(format!(
                    "unknown experiment '{id}': known are {}",
                    known.join(", ")
                ))
            })?;
            if exp.points(profile).is_empty() {
                return Err(Error::Input(format!(
                    "{} does not configure experiment '{id}'",
                    profile.source
                )));
            }
            Ok(exp)
        })
        .collect()
}

/// Run experiments, write their CSV, SVG and PNG, and update the manifest and timings.
pub fn run(opts: &RunOptions) -> Result<()> {
    let selected = select(&opts.ids, &opts.profile)?;
    if opts.jobs == 0 {
        return Err(Error::Input("--jobs must be at least 1".into()));
    }

    if let Some(dir) = &opts.cache_dir {
        ensure_writable_dir(dir)?;
    }
    let cache = opts.cache_dir.clone().map(Cache::new);
    let data = DataConfig {
        dir: opts.data_dir.clone(),
        policy: opts.profile.data,
    };
    let mut ctx = RunContext::new(opts.profile.master_seed, opts.jobs, cache, data)?;
    match opts.mode {
        RunMode::Full => {}
        RunMode::Shard(spec) => {
            let Some(cache) = &ctx.cache else {
                return Err(Error::Input(
                    "--shard needs the shared cache the shards write into (--cache-dir), not --no-cache"
                        .into(),
                ));
            };
            let (dir, program) = (cache.dir.clone(), cache.program.clone());
            let plan = crate::shard::plan(&selected, &opts.profile, spec.count);
            let mine = crate::shard::slice(&plan, spec);
            eprintln!(
                "shard {spec}: {} of {} points (estimated {:.0} of {:.0} s on 1 core)",
                mine.len(),
                plan.len(),
                plan.iter()
                    .filter(|p| p.shard == spec.index - 1)
                    .map(|p| p.cost)
                    .sum::<f64>(),
                plan.iter().map(|p| p.cost).sum::<f64>()
            );
            ctx.set_mode(Mode::Shard(mine));
            for exp in &selected {
                exp.run(&opts.profile, &ctx)?;
                ctx.take_stats();
            }
            let record = crate::shard::ShardRecord {
                profile: opts.profile.name.clone(),
                profile_sha256: opts.profile.sha256.clone(),
                program,
                shard: spec.index,
                of: spec.count,
                points: std::mem::take(&mut *ctx.shard_points.lock().expect("shard lock")),
            };
            let path = crate::shard::write_record(&dir, &opts.profile, &record)?;
            eprintln!("shard {spec}: done, recorded in {}", path.display());
            return Ok(());
        }
        RunMode::Merge => {
            let Some(cache) = &ctx.cache else {
                return Err(Error::Input(
                    "merge reads the shards' cache (--cache-dir), not --no-cache".into(),
                ));
            };
            let n = crate::shard::check_records(&cache.dir, &opts.profile, &cache.program)?;
            eprintln!("merge: all {n} shard(s) recorded; building the outputs from the cache");
            ctx.set_mode(Mode::Merge);
        }
    }
    ensure_writable_dir(&opts.out)?;
    let mut manifest = Manifest::load_or_default(&opts.out);
    manifest.gncond_version = VERSION.to_string();
    let mut timings = load_timings(&opts.out);
    for exp in selected {
        let started = Instant::now();
        let rows = exp.run(&opts.profile, &ctx)?;
        let mut df = table::rows_to_frame(&rows)?;
        let csv = table::frame_to_csv(&mut df)?;
        let figure = exp.figure(&df)?;
        let svg = figure.to_svg()?;
        let id = exp.id();
        let (csv_rel, svg_rel, png_rel) = (
            experiments::csv_path(id),
            experiments::svg_path(id),
            experiments::png_path(id),
        );
        write_atomic(&opts.out.join(&csv_rel), &csv)?;
        write_atomic(&opts.out.join(&svg_rel), svg.as_bytes())?;
        figure.write_png(&opts.out.join(&png_rel))?;
        let png = crate::fsutil::read(&opts.out.join(&png_rel))?;
        let data = ctx
            .source
            .lock()
            .expect("source lock")
            .take()
            .ok_or_else(|| Error::Numerics(format!("{id} computed no points")))?;
        let mut artifacts = BTreeMap::new();
        artifacts.insert(csv_rel.clone(), sha256_hex(&csv));
        artifacts.insert(svg_rel.clone(), sha256_hex(svg.as_bytes()));
        artifacts.insert(png_rel.clone(), sha256_hex(&png));
        manifest.experiments.insert(
            id.to_string(),
            ManifestEntry {
                paper: exp.paper_ref().to_string(),
                profile: opts.profile.name.clone(),
                profile_source: opts.profile.source.clone(),
                profile_sha256: opts.profile.sha256.clone(),
                master_seed: opts.profile.master_seed,
                config: exp.config_json(&opts.profile).unwrap_or_default(),
                data,
                points: exp.points(&opts.profile).len(),
                rows: rows.len(),
                artifacts,
            },
        );
        let mut stats = ctx.take_stats();
        stats.seconds = started.elapsed().as_secs_f64();
        eprintln!(
            "{id}: wrote {csv_rel}, {svg_rel}, {png_rel} ({:.1} s)",
            stats.seconds
        );
        timings.insert(id.to_string(), stats);
    }
    let text = serde_json::to_string_pretty(&manifest).expect("manifest serialises") + "\n";
    write_atomic(&opts.out.join(MANIFEST_PATH), text.as_bytes())?;
    let text = serde_json::to_string_pretty(&timings).expect("timings serialise") + "\n";
    write_atomic(&opts.out.join(TIMINGS_PATH), text.as_bytes())
}
