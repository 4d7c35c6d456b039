//! What the experiments share: data preparation, grid parameters, grouping rows into curves,
//! the deep-linear point and its claims, cost estimates, and typed column access.

use crate::bounds::{self, PartialSingularValues};
use crate::claims::{bound_claim, spearman, Claim};
use crate::config::DataSpec;
use crate::data::{self, Images, SecondMoment, Want};
use crate::experiment::{Job, SummaryTable};
use crate::format::{mean_std, sig};
use crate::gn;
use crate::nets::DeepLinear;
use crate::plot::{Panel, Series};
use crate::runner::Point;
use crate::table::{self, Row};
use crate::train::{Loss, Schedule};
use crate::Result;
use nalgebra::DMatrix;
use polars::prelude::DataFrame;
use std::marker::PhantomData;

/// Number of outputs (MNIST and CIFAR-10 classes).
pub const K: usize = 10;

// ---------------------------------------------------------------------------------------
// typed columns

/// A column of a result table, with the type its cells hold.
pub struct Col<T>(&'static str, PhantomData<T>);

/// A cell type that can be read from a result table.
pub trait CellType: Sized {
    /// Every cell of column `name`.
    fn read(df: &DataFrame, name: &str) -> Result<Vec<Self>>;
}

macro_rules! cell_type {
    ($($t:ty => $read:path),*) => {$(
        impl CellType for $t {
            fn read(df: &DataFrame, name: &str) -> Result<Vec<$t>> {
                $read(df, name)
            }
        }
    )*};
}

cell_type!(f64 => table::f64_col, i64 => table::i64_col, String => table::str_values);

impl<T: CellType> Col<T> {
    /// The column named `name`.
    pub const fn new(name: &'static str) -> Col<T> {
        Col(name, PhantomData)
    }

    /// Its name in the CSV.
    pub fn name(&self) -> &'static str {
        self.0
    }

    /// Every cell.
    pub fn of(&self, df: &DataFrame) -> Result<Vec<T>> {
        T::read(df, self.0)
    }

    /// The first cell (for columns constant over the table, like d or n).
    pub fn first(&self, df: &DataFrame) -> Result<Option<T>> {
        Ok(self.of(df)?.into_iter().next())
    }
}

/// The columns every experiment of one family shares.
pub mod cols {
    use super::Col;
    pub const KAPPA: Col<f64> = Col::new("kappa");
    pub const B_CONVEX: Col<f64> = Col::new("b_convex");
    pub const B_LOOSE: Col<f64> = Col::new("b_loose");
    pub const LOSS: Col<f64> = Col::new("loss");
    pub const DEPTH: Col<i64> = Col::new("depth");
    pub const WIDTH: Col<i64> = Col::new("width");
    pub const SEED: Col<i64> = Col::new("seed");
    pub const EPOCH: Col<i64> = Col::new("epoch");
    pub const HIDDEN: Col<i64> = Col::new("hidden");
    pub const D: Col<i64> = Col::new("d");
    pub const N: Col<i64> = Col::new("n");
    pub const WHITEN: Col<String> = Col::new("whiten");
    pub const DATA: Col<String> = Col::new("data");
}

/// The first value of an integer column (0 for an empty table).
pub fn first_int(df: &DataFrame, col: &Col<i64>) -> Result<i64> {
    Ok(col.first(df)?.unwrap_or(0))
}

/// True when the table's rows were computed on whitened inputs.
pub fn whitened(df: &DataFrame) -> Result<bool> {
    Ok(cols::WHITEN.first(df)?.is_some_and(|w| w == "true"))
}

// ---------------------------------------------------------------------------------------
// data

/// The data of a configuration: the first n images, subsampled `img[::f, ::f]`, optionally
/// whitened. Returns Σ and the numerical rank of the raw (unwhitened) data.
pub fn prepare(images: &Images, spec: DataSpec) -> Result<(SecondMoment, usize)> {
    let prepared = Inputs::load(images, spec)?;
    Ok((prepared.moment, prepared.data_rank))
}

/// The inputs of an experiment that needs X itself (not only Σ): the first n images
/// subsampled (and whitened if asked), their second moment, the raw data's rank, the labels.
pub struct Inputs {
    pub x: DMatrix<f64>,
    pub moment: SecondMoment,
    pub data_rank: usize,
    pub labels: Vec<u8>,
    /// Whether `x` was whitened, and the data set's id (for [`Inputs::columns`]).
    pub whiten: bool,
    pub source: String,
}

