//! `batchnorm` (Fig. 6): one hidden linear layer with and without batch normalisation,
//! κ(G_O) versus the width. Each point evaluates the same W₁, W₂ with and without BN.

use super::bootstrap::{worst, Rule, Trend};
use super::kit::{self, cols, curves, find_curve, first_int, param, trend, Channels, Params, K};
use crate::claims::Claim;
use crate::data::Want;
use crate::experiment::{Definition, Job, SummaryTable};
use crate::format::{mean_std, sig};
use crate::gn;
use crate::nets::{BatchNormNet, DeepLinear};
use crate::plot::{Figure, Panel, Series};
use crate::runner::Point;
use crate::table::Row;
use crate::Result;
use polars::prelude::DataFrame;

/// The experiment.
pub struct BatchNorm;

impl Definition for BatchNorm {
    type Config = Config;
    const ID: &'static str = "batchnorm";
    const PAPER: &'static str = "Fig. 6";
    const TITLE: &'static str =
        "Batch norm: κ(G_O) vs width for one hidden linear layer, with and without BN";
    const DESCRIPTION: &'static str = "The paper shows that batch normalisation after the \
         hidden layer improves the conditioning and keeps the trend with width. The BN \
         network's outputs are coupled across the batch, so its Gauss-Newton matrix is built \
         from the Jacobian of the whole batch (in W₁, γ, β and W₂), and the smaller of `JᵀJ/n` \
         and `JJᵀ/n` is eigensolved; the plain network `W₂W₁` with the same weights goes \
         through the Kronecker route. The paper uses 8×8 grayscale CIFAR-10 (d = 64, grayscale \
         = mean of the three channels); we use the first n official CIFAR-10 training images \
         that way when they are installed (`gncond data fetch cifar10`), and otherwise MNIST \
         (d = 49); not whitened, as the paper. The figure title and the `data` column say \
         which.";
    const WANTS: Want = Want::Cifar10;

    fn points(c: &Config) -> Vec<Point> {
        kit::grid(&[kit::axis(&c.widths)], c.seeds, |v| {
            Params::data(c.data()).with("width", v[0])
        })
    }

    fn seconds(c: &Config, points: &[Point]) -> f64 {
        let d = crate::data::downsampled_dim(28, c.downsample) as f64;
        let nk = (c.n * K) as f64;
        kit::seconds_for(
            points
                .iter()
                .map(|p| {
                    // the smaller Gram matrix of J (nk × p) and its eigensolve
                    let pn = param::<f64>(p, "width") * (d + 2.0 + K as f64);
                    let (small, large) = (pn.min(nk), pn.max(nk));
                    kit::gram_work(small as usize, large) + kit::eigen_work(small as usize)
                })
                .sum(),
        )
    }

    fn run(c: &Config, job: &Job) -> Result<Vec<Row>> {
        // grayscale (the mean of the channels) as the paper; MNIST is grayscale already
        kit::run_on(job, c.data(), Channels::Gray, |point, rng, data| {
            let (x, moment) = (&data.x, &data.moment);
            let m: usize = param(point, "width");
            let bn = BatchNormNet::kaiming(moment.d, m, K, rng);
            let plain = DeepLinear::new(vec![bn.w1.clone(), bn.w2.clone()])?;
            let with_bn = gn::batchnorm(&bn, x)?;
            let without = gn::kronecker_linear(&plain.partial_products(), moment)?;
            let rows = [
                ("with BN", &with_bn, bn.num_params()),
                ("without BN", &without, plain.num_params()),
            ]
            .into_iter()
            .map(|(label, spec, p)| {
                let row = Row::new()
                    .text("norm", label)
                    .int("width", m)
                    .int("seed", point.replicate as usize);
                data.columns(row)
                    .int("p", p)
                    .float("kappa", spec.spectrum.kappa)
                    .float("lambda_max", spec.spectrum.lambda_max)
                    .float("lambda_min_nonzero", spec.spectrum.lambda_min_nonzero)
                    .int("rank", spec.spectrum.rank)
                    .float("rank_threshold", spec.spectrum.threshold)
                    .text("route", spec.route.as_str())
            })
            .collect();
            Ok(rows)
        })
    }

