//! What an experiment is, to the rest of gncond.
//!
//! An experiment file defines one type implementing [`Definition`]: its configuration type
//! (read from the profile, validated), its grid, how one point is computed, and the figure,
//! summary table and claims drawn from its result table. The generic [`Typed`] adapter turns
//! a definition into the object-safe [`Experiment`] that the registry lists and the pipeline,
//! report and claims ledger use, supplying what every experiment would otherwise repeat:
//! config lookup, `config_json`, the grid, the cost line, the cache and thread pool.

use crate::claims::Claim;
use crate::config::{Profile, Validate};
use crate::data::{DataSource, Images, Want};
use crate::plot::Figure;
use crate::runner::{Point, RunContext};
use crate::seed::{self, PointRng};
use crate::table::Row;
use crate::{Error, Result};
use polars::prelude::DataFrame;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::marker::PhantomData;

/// The estimated cost of an experiment's grid in a profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cost {
    /// Grid points (0: the profile does not configure the experiment).
    pub points: usize,
    /// Estimated seconds on one core of this machine.
    pub seconds: f64,
}

impl Cost {
    /// An experiment the profile does not run.
    pub const NONE: Cost = Cost {
        points: 0,
        seconds: 0.0,
    };
}

impl std::fmt::Display for Cost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.points == 0 {
            write!(f, "not in this profile")
        } else {
            write!(
                f,
                "{} points, ~{:.0} s on 1 core",
                self.points, self.seconds
            )
        }
    }
}

/// A table for the report: a header and rows of preformatted cells.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SummaryTable {
    pub caption: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl SummaryTable {
    /// A table with a caption and header cells.
    pub fn new(caption: &str, header: &[&str], rows: Vec<Vec<String>>) -> SummaryTable {
        SummaryTable {
            caption: caption.into(),
            header: header.iter().map(|h| h.to_string()).collect(),
            rows,
        }
    }
}

/// What every experiment provides to the pipeline, the report and the claims ledger.
pub trait Experiment: Sync {
    /// Stable id, used in file names and on the command line.
    fn id(&self) -> &'static str;
    /// Where it is in the paper (`Fig. 2a`).
    fn paper_ref(&self) -> &'static str;
    /// One line: what it shows.
    fn title(&self) -> &'static str;
    /// What the paper shows and how we compute it, for the report (Markdown).
    fn description(&self) -> &'static str;
    /// The data the paper ran this experiment on (MNIST unless said otherwise).
    fn wants(&self) -> Want;
    /// False for experiments that read no data set (weights only, or Σ = I exactly).
    fn reads_data(&self) -> bool;
    /// Check the profile's table of this experiment (if any): types, keys and values.
    fn validate(&self, profile: &Profile) -> Result<()>;
    /// The profile's configuration of this experiment as JSON, or None if it does not run it.
    fn config_json(&self, profile: &Profile) -> Option<serde_json::Value>;
    /// The grid points the profile asks for (empty if it does not configure this experiment).
    fn points(&self, profile: &Profile) -> Vec<Point>;
    /// Rough cost of the profile's grid on this machine, for `gncond list` and for
    /// balancing `--shard` slices.
    fn cost_hint(&self, profile: &Profile) -> Cost;
    /// Relative cost of one point within this experiment (the experiment's estimated seconds
    /// are shared out in proportion).
    fn point_weight(&self, point: &Point) -> f64;
    /// Compute every point (through the context's cache and thread pool).
    fn run(&self, profile: &Profile, ctx: &RunContext) -> Result<Vec<Row>>;
    /// The figure drawn from the result table.
    fn figure(&self, df: &DataFrame) -> Result<Figure>;
    /// The key numbers for the report.
    fn summary(&self, df: &DataFrame) -> Result<SummaryTable>;
    /// The claims this experiment's table supports, evaluated.
    fn claims(&self, df: &DataFrame) -> Result<Vec<Claim>>;
}

/// One experiment, as its file defines it.
pub trait Definition: Sync + 'static {
    /// The experiment's table in a profile (unknown keys refused by serde).
    type Config: DeserializeOwned + Serialize + Validate + Sync;
    /// Stable id, used in file names, the profile and on the command line.
    const ID: &'static str;
    /// Where it is in the paper.
    const PAPER: &'static str;
    /// One line: what it shows.
    const TITLE: &'static str;
    /// What the paper shows and how we compute it (Markdown, for the report).
    const DESCRIPTION: &'static str;
    /// The data the paper ran it on.
    const WANTS: Want = Want::Mnist;
    /// False for experiments that read no data set.
    const READS_DATA: bool = true;

    /// The grid: every point's parameters, in the order that seeds its generator.
    fn points(c: &Self::Config) -> Vec<Point>;
    /// Estimated seconds of the whole grid on one core.
    fn seconds(c: &Self::Config, points: &[Point]) -> f64;
    /// Relative cost of one point: by default m² · depth from the point's `width` and
    /// `depth` parameters where it has them, else 1.
    fn point_weight(point: &Point) -> f64 {
        let num = |k: &str| point.get(k).and_then(|v| v.parse::<f64>().ok());
        num("width").map_or(1.0, |m| m * m) * num("depth").unwrap_or(1.0)
    }
    /// Compute the grid's rows (through `job.compute`).
    fn run(c: &Self::Config, job: &Job) -> Result<Vec<Row>>;
    /// The figure drawn from the result table.
    fn figure(df: &DataFrame) -> Result<Figure>;
    /// The key numbers for the report.
    fn summary(df: &DataFrame) -> Result<SummaryTable>;
    /// The claims the result table supports.
    fn claims(df: &DataFrame) -> Result<Vec<Claim>>;
}

