//! `cnn` (appendix): linear 1-D CNNs in the authors' layout, κ versus the number of filters,
//! one panel per kernel size. Four κ series: the authors' formula as their code evaluates it
//! (two Toeplitz layers, no head, Σ/2 in the Σ^{1/2} slot), the same formula with Σ^{1/2}, our
//! dense-Toeplitz surrogate with the head, and the true Gauss-Newton matrix in the filter
//! parameters; with B-convex of the surrogate.

use super::bootstrap::{worst_rho, Rule, Trend};
use super::kit::{self, cols, curves, first_int, param, trend_evidence, Channels, Col, Params, K};
use crate::authors::{self, Slot};
use crate::bounds::{self, PartialSingularValues};
use crate::claims::{bound_claim, Claim};
use crate::config::Check;
use crate::experiment::{Definition, Job, SummaryTable};
use crate::format::sig;
use crate::gn;
use crate::linalg::Spectrum;
use crate::nets::LinearCnn;
use crate::plot::{Figure, Panel, Series};
use crate::runner::Point;
use crate::table::Row;
use crate::{Error, Result};
use polars::prelude::DataFrame;

/// The experiment.
pub struct Cnn;

/// The four κ columns, with their legend labels, in drawing order.
const SERIES: [(&str, &str); 4] = [
    (
        "kappa_authors",
        "authors' formula as written (2 Toeplitz layers, no head, Σ/2)",
    ),
    ("kappa_authors_root", "authors' formula with Σ^{1/2}"),
    ("kappa_toeplitz", "dense-Toeplitz surrogate with the head"),
    ("kappa_filters", "true GN in the filter parameters"),
];

