//! The command line: clap definitions (shared argument groups flattened into each
//! subcommand) and one library call per subcommand. Exit codes are `Error::exit_code`'s:
//! 0 ok, 1 a failed check or claim, 2 bad input, 3 an output could not be written, 4 an
//! internal error.

use crate::data::official::{self, Dataset};
use crate::{check, external, messages, pipeline, plan, report, verify, Result};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Reproduce the figures and tables of "Theoretical characterisation of the Gauss-Newton
/// conditioning in Neural Networks" (Zhao, Singh, Lucchi, NeurIPS 2024), exactly and
/// deterministically: offline on embedded real MNIST data, or on the official MNIST and
/// CIFAR-10 after `gncond data fetch`.
///
/// Exit codes: 0 ok; 1 a check or claim failed; 2 bad input (nothing is written); 3 an
/// output could not be written (the previous artifacts stay); 4 an internal error.
#[derive(Parser)]
#[command(name = "gncond", version, propagate_version = true)]
pub struct Cli {
    /// No progress or notices on standard error (errors are still printed).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// `--profile`.
#[derive(Args)]
pub struct ProfileArg {
    /// quick, default, paper (profiles/<name>.toml) or a path to a profile .toml.
    #[arg(long, default_value = "default")]
    pub profile: String,
}

/// `--out`.
#[derive(Args)]
pub struct OutArg {
    /// Output folder (figures/ and report/ inside it).
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
}

/// `--data-dir`.
#[derive(Args)]
pub struct DataDirArg {
    /// Folder of official datasets from `gncond data fetch` (else $GNCOND_DATA_DIR, else
    /// .gncond-data). Used when present unless the profile says `data = "embedded"`.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// `--cache-dir`.
#[derive(Args)]
pub struct CacheDirArg {
    /// Cache folder for computed points (keyed by the program, parameters, seed and data).
    #[arg(long, default_value = ".gncond-cache")]
    pub cache_dir: PathBuf,
}

/// `--jobs`.
#[derive(Args)]
pub struct JobsArg {
    /// Worker threads (points run in parallel; results do not depend on this).
    #[arg(long, default_value_t = default_jobs())]
    pub jobs: usize,
}

fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// List every experiment: its paper figure, what it shows, and its cost in a profile.
    ///
    /// Costs are seconds on one core of the machine the cost models were calibrated on,
    /// scaled by this machine's speed: a one-core GEMM measured once (about half a second)
    /// and cached in the cache folder as `calibration.txt`.
    List {
        #[command(flatten)]
        profile: ProfileArg,
        #[command(flatten)]
        cache: CacheDirArg,
        /// Measure this machine's speed again instead of reading the cached value.
        #[arg(long)]
        recalibrate: bool,
    },
    /// Compute experiments and write OUT/figures/<id>.svg|png, OUT/figures/data/<id>.csv and
    /// their entries in OUT/figures/manifest.json (with the SHA-256 of every artifact).
    ///
    /// Points come from the content-hash cache when nothing they depend on changed; the run
    /// says how many were cached and why the others were recomputed. An experiment's files
    /// and manifest entry are replaced together or not at all. Nothing is written when the
    /// input is bad.
    Run {
        /// Experiment ids (see `gncond list`); none means every experiment of the profile.
        ids: Vec<String>,
        #[command(flatten)]
        profile: ProfileArg,
        #[command(flatten)]
        jobs: JobsArg,
        #[command(flatten)]
        out: OutArg,
        #[command(flatten)]
        cache: CacheDirArg,
        /// Recompute every point and leave the cache alone.
        #[arg(long)]
        no_cache: bool,
        #[command(flatten)]
        data: DataDirArg,
        /// Compute only slice K of N (1 ≤ K ≤ N) of the profile's points, balanced by
        /// estimated cost, into --cache-dir (shared by all shards, e.g. on a cluster), and
        /// record it there; no figures are written. Then `gncond merge`.
        #[arg(long, value_name = "K/N")]
        shard: Option<crate::shard::ShardSpec>,
    },
    /// Assemble figures, CSVs and manifest from the cache once every `run --shard K/N` has
    /// finished: refuses, naming them, if shards or points are missing or a shard is
    /// duplicated. The outputs are byte-identical to a single-machine `gncond run`.
    Merge {
        /// Experiment ids (as given to the shards); none means every experiment of the profile.
        ids: Vec<String>,
        #[command(flatten)]
        profile: ProfileArg,
        #[command(flatten)]
        out: OutArg,
        #[command(flatten)]
        cache: CacheDirArg,
        #[command(flatten)]
        data: DataDirArg,
    },
    /// Official datasets: fetch MNIST and CIFAR-10 (published checksums verified), or show
    /// what is installed and which data each experiment will use.
    Data {
        #[command(subcommand)]
        action: DataAction,
    },
    /// Render OUT/report/report.md and report.tex (LaTeX; `make pdf` compiles it) from the
    /// results in OUT (figures, tables, claims, provenance).
    Report {
        #[command(flatten)]
        out: OutArg,
    },
    /// Check every guaranteed bound and paper claim on the results in OUT; print PASS/FAIL with
    /// the evidence. Exit 1 if any fails (see --fail-on).
    Verify {
        #[command(flatten)]
        out: OutArg,
        /// Which failures make the exit code 1: any claim, or only guaranteed bounds
        /// (theorems). Paper claims that fail are printed either way.
        #[arg(long, value_enum, default_value = "any")]
        fail_on: FailOn,
    },
    /// Exact Gauss-Newton spectrum and every applicable bound for YOUR network, read from a
    /// safetensors file (weights as PyTorch's state_dict of the bias-free nn.Sequential, plus
    /// the inputs as a tensor `X` of shape n×d; f32 or f64). Prints to stdout, writes nothing.
    Spectrum {
        /// The safetensors file.
        file: PathBuf,
        /// Architecture: linear (`0.weight`, `1.weight`, …), residual (same, with --beta),
        /// relu (`0.weight`, `2.weight`, with --alpha), cnn (Conv1d weights, then the head after
        /// Flatten), batchnorm (`0.weight`, `1.weight`, `1.bias`, `2.weight`), resnet (CIFAR-style
        /// names `conv1.weight`, `layer1.0.bn1.bias`, …, `linear.weight`; batch statistics).
        #[arg(long, value_enum)]
        arch: external::Arch,
        /// Residual scale β (every layer is W + βI); required with --arch residual.
        #[arg(long)]
        beta: Option<f64>,
        /// Negative slope α of the leaky ReLU (0 = ReLU, 1 = linear).
        #[arg(long, default_value_t = 0.0)]
        alpha: f64,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Regenerate the quick profile in a scratch folder and compare it with the committed
    /// references in tests/golden. Exit 1 on any difference, naming experiment, column and
    /// point.
    ///
    /// What is compared: every artifact the references' manifest lists must exist in both;
    /// every CSV cell must agree (numbers to 1e-9 relative, text exactly) with rows and
    /// columns in the same order; every SVG must be byte-identical. On any difference the
    /// diff folder gets index.md and a self-contained index.html (one row per experiment:
    /// verdict, changed cells per column, largest relative change, links), <id>/cells.csv
    /// (row, column, reference, now, relative change) and <id>/<id>.png (reference | now |
    /// difference, both SVGs rasterised, changed pixels red with a halo). Nothing is written
    /// when everything matches.
    Check {
        /// Folder with the reference outputs.
        #[arg(long, default_value = "tests/golden")]
        golden: PathBuf,
        /// Profile the references were made with.
        #[arg(long, default_value = "quick")]
        profile: String,
        #[command(flatten)]
        jobs: JobsArg,
        /// Scratch folder to regenerate into (default: a new folder under the system temp dir).
        #[arg(long)]
        scratch: Option<PathBuf>,
        /// Where the diff report goes when something differs (replaced each time).
        #[arg(long, default_value = "out/check-diff")]
        diff_dir: PathBuf,
    },
}

/// `gncond data …`.
#[derive(Subcommand)]
pub enum DataAction {
    /// Download, verify (MD5) and unpack into DIR/mnist or DIR/cifar10, atomically: a
    /// truncated or altered download is refused and nothing is left behind. An installed
    /// dataset is not downloaded again.
    Fetch {
        /// mnist, cifar10 or all.
        #[arg(value_enum, default_value = "all")]
        dataset: FetchWhat,
        #[command(flatten)]
        data: DataDirArg,
        /// Base URL of a mirror holding the same files (checksums are still the published
        /// ones), e.g. a local copy: http://host/path.
        #[arg(long)]
        mirror: Option<String>,
    },
    /// Which datasets are installed, where, their checksums, and which data each experiment
    /// of a profile will use.
    Info {
        #[command(flatten)]
        data: DataDirArg,
        #[command(flatten)]
        profile: ProfileArg,
    },
}

/// What `data fetch` downloads.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FetchWhat {
    Mnist,
    Cifar10,
    All,
}

/// Which failed claims make `gncond verify` exit 1.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// Any failed claim, guaranteed or from the paper.
    Any,
    /// Only a violated guaranteed bound (a theorem).
    Guaranteed,
}

