//! `residual` (Fig. 5): linear residual networks `W_ℓ + βI` against the plain deep linear
//! network, κ(G_O) and the bounds versus depth for several β.
//!
//! Each point draws one set of weights W and evaluates every β on it, so the comparison
//! between β values is paired.

use super::bootstrap::{worst, Rule, Trend};
use super::kit::{self, cols, curves, find_curve, param, Col, Params};
use crate::bounds;
use crate::claims::{count_above, Claim};
use crate::config::Check;
use crate::experiment::{Definition, Job, SummaryTable};
use crate::format::sig;
use crate::linalg;
use crate::nets::DeepLinear;
use crate::plot::{Figure, Panel, Series};
use crate::runner::Point;
use crate::table::Row;
use crate::{Error, Result};
use polars::prelude::DataFrame;

/// The experiment.
pub struct Residual;

impl Definition for Residual {
    type Config = Config;
    const ID: &'static str = "residual";
    const PAPER: &'static str = "Fig. 5";
    const TITLE: &'static str =
        "Skip connections: κ(G_O) and bounds vs depth for W + βI (linear residual)";
    const DESCRIPTION: &'static str = "The paper shows that skip connections improve the \
         conditioning of deep linear networks. Every layer becomes `W_ℓ + βI` (a rectangular \
         identity on the first and last layer); the network is then a deep linear network in \
         the shifted weights, so κ is exact by the Kronecker route and B-residual is B-convex \
         of the shifted products (column `b_convex`). The spectral-shift estimate (column \
         `b_spectral_shift`, dashed) assumes aligned singular vectors: it is not a theorem, and \
         where κ exceeds it the assumption fails, which is not counted as a violation.";

    fn points(c: &Config) -> Vec<Point> {
        kit::grid(&[kit::axis(&c.depths)], c.seeds, |v| {
            Params::data(c.data())
                .with("width", c.width)
                .with("betas", c.betas.join(","))
                .with("depth", v[0])
        })
    }

    fn seconds(c: &Config, points: &[Point]) -> f64 {
        kit::seconds_for(
            points
                .iter()
                .map(|p| kit::linear_work(c.width, param(p, "depth")) * c.betas.len() as f64)
                .sum(),
        )
    }

    fn run(c: &Config, job: &Job) -> Result<Vec<Row>> {
        let betas: Vec<Beta> = c
            .betas
            .iter()
            .map(|b| Beta::parse(b).map_err(Error::Input))
            .collect::<Result<_>>()?;
        let images = job.images()?;
        let (moment, data_rank) = kit::prepare(images, c.data())?;
        job.compute(&images.source, |point, rng| {
            let depth: usize = param(point, "depth");
            let base = DeepLinear::kaiming(&kit::dims(moment.d, c.width, depth), rng);
            let extremes: Vec<(f64, f64)> = base
                .weights
                .iter()
                .map(|w| {
                    let s = linalg::singular_values(w)?;
                    Ok((s[0], *s.last().expect("non-empty")))
                })
                .collect::<Result<_>>()?;
            let l = depth + 1;
            let mut rows = Vec::new();
            for (label, beta) in c.betas.iter().zip(&betas) {
                let b = beta.value(l);
                let row = Row::new()
                    .text("beta", label)
                    .int("depth", depth)
                    .int("width", c.width)
                    .int("seed", point.replicate as usize)
                    .float("beta_value", b);
                let row = kit::data_columns(row, &moment, data_rank, c.whiten, &images.source.id);
                let row = kit::linear_point(row, &base.residual(b), &moment)?;
                let shift = bounds::b_spectral_shift(&extremes, b, moment.kappa);
                rows.push(row.float("b_spectral_shift", shift));
            }
            Ok(rows)
        })
    }

    fn figure(df: &DataFrame) -> Result<Figure> {
        let kappa = curves(df, "beta", "depth", "kappa")?;
        let convex = curves(df, "beta", "depth", "b_convex")?;
        let shift = curves(df, "beta", "depth", "b_spectral_shift")?;
        let plain = kappa.first().map(|k| k.1.clone()).unwrap_or_default();
        let panels = kappa
            .iter()
            .zip(&convex)
            .zip(&shift)
            .map(|(((beta, k), (_, b)), (_, s))| {
                // the plain network is not drawn again in its own (β = 0) panel
                let plain = if *beta == kappa[0].0 {
                    Vec::new()
                } else {
                    plain.clone()
                };
                Panel::new("depth h (hidden layers; L = h + 1)", "κ(G_O) (log scale)")
                    .log_y()
                    .titled(format!("β = {beta}"))
                    .with(vec![
                        Series::measured(format!("κ, β = {beta}"), 0, k.clone()),
                        Series::bound("B-residual (B-convex of W + βI)", 1, b.clone()),
                        Series::bound(
                            "spectral shift (assumes aligned singular vectors; clipped)",
                            2,
                            s.clone(),
                        )
                        .clipped(),
                        Series::measured(format!("κ without skips (β = {})", kappa[0].0), 6, plain)
                            .no_band(),
                    ])
            })
            .collect();
        Ok(Figure::new(
            format!("Linear residual nets W + βI, {}", kit::data_phrase(df)?),
            panels,
        ))
    }

