//! `tight-vs-loose` (Fig. 3): κ(G_O), B-convex and B-loose versus width for one hidden layer.

use super::kit::{self, axis, cols, one_curve, param, Params};
use crate::claims::Claim;
use crate::experiment::{Definition, Job, SummaryTable};
use crate::format::{mean_std, sig};
use crate::plot::{Figure, Panel, Series};
use crate::runner::Point;
use crate::table::Row;
use crate::Result;
use polars::prelude::DataFrame;

/// The experiment.
pub struct TightVsLoose;

impl Definition for TightVsLoose {
    type Config = Config;
    const ID: &'static str = "tight-vs-loose";
    const PAPER: &'static str = "Fig. 3";
    const TITLE: &'static str = "κ(G_O), B-convex and B-loose vs width, one hidden layer";
    const DESCRIPTION: &'static str = "The paper compares its convex-combination bound B-convex \
         with the looser B-loose, which takes the worst layer instead of a weighted average, for \
         a network with one hidden layer. On whitened data B-convex is exact for one hidden \
         layer; B-loose is orders of magnitude above it, most of all when the width is close \
         to d.";

    fn points(c: &Config) -> Vec<Point> {
        kit::grid(&[axis(&c.widths)], c.seeds, |v| {
            Params::data(c.data()).with("width", v[0])
        })
    }

    fn seconds(_: &Config, points: &[Point]) -> f64 {
        kit::seconds_for(
            points
                .iter()
                .map(|p| kit::linear_work(param(p, "width"), 1))
                .sum(),
        )
    }

    fn run(c: &Config, job: &Job) -> Result<Vec<Row>> {
        kit::run_linear(job, c.data(), |point| {
            let width: usize = param(point, "width");
            (Row::new().int("depth", 1).int("width", width), width, 1)
        })
    }

    fn figure(df: &DataFrame) -> Result<Figure> {
        let one = |col: &str| one_curve(df, "depth", "width", col);
        let series = vec![
            Series::measured("κ(G_O)", 0, one("kappa")?),
            Series::bound("B-convex", 1, one("b_convex")?),
            Series::bound("B-loose", 2, one("b_loose")?),
        ];
        Ok(Figure::new(
            format!("One hidden layer, {}", kit::data_phrase(df)?),
            vec![Panel::new(
                "hidden width m (log scale)",
                "κ(G_O) and its upper bounds (log scale)",
            )
            .log_x()
            .log_y()
            .with(series)],
        ))
    }

    fn summary(df: &DataFrame) -> Result<SummaryTable> {
        let one = |col: &str| one_curve(df, "depth", "width", col);
        let (k, c, l) = (one("kappa")?, one("b_convex")?, one("b_loose")?);
        let rows = (0..k.len().min(c.len()).min(l.len()))
            .map(|i| {
                vec![
                    format!("{}", k[i].0),
                    mean_std(k[i].1, k[i].2),
                    sig(c[i].1),
                    sig(l[i].1),
                    format!("{:.3e}", l[i].1 / c[i].1),
                ]
            })
            .collect();
        Ok(SummaryTable::new(
            "Means over seeds.",
            &["m", "κ", "B-convex", "B-loose", "B-loose / B-convex"],
            rows,
        ))
    }

    fn claims(df: &DataFrame) -> Result<Vec<Claim>> {
        let mut claims = kit::linear_bound_claims(Self::ID, df, "width")?;
        let convex = cols::B_CONVEX.of(df)?;
        let loose = cols::B_LOOSE.of(df)?;
        let logs: Vec<f64> = convex
            .iter()
            .zip(&loose)
            .map(|(c, l)| (l / c).log10())
            .collect();
        let geo = 10f64.powf(logs.iter().sum::<f64>() / logs.len() as f64);
        let min = logs.iter().copied().fold(f64::INFINITY, f64::min);
        claims.push(Claim::paper(
            "tight-vs-loose/b-convex-far-tighter",
            "B-convex is far tighter than B-loose: their ratio is at least 2 on geometric \
             average over all points",
            geo >= 2.0,
            format!(
                "geometric mean B-loose/B-convex = {}, smallest = {}",
                sig(geo),
                sig(10f64.powf(min))
            ),
        ));
        Ok(claims)
    }
}

crate::config! {
    /// Its table in a profile.
    pub struct Config [data] {
        widths: Vec<usize> => positive_list,
        seeds: usize => at_least_one,
    }
}