/// Run one parsed command line.
pub fn dispatch(cli: Cli) -> Result<()> {
    messages::set_quiet(cli.quiet);
    let data_dir = |d: DataDirArg| official::data_dir(d.data_dir.as_deref()).0;
    match cli.command {
        Command::List {
            profile,
            cache,
            recalibrate,
        } => {
            let profile = plan::load_profile(&profile.profile)?;
            let speed = crate::calibrate::speed(&cache.cache_dir, recalibrate)?;
            print!("{}", plan::list_table(&profile, &speed));
            Ok(())
        }
        Command::Run {
            ids,
            profile,
            jobs,
            out,
            cache,
            no_cache,
            data,
            shard,
        } => pipeline::run(&pipeline::RunOptions {
            ids,
            profile: plan::load_profile(&profile.profile)?,
            out: out.out,
            jobs: jobs.jobs,
            cache_dir: (!no_cache).then_some(cache.cache_dir),
            data_dir: data_dir(data),
            mode: shard.map_or(pipeline::RunMode::Full, pipeline::RunMode::Shard),
        }),
        Command::Merge {
            ids,
            profile,
            out,
            cache,
            data,
        } => pipeline::run(&pipeline::RunOptions {
            ids,
            profile: plan::load_profile(&profile.profile)?,
            out: out.out,
            jobs: 1,
            cache_dir: Some(cache.cache_dir),
            data_dir: data_dir(data),
            mode: pipeline::RunMode::Merge,
        }),
        Command::Data {
            action:
                DataAction::Fetch {
                    dataset,
                    data,
                    mirror,
                },
        } => {
            let sets: &[Dataset] = match dataset {
                FetchWhat::Mnist => &[Dataset::Mnist],
                FetchWhat::Cifar10 => &[Dataset::Cifar10],
                FetchWhat::All => &[Dataset::Mnist, Dataset::Cifar10],
            };
            official::fetch_datasets(&data_dir(data), sets, mirror.as_deref())
        }
        Command::Data {
            action: DataAction::Info { data, profile },
        } => {
            let profile = plan::load_profile(&profile.profile)?;
            let users = plan::data_users(&profile);
            print!(
                "{}",
                official::info(data.data_dir.as_deref(), profile.data, &users)?
            );
            Ok(())
        }
        Command::Report { out } => {
            let path = report::render(&out.out)?;
            messages::notice(format!(
                "report: wrote {} and {} (make pdf compiles the LaTeX)",
                path.display(),
                path.with_extension("tex").display()
            ));
            Ok(())
        }
        Command::Verify { out, fail_on } => verify::verify(
            &out.out,
            match fail_on {
                FailOn::Any => verify::FailOn::Any,
                FailOn::Guaranteed => verify::FailOn::Guaranteed,
            },
        ),
        Command::Spectrum {
            file,
            arch,
            beta,
            alpha,
            json,
        } => {
            let report = external::analyse(&file, arch, beta, alpha)?;
            if json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.to_text());
            }
            Ok(())
        }
        Command::Check {
            golden,
            profile,
            jobs,
            scratch,
            diff_dir,
        } => check::check(
            &golden,
            &plan::load_profile(&profile)?,
            jobs.jobs,
            scratch,
            &diff_dir,
        ),
    }
}