impl Inputs {
    /// All channels of the images (`data::design_matrix`).
    pub fn load(images: &Images, spec: DataSpec) -> Result<Inputs> {
        Inputs::from_raw(
            images,
            spec,
            data::design_matrix(images, spec.n, spec.downsample)?,
        )
    }

    /// Grayscale, the mean of the channels (`data::design_matrix_gray`).
    pub fn load_gray(images: &Images, spec: DataSpec) -> Result<Inputs> {
        let raw = data::design_matrix_gray(images, spec.n, spec.downsample)?;
        Inputs::from_raw(images, spec, raw)
    }

    fn from_raw(images: &Images, spec: DataSpec, raw: DMatrix<f64>) -> Result<Inputs> {
        let (x, data_rank) = if spec.whiten {
            data::whiten(&raw)?
        } else {
            let rank = SecondMoment::of(&raw)?.rank;
            (raw, rank)
        };
        Ok(Inputs {
            moment: SecondMoment::of(&x)?,
            x,
            data_rank,
            labels: images.labels[..spec.n].to_vec(),
            whiten: spec.whiten,
            source: images.source.id.clone(),
        })
    }

    /// The columns that say which data a row was computed on (see [`data_columns`]).
    pub fn columns(&self, row: Row) -> Row {
        data_columns(row, &self.moment, self.data_rank, self.whiten, &self.source)
    }
}

/// How [`run_on`] prepares the inputs from the run's images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channels {
    /// Every channel (`data::design_matrix`).
    All,
    /// The mean of the channels (`data::design_matrix_gray`).
    Gray,
}

/// Compute a grid on the inputs `spec` describes: `point(p, rng, inputs)` gives one point's
/// rows.
pub fn run_on<F>(job: &Job, spec: DataSpec, channels: Channels, point: F) -> Result<Vec<Row>>
where
    F: Fn(&Point, &mut crate::seed::PointRng, &Inputs) -> Result<Vec<Row>> + Sync,
{
    let images = job.images()?;
    let inputs = match channels {
        Channels::All => Inputs::load(images, spec)?,
        Channels::Gray => Inputs::load_gray(images, spec)?,
    };
    job.compute(&images.source, |p, rng| point(p, rng, &inputs))
}

/// How a figure title names the data of a result table (its `data` column): the dataset, and
/// for an experiment the paper ran on CIFAR-10, that CIFAR-10 was absent when MNIST stands in.
pub fn data_label(df: &DataFrame, wants: Want, gray: bool) -> Result<String> {
    let id = cols::DATA.first(df)?.unwrap_or_default();
    Ok(match (id.as_str(), wants) {
        ("cifar10-official", _) if gray => "CIFAR-10 grayscale (official)".into(),
        ("cifar10-official", _) => "CIFAR-10 (official)".into(),
        ("mnist-official", Want::Cifar10) => "MNIST (official; CIFAR-10 absent)".into(),
        ("mnist-official", _) => "MNIST (official)".into(),
        (_, Want::Cifar10) => "embedded MNIST (CIFAR-10 absent)".into(),
        _ => "embedded MNIST".into(),
    })
}

/// "whitened MNIST (d = 49, n = 1000, k = 10)" for titles, from a result table.
pub fn data_phrase(df: &DataFrame) -> Result<String> {
    Ok(format!(
        "{} MNIST (d = {}, n = {}, k = {K})",
        if whitened(df)? { "whitened" } else { "raw" },
        first_int(df, &cols::D)?,
        first_int(df, &cols::N)?
    ))
}

/// The columns that say which data a row was computed on: d, n, k, the raw data's rank,
/// whether it was whitened, and the data set's id.
pub fn data_columns(
    row: Row,
    moment: &SecondMoment,
    data_rank: usize,
    whiten: bool,
    data: &str,
) -> Row {
    row.int("d", moment.d)
        .int("n", moment.n)
        .int("k", K)
        .int("data_rank", data_rank)
        .text("whiten", if whiten { "true" } else { "false" })
        .text("data", data)
}

// ---------------------------------------------------------------------------------------
// grids

/// A point's parameters in the order that seeds its generator.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(Vec<(&'static str, String)>);

impl Params {
    /// No parameters yet.
    pub fn new() -> Params {
        Params::default()
    }

