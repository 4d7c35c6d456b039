//! `cnn` (appendix): linear 1-D CNNs in the authors' layout, κ versus the number of filters,
//! one panel per kernel size. Three series: the dense-Toeplitz surrogate κ the authors
//! plotted, its B-convex, and κ of the true Gauss-Newton matrix in the filter parameters.

use super::kit::{
    self, cols, curves, first_int, param, trend, trend_evidence, Channels, Col, Params, K,
};
use crate::bounds::{self, PartialSingularValues};
use crate::claims::{bound_claim, Claim};
use crate::config::Check;
use crate::experiment::{Definition, Job, SummaryTable};
use crate::format::sig;
use crate::gn;
use crate::nets::LinearCnn;
use crate::plot::{Figure, Panel, Series};
use crate::runner::Point;
use crate::table::Row;
use crate::{Error, Result};
use polars::prelude::DataFrame;

/// The experiment.
pub struct Cnn;

impl Definition for Cnn {
    type Config = Config;
    const ID: &'static str = "cnn";
    const PAPER: &'static str = "App. (CNN)";
    const TITLE: &'static str =
        "Linear CNNs: κ vs number of filters, per kernel size (Toeplitz surrogate and true GN)";
    const DESCRIPTION: &'static str = "The paper reports that more filters worsen and larger \
         kernels improve the conditioning of linear CNNs. The authors compute κ of a surrogate \
         that treats each convolution's Toeplitz matrix as a free dense layer; the Gauss-Newton \
         matrix of the actual network is taken in the filter parameters, whose Jacobian is the \
         surrogate's restricted to weight-tied directions: its rank is at most the surrogate's \
         (equal here, where both are limited by the rank of the raw data) and its κ is one to \
         two orders of magnitude larger. We compute both exactly (surrogate by the Kronecker \
         route, true GN from the explicit filter Jacobian) and draw B-convex of the surrogate. \
         **Finding:** on our data both trends come out reversed (more filters lower κ, larger \
         kernels raise it), for the surrogate and the true GN, on raw and on whitened inputs, \
         which is what the deep-linear results predict: more filters and shorter kernels make \
         the Toeplitz layers wider. The claims below state the paper's direction and record \
         that it is not reproduced here; the authors' code computes Σ^{1/2} as Σ/2 and \
         eigensolves a non-symmetric product on non-whitened data (docs/METHODS.md §7), which \
         may explain the difference.";

    fn points(c: &Config) -> Vec<Point> {
        let axes = [kit::axis(&c.kernels), kit::axis(&c.filters)];
        kit::grid(&axes, c.seeds, |v| {
            Params::data(c.data())
                .with("hidden", c.hidden)
                .with("kernel", v[0])
                .with("filters", v[1])
        })
    }

    fn seconds(c: &Config, points: &[Point]) -> f64 {
        let d = crate::data::downsampled_dim(28, c.downsample);
        kit::seconds_for(
            points
                .iter()
                .map(|p| {
                    let (m, ks): (usize, usize) = (param(p, "filters"), param(p, "kernel"));
                    let pf = (m * ks + c.hidden * m * m * ks + K * m * d) as f64;
                    // dense products run about ten times faster than the per-layer estimate
                    0.1 * ((c.n * K) as f64 * pf * pf + pf.powi(3) * 4.0)
                })
                .sum(),
        )
    }

    fn run(c: &Config, job: &Job) -> Result<Vec<Row>> {
        kit::run_on(job, c.data(), Channels::All, |point, rng, data| {
            let (x, moment) = (&data.x, &data.moment);
            let (ks, m): (usize, usize) = (param(point, "kernel"), param(point, "filters"));
            let net = LinearCnn::kaiming(moment.d, m, ks, c.hidden, K, rng).ok_or_else(|| {
                Error::Input(format!("kernel {ks} is too long for d = {}", moment.d))
            })?;
            let dense = net.toeplitz();
            let pp = dense.partial_products();
            let sur = gn::kronecker_linear(&pp, moment)?;
            let sv = PartialSingularValues::of(&pp)?;
            let filt = gn::cnn_filters(&net, x)?;
            let row = Row::new()
                .int("kernel", ks)
                .int("filters", m)
                .int("seed", point.replicate as usize)
                .int("hidden", c.hidden);
            let row = data.columns(row);
            Ok(vec![row
                .int("p_filters", net.num_params())
                .int("p_toeplitz", dense.num_params())
                .float("kappa_toeplitz", sur.spectrum.kappa)
                .float("b_convex_toeplitz", bounds::b_convex(&sv, moment.kappa))
                .int("rank_toeplitz", sur.spectrum.rank)
                .text("route_toeplitz", sur.route.as_str())
                .float("kappa_filters", filt.spectrum.kappa)
                .float("lambda_max_filters", filt.spectrum.lambda_max)
                .float(
                    "lambda_min_nonzero_filters",
                    filt.spectrum.lambda_min_nonzero,
                )
                .int("rank_filters", filt.spectrum.rank)
                .text("route_filters", filt.route.as_str())
                .float("kappa_sigma", moment.kappa)])
        })
    }

