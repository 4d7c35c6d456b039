//! `depth-width` (Fig. 2a): κ(G_O) and B-convex of deep linear networks at Kaiming
//! initialisation versus the number of hidden layers h, one curve per width m.

use super::bootstrap::{steps, worst, worst_rho, Rule, Trend};
use super::kit::{self, axis, curves, param, span, Params};
use crate::claims::Claim;
use crate::experiment::{Definition, Job, SummaryTable};
use crate::format::sig;
use crate::plot::Figure;
use crate::runner::Point;
use crate::table::Row;
use crate::Result;
use polars::prelude::DataFrame;

/// The experiment.
pub struct DepthWidth;

impl Definition for DepthWidth {
    type Config = Config;
    const ID: &'static str = "depth-width";
    const PAPER: &'static str = "Fig. 2a";
    const TITLE: &'static str =
        "κ(G_O) and B-convex vs depth, one curve per width (deep linear, whitened MNIST)";
    const DESCRIPTION: &'static str = "The paper shows that at Kaiming initialisation the \
         condition number of the Gauss-Newton matrix of a deep linear network grows with depth \
         and shrinks with width, and that the B-convex bound follows it closely. We compute κ \
         exactly from the Kronecker form `Σ_ℓ A_ℓ ⊗ B_ℓ` (a dk×dk eigenproblem, never the p×p \
         matrix) and B-convex from the singular values of the partial products.";

    fn points(c: &Config) -> Vec<Point> {
        kit::grid(&[axis(&c.widths), axis(&c.depths)], c.seeds, |v| {
            Params::data(c.data())
                .with("depth", v[1])
                .with("width", v[0])
        })
    }

    fn seconds(_: &Config, points: &[Point]) -> f64 {
        kit::seconds_for(
            points
                .iter()
                .map(|p| kit::linear_work(param(p, "width"), param(p, "depth")))
                .sum(),
        )
    }

    fn run(c: &Config, job: &Job) -> Result<Vec<Row>> {
        kit::run_linear(job, c.data(), |point| {
            let (depth, width): (usize, usize) = (param(point, "depth"), param(point, "width"));
            let row = Row::new().int("depth", depth).int("width", width);
            (row, width, depth)
        })
    }

    fn figure(df: &DataFrame) -> Result<Figure> {
        let series = kit::kappa_and_bound(
            curves(df, "width", "depth", "kappa")?,
            curves(df, "width", "depth", "b_convex")?,
            |m| (format!("κ, m = {m}"), format!("B-convex, m = {m}")),
        );
        Ok(Figure::new(
            format!("Deep linear nets on {}", kit::data_phrase(df)?),
            vec![kit::depth_panel().with(series)],
        ))
    }

    fn summary(df: &DataFrame) -> Result<SummaryTable> {
        kit::depth_table(df, "width", "m = ")
    }

    fn claims(df: &DataFrame) -> Result<Vec<Claim>> {
        let mut claims = kit::linear_bound_claims(Self::ID, df, "width")?;
        let kappa = curves(df, "width", "depth", "kappa")?;
        let keys: &[&str] = &["width", "depth"];
        // a trend over depth, by Spearman's ρ as every trend claim: at the widest networks κ
        // grows by about 1 % per layer, a step no affordable number of seeds resolves one by one
        let rule = Rule::AtLeast(0.8);
        claims.push(
            Trend {
                id: "depth-width/kappa-grows-with-depth",
                statement: "At fixed width, mean κ increases with depth (Spearman ρ ≥ 0.8 per \
                            width)",
                keys,
                rule,
                statistic: "smallest ρ over widths",
            }
            .claim(
                df,
                worst_rho("width", "depth", "kappa", rule),
                kit::joined(&kappa, |(m, c)| {
                    format!("m={m}: κ {} (ρ = {:.2})", span(c), kit::trend(c))
                }),
            )?,
        );
        let n_depths = kappa.first().map(|c| c.1.len()).unwrap_or(0);
        let mut ev = Vec::new();
        for i in 0..n_depths {
            let ks: Vec<f64> = kappa.iter().map(|(_, c)| c[i].1).collect();
            let chain: Vec<String> = ks.iter().map(|k| sig(*k)).collect();
            ev.push(format!("h={}: {}", kappa[0].1[i].0, chain.join(" > ")));
        }
        claims.push(
            Trend {
                id: "depth-width/wider-is-better",
                statement: "At fixed depth, mean κ decreases strictly with width",
                keys,
                rule: Rule::Below(1.0),
                statistic: "largest ratio κ(next width)/κ(width)",
            }
            .claim(
                df,
                |df| {
                    Ok(worst(
                        &steps(&curves(df, "depth", "width", "kappa")?),
                        Rule::Below(1.0),
                    ))
                },
                ev.join("; "),
            )?,
        );
        Ok(claims)
    }
}

crate::config! {
    /// Its table in a profile.
    pub struct Config [data] {
        /// Numbers of hidden layers h (the network has L = h + 1 weight matrices).
        depths: Vec<usize> => positive_list,
        /// Hidden widths m.
        widths: Vec<usize> => positive_list,
        /// Initialisations per grid point.
        seeds: usize => at_least_one,
    }
}
