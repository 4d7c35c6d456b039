//! `partial-products` (appendix): κ and σ_min of the partial products `P_in(ℓ) = W_{ℓ-1:1}`
//! and `P_out(ℓ) = W_{L:ℓ+1}` versus the layer ℓ, for several depths. These are the
//! quantities B-convex is made of; they depend on the weights only, not on the data.

use super::common::{self, param, K};
use super::depth_width::{cost_line, linear_work};
use super::{Cost, Experiment, SummaryTable};
use crate::bounds::PartialSingularValues;
use crate::config::{PartialProductsConfig, Profile};
use crate::data::{downsampled_dim, DataSource};
use crate::nets::DeepLinear;
use crate::pipeline::{Point, RunContext};
use crate::plot::{Figure, Panel, Series};
use crate::report::sig;
use crate::table::{self, Row};
use crate::verify::{Claim, ClaimKind};
use crate::Result;
use polars::prelude::DataFrame;

/// The experiment.
pub struct PartialProducts;

fn config(profile: &Profile) -> Option<&PartialProductsConfig> {
    profile.experiments.partial_products.as_ref()
}

impl Experiment for PartialProducts {
    fn reads_data(&self) -> bool {
        false
    }

    fn id(&self) -> &'static str {
        "partial-products"
    }

    fn paper_ref(&self) -> &'static str {
        "App. (partial products)"
    }

    fn title(&self) -> &'static str {
        "κ and σ_min of the partial products P_in(ℓ), P_out(ℓ) vs layer ℓ"
    }

    fn description(&self) -> &'static str {
        "B-convex is built from the extreme singular values of the products of the layers \
         before and after each layer. The paper shows how they behave along the network: the \
         longer the product, the worse its conditioning. With d = 49 inputs (MNIST \
         subsampled by 4) and k = 10 outputs, `σ_min(P_in(ℓ))` is the 49th and \
         `σ_min(P_out(ℓ))` the 10th singular value."
    }

    fn config_json(&self, profile: &Profile) -> Option<serde_json::Value> {
        common::config_json(config(profile))
    }

    fn points(&self, profile: &Profile) -> Vec<Point> {
        let Some(c) = config(profile) else {
            return Vec::new();
        };
        common::grid(&[common::axis(&c.depths)], c.seeds, |v| {
            vec![
                ("downsample", c.downsample.to_string()),
                ("width", c.width.to_string()),
                ("depth", v[0].to_string()),
            ]
        })
    }

    fn cost_hint(&self, profile: &Profile) -> Cost {
        let Some(c) = config(profile) else {
            return Cost::NONE;
        };
        let points = self.points(profile);
        let work = points
            .iter()
            .map(|p| linear_work(c.width, param(p, "depth")))
            .sum();
        cost_line(points.len(), work)
    }

    fn run(&self, profile: &Profile, ctx: &RunContext) -> Result<Vec<Row>> {
        let c = config(profile).expect("run only on configured experiments");
        let d = downsampled_dim(28, c.downsample);
        let source = DataSource {
            id: "none".into(),
            description: format!(
                "no data: the partial products depend on the weights only (d = {d})"
            ),
            sha256: crate::fsutil::sha256_hex(format!("weights-only d={d}").as_bytes()),
        };
        ctx.compute_points(self.id(), &self.points(profile), &source, |point, rng| {
            let depth: usize = param(point, "depth");
            let net = DeepLinear::kaiming(&common::dims(d, c.width, depth), rng);
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

    fn figure(&self, df: &DataFrame) -> Result<Figure> {
        let panel = |title: &str, y: &str, cols: [(&str, &str); 2], lower: bool| -> Result<Panel> {
            let mut series = Vec::new();
            for (col, name) in cols {
                let dashed = col.ends_with("_out");
                for (i, (h, curve)) in common::curves(df, "depth", "layer", col)?
                    .into_iter()
                    .enumerate()
                {
                    series.push(Series {
                        markers_only: false,
                        label: format!("{name}, h = {h}"),
                        color: i,
                        dashed,
                        band: !dashed,
                        fit: true,
                        points: curve,
                    });
                }
            }
            Ok(Panel {
                title: title.into(),
                x_label: "layer ℓ (1 = input layer, L = h + 1 = output layer)".into(),
                y_label: y.into(),
                log_x: false,
                log_y: true,
                integer_x: true,
                legend_lower: lower,
                series,
            })
        };
        let width = table::i64_col(df, "width")?.first().copied().unwrap_or(0);
        let d = table::i64_col(df, "d")?.first().copied().unwrap_or(0);
        Ok(Figure {
            title: format!("Partial products of Kaiming-initialised deep linear nets (d = {d}, m = {width}, k = {K})"),
            panels: vec![
                panel(
                    "condition numbers",
                    "κ of the partial product (log scale)",
                    [("kappa_in", "κ(P_in(ℓ))"), ("kappa_out", "κ(P_out(ℓ))")],
                    false,
                )?,
                panel(
                    "smallest singular values",
                    "σ_min of the partial product (log scale)",
                    [("sigma_min_in", "σ_min(P_in(ℓ))"), ("sigma_min_out", "σ_min(P_out(ℓ))")],
                    true,
                )?,
            ],
        })
    }

    fn summary(&self, df: &DataFrame) -> Result<SummaryTable> {
        let ki = common::curves(df, "depth", "layer", "kappa_in")?;
        let ko = common::curves(df, "depth", "layer", "kappa_out")?;
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
        Ok(SummaryTable {
            caption: "Means over seeds: the longest products, P_in(L) = W_{L-1:1} and \
                      P_out(1) = W_{L:2}, and the worst κ over all layers."
                .into(),
            header: ["h", "κ(P_in(L))", "κ(P_out(1))", "max over ℓ"]
                .map(String::from)
                .to_vec(),
            rows,
        })
    }

    fn claims(&self, df: &DataFrame) -> Result<Vec<Claim>> {
        let ki = common::curves(df, "depth", "layer", "kappa_in")?;
        let ko = common::curves(df, "depth", "layer", "kappa_out")?;
        // The trend along the network, by Spearman's rank correlation between ℓ and the mean
        // κ (κ(P_in(1)) = κ(P_out(L)) = 1 are identities and take part as the end points).
        let rho = common::trend;
        let grows = ki.iter().all(|(_, c)| rho(c) >= 0.8);
        let shrinks = ko.iter().all(|(_, c)| rho(c) <= -0.8);
        let ev = |cs: &[(String, common::Curve)]| {
            cs.iter()
                .map(|(h, c)| format!("h={h}: {} (ρ = {:.2})", common::span(c), rho(c)))
                .collect::<Vec<_>>()
                .join("; ")
        };
        Ok(vec![
            Claim {
                id: "partial-products/p-in-worsens-with-layer".into(),
                kind: ClaimKind::Paper,
                statement: "κ(P_in(ℓ)) increases with ℓ (Spearman ρ ≥ 0.8 at every depth): the \
                            more layers the product spans, the worse its conditioning"
                    .into(),
                pass: grows,
                evidence: ev(&ki),
            },
            Claim {
                id: "partial-products/p-out-improves-with-layer".into(),
                kind: ClaimKind::Paper,
                statement: "κ(P_out(ℓ)) decreases with ℓ as the product spans fewer layers \
                            (Spearman ρ ≤ −0.8 at every depth)"
                    .into(),
                pass: shrinks,
                evidence: ev(&ko),
            },
        ])
    }
}
