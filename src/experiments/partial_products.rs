//! `partial-products` (appendix): κ and σ_min of the partial products `P_in(ℓ) = W_{ℓ-1:1}`
//! and `P_out(ℓ) = W_{L:ℓ+1}` versus the layer ℓ, for several depths. These are the
//! quantities B-convex is made of; they depend on the weights only, not on the data.

use super::bootstrap::{worst_rho, Rule, Trend};
use super::kit::{self, cols, curves, first_int, param, trend_evidence, Params, K};
use crate::bounds::PartialSingularValues;
use crate::claims::Claim;
use crate::data::{downsampled_dim, DataSource};
use crate::experiment::{Definition, Job, SummaryTable};
use crate::format::sig;
use crate::nets::DeepLinear;
use crate::plot::{Figure, Panel, Series};
use crate::runner::Point;
use crate::table::Row;
use crate::Result;
use polars::prelude::DataFrame;

/// The experiment.
pub struct PartialProducts;

impl Definition for PartialProducts {
    type Config = Config;
    const ID: &'static str = "partial-products";
    const PAPER: &'static str = "App. (partial products)";
    const TITLE: &'static str = "κ and σ_min of the partial products P_in(ℓ), P_out(ℓ) vs layer ℓ";
    const DESCRIPTION: &'static str = "B-convex is built from the extreme singular values of \
         the products of the layers before and after each layer. The paper shows how they \
         behave along the network: the longer the product, the worse its conditioning. With \
         d = 49 inputs (MNIST subsampled by 4) and k = 10 outputs, `σ_min(P_in(ℓ))` is the 49th \
         and `σ_min(P_out(ℓ))` the 10th singular value.";
    const READS_DATA: bool = false;

    fn points(c: &Config) -> Vec<Point> {
        kit::grid(&[kit::axis(&c.depths)], c.seeds, |v| {
            Params::new()
                .with("downsample", c.downsample)
                .with("width", c.width)
                .with("depth", v[0])
        })
    }

    fn seconds(c: &Config, points: &[Point]) -> f64 {
        kit::seconds_for(
            points
                .iter()
                .map(|p| kit::linear_work(c.width, param(p, "depth")))
                .sum(),
        )
    }

    fn run(c: &Config, job: &Job) -> Result<Vec<Row>> {
        let d = downsampled_dim(28, c.downsample);
        let source = DataSource {
            id: "none".into(),
            description: format!(
                "no data: the partial products depend on the weights only (d = {d})"
            ),
            sha256: crate::fsutil::sha256_hex(format!("weights-only d={d}").as_bytes()),
        };
        job.compute(&source, |point, rng| {
            let depth: usize = param(point, "depth");
            let net = DeepLinear::kaiming(&kit::dims(d, c.width, depth), rng);
            let sv = PartialSingularValues::of(&net.partial_products())?;
            let (ki, ko) = (sv.kappa_in(), sv.kappa_out());
            Ok((0..=depth)
                .map(|l| {
                    Row::new()
                        .int("depth", depth)
                        .int("layer", l + 1)
                        .int("seed", point.replicate as usize)
                        .int("width", c.width)
                        .int("d", d)
                        .int("k", K)
                        .float("kappa_in", ki[l])
                        .float("kappa_out", ko[l])
                        .float("sigma_min_in", sv.in_min[l])
                        .float("sigma_max_in", sv.in_max[l])
                        .float("sigma_min_out", sv.out_min[l])
                        .float("sigma_max_out", sv.out_max[l])
                })
                .collect())
        })
    }

