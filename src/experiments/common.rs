//! What the experiments share: data preparation, point parameters, grouping into curves.

use crate::bounds::{self, PartialSingularValues};
use crate::data::{self, Images, SecondMoment};
use crate::gn;
use crate::nets::DeepLinear;
use crate::pipeline::Point;
use crate::table::{self, Row};
use crate::verify::{Claim, ClaimKind};
use crate::Result;
use polars::prelude::DataFrame;

/// Number of outputs (MNIST and CIFAR-10 classes).
pub const K: usize = 10;

/// The data of a configuration: the first n images, subsampled `img[::f, ::f]`, optionally
/// whitened. Returns Σ and the numerical rank of the raw (unwhitened) data.
pub fn prepare(images: &Images, n: usize, f: usize, whiten: bool) -> Result<(SecondMoment, usize)> {
    let x = data::design_matrix(images, n, f)?;
    if whiten {
        let (xw, raw_rank) = data::whiten(&x)?;
        Ok((SecondMoment::of(&xw)?, raw_rank))
    } else {
        let m = SecondMoment::of(&x)?;
        let rank = m.rank;
        Ok((m, rank))
    }
}

/// How a figure title names the data of a result table (its `data` column): the dataset, and
/// for an experiment the paper ran on CIFAR-10, that CIFAR-10 was absent when MNIST stands in.
pub fn data_label(df: &DataFrame, wants: data::Want, gray: bool) -> Result<String> {
    let id = table::str_values(df, "data")?
        .into_iter()
        .next()
        .unwrap_or_default();
    Ok(match (id.as_str(), wants) {
        ("cifar10-official", _) if gray => "CIFAR-10 grayscale (official)".into(),
        ("cifar10-official", _) => "CIFAR-10 (official)".into(),
        ("mnist-official", data::Want::Cifar10) => "MNIST (official; CIFAR-10 absent)".into(),
        ("mnist-official", _) => "MNIST (official)".into(),
        (_, data::Want::Cifar10) => "embedded MNIST (CIFAR-10 absent)".into(),
        _ => "embedded MNIST".into(),
    })
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
) -> Result<crate::plot::Panel> {
    let series = curves(df, group, "epoch", value)?
        .into_iter()
        .enumerate()
        .map(|(i, (g, points))| crate::plot::Series {
            markers_only: false,
            label: label(&g),
            color: i,
            dashed: false,
            band: true,
            fit: true,
            points,
        })
        .collect();
    Ok(crate::plot::Panel {
        title: title.into(),
        x_label: "epoch".into(),
        y_label: y_label.into(),
        log_x: false,
        log_y,
        integer_x: true,
        legend_lower: !log_y,
        series,
    })
}

/// A point's parameter parsed as a number (the pipeline wrote it, so it parses).
pub fn param<T: std::str::FromStr>(point: &Point, key: &str) -> T {
    let v = &point
        .params
        .iter()
        .find(|(n, _)| *n == key)
        .unwrap_or_else(|| panic!("point has no parameter {key}"))
        .1;
    v.parse()
        .unwrap_or_else(|_| panic!("parameter {key} = {v} does not parse"))
}

/// A point's parameter as text.
pub fn param_str<'a>(point: &'a Point, key: &str) -> &'a str {
    &point
        .params
        .iter()
        .find(|(n, _)| *n == key)
        .unwrap_or_else(|| panic!("point has no parameter {key}"))
        .1
}

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

/// True when the means of a curve strictly increase along x.
pub fn increasing(c: &Curve) -> bool {
    c.len() > 1 && c.windows(2).all(|w| w[1].1 > w[0].1)
}

/// Spearman's rank correlation between x and the mean along a curve: the trend claims use
/// it, so that one noisy step does not decide a qualitative claim.
pub fn trend(c: &Curve) -> f64 {
    let x: Vec<f64> = c.iter().map(|p| p.0).collect();
    let y: Vec<f64> = c.iter().map(|p| p.1).collect();
    crate::verify::spearman(&x, &y)
}

/// `a→b` of a curve's first and last mean, for evidence strings.
pub fn span(c: &Curve) -> String {
    match (c.first(), c.last()) {
        (Some(a), Some(b)) => format!("{}→{}", crate::report::sig(a.1), crate::report::sig(b.1)),
        _ => "–".into(),
    }
}

/// The largest ratio `value / bound` over rows, with the row index (for bound checks).
pub fn worst_ratio(value: &[f64], bound: &[f64]) -> (f64, usize) {
    (0..value.len())
        .map(|i| (value[i] / bound[i], i))
        .fold((0.0, 0), |a, b| if b.0 > a.0 { b } else { a })
}

/// Relative slack for "bound ≥ κ": the rounding of two independent eigen/singular-value
/// computations, not a tolerance on the theorem.
pub const BOUND_SLACK: f64 = 1e-9;

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

/// Layer sizes `[d, m × h, k]` of a network with h hidden layers of width m.
pub fn dims(d: usize, width: usize, depth: usize) -> Vec<usize> {
    let mut dims = vec![d];
    dims.extend(std::iter::repeat_n(width, depth));
    dims.push(K);
    dims
}

/// Claim: `bound` ≥ `kappa` on every row (up to `BOUND_SLACK`), with the worst ratio as
/// evidence, naming the row by `label`.
pub fn bound_claim(
    id: &str,
    statement: &str,
    kappa: &[f64],
    bound: &[f64],
    label: impl Fn(usize) -> String,
) -> Claim {
    let (worst, at) = worst_ratio(kappa, bound);
    Claim {
        id: id.into(),
        kind: ClaimKind::Guaranteed,
        statement: statement.into(),
        pass: kappa
            .iter()
            .zip(bound)
            .all(|(k, b)| *k <= b * (1.0 + BOUND_SLACK)),
        evidence: format!(
            "max ratio = {worst:.12} at {} over {} points (slack {BOUND_SLACK:e})",
            label(at),
            kappa.len()
        ),
    }
}

/// The grid points of a configuration: the cartesian product of `axes` (first axis
/// outermost), each combination repeated for `seeds` replicates; `params` turns one
/// combination into the point's parameters, in the order that seeds its generator.
pub fn grid<F>(axes: &[Vec<String>], seeds: usize, params: F) -> Vec<Point>
where
    F: Fn(&[&str]) -> Vec<(&'static str, String)>,
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
            let p = params(c);
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

/// An experiment's configuration as JSON, for the manifest.
pub fn config_json<T: serde::Serialize>(c: Option<&T>) -> Option<serde_json::Value> {
    c.map(|c| serde_json::to_value(c).expect("config serialises"))
}
