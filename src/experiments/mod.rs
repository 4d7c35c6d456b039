//! The experiment registry: one module per figure or table of the paper (PAPER.md §6).

pub mod batchnorm;
pub mod cnn;
pub mod common;
pub mod depth_width;
pub mod kaiming_table;
pub mod partial_products;
pub mod pruning;
pub mod relu;
pub mod residual;
pub mod spectrum_rank;
pub mod tight_vs_loose;
pub mod training_dynamics;
pub mod whitening;
pub mod width_scaling;
pub mod width_training;

use crate::config::Profile;
use crate::pipeline::{Point, RunContext};
use crate::plot::Figure;
use crate::table::Row;
use crate::verify::Claim;
use crate::Result;
use polars::prelude::DataFrame;

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
    fn wants(&self) -> crate::data::Want {
        crate::data::Want::Mnist
    }
    /// False for experiments that read no data set (weights only, or Σ = I exactly).
    fn reads_data(&self) -> bool {
        true
    }
    /// The profile's configuration of this experiment as JSON, or None if it does not run it.
    fn config_json(&self, profile: &Profile) -> Option<serde_json::Value>;
    /// The grid points the profile asks for (empty if it does not configure this experiment).
    fn points(&self, profile: &Profile) -> Vec<Point>;
    /// Rough cost of the profile's grid on this machine, for `gncond list` and for
    /// balancing `--shard` slices.
    fn cost_hint(&self, profile: &Profile) -> Cost;
    /// Relative cost of one point within this experiment (the experiment's estimated seconds
    /// are shared out in proportion): by default m² · depth from the point's `width` and
    /// `depth` parameters where it has them, else 1.
    fn point_weight(&self, point: &Point) -> f64 {
        let num = |k: &str| {
            point
                .params
                .iter()
                .find(|(n, _)| *n == k)
                .and_then(|(_, v)| v.parse::<f64>().ok())
        };
        num("width").map_or(1.0, |m| m * m) * num("depth").unwrap_or(1.0)
    }
    /// Compute every point (through the context's cache and thread pool).
    fn run(&self, profile: &Profile, ctx: &RunContext) -> Result<Vec<Row>>;
    /// The figure drawn from the result table.
    fn figure(&self, df: &DataFrame) -> Result<Figure>;
    /// The key numbers for the report.
    fn summary(&self, df: &DataFrame) -> Result<SummaryTable>;
    /// The claims this experiment's table supports, evaluated.
    fn claims(&self, df: &DataFrame) -> Result<Vec<Claim>>;
}

/// Every experiment, in the order of the paper.
pub fn registry() -> Vec<&'static dyn Experiment> {
    vec![
        &depth_width::DepthWidth,
        &width_scaling::WidthScaling,
        &tight_vs_loose::TightVsLoose,
        &kaiming_table::KaimingTable,
        &residual::Residual,
        &partial_products::PartialProducts,
        &whitening::Whitening,
        &cnn::Cnn,
        &relu::Relu,
        &batchnorm::BatchNorm,
        &training_dynamics::TrainingDynamics,
        &width_training::WidthTraining,
        &pruning::Pruning,
        &spectrum_rank::SpectrumRank,
    ]
}

/// Find an experiment by id.
pub fn find(id: &str) -> Option<&'static dyn Experiment> {
    registry().into_iter().find(|e| e.id() == id)
}

/// Relative paths of an experiment's artifacts under an output folder.
pub fn csv_path(id: &str) -> String {
    format!("figures/data/{id}.csv")
}

/// Relative path of the SVG figure.
pub fn svg_path(id: &str) -> String {
    format!("figures/{id}.svg")
}

/// Relative path of the PNG figure.
pub fn png_path(id: &str) -> String {
    format!("figures/{id}.png")
}