    fn figure(df: &DataFrame) -> Result<Figure> {
        let panel = |title: &str, y: &str, cols: [(&str, &str); 2]| -> Result<Panel> {
            let mut series = Vec::new();
            for (col, name) in cols {
                let out = col.ends_with("_out");
                for (i, (h, curve)) in curves(df, "depth", "layer", col)?.into_iter().enumerate() {
                    let s = Series::measured(format!("{name}, h = {h}"), i, curve);
                    series.push(if out { s.dashed().no_band() } else { s });
                }
            }
            Ok(
                Panel::new("layer ℓ (1 = input layer, L = h + 1 = output layer)", y)
                    .titled(title)
                    .log_y()
                    .with(series),
            )
        };
        Ok(Figure::new(
            format!(
                "Partial products of Kaiming-initialised deep linear nets (d = {}, m = {}, k = {K})",
                first_int(df, &cols::D)?,
                first_int(df, &cols::WIDTH)?
            ),
            vec![
                panel(
                    "condition numbers",
                    "κ of the partial product (log scale)",
                    [("kappa_in", "κ(P_in(ℓ))"), ("kappa_out", "κ(P_out(ℓ))")],
                )?,
                panel(
                    "smallest singular values",
                    "σ_min of the partial product (log scale)",
                    [("sigma_min_in", "σ_min(P_in(ℓ))"), ("sigma_min_out", "σ_min(P_out(ℓ))")],
                )?
                .legend_lower(),
            ],
        ))
    }

    fn summary(df: &DataFrame) -> Result<SummaryTable> {
        let ki = curves(df, "depth", "layer", "kappa_in")?;
        let ko = curves(df, "depth", "layer", "kappa_out")?;
        let rows = ki
            .iter()
            .zip(&ko)
            .map(|((h, i), (_, o))| {
                let last = i.len() - 1;
                vec![
                    h.clone(),
                    sig(i[last].1),
                    sig(o[0].1),
                    sig(i.iter().chain(o.iter()).map(|p| p.1).fold(0.0, f64::max)),
                ]
            })
            .collect();
        Ok(SummaryTable::new(
            "Means over seeds: the longest products, P_in(L) = W_{L-1:1} and P_out(1) = \
             W_{L:2}, and the worst κ over all layers.",
            &["h", "κ(P_in(L))", "κ(P_out(1))", "max over ℓ"],
            rows,
        ))
    }

    fn claims(df: &DataFrame) -> Result<Vec<Claim>> {
        let ki = curves(df, "depth", "layer", "kappa_in")?;
        let ko = curves(df, "depth", "layer", "kappa_out")?;
        // The trend along the network, by Spearman's rank correlation between ℓ and the mean
        // κ (κ(P_in(1)) = κ(P_out(L)) = 1 are identities and take part as the end points).
        let keys: &[&str] = &["depth", "layer"];
        let (up, down) = (Rule::AtLeast(0.8), Rule::AtMost(-0.8));
        Ok(vec![
            Trend {
                id: "partial-products/p-in-worsens-with-layer",
                statement: "κ(P_in(ℓ)) increases with ℓ (Spearman ρ ≥ 0.8 at every depth): the \
                            more layers the product spans, the worse its conditioning",
                keys,
                rule: up,
                statistic: "smallest ρ over depths",
            }
            .claim(
                df,
                worst_rho("depth", "layer", "kappa_in", up),
                trend_evidence(&ki, "h="),
            )?,
            Trend {
                id: "partial-products/p-out-improves-with-layer",
                statement: "κ(P_out(ℓ)) decreases with ℓ as the product spans fewer layers \
                            (Spearman ρ ≤ −0.8 at every depth)",
                keys,
                rule: down,
                statistic: "largest ρ over depths",
            }
            .claim(
                df,
                worst_rho("depth", "layer", "kappa_out", down),
                trend_evidence(&ko, "h="),
            )?,
        ])
    }
}

crate::config! {
    /// Its table in a profile (no data is read: `downsample` only sets d).
    pub struct Config {
        downsample: usize => downsample,
        width: usize => at_least_one,
        /// Numbers of hidden layers h of the networks compared.
        depths: Vec<usize> => positive_list,
        seeds: usize => at_least_one,
    }
}