    fn figure(df: &DataFrame) -> Result<Figure> {
        let sur = curves(df, "kernel", "filters", "kappa_toeplitz")?;
        let bound = curves(df, "kernel", "filters", "b_convex_toeplitz")?;
        let filt = curves(df, "kernel", "filters", "kappa_filters")?;
        let panels = sur
            .into_iter()
            .zip(bound)
            .zip(filt)
            .map(|(((ks, s), (_, b)), (_, f))| {
                Panel::new("number of filters m", "κ (log scale)")
                    .titled(format!("kernel size {ks}"))
                    .log_y()
                    .with(vec![
                        Series::measured("κ, dense-Toeplitz surrogate (authors)", 0, s),
                        Series::bound("B-convex of the surrogate", 0, b),
                        Series::measured("κ, true GN in the filter parameters", 1, f),
                    ])
            })
            .collect();
        Ok(Figure::new(
            format!(
                "Linear CNN, {} hidden conv, {} MNIST (d = {}, n = {}, k = {K})",
                first_int(df, &cols::HIDDEN)?,
                if kit::whitened(df)? {
                    "whitened"
                } else {
                    "raw"
                },
                first_int(df, &cols::D)?,
                first_int(df, &cols::N)?
            ),
            panels,
        ))
    }

    fn summary(df: &DataFrame) -> Result<SummaryTable> {
        let sur = curves(df, "kernel", "filters", "kappa_toeplitz")?;
        let filt = curves(df, "kernel", "filters", "kappa_filters")?;
        let rs = curves(df, "kernel", "filters", "rank_toeplitz")?;
        let rf = curves(df, "kernel", "filters", "rank_filters")?;
        let mut rows = Vec::new();
        for (((ks, s), (_, f)), ((_, a), (_, b))) in sur.iter().zip(&filt).zip(rs.iter().zip(&rf)) {
            for i in 0..s.len() {
                rows.push(vec![
                    ks.clone(),
                    format!("{}", s[i].0),
                    sig(s[i].1),
                    format!("{:.0}", a[i].1),
                    sig(f[i].1),
                    format!("{:.0}", b[i].1),
                ]);
            }
        }
        Ok(SummaryTable::new(
            "Means over seeds.",
            &[
                "kernel",
                "m",
                "κ surrogate",
                "rank surrogate",
                "κ true GN",
                "rank true GN",
            ],
            rows,
        ))
    }

    fn claims(df: &DataFrame) -> Result<Vec<Claim>> {
        let kappa = Col::<f64>::new("kappa_toeplitz").of(df)?;
        let bound = Col::<f64>::new("b_convex_toeplitz").of(df)?;
        let kernel = Col::<i64>::new("kernel").of(df)?;
        let filters = Col::<i64>::new("filters").of(df)?;
        let seed = cols::SEED.of(df)?;
        let rank_s = Col::<i64>::new("rank_toeplitz").of(df)?;
        let rank_f = Col::<i64>::new("rank_filters").of(df)?;
        let by_kernel = curves(df, "kernel", "filters", "kappa_toeplitz")?;
        let by_filters = curves(df, "filters", "kernel", "kappa_toeplitz")?;
        Ok(vec![
            bound_claim(
                "cnn/b-convex-holds-for-surrogate",
                "B-convex ≥ κ of the dense-Toeplitz surrogate on every point",
                &kappa,
                &bound,
                |i| format!("kernel={} m={} seed={}", kernel[i], filters[i], seed[i]),
            ),
            Claim::guaranteed(
                "cnn/true-gn-rank-below-surrogate",
                "The true filter GN has rank at most the surrogate's (tied weights)",
                rank_f.iter().zip(&rank_s).all(|(f, s)| f <= s),
                format!(
                    "ranks true/surrogate from {}/{} to {}/{}",
                    rank_f.iter().min().unwrap_or(&0),
                    rank_s.iter().min().unwrap_or(&0),
                    rank_f.iter().max().unwrap_or(&0),
                    rank_s.iter().max().unwrap_or(&0)
                ),
            ),
            // trends of the surrogate (what the authors plotted), by Spearman's ρ on the means
            Claim::paper(
                "cnn/more-filters-raise-kappa",
                "More filters raise κ (surrogate; Spearman ρ ≥ 0.8 per kernel size)",
                by_kernel.iter().all(|(_, c)| trend(c) >= 0.8),
                trend_evidence(&by_kernel, "ks="),
            ),
            Claim::paper(
                "cnn/larger-kernels-lower-kappa",
                "Larger kernels lower κ (surrogate; Spearman ρ ≤ −0.8 per number of filters)",
                by_filters.iter().all(|(_, c)| trend(c) <= -0.8),
                trend_evidence(&by_filters, "m="),
            ),
        ])
    }
}

crate::config! {
    /// Its table in a profile.
    pub struct Config [data] {
        /// Numbers of filters m (channels of every convolution).
        filters: Vec<usize> => positive_list,
        /// Kernel sizes.
        kernels: Vec<usize> => positive_list,
        /// Hidden convolutions after the first.
        hidden: usize,
        seeds: usize => at_least_one,
    }
    more kernels_fit
}

/// Every kernel leaves at least one output of the d inputs after all convolutions.
fn kernels_fit(c: &Config, check: &Check) -> std::result::Result<(), String> {
    let d = crate::data::downsampled_dim(28, c.downsample);
    match c
        .kernels
        .iter()
        .find(|&&ks| (c.hidden + 1) * (ks.max(1) - 1) >= d)
    {
        Some(ks) => check.fail(
            "kernels",
            &format!(
                "kernel {ks} with {} convolutions leaves no output of the {d} inputs",
                c.hidden + 1
            ),
        ),
        None => Ok(()),
    }
}