impl Definition for Cnn {
    type Config = Config;
    const ID: &'static str = "cnn";
    const PAPER: &'static str = "App. (CNN)";
    const TITLE: &'static str =
        "Linear CNNs: κ vs number of filters, per kernel size (the authors' formula and the true GN)";
    const DESCRIPTION: &'static str = "The paper reports that more filters worsen and larger \
         kernels improve the conditioning of linear CNNs. Its numbers come from a formula that \
         treats the two convolutions' Toeplitz matrices as a free two-layer linear network \
         (no linear head) and puts `cov_xx**1/2` in the slot of Σ^{1/2}, which Python evaluates \
         as Σ/2 (docs/METHODS.md §7). We evaluate four quantities exactly on the same \
         initialisations: that formula as written (Σ/2, with the authors' rank rule), the same \
         formula with Σ^{1/2} (the Gauss-Newton matrix of the two-Toeplitz network), our \
         surrogate with the head (Kronecker route), and the Gauss-Newton matrix of the actual \
         network in its filter parameters (explicit Jacobian on the r ≤ d rows of Σ's factor, \
         exact because the network is linear in x). **Finding:** the paper's trends appear with \
         Σ/2 and reverse with Σ^{1/2}: the first-layer block then holds Σ T₁ᵀT₁ Σ / 4, which \
         squares the data's spectrum (κ(Σ) ≈ 1.4·10³ on raw MNIST), so the formula measures \
         that squared spectrum rather than the network. The correct quantities follow the \
         deep-linear picture instead: more filters and shorter kernels make the Toeplitz layers \
         wider and lower κ. The paper-direction claims on the true GN fail, and name the claim \
         that shows why.";

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
                    // the filter GN is built on the r ≤ d rows of Σ's factor, not the n
                    // samples, and its products run as GEMMs: calibrated on the default
                    // profile (1200 points in 100 core-seconds here)
                    3e-3 * ((d.min(c.n) * K) as f64 * pf * pf + pf.powi(3) * 4.0)
                })
                .sum(),
        )
    }

    fn run(c: &Config, job: &Job) -> Result<Vec<Row>> {
        kit::run_on(job, c.data(), Channels::All, |point, rng, data| {
            let moment = &data.moment;
            let (ks, m): (usize, usize) = (param(point, "kernel"), param(point, "filters"));
            let net = LinearCnn::kaiming(moment.d, m, ks, c.hidden, K, rng).ok_or_else(|| {
                Error::Input(format!("kernel {ks} is too long for d = {}", moment.d))
            })?;
            let dense = net.toeplitz();
            let pp = dense.partial_products();
            let sur = gn::kronecker_linear(&pp, moment)?;
            let sv = PartialSingularValues::of(&pp)?;
            let filt = gn::cnn_filters_from_moment(&net, moment)?;
            // the authors' formula covers exactly two convolutions (one hidden)
            let (written, root) = match net.toeplitz_convs().as_slice() {
                [t1, t2] => (
                    authors::cnn_formula(t1, t2, &moment.factor, Slot::Halved)?,
                    authors::cnn_formula(t1, t2, &moment.factor, Slot::Root)?,
                ),
                _ => (Spectrum::undefined(), Spectrum::undefined()),
            };
            let row = Row::new()
                .int("kernel", ks)
                .int("filters", m)
                .int("seed", point.replicate as usize)
                .int("hidden", c.hidden);
            let row = data.columns(row);
            Ok(vec![row
                .float("kappa_authors", written.kappa)
                .int("rank_authors", written.rank)
                .float("kappa_authors_root", root.kappa)
                .int("rank_authors_root", root.rank)
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
        let series: Vec<Vec<(String, kit::Curve)>> = SERIES
            .iter()
            .map(|(col, _)| curves(df, "kernel", "filters", col))
            .collect::<Result<_>>()?;
        let bound = curves(df, "kernel", "filters", "b_convex_toeplitz")?;
        let panels = bound
            .into_iter()
            .enumerate()
            .map(|(g, (ks, b))| {
                let mut lines: Vec<Series> = SERIES
                    .iter()
                    .zip(&series)
                    .enumerate()
                    .map(|(i, ((_, label), c))| Series::measured(*label, i, c[g].1.clone()))
                    .collect();
                lines.push(Series::bound("B-convex of the surrogate", 2, b));
                Panel::new("number of filters m", "κ (log scale)")
                    .titled(format!("kernel size {ks}"))
                    .log_y()
                    .legend_room()
                    .with(lines)
            })
            .collect();
        Ok(Figure::new(
            format!(
                "Linear CNN, {} hidden conv, {} MNIST (d = {}, n = {}, k = {K}), {} inits",
                first_int(df, &cols::HIDDEN)?,
                if kit::whitened(df)? {
                    "whitened"
                } else {
                    "raw"
                },
                first_int(df, &cols::D)?,
                first_int(df, &cols::N)?,
                cols::SEED.of(df)?.iter().max().map_or(0, |s| s + 1)
            ),
            panels,
        ))
    }

    fn summary(df: &DataFrame) -> Result<SummaryTable> {
        let series: Vec<Vec<(String, kit::Curve)>> = SERIES
            .iter()
            .map(|(col, _)| curves(df, "kernel", "filters", col))
            .collect::<Result<_>>()?;
        let mut rows = Vec::new();
        for (g, (ks, first)) in series[0].iter().enumerate() {
            for (i, p) in first.iter().enumerate() {
                let mut row = vec![ks.clone(), format!("{}", p.0)];
                row.extend(series.iter().map(|s| sig(s[g].1[i].1)));
                rows.push(row);
            }
        }
        Ok(SummaryTable::new(
            "Mean κ over initialisations (same initialisations in every column).",
            &[
                "kernel",
                "m",
                "authors, Σ/2",
                "authors, Σ^{1/2}",
                "surrogate + head",
                "true GN",
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
        let mut claims = vec![
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
        ];
        // the two trends, for the authors' formula as written, with Σ^{1/2}, and (the paper's
        // claims proper) for the true Gauss-Newton matrix
        let filters_up = |id: &str, statement: &str, col: &'static str, rule: Rule| {
            trend_claim(df, id, statement, "kernel", "filters", col, rule, "ks=")
        };
        let kernels_down = |id: &str, statement: &str, col: &'static str, rule: Rule| {
            trend_claim(df, id, statement, "filters", "kernel", col, rule, "m=")
        };
        let written_f = filters_up(
            "cnn/authors-formula-more-filters-raise-kappa",
            "The authors' formula as written (Σ/2) shows the paper's filter trend: κ rises with \
             the number of filters (Spearman ρ ≥ 0.8 per kernel size)",
            "kappa_authors",
            Rule::AtLeast(0.8),
        )?;
        let written_k = kernels_down(
            "cnn/authors-formula-larger-kernels-lower-kappa",
            "The authors' formula as written (Σ/2) shows the paper's kernel trend: κ falls with \
             the kernel size (Spearman ρ ≤ −0.8 per number of filters)",
            "kappa_authors",
            Rule::AtMost(-0.8),
        )?;
        let root_f = filters_up(
            "cnn/root-reverses-filter-trend",
            "With Σ^{1/2} in the slot (the Gauss-Newton matrix of the same two-Toeplitz \
             network) the filter trend reverses: κ falls with the number of filters (ρ ≤ −0.8 \
             per kernel size). Σ/2 puts Σ T₁ᵀT₁ Σ/4 in the first-layer block, which squares the \
             data spectrum; Σ^{1/2} does not",
            "kappa_authors_root",
            Rule::AtMost(-0.8),
        )?;
        let root_k = kernel_cause_claim(df)?;
        let cause = |c: &Claim| c.passed().then(|| c.id.clone());
        let (why_f, why_k) = (cause(&root_f), cause(&root_k));
        let mut paper_f = filters_up(
            "cnn/more-filters-raise-kappa",
            "The paper: more filters raise κ (true GN in the filter parameters; Spearman ρ ≥ \
             0.8 per kernel size)",
            "kappa_filters",
            Rule::AtLeast(0.8),
        )?;
        let mut paper_k = kernels_down(
            "cnn/larger-kernels-lower-kappa",
            "The paper: larger kernels lower κ (true GN in the filter parameters; Spearman ρ ≤ \
             −0.8 per number of filters)",
            "kappa_filters",
            Rule::AtMost(-0.8),
        )?;
        if let Some(id) = why_f {
            paper_f = paper_f.caused_by(&id);
        }
        if let Some(id) = why_k {
            paper_k = paper_k.caused_by(&id);
        }
        claims.extend([written_f, written_k, root_f, root_k, paper_f, paper_k]);
        Ok(claims)
    }
}

/// The kernel trend comes from the Σ/2 slot: per number of filters, the fall of mean κ from
/// the smallest to the largest kernel, `κ(ks_min)/κ(ks_max)`, with Σ/2 divided by the same
/// fall with Σ^{1/2} (same initialisations); the smallest over m must exceed 1.
fn kernel_cause_claim(df: &DataFrame) -> Result<Claim> {
    let falls = |df: &DataFrame, col: &str| -> Result<Vec<(String, f64)>> {
        Ok(curves(df, "filters", "kernel", col)?
            .into_iter()
            .map(|(m, c)| {
                let r = match (c.first(), c.last()) {
                    (Some(a), Some(b)) => a.1 / b.1,
                    _ => f64::NAN,
                };
                (m, r)
            })
            .collect())
    };
    let excess = move |df: &DataFrame| -> Result<f64> {
        let (half, root) = (
            falls(df, "kappa_authors")?,
            falls(df, "kappa_authors_root")?,
        );
        Ok(half
            .iter()
            .zip(&root)
            .map(|(h, r)| h.1 / r.1)
            .fold(f64::INFINITY, f64::min))
    };
    let (half, root) = (
        falls(df, "kappa_authors")?,
        falls(df, "kappa_authors_root")?,
    );
    Trend {
        id: "cnn/kernel-trend-comes-from-sigma-half",
        statement: "The kernel trend comes from the Σ/2 slot: for every number of filters, the \
                    fall of mean κ from the smallest to the largest kernel is larger with Σ/2 \
                    than with Σ^{1/2} on the same initialisations (the ratio of the two falls \
                    exceeds 1, its value under no effect)",
        keys: &["kernel", "filters"],
        rule: Rule::Above(1.0),
        statistic: "smallest ratio of the two falls",
    }
    .claim(
        df,
        excess,
        "fall κ(smallest)/κ(largest kernel) ".to_string()
            + &kit::joined(half.iter().zip(&root), |(h, r)| {
                format!(
                    "m={}: ×{} (Σ/2) vs ×{} (Σ^{{1/2}})",
                    h.0,
                    sig(h.1),
                    sig(r.1)
                )
            }),
    )
}

/// A trend claim on column `col`: ρ of its means along `x`, per value of `group`, must satisfy
/// `rule` for every group (the smallest ρ for `AtLeast`, the largest for `AtMost`).
#[allow(clippy::too_many_arguments)]
fn trend_claim(
    df: &DataFrame,
    id: &str,
    statement: &str,
    group: &'static str,
    x: &'static str,
    col: &'static str,
    rule: Rule,
    prefix: &str,
) -> Result<Claim> {
    let statistic = match rule {
        Rule::AtLeast(_) | Rule::Above(_) => format!("smallest ρ over the {group} values"),
        Rule::AtMost(_) | Rule::Below(_) => format!("largest ρ over the {group} values"),
    };
    Trend {
        id,
        statement,
        keys: &["kernel", "filters"],
        rule,
        statistic: &statistic,
    }
    .claim(
        df,
        worst_rho(group, x, col, rule),
        trend_evidence(&curves(df, group, x, col)?, prefix),
    )
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