    fn figure(df: &DataFrame) -> Result<Figure> {
        let series = curves(df, "norm", "width", "kappa")?
            .into_iter()
            .enumerate()
            .map(|(i, (norm, c))| Series::measured(format!("κ(G_O), {norm}"), i, c))
            .collect();
        Ok(Figure::new(
            format!(
                "Batch norm, one hidden layer, raw {}: d = {}, n = {}, k = {K}",
                kit::data_label(df, Self::WANTS, true)?,
                first_int(df, &cols::D)?,
                first_int(df, &cols::N)?
            ),
            vec![Panel::new(
                "hidden width m (log scale)",
                "κ(G_O), mean ± std over seeds (log scale)",
            )
            .log_x()
            .log_y()
            .with(series)],
        ))
    }

    fn summary(df: &DataFrame) -> Result<SummaryTable> {
        let k = curves(df, "norm", "width", "kappa")?;
        let (with, without) = (find_curve(&k, "with BN"), find_curve(&k, "without BN"));
        let rows = with
            .iter()
            .zip(&without)
            .map(|(a, b)| {
                vec![
                    format!("{}", a.0),
                    mean_std(a.1, a.2),
                    mean_std(b.1, b.2),
                    sig(b.1 / a.1),
                ]
            })
            .collect();
        Ok(SummaryTable::new(
            "Mean ± std of κ over seeds (same weights with and without BN).",
            &["m", "κ with BN", "κ without BN", "without / with"],
            rows,
        ))
    }

    fn claims(df: &DataFrame) -> Result<Vec<Claim>> {
        let k = curves(df, "norm", "width", "kappa")?;
        let (with, without) = (find_curve(&k, "with BN"), find_curve(&k, "without BN"));
        // the same weights with and without BN share a seed: resampled together (paired)
        let keys: &[&str] = &["width"];
        let lowers = |df: &DataFrame| -> Result<f64> {
            let k = curves(df, "norm", "width", "kappa")?;
            let (with, without) = (find_curve(&k, "with BN"), find_curve(&k, "without BN"));
            let ratios: Vec<f64> = with.iter().zip(&without).map(|(a, b)| b.1 / a.1).collect();
            Ok(worst(&ratios, Rule::Above(1.0)))
        };
        let width_rule = Rule::AtMost(-0.8);
        let keeps = move |df: &DataFrame| -> Result<f64> {
            let k = curves(df, "norm", "width", "kappa")?;
            Ok(trend(&find_curve(&k, "with BN")))
        };
        Ok(vec![
            Trend {
                id: "batchnorm/bn-lowers-kappa",
                statement: "BN lowers mean κ at every width",
                keys,
                rule: Rule::Above(1.0),
                statistic: "smallest ratio κ without / κ with BN",
            }
            .claim(
                df,
                lowers,
                kit::joined(with.iter().zip(&without), |(a, b)| {
                    format!("m={}: {} vs {}", a.0, sig(a.1), sig(b.1))
                }),
            )?,
            Trend {
                id: "batchnorm/keeps-width-trend",
                statement: "With BN, κ still decreases with width (Spearman ρ ≤ −0.8)",
                keys,
                rule: width_rule,
                statistic: "ρ with BN",
            }
            .claim(
                df,
                keeps,
                format!(
                    "with BN {}; without BN {} (ρ = {:.2})",
                    kit::span(&with),
                    kit::span(&without),
                    trend(&without)
                ),
            )?,
        ])
    }
}

crate::config! {
    /// Its table in a profile.
    pub struct Config [data] {
        widths: Vec<usize> => positive_list,
        seeds: usize => at_least_one,
    }
}
