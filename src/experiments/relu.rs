//! `relu` (§ ReLU): two-layer (leaky) ReLU networks `W σ(V x)`, κ(G_O) and B-relu versus the
//! width for several slopes α (0 = ReLU, 1 = linear), on whitened MNIST.

use super::common::{self, curves, data_columns, param, K};
use super::depth_width::{cost_line, data_phrase};
use super::{Cost, Experiment, SummaryTable};
use crate::bounds::{self, ReluBlocks};
use crate::config::{Profile, ReluConfig};
use crate::gn;
use crate::nets::TwoLayer;
use crate::pipeline::{Point, RunContext};
use crate::plot::{Figure, Panel, Series};
use crate::report::{sig, sig_digits};
use crate::table::{self, Row};
use crate::verify::{Claim, ClaimKind};
use crate::Result;
use polars::prelude::DataFrame;

/// The experiment.
pub struct Relu;

fn config(profile: &Profile) -> Option<&ReluConfig> {
    profile.experiments.relu.as_ref()
}

impl Experiment for Relu {
    fn id(&self) -> &'static str {
        "relu"
    }

    fn paper_ref(&self) -> &'static str {
        "§ ReLU"
    }

    fn title(&self) -> &'static str {
        "Two-layer (leaky) ReLU nets: κ(G_O) and B-relu vs width, per slope α"
    }

    fn description(&self) -> &'static str {
        "For one hidden layer with a leaky-ReLU activation, the paper bounds κ by Weyl's \
         inequality on the two blocks of the Gram matrix. B-relu is finite when α > 0 and \
         n ≤ d, or when the width reaches the number of samples (m ≥ n, so that F Fᵀ ≻ 0); \
         here n > d, so it appears from m = n on. κ is exact, from the nk×nk Gram matrix built \
         without the Jacobian (or the p×p matrix when p < nk). The authors' code also evaluates \
         a linear-style variant, which is not a bound (a counterexample is pinned in the \
         tests); it is drawn dotted and clipped, and its violations are only counted."
    }

    fn config_json(&self, profile: &Profile) -> Option<serde_json::Value> {
        common::config_json(config(profile))
    }

    fn points(&self, profile: &Profile) -> Vec<Point> {
        let Some(c) = config(profile) else {
            return Vec::new();
        };
        let axes = [common::axis(&c.alphas), common::axis(&c.widths)];
        common::grid(&axes, c.seeds, |v| {
            vec![
                ("n", c.n.to_string()),
                ("downsample", c.downsample.to_string()),
                ("whiten", c.whiten.to_string()),
                ("alpha", v[0].to_string()),
                ("width", v[1].to_string()),
            ]
        })
    }

    fn cost_hint(&self, profile: &Profile) -> Cost {
        let Some(c) = config(profile) else {
            return Cost::NONE;
        };
        let nk = (c.n * K) as f64;
        let points = self.points(profile);
        let work = points
            .iter()
            .map(|p| 0.1 * (nk * nk * param::<f64>(p, "width") + 10.0 * nk.powi(3)))
            .sum();
        cost_line(points.len(), work)
    }

    fn run(&self, profile: &Profile, ctx: &RunContext) -> Result<Vec<Row>> {
        let c = config(profile).expect("run only on configured experiments");
        let images = ctx.data(self.wants())?;
        let x = crate::data::design_matrix(images, c.n, c.downsample)?;
        let (x, data_rank) = if c.whiten {
            crate::data::whiten(&x)?
        } else {
            let r = crate::data::SecondMoment::of(&x)?.rank;
            (x, r)
        };
        let moment = crate::data::SecondMoment::of(&x)?;
        ctx.compute_points(
            self.id(),
            &self.points(profile),
            &images.source,
            |point, rng| {
                let (alpha, width): (f64, usize) = (param(point, "alpha"), param(point, "width"));
                let net = TwoLayer::kaiming(moment.d, width, K, alpha, rng);
                let spec = gn::two_layer(&net, &x)?;
                let blocks = ReluBlocks::of(&net, &x)?;
                let s = spec.spectrum;
                let row = Row::new()
                    .text("alpha", &alpha.to_string())
                    .int("width", width)
                    .int("seed", point.replicate as usize);
                let row = data_columns(row, &moment, data_rank, c.whiten, &images.source.id);
                Ok(vec![row
                    .int("p", net.num_params())
                    .float("kappa", s.kappa)
                    .float("b_relu", bounds::b_relu(&blocks, alpha))
                    .float(
                        "b_relu_linear_style_invalid",
                        bounds::b_relu_linear_style(&blocks, alpha),
                    )
                    .float("lambda_max", s.lambda_max)
                    .float("lambda_min_nonzero", s.lambda_min_nonzero)
                    .int("rank", s.rank)
                    .float("rank_threshold", s.threshold)
                    .text("route", spec.route.as_str())])
            },
        )
    }

    fn figure(&self, df: &DataFrame) -> Result<Figure> {
        let kappa = curves(df, "alpha", "width", "kappa")?;
        let bound = curves(df, "alpha", "width", "b_relu")?;
        let invalid = curves(df, "alpha", "width", "b_relu_linear_style_invalid")?;
        let panels = kappa
            .into_iter()
            .zip(bound)
            .zip(invalid)
            .map(|(((alpha, k), (_, b)), (_, v))| Panel {
                title: format!(
                    "α = {alpha}{}",
                    match alpha.as_str() {
                        "0" => " (ReLU)",
                        "1" => " (linear)",
                        _ => "",
                    }
                ),
                x_label: "hidden width m (log scale)".into(),
                y_label: "κ(G_O) (log scale)".into(),
                log_x: true,
                log_y: true,
                integer_x: true,
                legend_lower: false,
                series: vec![
                    Series {
                        markers_only: false,
                        label: "κ(G_O)".into(),
                        color: 0,
                        dashed: false,
                        band: true,
                        fit: true,
                        points: k,
                    },
                    Series {
                        markers_only: false,
                        label: "B-relu (where finite)".into(),
                        color: 1,
                        dashed: true,
                        band: false,
                        fit: true,
                        points: b.into_iter().filter(|p| p.1.is_finite()).collect(),
                    },
                    Series {
                        markers_only: false,
                        label: "linear-style variant (NOT a bound; clipped)".into(),
                        color: 3,
                        dashed: true,
                        band: false,
                        fit: false,
                        points: v.into_iter().filter(|p| p.1.is_finite()).collect(),
                    },
                ],
            })
            .collect();
        Ok(Figure {
            title: format!("Two-layer leaky-ReLU nets, {}", data_phrase(df)?),
            panels,
        })
    }

    fn summary(&self, df: &DataFrame) -> Result<SummaryTable> {
        let kappa = curves(df, "alpha", "width", "kappa")?;
        let bound = curves(df, "alpha", "width", "b_relu")?;
        let widths: Vec<f64> = kappa
            .first()
            .map(|(_, c)| c.iter().map(|p| p.0).collect())
            .unwrap_or_default();
        let mut header = vec!["m".to_string()];
        header.extend(kappa.iter().map(|(a, _)| format!("α = {a}: κ (B-relu)")));
        let rows = (0..widths.len())
            .map(|i| {
                let mut row = vec![format!("{}", widths[i])];
                for ((_, k), (_, b)) in kappa.iter().zip(&bound) {
                    row.push(format!(
                        "{} ± {} ({})",
                        sig(k[i].1),
                        sig_digits(k[i].2, 2),
                        sig(b[i].1)
                    ));
                }
                row
            })
            .collect();
        Ok(SummaryTable {
            caption: "Mean ± std of κ over seeds, mean B-relu in brackets (∞ where undefined)."
                .into(),
            header,
            rows,
        })
    }

    fn claims(&self, df: &DataFrame) -> Result<Vec<Claim>> {
        let kappa = table::f64_col(df, "kappa")?;
        let bound = table::f64_col(df, "b_relu")?;
        let invalid = table::f64_col(df, "b_relu_linear_style_invalid")?;
        let alpha = table::str_values(df, "alpha")?;
        let width = table::i64_col(df, "width")?;
        let seed = table::i64_col(df, "seed")?;
        let finite: Vec<usize> = (0..kappa.len()).filter(|&i| bound[i].is_finite()).collect();
        let (k, b): (Vec<f64>, Vec<f64>) = finite.iter().map(|&i| (kappa[i], bound[i])).unzip();
        let mut holds = common::bound_claim(
            "relu/b-relu-holds",
            "B-relu ≥ κ(G_O) wherever it is finite",
            &k,
            &b,
            |j| {
                let i = finite[j];
                format!("α={} m={} seed={}", alpha[i], width[i], seed[i])
            },
        );
        holds.pass &= !finite.is_empty();
        let broken = (0..kappa.len())
            .filter(|&i| kappa[i] > invalid[i] * (1.0 + common::BOUND_SLACK))
            .count();
        Ok(vec![
            holds,
            Claim {
                id: "relu/linear-style-variant".into(),
                kind: ClaimKind::Paper,
                statement:
                    "The authors' linear-style variant is reported, not checked (it is not a bound)"
                        .into(),
                pass: true,
                evidence: format!("κ exceeds it on {broken} of {} points", kappa.len()),
            },
        ])
    }
}