    /// `n`, `downsample` and `whiten`, the data parameters most points start with.
    pub fn data(spec: DataSpec) -> Params {
        Params::new()
            .with("n", spec.n)
            .with("downsample", spec.downsample)
            .with("whiten", spec.whiten)
    }

    /// One more parameter.
    pub fn with(mut self, key: &'static str, value: impl ToString) -> Params {
        self.0.push((key, value.to_string()));
        self
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The (key, value) pairs in order.
    pub fn pairs(&self) -> &[(&'static str, String)] {
        &self.0
    }

    /// Parameters from (key, value) pairs.
    pub fn from_pairs(pairs: Vec<(&'static str, String)>) -> Params {
        Params(pairs)
    }
}

/// One point with these parameters and replicate index.
pub fn point(params: Params, replicate: u64) -> Point {
    Point {
        params: params.0,
        replicate,
    }
}

/// The grid points of a configuration: the cartesian product of `axes` (first axis
/// outermost), each combination repeated for `seeds` replicates; `params` turns one
/// combination into the point's parameters, in the order that seeds its generator.
pub fn grid<F>(axes: &[Vec<String>], seeds: usize, params: F) -> Vec<Point>
where
    F: Fn(&[&str]) -> Params,
{
    let mut combos: Vec<Vec<&str>> = vec![Vec::new()];
    for axis in axes {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                axis.iter().map(move |v| {
                    let mut c = c.clone();
                    c.push(v.as_str());
                    c
                })
            })
            .collect();
    }
    combos
        .iter()
        .flat_map(|c| {
            let p = params(c).0;
            (0..seeds as u64).map(move |replicate| Point {
                params: p.clone(),
                replicate,
            })
        })
        .collect()
}

/// Values as the texts a grid axis holds.
pub fn axis<T: ToString>(values: &[T]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

/// A point's parameter parsed as a number (the grid wrote it, so it parses).
pub fn param<T: std::str::FromStr>(point: &Point, key: &str) -> T {
    let v = param_str(point, key);
    v.parse()
        .unwrap_or_else(|_| panic!("parameter {key} = {v} does not parse"))
}

/// A point's parameter as text.
pub fn param_str<'a>(point: &'a Point, key: &str) -> &'a str {
    point
        .get(key)
        .unwrap_or_else(|| panic!("point has no parameter {key}"))
}

// ---------------------------------------------------------------------------------------
// curves

/// One curve of mean ± std over seeds: (x, mean, std) in increasing x.
pub type Curve = Vec<(f64, f64, f64)>;

/// Group rows by the text of column `group` (first-appearance order), then average column
/// `value` over rows sharing the same `x`. NaN marks "not computed at this row" (the κ
/// columns of training rows between checkpoints) and is skipped.
pub fn curves(df: &DataFrame, group: &str, x: &str, value: &str) -> Result<Vec<(String, Curve)>> {
    let groups = table::str_values(df, group)?;
    let xs = table::f64_col(df, x)?;
    let vs = table::f64_col(df, value)?;
    let mut order: Vec<String> = Vec::new();
    for g in &groups {
        if !order.contains(g) {
            order.push(g.clone());
        }
    }
    Ok(order
        .into_iter()
        .map(|g| {
            let idx: Vec<usize> = (0..groups.len())
                .filter(|&i| groups[i] == g && !vs[i].is_nan())
                .collect();
            let keys: Vec<u64> = idx.iter().map(|&i| xs[i].to_bits()).collect();
            let vals: Vec<f64> = idx.iter().map(|&i| vs[i]).collect();
            let mut curve: Curve = table::mean_std_by(&keys, &vals)
                .into_iter()
                .map(|(k, m, s)| (f64::from_bits(k), m, s))
                .collect();
            curve.sort_by(|a, b| a.0.total_cmp(&b.0));
            (g, curve)
        })
        .collect())
}

/// The curve of the first group (for tables with one group).
pub fn one_curve(df: &DataFrame, group: &str, x: &str, value: &str) -> Result<Curve> {
    Ok(curves(df, group, x, value)?
        .into_iter()
        .next()
        .map(|g| g.1)
        .unwrap_or_default())
}

/// The curve of group `name` (empty if absent).
pub fn find_curve(curves: &[(String, Curve)], name: &str) -> Curve {
    curves
        .iter()
        .find(|(n, _)| n == name)
        .map(|c| c.1.clone())
        .unwrap_or_default()
}

