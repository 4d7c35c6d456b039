//! The `gncond` command line: parse, call the library, map errors to exit codes
//! (0 ok, 1 a failed check or claim, 2 bad input).

use clap::{Parser, Subcommand};
use gncond::config::Profile;
use gncond::data::official;
use gncond::{check, experiments, pipeline, report, verify, Error};
use std::path::PathBuf;

/// Reproduce the figures and tables of "Theoretical characterisation of the Gauss-Newton
/// conditioning in Neural Networks" (Zhao, Singh, Lucchi, NeurIPS 2024), exactly and
/// deterministically: offline on embedded real MNIST data, or on the official MNIST and
/// CIFAR-10 after `gncond data fetch`.
#[derive(Parser)]
#[command(name = "gncond", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum DataAction {
    /// Download, verify (MD5) and unpack into DIR/mnist or DIR/cifar10, atomically: a
    /// truncated or altered download is refused and nothing is left behind. An installed
    /// dataset is not downloaded again.
    Fetch {
        /// mnist, cifar10 or all.
        #[arg(value_enum, default_value = "all")]
        dataset: FetchWhat,
        /// Data folder (else $GNCOND_DATA_DIR, else .gncond-data).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Base URL of a mirror holding the same files (checksums are still the published
        /// ones), e.g. a local copy: http://host/path.
        #[arg(long)]
        mirror: Option<String>,
    },
    /// Which datasets are installed, where, their checksums, and which data each experiment
    /// of a profile will use.
    Info {
        /// Data folder (else $GNCOND_DATA_DIR, else .gncond-data).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Profile whose data policy applies.
        #[arg(long, default_value = "default")]
        profile: String,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum FetchWhat {
    Mnist,
    Cifar10,
    All,
}

#[derive(Subcommand)]
enum Command {
    /// List every experiment: its paper figure, what it shows, and its cost in a profile.
    List {
        /// Profile whose grid sizes to estimate: quick, default, paper or a path to a .toml.
        #[arg(long, default_value = "default")]
        profile: String,
    },
    /// Compute experiments and write OUT/figures/<id>.svg|png, OUT/figures/data/<id>.csv and
    /// OUT/figures/manifest.json (with the SHA-256 of every artifact).
    ///
    /// Points come from the content-hash cache when nothing they depend on changed; the run
    /// says how many were cached and why the others were recomputed. Nothing is written when
    /// the input is bad.
    Run {
        /// Experiment ids (see `gncond list`); none means every experiment of the profile.
        ids: Vec<String>,
        /// quick, default, paper (profiles/<name>.toml) or a path to a profile .toml.
        #[arg(long, default_value = "default")]
        profile: String,
        /// Worker threads (points run in parallel; results do not depend on this).
        #[arg(long, default_value_t = default_jobs())]
        jobs: usize,
        /// Output folder (figures/ and report/ are written inside it).
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Cache folder for computed points.
        #[arg(long, default_value = ".gncond-cache")]
        cache_dir: PathBuf,
        /// Recompute every point and leave the cache alone.
        #[arg(long)]
        no_cache: bool,
        /// Folder of official datasets from `gncond data fetch` (else $GNCOND_DATA_DIR, else
        /// .gncond-data). Used when present unless the profile says `data = "embedded"`.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Compute only slice K of N (1 ≤ K ≤ N) of the profile's points, balanced by
        /// estimated cost, into --cache-dir (shared by all shards, e.g. on a cluster), and
        /// record it there; no figures are written. Then `gncond merge`.
        #[arg(long, value_name = "K/N")]
        shard: Option<gncond::shard::ShardSpec>,
    },
    /// Assemble figures, CSVs and manifest from the cache once every `run --shard K/N` has
    /// finished: refuses, naming them, if shards or points are missing or a shard is
    /// duplicated. The outputs are byte-identical to a single-machine `gncond run`.
    Merge {
        /// Experiment ids (as given to the shards); none means every experiment of the profile.
        ids: Vec<String>,
        /// The profile the shards ran.
        #[arg(long, default_value = "default")]
        profile: String,
        /// Output folder (figures/ is written inside it).
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// The cache folder the shards wrote into.
        #[arg(long, default_value = ".gncond-cache")]
        cache_dir: PathBuf,
        /// Data folder, as for `run` (the data checksum is part of every cache key).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Official datasets: fetch MNIST and CIFAR-10 (published checksums verified), or show
    /// what is installed and which data each experiment will use.
    Data {
        #[command(subcommand)]
        action: DataAction,
    },
    /// Render OUT/report/report.md and report.tex (LaTeX; `make pdf` compiles it) from the results in OUT (figures, tables, claims, provenance).
    Report {
        /// Folder holding figures/ from `gncond run`.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Check every guaranteed bound and paper claim on the results in OUT; print PASS/FAIL with
    /// the evidence. Exit 1 if any fails.
    Verify {
        /// Folder holding figures/ from `gncond run`.
        #[arg(long, default_value = ".")]
        out: PathBuf,
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
        arch: gncond::external::Arch,
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
    /// references in tests/golden (numbers to 1e-9 relative, SVGs byte for byte). Exit 1 on
    /// any difference, naming experiment, column and point.
    Check {
        /// Folder with the reference outputs.
        #[arg(long, default_value = "tests/golden")]
        golden: PathBuf,
        /// Profile the references were made with.
        #[arg(long, default_value = "quick")]
        profile: String,
        /// Worker threads.
        #[arg(long, default_value_t = default_jobs())]
        jobs: usize,
        /// Scratch folder to regenerate into (default: a new folder under the system temp dir).
        #[arg(long)]
        scratch: Option<PathBuf>,
    },
}

/// Which failed claims make `gncond verify` exit 1.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum FailOn {
    /// Any failed claim, guaranteed or from the paper.
    Any,
    /// Only a violated guaranteed bound (a theorem).
    Guaranteed,
}

fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = dispatch(cli.command) {
        eprintln!("gncond: {e}");
        std::process::exit(e.exit_code());
    }
}

fn dispatch(command: Command) -> Result<(), Error> {
    match command {
        Command::List { profile } => {
            let profile = Profile::load(&profile)?;
            let rows: Vec<[String; 4]> = experiments::registry()
                .into_iter()
                .map(|e| {
                    [
                        e.id().to_string(),
                        e.paper_ref().to_string(),
                        e.cost_hint(&profile).to_string(),
                        e.title().to_string(),
                    ]
                })
                .collect();
            let header = [
                "id".to_string(),
                "paper".to_string(),
                format!("cost ({} profile)", profile.name),
                "what it shows".to_string(),
            ];
            let width = |c: usize| {
                rows.iter()
                    .chain(std::iter::once(&header))
                    .map(|r| r[c].chars().count())
                    .max()
                    .unwrap_or(0)
            };
            let (w0, w1, w2) = (width(0), width(1), width(2));
            for r in std::iter::once(&header).chain(&rows) {
                println!("{:<w0$}  {:<w1$}  {:<w2$}  {}", r[0], r[1], r[2], r[3]);
            }
            Ok(())
        }
        Command::Run {
            ids,
            profile,
            jobs,
            out,
            cache_dir,
            no_cache,
            data_dir,
            shard,
        } => pipeline::run(&pipeline::RunOptions {
            ids,
            profile: Profile::load(&profile)?,
            out,
            jobs,
            cache_dir: (!no_cache).then_some(cache_dir),
            data_dir: official::data_dir(data_dir.as_deref()).0,
            mode: shard.map_or(pipeline::RunMode::Full, pipeline::RunMode::Shard),
        }),
        Command::Merge {
            ids,
            profile,
            out,
            cache_dir,
            data_dir,
        } => pipeline::run(&pipeline::RunOptions {
            ids,
            profile: Profile::load(&profile)?,
            out,
            jobs: 1,
            cache_dir: Some(cache_dir),
            data_dir: official::data_dir(data_dir.as_deref()).0,
            mode: pipeline::RunMode::Merge,
        }),
        Command::Data {
            action:
                DataAction::Fetch {
                    dataset,
                    data_dir,
                    mirror,
                },
        } => {
            let (dir, _) = official::data_dir(data_dir.as_deref());
            let sets = match dataset {
                FetchWhat::Mnist => vec![official::Dataset::Mnist],
                FetchWhat::Cifar10 => vec![official::Dataset::Cifar10],
                FetchWhat::All => vec![official::Dataset::Mnist, official::Dataset::Cifar10],
            };
            for ds in sets {
                if official::is_installed(&dir, ds) {
                    eprintln!(
                        "data: {} already installed in {}",
                        ds.name(),
                        dir.join(ds.name()).display()
                    );
                    continue;
                }
                let mut catalog = official::Catalog::official(ds);
                if let Some(m) = &mirror {
                    catalog = catalog.with_mirror(m);
                }
                let folder = official::fetch(&catalog, &dir, true)?;
                eprintln!(
                    "data: {} verified and installed in {}",
                    ds.name(),
                    folder.display()
                );
            }
            Ok(())
        }
        Command::Data {
            action: DataAction::Info { data_dir, profile },
        } => {
            let profile = Profile::load(&profile)?;
            let exps: Vec<(&str, official::Want)> = experiments::registry()
                .into_iter()
                .filter(|e| e.config_json(&profile).is_some() && e.reads_data())
                .map(|e| (e.id(), e.wants()))
                .collect();
            print!(
                "{}",
                official::info(data_dir.as_deref(), profile.data, &exps)?
            );
            Ok(())
        }
        Command::Report { out } => {
            let path = report::render(&out)?;
            eprintln!(
                "report: wrote {} and {} (make pdf compiles the LaTeX)",
                path.display(),
                path.with_extension("tex").display()
            );
            Ok(())
        }
        Command::Verify { out, fail_on } => {
            let claims = verify::claims_in(&out)?;
            let failed = claims.iter().filter(|c| !c.pass).count();
            let theorems = claims
                .iter()
                .filter(|c| !c.pass && c.kind == verify::ClaimKind::Guaranteed)
                .count();
            for c in &claims {
                println!("{} {:?} {}: {}", c.verdict(), c.kind, c.id, c.statement);
                println!("     evidence: {}", c.evidence);
            }
            println!("{} passed, {} failed", claims.len() - failed, failed);
            if theorems > 0 {
                Err(Error::CheckFailed(format!(
                    "verify: {theorems} guaranteed bound(s) violated: a bug to find"
                )))
            } else if failed > 0 && fail_on == FailOn::Any {
                Err(Error::CheckFailed(format!(
                    "verify: {failed} claim(s) failed"
                )))
            } else {
                if failed > 0 {
                    eprintln!(
                        "verify: {failed} claim(s) of the paper not reproduced on these results (see the report)"
                    );
                }
                Ok(())
            }
        }
        Command::Spectrum {
            file,
            arch,
            beta,
            alpha,
            json,
        } => {
            let report = gncond::external::analyse(&file, arch, beta, alpha)?;
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
        } => check::check(&golden, &Profile::load(&profile)?, jobs, scratch),
    }
}
