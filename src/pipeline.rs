//! Running a profile: the selected experiments' points through the runner (cache, threads),
//! then per experiment the result table (CSV), its figure (SVG, PNG) and manifest entry,
//! committed together (`manifest::commit`). `--shard K/N` computes one slice of the points
//! into the shared cache; `merge` builds the outputs from it.

use crate::config::Profile;
use crate::data::DataConfig;
use crate::experiment::Experiment;
use crate::fsutil::ensure_writable_dir;
use crate::manifest::{self, ArtifactSet, ManifestEntry, Timings};
use crate::messages::notice;
use crate::plan;
use crate::runner::{Cache, Mode, RunContext};
use crate::table;
use crate::{Error, Result, VERSION};
use std::path::PathBuf;
use std::time::Instant;

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

/// Run experiments and write their CSV, SVG, PNG and manifest entries, and the timings.
pub fn run(opts: &RunOptions) -> Result<()> {
    let selected = plan::select(&opts.ids, &opts.profile)?;
    if opts.jobs == 0 {
        return Err(Error::Input("--jobs must be at least 1".into()));
    }
    // a merge only reads the cache: it must not create it
    if let (Some(dir), false) = (&opts.cache_dir, opts.mode == RunMode::Merge) {
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
        RunMode::Shard(spec) => return run_shard(opts, &selected, ctx, spec),
        RunMode::Merge => {
            let Some(cache) = ctx.cache() else {
                return Err(Error::Input(
                    "merge reads the shards' cache (--cache-dir), not --no-cache".into(),
                ));
            };
            let n = crate::shard::check_records(&cache.dir, &opts.profile, &cache.program)?;
            notice(format!(
                "merge: all {n} shard(s) recorded; building the outputs from the cache"
            ));
            ctx.set_mode(Mode::Merge);
        }
    }
    ensure_writable_dir(&opts.out)?;
    let mut timings = Timings::new();
    for exp in selected {
        let started = Instant::now();
        let set = write_experiment(opts, exp, &ctx)?;
        let mut stats = ctx.take_stats();
        stats.seconds = started.elapsed().as_secs_f64();
        notice(format!(
            "{}: wrote {} ({:.1} s)",
            exp.id(),
            set.join(", "),
            stats.seconds
        ));
        timings.insert(exp.id().to_string(), stats);
    }
    manifest::save_timings(&opts.out, timings)
}

/// Compute one experiment, draw its figure and commit its artifact set; returns the paths.
fn write_experiment(
    opts: &RunOptions,
    exp: &dyn Experiment,
    ctx: &RunContext,
) -> Result<Vec<String>> {
    let id = exp.id();
    let rows = exp.run(&opts.profile, ctx)?;
    let mut df = table::rows_to_frame(&rows)?;
    let csv = table::frame_to_csv(&mut df)?;
    // drawn from the CSV as any reader will see it, not from the rows in memory
    let figure = exp.figure(&table::read_csv_bytes(&csv, &manifest::csv_path(id))?)?;
    let set = ArtifactSet {
        id: id.to_string(),
        files: vec![
            (manifest::csv_path(id), csv),
            (manifest::svg_path(id), figure.to_svg()?.into_bytes()),
            (manifest::png_path(id), figure.to_png()?),
        ],
    };
    let data = ctx
        .take_source()
        .ok_or_else(|| Error::Internal(format!("{id} computed no points")))?;
    let entry = ManifestEntry {
        paper: exp.paper_ref().to_string(),
        profile: opts.profile.name.clone(),
        profile_source: opts.profile.source.clone(),
        profile_sha256: opts.profile.sha256.clone(),
        master_seed: opts.profile.master_seed,
        config: exp.config_json(&opts.profile).unwrap_or_default(),
        data,
        points: exp.points(&opts.profile).len(),
        rows: rows.len(),
        artifacts: set.checksums(),
    };
    manifest::commit(&opts.out, &set, entry, VERSION)?;
    Ok(set.files.iter().map(|(p, _)| p.clone()).collect())
}

/// `--shard K/N`: compute this slice's points into the shared cache and record them.
fn run_shard(
    opts: &RunOptions,
    selected: &[&'static dyn Experiment],
    mut ctx: RunContext,
    spec: crate::shard::ShardSpec,
) -> Result<()> {
    let Some(cache) = ctx.cache() else {
        return Err(Error::Input(
            "--shard needs the shared cache the shards write into (--cache-dir), not --no-cache"
                .into(),
        ));
    };
    let (dir, program) = (cache.dir.clone(), cache.program.clone());
    let plan = crate::shard::plan(selected, &opts.profile, spec.count);
    let mine = crate::shard::slice(&plan, spec);
    notice(format!(
        "shard {spec}: {} of {} points (estimated {:.0} of {:.0} s on 1 core)",
        mine.len(),
        plan.len(),
        plan.iter()
            .filter(|p| p.shard == spec.index - 1)
            .map(|p| p.cost)
            .sum::<f64>(),
        plan.iter().map(|p| p.cost).sum::<f64>()
    ));
    ctx.set_mode(Mode::Shard(mine));
    for exp in selected {
        exp.run(&opts.profile, &ctx)?;
        ctx.take_stats();
    }
    let record = crate::shard::ShardRecord {
        profile: opts.profile.name.clone(),
        profile_sha256: opts.profile.sha256.clone(),
        program,
        shard: spec.index,
        of: spec.count,
        points: ctx.take_shard_points(),
    };
    let path = crate::shard::write_record(&dir, &opts.profile, &record)?;
    notice(format!(
        "shard {spec}: done, recorded in {}",
        path.display()
    ));
    Ok(())
}