/// Per group (its value as x): the mean ± std of `value` at the first epoch.
pub fn at_first_epoch(df: &DataFrame, group: &str, value: &str) -> Result<Curve> {
    at_epoch(df, group, value, |c| c.first())
}

/// Per group (its value as x): the mean ± std of `value` at the last epoch.
pub fn at_last_epoch(df: &DataFrame, group: &str, value: &str) -> Result<Curve> {
    at_epoch(df, group, value, |c| c.last())
}

fn at_epoch(
    df: &DataFrame,
    group: &str,
    value: &str,
    pick: fn(&Curve) -> Option<&(f64, f64, f64)>,
) -> Result<Curve> {
    Ok(curves(df, group, "epoch", value)?
        .into_iter()
        .filter_map(|(g, c)| pick(&c).map(|p| (g.parse().unwrap_or(f64::NAN), p.1, p.2)))
        .collect())
}

/// `{prefix}x: mean, …` for evidence strings.
pub fn listing(c: &Curve, prefix: &str) -> String {
    c.iter()
        .map(|p| format!("{prefix}{}: {}", p.0, sig(p.1)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// κ (solid, banded) and its bound (dashed) per group, one colour per group, labelled by
/// `label(group)` = (κ label, bound label).
pub fn kappa_and_bound(
    kappa: Vec<(String, Curve)>,
    bound: Vec<(String, Curve)>,
    label: impl Fn(&str) -> (String, String),
) -> Vec<Series> {
    let mut series = Vec::new();
    for (i, ((g, k), (_, b))) in kappa.into_iter().zip(bound).enumerate() {
        let (lk, lb) = label(&g);
        series.push(Series::measured(lk, i, k));
        series.push(Series::bound(lb, i, b));
    }
    series
}

/// True when the means of a curve strictly increase along x.
pub fn increasing(c: &Curve) -> bool {
    c.len() > 1 && c.windows(2).all(|w| w[1].1 > w[0].1)
}

/// Spearman's rank correlation between x and the mean along a curve: the trend claims use
/// it, so that one noisy step does not decide a qualitative claim.
pub fn trend(c: &Curve) -> f64 {
    let x: Vec<f64> = c.iter().map(|p| p.0).collect();
    let y: Vec<f64> = c.iter().map(|p| p.1).collect();
    spearman(&x, &y)
}

/// `a→b` of a curve's first and last mean, for evidence strings.
pub fn span(c: &Curve) -> String {
    match (c.first(), c.last()) {
        (Some(a), Some(b)) => format!("{}→{}", sig(a.1), sig(b.1)),
        _ => "–".into(),
    }
}

/// `g1: a→b (ρ = r); g2: …` for the trend of every curve, labelled `{prefix}{group}`.
pub fn trend_evidence(curves: &[(String, Curve)], prefix: &str) -> String {
    curves
        .iter()
        .map(|(g, c)| format!("{prefix}{g}: {} (ρ = {:.2})", span(c), trend(c)))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A group's value as a label: numbers in their shortest form (`0`, `0.5`), text as it is.
pub fn label(value: &str) -> String {
    value
        .parse::<f64>()
        .map_or_else(|_| value.to_string(), |v| v.to_string())
}

/// `items` joined by `; ` (evidence strings).
pub fn joined<T>(items: impl IntoIterator<Item = T>, f: impl Fn(T) -> String) -> String {
    items.into_iter().map(f).collect::<Vec<_>>().join("; ")
}

/// One panel of a training figure: column `value` versus epoch, one banded curve per value of
/// column `group` (labelled by `label`), linear y for losses (legend lower left, where
/// decreasing curves leave room) or log y for κ.
pub fn epoch_panel(
    df: &DataFrame,
    group: &str,
    value: &str,
    title: &str,
    y_label: &str,
    log_y: bool,
    label: impl Fn(&str) -> String,
) -> Result<Panel> {
    let series = curves(df, group, "epoch", value)?
        .into_iter()
        .enumerate()
        .map(|(i, (g, points))| Series::measured(label(&g), i, points))
        .collect();
    let panel = Panel::new("epoch", y_label).titled(title).with(series);
    Ok(if log_y {
        panel.log_y()
    } else {
        panel.legend_lower()
    })
}

// ---------------------------------------------------------------------------------------
// deep linear networks

/// κ(G_O) by the Kronecker route, B-convex, B-loose and the spectrum summary of one deep
/// linear (or residual) network on data with second moment `moment`, appended to `row`.
pub fn linear_point(row: Row, net: &DeepLinear, moment: &SecondMoment) -> Result<Row> {
    let pp = net.partial_products();
    let spec = gn::kronecker_linear(&pp, moment)?;
    let sv = PartialSingularValues::of(&pp)?;
    let s = spec.spectrum;
    Ok(row
        .int("p", net.num_params())
        .float("kappa", s.kappa)
        .float("b_convex", bounds::b_convex(&sv, moment.kappa))
        .float("b_loose", bounds::b_loose(&sv, moment.kappa))
        .float("lambda_max", s.lambda_max)
        .float("lambda_min_nonzero", s.lambda_min_nonzero)
        .int("rank", s.rank)
        .int("rank_theory", spec.rank_theory.unwrap_or(0))
        .float("rank_threshold", s.threshold)
        .float("kappa_sigma", moment.kappa)
        .text("route", spec.route.as_str()))
}

/// Run a grid of Kaiming-initialised deep linear networks on the data `spec` describes:
/// `shape(point)` gives the row's leading columns (the seed is added) and the network's
/// (width, depth); the rest of the row is [`linear_point`].
pub fn run_linear<F>(job: &Job, spec: DataSpec, shape: F) -> Result<Vec<Row>>
where
    F: Fn(&Point) -> (Row, usize, usize) + Sync,
{
    let images = job.images()?;
    let (moment, data_rank) = prepare(images, spec)?;
    job.compute(&images.source, |point, rng| {
        let (row, width, depth) = shape(point);
        let row = row.int("seed", point.replicate as usize);
        let row = data_columns(row, &moment, data_rank, spec.whiten, &images.source.id);
        let net = DeepLinear::kaiming(&dims(moment.d, width, depth), rng);
        Ok(vec![linear_point(row, &net, &moment)?])
    })
}

/// Layer sizes `[d, m × h, k]` of a network with h hidden layers of width m.
pub fn dims(d: usize, width: usize, depth: usize) -> Vec<usize> {
    let mut dims = vec![d];
    dims.extend(std::iter::repeat_n(width, depth));
    dims.push(K);
    dims
}

/// κ(G_O) by the Kronecker route, B-convex, B-loose and the spectrum of a deep linear network
/// at a training checkpoint.
pub struct LinearCheckpoint {
    pub kappa: f64,
    pub b_convex: f64,
    pub b_loose: f64,
    pub lambda_max: f64,
    pub lambda_min_nonzero: f64,
    pub rank: usize,
}

impl LinearCheckpoint {
    /// The checkpoint of `net` on data with second moment `moment`.
    pub fn of(net: &DeepLinear, moment: &SecondMoment) -> Result<LinearCheckpoint> {
        let pp = net.partial_products();
        let spec = gn::kronecker_linear(&pp, moment)?.spectrum;
        let sv = PartialSingularValues::of(&pp)?;
        Ok(LinearCheckpoint {
            kappa: spec.kappa,
            b_convex: bounds::b_convex(&sv, moment.kappa),
            b_loose: bounds::b_loose(&sv, moment.kappa),
            lambda_max: spec.lambda_max,
            lambda_min_nonzero: spec.lambda_min_nonzero,
            rank: spec.rank,
        })
    }

    /// Its columns; NaN for rows between checkpoints (skipped by the curves and claims).
    pub fn columns(row: Row, c: Option<&LinearCheckpoint>) -> Row {
        let nan = f64::NAN;
        row.float("kappa", c.map_or(nan, |c| c.kappa))
            .float("b_convex", c.map_or(nan, |c| c.b_convex))
            .float("b_loose", c.map_or(nan, |c| c.b_loose))
            .float("lambda_max", c.map_or(nan, |c| c.lambda_max))
            .float(
                "lambda_min_nonzero",
                c.map_or(nan, |c| c.lambda_min_nonzero),
            )
            .float("rank", c.map_or(nan, |c| c.rank as f64))
    }
}

/// Rows with a κ value (the checkpoints), as indices.
pub fn checkpoint_rows(df: &DataFrame) -> Result<Vec<usize>> {
    let kappa = cols::KAPPA.of(df)?;
    Ok((0..kappa.len()).filter(|&i| !kappa[i].is_nan()).collect())
}

/// Plain minibatch SGD on the mean-squared error (no momentum, no weight decay), κ at
/// `checkpoints`: the recipe of the deep-linear training experiments.
pub fn sgd_mse(epochs: usize, batch: usize, lr: f64, checkpoints: Vec<usize>) -> Schedule {
    Schedule {
        epochs,
        batch,
        lr,
        momentum: 0.0,
        weight_decay: 0.0,
        loss: Loss::Mse,
        checkpoints,
    }
}

/// Up to `count` indices spread evenly over `0..len`, first and last included.
pub fn spread(len: usize, count: usize) -> Vec<usize> {
    if len <= count {
        return (0..len).collect();
    }
    let mut v: Vec<usize> = (0..count).map(|j| j * (len - 1) / (count - 1)).collect();
    v.dedup();
    v
}

/// The axes of every κ-versus-depth figure.
pub fn depth_panel() -> Panel {
    Panel::new(
        "depth h = number of hidden layers (L = h + 1 weight matrices)",
        "condition number κ(G_O) (log scale)",
    )
    .log_y()
}

/// A table of mean ± std κ (mean B-convex) with one row per depth and one column per value
/// of `group`, headed `{prefix}{value}`.
pub fn depth_table(df: &DataFrame, group: &str, prefix: &str) -> Result<SummaryTable> {
    let kappa = curves(df, group, "depth", "kappa")?;
    let bound = curves(df, group, "depth", "b_convex")?;
    let mut header = vec!["h".to_string()];
    header.extend(
        kappa
            .iter()
            .map(|(g, _)| format!("{prefix}{g}: κ (B-convex)")),
    );
    let depths: Vec<f64> = kappa
        .first()
        .map(|(_, c)| c.iter().map(|p| p.0).collect())
        .unwrap_or_default();
    let rows = depths
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let mut row = vec![format!("{h}")];
            for ((_, k), (_, b)) in kappa.iter().zip(&bound) {
                row.push(match (k.get(i), b.get(i)) {
                    (Some(k), Some(b)) => format!("{} ({})", mean_std(k.1, k.2), sig(b.1)),
                    _ => "–".into(),
                });
            }
            row
        })
        .collect();
    Ok(SummaryTable {
        caption: "Mean ± std of κ over seeds, mean B-convex in brackets.".into(),
        header,
        rows,
    })
}

/// The guaranteed claims of every deep linear table: B-convex ≥ κ, B-loose ≥ B-convex, and
/// B-convex = κ for one hidden layer on whitened data.
pub fn linear_bound_claims(id: &str, df: &DataFrame, group: &str) -> Result<Vec<Claim>> {
    let kappa = cols::KAPPA.of(df)?;
    let convex = cols::B_CONVEX.of(df)?;
    let loose = cols::B_LOOSE.of(df)?;
    let depth = cols::DEPTH.of(df)?;
    let groups = table::str_values(df, group)?;
    let seed = cols::SEED.of(df)?;
    let whiten = cols::WHITEN.of(df)?;
    let label = |i: usize| format!("h={} {group}={} seed={}", depth[i], groups[i], seed[i]);
    let mut claims = vec![
        bound_claim(
            &format!("{id}/b-convex-holds"),
            "B-convex ≥ κ(G_O) on every point",
            &kappa,
            &convex,
            label,
        ),
        bound_claim(
            &format!("{id}/b-loose-above-b-convex"),
            "B-loose ≥ B-convex on every point",
            &convex,
            &loose,
            label,
        ),
    ];
    let one: Vec<usize> = (0..kappa.len())
        .filter(|&i| depth[i] == 1 && whiten[i] == "true")
        .collect();
    if !one.is_empty() {
        let err = one
            .iter()
            .map(|&i| ((convex[i] - kappa[i]) / kappa[i]).abs())
            .fold(0.0, f64::max);
        claims.push(Claim::guaranteed(
            &format!("{id}/b-convex-exact-one-hidden"),
            "B-convex equals κ for one hidden layer on whitened data",
            err <= 1e-9,
            format!(
                "max |B-convex − κ|/κ = {err:.2e} over {} points (tolerance 1e-9)",
                one.len()
            ),
        ));
    }
    Ok(claims)
}

// ---------------------------------------------------------------------------------------
// two-layer (leaky) ReLU points

/// The grid of the two-layer ReLU experiments: slope α × hidden width, `seeds` initialisations.
pub fn relu_points(alphas: &[f64], widths: &[usize], seeds: usize, data: DataSpec) -> Vec<Point> {
    let axes = [axis(alphas), axis(widths)];
    grid(&axes, seeds, |v| {
        Params::data(data).with("alpha", v[0]).with("width", v[1])
    })
}

/// One two-layer ReLU point's network (Kaiming, slope α, width m on the inputs' d) and the
/// start of its row (α, width, seed and the data columns).
pub fn relu_point(
    point: &Point,
    rng: &mut crate::seed::PointRng,
    data: &Inputs,
) -> (f64, crate::nets::TwoLayer, Row) {
    let (alpha, width): (f64, usize) = (param(point, "alpha"), param(point, "width"));
    let net = crate::nets::TwoLayer::kaiming(data.moment.d, width, K, alpha, rng);
    let row = Row::new()
        .text("alpha", &alpha.to_string())
        .int("width", width)
        .int("seed", point.replicate as usize);
    (alpha, net, data.columns(row))
}

/// Seconds of the two-layer ReLU points: the nk×nk Gram matrix (`(nk)² m`) and its eigensolve,
/// `spectra` of them per point.
pub fn relu_seconds(n: usize, points: &[Point], spectra: f64) -> f64 {
    let nk = n * K;
    seconds_for(
        points
            .iter()
            .map(|p| spectra * (gram_work(nk, param::<f64>(p, "width")) + eigen_work(nk)))
            .sum(),
    )
}

/// A ReLU panel's title: `α = 0 (ReLU)`, `α = 1 (linear)`, else `α = <value>`.
pub fn alpha_title(alpha: &str) -> String {
    let alpha = label(alpha);
    let name = match alpha.as_str() {
        "0" => " (ReLU)",
        "1" => " (linear)",
        _ => "",
    };
    format!("α = {alpha}{name}")
}

// ---------------------------------------------------------------------------------------
// costs

/// Rough flops of one deep linear point: the partial products cost h m² (d + k).
pub fn linear_work(m: usize, h: usize) -> f64 {
    (h as f64) * (m * m) as f64 * 60.0 + 2e6
}

/// The work (in the units of [`seconds_for`]) of a Gram matrix `M Mᵀ` with `rows` rows and
/// inner dimension `inner`: `rows² · inner` flops as a triangular product at ≈ 50 Gflop/s per
/// core.
pub fn gram_work(rows: usize, inner: f64) -> f64 {
    (rows * rows) as f64 * inner * 1.5 / 50.0
}

/// The work (in the units of [`seconds_for`]) of the eigenvalues of a symmetric matrix of
/// order `order`: `4/3 order³` flops at ≈ 18 Gflop/s per core in the two-stage solver
/// (`linalg::TWO_STAGE_MIN_ORDER` on), ≈ 8 below it (faer's). Measured with `--jobs 1` on
/// single paper-size points: ReLU n = 500, m = 2000 (order 5000) 11.9 s, n ≤ d with n = 300
/// (two spectra of order 3000) 6.0 s, batch norm n = 1000, m = 512 (order 10 000) 134 s;
/// these formulas give 11.3, 5.7 and 137.
pub fn eigen_work(order: usize) -> f64 {
    let rate = if order >= crate::linalg::TWO_STAGE_MIN_ORDER {
        18.0
    } else {
        8.0
    };
    4.0 / 3.0 * (order as f64).powi(3) * 1.5 / rate
}

/// Seconds on one core for a flop count (≈1.5 Gflop/s measured here), plus a second of
/// set-up.
pub fn seconds_for(flops: f64) -> f64 {
    1.0 + flops / 1.5e9
}

/// Rough cost of SGD on a deep linear net in the units of `seconds_for` (whose 1.5 Gflop/s
/// calibrates scalar loops): ~6 flops per parameter per sample per epoch, run by matrix
/// products about 18× faster (measured: 100 epochs, m = 500, h = 2, d = 49, n = 1000 in 6 s).
pub fn training_work(d: usize, m: usize, h: usize, n: usize, epochs: usize) -> f64 {
    let p = (d * m + (h.max(1) - 1) * m * m + m * K) as f64;
    6.0 * p * (n * epochs) as f64 / 18.0
}