/// One experiment's run: its grid, the run's data and the context's cache and thread pool.
pub struct Job<'a> {
    id: &'static str,
    wants: Want,
    points: Vec<Point>,
    ctx: &'a RunContext,
}

impl Job<'_> {
    /// The images the run's data policy picks for this experiment.
    pub fn images(&self) -> Result<&Images> {
        self.ctx.data(self.wants)
    }

    /// The generator `point` would have without the parameters `shared`: points that differ
    /// only in those draw the same numbers (the same initial weights and minibatch order, a
    /// paired design whose initialisations a trend claim resamples together).
    pub fn paired_rng(&self, point: &Point, shared: &[&str]) -> PointRng {
        seed::paired_rng(
            self.ctx.master_seed,
            self.id,
            &point.params,
            shared,
            point.replicate,
        )
    }

    /// Compute every grid point on data `source` (its checksum keys the cache): `point`
    /// gives a point's rows from its parameters and its own generator.
    pub fn compute<F>(&self, source: &DataSource, point: F) -> Result<Vec<Row>>
    where
        F: Fn(&Point, &mut PointRng) -> Result<Vec<Row>> + Sync,
    {
        self.ctx
            .compute_points(self.id, &self.points, source, point)
    }
}

/// The [`Experiment`] of a [`Definition`].
pub struct Typed<D>(PhantomData<D>);

impl<D> Typed<D> {
    /// The adapter (a constant, so the registry can hold `&'static` references).
    pub const NEW: Typed<D> = Typed(PhantomData);
}

impl<D: Definition> Typed<D> {
    /// The profile's configuration, if it runs this experiment and the table is valid.
    fn config(&self, profile: &Profile) -> Option<D::Config> {
        profile.section::<D::Config>(D::ID).ok().flatten()
    }
}

impl<D: Definition> Experiment for Typed<D> {
    fn id(&self) -> &'static str {
        D::ID
    }
    fn paper_ref(&self) -> &'static str {
        D::PAPER
    }
    fn title(&self) -> &'static str {
        D::TITLE
    }
    fn description(&self) -> &'static str {
        D::DESCRIPTION
    }
    fn wants(&self) -> Want {
        D::WANTS
    }
    fn reads_data(&self) -> bool {
        D::READS_DATA
    }
    fn validate(&self, profile: &Profile) -> Result<()> {
        match profile.section::<D::Config>(D::ID)? {
            None => Ok(()),
            Some(c) => c
                .validate(&profile.check(D::ID))
                .map_err(|msg| Error::Config {
                    file: profile.source.clone(),
                    msg,
                }),
        }
    }
    fn config_json(&self, profile: &Profile) -> Option<serde_json::Value> {
        self.config(profile)
            .map(|c| serde_json::to_value(c).expect("a configuration serialises"))
    }
    fn points(&self, profile: &Profile) -> Vec<Point> {
        self.config(profile)
            .map(|c| D::points(&c))
            .unwrap_or_default()
    }
    fn cost_hint(&self, profile: &Profile) -> Cost {
        match self.config(profile) {
            None => Cost::NONE,
            Some(c) => {
                let points = D::points(&c);
                Cost {
                    points: points.len(),
                    seconds: D::seconds(&c, &points),
                }
            }
        }
    }
    fn point_weight(&self, point: &Point) -> f64 {
        D::point_weight(point)
    }
    fn run(&self, profile: &Profile, ctx: &RunContext) -> Result<Vec<Row>> {
        let c = profile.section::<D::Config>(D::ID)?.ok_or_else(|| {
            Error::Input(format!(
                "{} does not configure experiment '{}'",
                profile.source,
                D::ID
            ))
        })?;
        let job = Job {
            id: D::ID,
            wants: D::WANTS,
            points: D::points(&c),
            ctx,
        };
        D::run(&c, &job)
    }
    fn figure(&self, df: &DataFrame) -> Result<Figure> {
        D::figure(df)
    }
    fn summary(&self, df: &DataFrame) -> Result<SummaryTable> {
        D::summary(df)
    }
    fn claims(&self, df: &DataFrame) -> Result<Vec<Claim>> {
        D::claims(df)
    }
}
