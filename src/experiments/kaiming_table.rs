//! `kaiming-table`: the high-probability bound B-kaiming for one hidden layer at Kaiming
//! initialisation against the empirical κ over many initialisations, on whitened data.
//!
//! With Σ = I exactly the spectrum depends on the data only through d, so the points use the
//! closed-form Kronecker sum `{λ_i(W₁ᵀW₁) + λ_j(W₂W₂ᵀ)}` (checked against the Kronecker route
//! and the explicit Jacobian in the tests).

use super::kit::{self, first_int, param, Col, Params};
use crate::bounds;
use crate::claims::Claim;
use crate::config::Check;
use crate::data::DataSource;
use crate::experiment::{Definition, Job, SummaryTable};
use crate::format::{mean_std, sig};
use crate::gn;
use crate::nets::init::kaiming_normal;
use crate::plot::{Figure, Panel, Series};
use crate::runner::Point;
use crate::table::Row;
use crate::Result;
use polars::prelude::DataFrame;

/// The experiment.
pub struct KaimingTable;

impl Definition for KaimingTable {
    type Config = Config;
    const ID: &'static str = "kaiming-table";
    const PAPER: &'static str = "Table (§ Kaiming)";
    const TITLE: &'static str =
        "B-kaiming vs the empirical κ over many Kaiming initialisations, one hidden layer";
    const DESCRIPTION: &'static str = "For one hidden layer of width m at Kaiming \
         initialisation, the paper bounds κ with high probability using the extreme singular \
         values of Gaussian matrices. We draw many initialisations per width and compare the \
         empirical mean, spread and the fraction of draws above the bound with the bound and \
         its probability level.";
    const READS_DATA: bool = false;

    fn points(c: &Config) -> Vec<Point> {
        kit::grid(&[kit::axis(&c.widths)], 1, |v| {
            Params::new()
                .with("d", c.d)
                .with("k", c.k)
                .with("inits", c.inits)
                .with("width", v[0])
        })
    }

    fn seconds(c: &Config, _: &[Point]) -> f64 {
        let draws: usize = c.widths.iter().map(|m| m * (c.d + c.k)).sum::<usize>() * c.inits;
        1.0 + draws as f64 / 2e7
    }

