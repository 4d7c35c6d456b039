//! Computing grid points: each point through the content-hash cache and a thread pool, with
//! its own seeded generator, on the data the run's policy picks.
//!
//! Determinism: a point's numbers depend only on its parameters and seed; points run in
//! parallel but each computation is sequential, and rows come back in plan order, so CSV and
//! SVG bytes do not depend on `--jobs`.

use crate::data::{DataConfig, DataPolicy, DataSource, Images, Want};
use crate::fsutil::{sha256_hex, write_atomic};
use crate::messages::{notice, Progress};
use crate::seed::{self, PointRng};
use crate::table::Row;
use crate::{Error, Result, VERSION};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

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

    /// The value of parameter `key`, if the point has it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| *n == key)
            .map(|(_, v)| v.as_str())
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

    /// The cache key of a point: the hash of the program, version, seed text and data checksum.
    pub fn key(&self, seed_text: &str, data_sha: &str) -> String {
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

    /// The entry of a point: its rows and the seconds it took, missing, or unreadable.
    fn read(&self, seed_text: &str, data_sha: &str) -> Lookup {
        let path = self.path(&self.key(seed_text, data_sha));
        let Ok(bytes) = std::fs::read(&path) else {
            return Lookup::Missing;
        };
        parse_entry(&bytes).map_or(Lookup::Corrupt, |(rows, s)| Lookup::Hit(rows, s))
    }

    /// Store a point's rows atomically (shards on several machines may share the folder).
    fn write(&self, seed_text: &str, data_sha: &str, rows: &[Row], seconds: f64) -> Result<()> {
        let path = self.path(&self.key(seed_text, data_sha));
        let texts: Vec<String> = rows.iter().map(Row::to_cache_text).collect();
        let sep = format!("{ROW_SEPARATOR}\n");
        let body = format!("seconds\t{seconds}\n{}", texts.join(&sep));
        let entry = format!("{body}{CHECKSUM}\t{}\n", sha256_hex(body.as_bytes()));
        write_atomic(&path, entry.as_bytes())
    }
}

/// What the cache holds for a point.
enum Lookup {
    Hit(Vec<Row>, f64),
    Missing,
    /// Present but not a readable entry (truncated, altered): recomputed and rewritten.
    Corrupt,
}

/// Parse a cache entry: `seconds\t<s>`, the rows' cells (rows separated by `---`), then
/// `sha256\t<hex>` of all that; None
/// when it is not a readable entry (it is then recomputed).
pub fn parse_entry(bytes: &[u8]) -> Option<(Vec<Row>, f64)> {
    let text = std::str::from_utf8(bytes).ok()?;
    // the last line is the checksum of everything before it: a truncated or altered entry
    // fails here, even where what is left would parse
    let (body, last) = text.strip_suffix('\n')?.rsplit_once('\n')?;
    let body = &text[..body.len() + 1];
    if last != format!("{CHECKSUM}\t{}", sha256_hex(body.as_bytes())) {
        return None;
    }
    let (first, rest) = body.split_once('\n')?;
    let seconds: f64 = first.strip_prefix("seconds\t")?.parse().ok()?;
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
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
    let rows: Option<Vec<Row>> = chunks.iter().map(|c| Row::from_cache_text(c)).collect();
    Some((rows?, seconds))
}

/// The key of the last line of a cache entry, which holds the SHA-256 of the lines before it.
const CHECKSUM: &str = "sha256";

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
        notice(format!(
            "data: using {}: {}{hint}",
            img.source.id, img.source.description
        ));
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
        let texts: Vec<String> = points
            .iter()
            .map(|p| seed::seed_text(self.master_seed, id, &p.params, p.replicate))
            .collect();
        let lookups: Vec<Lookup> = texts
            .iter()
            .map(|t| match &self.cache {
                Some(cache) => cache.read(t, &data_source.sha256),
                None => Lookup::Missing,
            })
            .collect();
        let corrupt = lookups
            .iter()
            .filter(|l| matches!(l, Lookup::Corrupt))
            .count();
        let cached: Vec<Option<(Vec<Row>, f64)>> = lookups
            .into_iter()
            .map(|l| match l {
                Lookup::Hit(rows, seconds) => Some((rows, seconds)),
                Lookup::Missing | Lookup::Corrupt => None,
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
            "cache disabled (--no-cache)".to_string()
        } else if corrupt > 0 {
            format!(
                "{corrupt} corrupt cache entr{} recomputed",
                if corrupt == 1 { "y" } else { "ies" }
            )
        } else if hits == 0 {
            "no cache entry for any point: new parameters, seed, data or program".to_string()
        } else {
            "no cache entry for these points".to_string()
        };
        let of = if points_here < points.len() {
            format!(" (this shard's {points_here} of {})", points.len())
        } else {
            String::new()
        };
        if todo == 0 {
            notice(format!(
                "{id}: all {points_here} points{of} from the cache, nothing to recompute"
            ));
        } else {
            notice(format!(
                "{id}: {points_here} points{of}, {hits} from the cache, {todo} to compute ({why})"
            ));
        }
        let progress = Progress::new(id, todo);
        let rows: Result<Vec<(Vec<Row>, f64)>> = self.pool.install(|| {
            points
                .par_iter()
                .zip(cached.into_par_iter())
                .zip(texts.par_iter())
                .map(|((point, hit), text)| {
                    if let Some(hit) = hit {
                        return Ok(hit);
                    }
                    let t0 = std::time::Instant::now();
                    let mut rng =
                        seed::point_rng(self.master_seed, id, &point.params, point.replicate);
                    let row = compute(point, &mut rng)
                        .map_err(|e| e.context(&format!("{id} at {}", point.label())))?;
                    let seconds = t0.elapsed().as_secs_f64();
                    if let Some(cache) = &self.cache {
                        cache.write(text, &data_source.sha256, &row, seconds)?;
                    }
                    progress.tick();
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

    /// The counts and times of the last `compute_points`, reset.
    pub fn take_stats(&self) -> RunStats {
        std::mem::take(&mut *self.stats.lock().expect("stats lock"))
    }

    /// The data set the last `compute_points` ran on (for the manifest), taken.
    pub fn take_source(&self) -> Option<DataSource> {
        self.source.lock().expect("source lock").take()
    }

    /// The seed texts of the points this shard computed or found cached, taken.
    pub fn take_shard_points(&self) -> Vec<String> {
        std::mem::take(&mut *self.shard_points.lock().expect("shard lock"))
    }

    /// The cache, if the run has one.
    pub fn cache(&self) -> Option<&Cache> {
        self.cache.as_ref()
    }
}