    fn summary(df: &DataFrame) -> Result<SummaryTable> {
        kit::depth_table(df, "beta", "β = ")
    }

    fn claims(df: &DataFrame) -> Result<Vec<Claim>> {
        let mut claims = kit::linear_bound_claims(Self::ID, df, "beta")?;
        let kappa = cols::KAPPA.of(df)?;
        let shift = Col::<f64>::new("b_spectral_shift").of(df)?;
        let beta = Col::<f64>::new("beta_value").of(df)?;
        // Informational only: the estimate is not a theorem. Recorded as a passing claim with
        // the count, so the report shows how often its assumption fails.
        claims.push(Claim::paper(
            "residual/spectral-shift-assumption",
            "The spectral-shift estimate is assumption-based: reported, not checked",
            true,
            format!(
                "κ exceeds it on {} of {} points",
                count_above(&kappa, &shift),
                kappa.len()
            ),
        ));
        // Paired: the same weights W with and without skips. The paper's claim is checked for
        // β = 1; the smaller β of the grid are reported beside it.
        let depth = cols::DEPTH.of(df)?;
        let seed = cols::SEED.of(df)?;
        let labels = Col::<String>::new("beta").of(df)?;
        let plain: Vec<usize> = (0..kappa.len()).filter(|&i| beta[i] == 0.0).collect();
        let paired = |label: &str| -> Vec<f64> {
            (0..kappa.len())
                .filter(|&i| labels[i] == label)
                .filter_map(|i| {
                    plain
                        .iter()
                        .find(|&&j| depth[j] == depth[i] && seed[j] == seed[i])
                        .map(|&j| kappa[i] / kappa[j])
                })
                .collect()
        };
        let kappa_curves = curves(df, "beta", "depth", "kappa")?;
        let plain_curve = kappa_curves
            .iter()
            .find(|(b, _)| Beta::parse(b).map(|v| v.value(2) == 0.0).unwrap_or(false));
        let mut ev = Vec::new();
        for (label, _) in kappa_curves.iter().filter(|(b, _)| b != "0") {
            let r = paired(label);
            if r.is_empty() {
                continue;
            }
            let geo = 10f64.powf(r.iter().map(|x| x.log10()).sum::<f64>() / r.len() as f64);
            let worse = r.iter().filter(|&&x| x >= 1.0).count();
            ev.push(format!(
                "β={label}: geometric mean κ(β)/κ(0) = {}, κ(β) ≥ κ(0) in {worse} of {} pairs",
                sig(geo),
                r.len()
            ));
        }
        let one = kappa_curves.iter().find(|(b, _)| b == "1");
        if plain_curve.is_some() && one.is_some() {
            // the same weights with and without skips share a seed: resampled together
            let lowers = |df: &DataFrame| -> Result<f64> {
                let k = curves(df, "beta", "depth", "kappa")?;
                let (plain, one) = (find_curve(&k, "0"), find_curve(&k, "1"));
                let r: Vec<f64> = plain.iter().zip(&one).map(|(a, b)| a.1 / b.1).collect();
                Ok(worst(&r, Rule::Above(1.0)))
            };
            claims.push(
                Trend {
                    id: "residual/skips-lower-kappa",
                    statement: "Skip connections lower κ: with β = 1, mean κ is below that of \
                                the same weights without skips at every depth",
                    keys: &["depth"],
                    rule: Rule::Above(1.0),
                    statistic: "smallest ratio κ(β = 0)/κ(β = 1) over depths",
                }
                .claim(df, lowers, ev.join("; "))?,
            );
        }
        Ok(claims)
    }
}

crate::config! {
    /// Its table in a profile.
    pub struct Config [data] {
        width: usize => at_least_one,
        depths: Vec<usize> => positive_list,
        /// β values: a number, `1/L` or `1/sqrt(L)` (L = h + 1 weight matrices).
        betas: Vec<String>,
        seeds: usize => at_least_one,
    }
    more valid_betas
}

fn valid_betas(c: &Config, check: &Check) -> std::result::Result<(), String> {
    if c.betas.is_empty() {
        return check.fail("betas", "must not be empty");
    }
    for b in &c.betas {
        if let Err(e) = Beta::parse(b) {
            return check.fail("betas", &e);
        }
    }
    Ok(())
}

/// The residual scale β, possibly tied to the number L of weight matrices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Beta {
    Value(f64),
    InvL,
    InvSqrtL,
}

impl Beta {
    /// Parse `0.5`, `1/L` or `1/sqrt(L)`.
    pub fn parse(s: &str) -> std::result::Result<Beta, String> {
        match s.trim() {
            "1/L" => Ok(Beta::InvL),
            "1/sqrt(L)" => Ok(Beta::InvSqrtL),
            other => match other.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => Ok(Beta::Value(v)),
                _ => Err(format!(
                    "'{s}' is not a β: use a number ≥ 0, \"1/L\" or \"1/sqrt(L)\""
                )),
            },
        }
    }

    /// The number β for a network of `l` weight matrices.
    pub fn value(self, l: usize) -> f64 {
        match self {
            Beta::Value(v) => v,
            Beta::InvL => 1.0 / l as f64,
            Beta::InvSqrtL => 1.0 / (l as f64).sqrt(),
        }
    }
}
