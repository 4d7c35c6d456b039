//! `relu` (§ ReLU): two-layer (leaky) ReLU networks `W σ(V x)`, κ(G_O) and B-relu versus the
//! width for several slopes α (0 = ReLU, 1 = linear), on whitened MNIST.

use super::kit::{self, cols, curves, Channels, Col};
use crate::bounds::{self, ReluBlocks};
use crate::claims::{bound_claim, count_above, Claim};
use crate::config::Check;
use crate::experiment::{Definition, Job, SummaryTable};
use crate::format::{mean_std, sig};
use crate::gn;
use crate::plot::{Figure, Panel, Series};
use crate::runner::Point;
use crate::table::Row;
use crate::Result;
use polars::prelude::DataFrame;

/// The experiment.
pub struct Relu;

impl Definition for Relu {
    type Config = Config;
    const ID: &'static str = "relu";
    const PAPER: &'static str = "§ ReLU";
    const TITLE: &'static str =
        "Two-layer (leaky) ReLU nets: κ(G_O) and B-relu vs width, per slope α";
    const DESCRIPTION: &'static str = "For one hidden layer with a leaky-ReLU activation, the \
         paper bounds κ by Weyl's inequality on the two blocks of the Gram matrix. B-relu is \
         finite when α > 0 and n ≤ d, or when the width reaches the number of samples (m ≥ n, \
         so that F Fᵀ ≻ 0); here n > d, so it appears from m = n on. κ is exact, from the nk×nk \
         Gram matrix built without the Jacobian (or the p×p matrix when p < nk). The authors' \
         code also evaluates a linear-style variant, which is not a bound (a counterexample is \
         pinned in the tests); it is drawn dotted and clipped, and its violations are only \
         counted.";

    fn points(c: &Config) -> Vec<Point> {
        kit::relu_points(&c.alphas, &c.widths, c.seeds, c.data())
    }

    fn seconds(c: &Config, points: &[Point]) -> f64 {
        kit::relu_seconds(c.n, points, 1.0)
    }

    fn run(c: &Config, job: &Job) -> Result<Vec<Row>> {
        kit::run_on(job, c.data(), Channels::All, |point, rng, data| {
            let (alpha, net, row) = kit::relu_point(point, rng, data);
            let spec = gn::two_layer(&net, &data.x)?;
            let blocks = ReluBlocks::of(&net, &data.x)?;
            let s = spec.spectrum;
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
        })
    }

    fn figure(df: &DataFrame) -> Result<Figure> {
        let kappa = curves(df, "alpha", "width", "kappa")?;
        let bound = curves(df, "alpha", "width", "b_relu")?;
        let invalid = curves(df, "alpha", "width", "b_relu_linear_style_invalid")?;
        let finite =
            |c: kit::Curve| -> kit::Curve { c.into_iter().filter(|p| p.1.is_finite()).collect() };
        let panels = kappa
            .into_iter()
            .zip(bound)
            .zip(invalid)
            .map(|(((alpha, k), (_, b)), (_, v))| {
                Panel::new("hidden width m (log scale)", "κ(G_O) (log scale)")
                    .titled(kit::alpha_title(&alpha))
                    .log_x()
                    .log_y()
                    .with(vec![
                        Series::measured("κ(G_O)", 0, k),
                        Series::bound("B-relu (where finite)", 1, finite(b)),
                        Series::bound("linear-style variant (NOT a bound; clipped)", 3, finite(v))
                            .clipped(),
                    ])
            })
            .collect();
        Ok(Figure::new(
            format!("Two-layer leaky-ReLU nets, {}", kit::data_phrase(df)?),
            panels,
        ))
    }

    fn summary(df: &DataFrame) -> Result<SummaryTable> {
        let kappa = curves(df, "alpha", "width", "kappa")?;
        let bound = curves(df, "alpha", "width", "b_relu")?;
        let widths: Vec<f64> = kappa
            .first()
            .map(|(_, c)| c.iter().map(|p| p.0).collect())
            .unwrap_or_default();
        let mut header = vec!["m".to_string()];
        header.extend(
            kappa
                .iter()
                .map(|(a, _)| format!("α = {}: κ (B-relu)", kit::label(a))),
        );
        let rows = (0..widths.len())
            .map(|i| {
                let mut row = vec![format!("{}", widths[i])];
                for ((_, k), (_, b)) in kappa.iter().zip(&bound) {
                    row.push(format!("{} ({})", mean_std(k[i].1, k[i].2), sig(b[i].1)));
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

    fn claims(df: &DataFrame) -> Result<Vec<Claim>> {
        let kappa = cols::KAPPA.of(df)?;
        let bound = Col::<f64>::new("b_relu").of(df)?;
        let invalid = Col::<f64>::new("b_relu_linear_style_invalid").of(df)?;
        let alpha = Col::<String>::new("alpha").of(df)?;
        let width = cols::WIDTH.of(df)?;
        let seed = cols::SEED.of(df)?;
        let finite: Vec<usize> = (0..kappa.len()).filter(|&i| bound[i].is_finite()).collect();
        let (k, b): (Vec<f64>, Vec<f64>) = finite.iter().map(|&i| (kappa[i], bound[i])).unzip();
        let mut holds = bound_claim(
            "relu/b-relu-holds",
            "B-relu ≥ κ(G_O) wherever it is finite",
            &k,
            &b,
            |j| {
                let i = finite[j];
                format!(
                    "α={} m={} seed={}",
                    kit::label(&alpha[i]),
                    width[i],
                    seed[i]
                )
            },
        );
        if finite.is_empty() {
            holds.verdict = crate::claims::Verdict::Fail;
        }
        Ok(vec![
            holds,
            Claim::paper(
                "relu/linear-style-variant",
                "The authors' linear-style variant is reported, not checked (it is not a bound)",
                true,
                format!(
                    "κ exceeds it on {} of {} points",
                    count_above(&kappa, &invalid),
                    kappa.len()
                ),
            ),
        ])
    }
}

crate::config! {
    /// Its table in a profile.
    pub struct Config [data] {
        widths: Vec<usize> => positive_list,
        /// Negative slopes α in [0, 1] (0 = ReLU, 1 = linear).
        alphas: Vec<f64>,
        seeds: usize => at_least_one,
    }
    more slopes
}

fn slopes(c: &Config, check: &Check) -> std::result::Result<(), String> {
    check.list_in("alphas", &c.alphas, 0.0..=1.0, "give slopes in [0, 1]")
}