    fn run(c: &Config, job: &Job) -> Result<Vec<Row>> {
        // no data set is read: Σ = I is exact
        let source = DataSource {
            id: "whitened-identity".into(),
            description: "no data set: whitened inputs with Σ = I exactly (the spectrum \
                          depends on the data only through Σ)"
                .into(),
            sha256: crate::fsutil::sha256_hex(b"sigma=identity"),
        };
        job.compute(&source, |point, rng| {
            let m: usize = param(point, "width");
            let mut kappas = Vec::with_capacity(c.inits);
            for _ in 0..c.inits {
                let w1 = kaiming_normal(m, c.d, 1.0, rng);
                let w2 = kaiming_normal(c.k, m, 1.0, rng);
                kappas.push(gn::kronecker_sum_one_hidden(&w1, &w2, 1.0)?.spectrum.kappa);
            }
            let bound = bounds::b_kaiming(m, c.d, c.k, c.t, 1.0);
            let n = kappas.len() as f64;
            let mean = kappas.iter().sum::<f64>() / n;
            let std = (kappas.iter().map(|k| (k - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0))
                .sqrt();
            let above = kappas.iter().filter(|&&k| k > bound).count();
            Ok(vec![Row::new()
                .int("width", m)
                .int("seed", 0)
                .int("d", c.d)
                .int("k", c.k)
                .float("t", c.t)
                .int("inits", c.inits)
                .float("b_kaiming", bound)
                .float("probability", bounds::b_kaiming_probability(c.t))
                .float("kappa_mean", mean)
                .float("kappa_std", std)
                .float(
                    "kappa_min",
                    kappas.iter().copied().fold(f64::INFINITY, f64::min),
                )
                .float("kappa_max", kappas.iter().copied().fold(0.0, f64::max))
                .float("fraction_above_bound", above as f64 / n)
                .text("route", gn::Route::KroneckerSum.as_str())
                .text("data", &source.id)])
        })
    }

    fn figure(df: &DataFrame) -> Result<Figure> {
        let m = WIDTH.of(df)?;
        let pts = |v: &[f64], s: Option<&[f64]>| -> Vec<(f64, f64, f64)> {
            (0..m.len())
                .map(|i| (m[i], v[i], s.map(|s| s[i]).unwrap_or(0.0)))
                .collect()
        };
        let t = Col::<f64>::new("t").first(df)?.unwrap_or(0.0);
        let series = vec![
            Series::measured(
                "empirical κ, mean ± std",
                0,
                pts(&MEAN.of(df)?, Some(&STD.of(df)?)),
            ),
            Series::bound("empirical κ, max", 3, pts(&MAX.of(df)?, None)),
            Series::bound(
                format!("B-kaiming, t = {t} (finite where √m > √d + t)"),
                1,
                pts(&B_KAIMING.of(df)?, None),
            ),
        ];
        Ok(Figure::new(
            format!(
                "Kaiming init, one hidden layer, Σ = I (d = {}, k = {}, {} inits per width)",
                first_int(df, &kit::cols::D)?,
                first_int(df, &Col::new("k"))?,
                first_int(df, &Col::new("inits"))?
            ),
            vec![
                Panel::new("hidden width m (log scale)", "κ(G_O) (log scale)")
                    .log_x()
                    .log_y()
                    .with(series),
            ],
        ))
    }

    fn summary(df: &DataFrame) -> Result<SummaryTable> {
        let m = kit::cols::WIDTH.of(df)?;
        let (bound, mean, std) = (B_KAIMING.of(df)?, MEAN.of(df)?, STD.of(df)?);
        let (above, prob) = (ABOVE.of(df)?, PROBABILITY.of(df)?);
        let rows = (0..m.len())
            .map(|i| {
                vec![
                    m[i].to_string(),
                    sig(bound[i]),
                    mean_std(mean[i], std[i]),
                    format!("{:.4}", above[i]),
                    format!("{:.4}", prob[i]),
                ]
            })
            .collect();
        Ok(SummaryTable::new(
            "B-kaiming against the empirical κ; the bound holds with probability at least the \
             level shown, so at most 1 − level of the draws may exceed it.",
            &[
                "m",
                "B-kaiming",
                "empirical κ (mean ± std)",
                "fraction above bound",
                "probability level",
            ],
            rows,
        ))
    }

    fn claims(df: &DataFrame) -> Result<Vec<Claim>> {
        let m = kit::cols::WIDTH.of(df)?;
        let (bound, mean) = (B_KAIMING.of(df)?, MEAN.of(df)?);
        let (above, prob) = (ABOVE.of(df)?, PROBABILITY.of(df)?);
        let finite: Vec<usize> = (0..m.len()).filter(|&i| bound[i].is_finite()).collect();
        let allowed = 1.0 - prob.first().copied().unwrap_or(0.0);
        let worst = finite.iter().map(|&i| above[i]).fold(0.0, f64::max);
        Ok(vec![
            Claim::guaranteed(
                "kaiming-table/b-kaiming-probability",
                "At every width where B-kaiming is finite, the fraction of draws above it is at \
                 most 8 e^{−t²/2}",
                worst <= allowed && !finite.is_empty(),
                format!(
                    "largest fraction above = {worst:.4} over {} finite widths, allowed {allowed:.4}",
                    finite.len()
                ),
            ),
            Claim::paper(
                "kaiming-table/b-kaiming-above-mean",
                "B-kaiming is above the empirical mean κ wherever it is finite",
                finite.iter().all(|&i| bound[i] >= mean[i]) && !finite.is_empty(),
                kit::joined(&finite, |&i| {
                    format!("m={}: {} ≥ {}", m[i], sig(bound[i]), sig(mean[i]))
                }),
            )
            .with_ours(format!(
                "smallest B-kaiming / mean κ = {} over {} finite widths",
                sig(finite
                    .iter()
                    .map(|&i| bound[i] / mean[i])
                    .fold(f64::INFINITY, f64::min)),
                finite.len()
            )),
        ])
    }
}

crate::config! {
    /// Its table in a profile: one hidden layer on whitened data (Σ = I exactly, so only d
    /// matters, not the data's content).
    pub struct Config {
        d: usize => at_least_one,
        k: usize => at_least_one,
        /// The deviation t of the tail bound (probability ≥ 1 − 8 e^{−t²/2}).
        t: f64,
        widths: Vec<usize> => positive_list,
        /// Initialisations per width.
        inits: usize => at_least_one,
    }
    more deviation
}

fn deviation(c: &Config, check: &Check) -> std::result::Result<(), String> {
    if c.t.is_finite() && c.t >= 0.0 {
        Ok(())
    } else {
        check.fail("t", &format!("{} is impossible, use a number ≥ 0", c.t))
    }
}

const WIDTH: Col<f64> = Col::new("width");
const B_KAIMING: Col<f64> = Col::new("b_kaiming");
const MEAN: Col<f64> = Col::new("kappa_mean");
const STD: Col<f64> = Col::new("kappa_std");
const MAX: Col<f64> = Col::new("kappa_max");
const ABOVE: Col<f64> = Col::new("fraction_above_bound");
const PROBABILITY: Col<f64> = Col::new("probability");
