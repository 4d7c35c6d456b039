//! `cnn` (appendix): linear 1-D CNNs in the authors' layout, κ versus the number of filters,
//! one panel per kernel size. Three series: the dense-Toeplitz surrogate κ the authors
//! plotted, its B-convex, and κ of the true Gauss-Newton matrix in the filter parameters.

use super::common::{self, curves, param, K};
use super::depth_width::cost_line;
use super::{Cost, Experiment, SummaryTable};
use crate::bounds::{self, PartialSingularValues};
use crate::config::{CnnConfig, Profile};
use crate::gn;
use crate::nets::LinearCnn;
use crate::pipeline::{Point, RunContext};
use crate::plot::{Figure, Panel, Series};
use crate::report::sig;
use crate::table::{self, Row};
use crate::verify::{Claim, ClaimKind};
use crate::{Error, Result};
use polars::prelude::DataFrame;

/// The experiment.
pub struct Cnn;

fn config(profile: &Profile) -> Option<&CnnConfig> {
    profile.experiments.cnn.as_ref()
}

impl Experiment for Cnn {
    fn id(&self) -> &'static str {
        "cnn"
    }

    fn paper_ref(&self) -> &'static str {
        "App. (CNN)"
    }

    fn title(&self) -> &'static str {
        "Linear CNNs: κ vs number of filters, per kernel size (Toeplitz surrogate and true GN)"
    }

    fn description(&self) -> &'static str {
        "The paper reports that more filters worsen and larger kernels improve the conditioning \
         of linear CNNs. The authors compute κ of a surrogate that treats each convolution's \
         Toeplitz matrix as a free dense layer; the Gauss-Newton matrix of the actual network \
         is taken in the filter parameters, whose Jacobian is the surrogate's restricted to \
         weight-tied directions: its rank is at most the surrogate's (equal here, where both \
         are limited by the rank of the raw data) and its κ is one to two orders of magnitude \
         larger. We compute both \
         exactly (surrogate by the Kronecker route, true GN from the explicit filter Jacobian) \
         and draw B-convex of the surrogate. **Finding:** on our data both trends come out \
         reversed (more filters lower κ, larger kernels raise it), for the surrogate and the \
         true GN, on raw and on whitened inputs, which is what the deep-linear results predict: \
         more filters and shorter kernels make the Toeplitz layers wider. The claims below \
         state the paper's direction and record that it is not reproduced here; the authors' \
         code computes Σ^{1/2} as Σ/2 and eigensolves a non-symmetric product on non-whitened \
         data (PAPER.md §7), which may explain the difference."
    }

    fn config_json(&self, profile: &Profile) -> Option<serde_json::Value> {
        common::config_json(config(profile))
    }

    fn points(&self, profile: &Profile) -> Vec<Point> {
        let Some(c) = config(profile) else {
            return Vec::new();
        };
        let axes = [common::axis(&c.kernels), common::axis(&c.filters)];
        common::grid(&axes, c.seeds, |v| {
            vec![
                ("n", c.n.to_string()),
                ("downsample", c.downsample.to_string()),
                ("whiten", c.whiten.to_string()),
                ("hidden", c.hidden.to_string()),
                ("kernel", v[0].to_string()),
                ("filters", v[1].to_string()),
            ]
        })
    }

    fn cost_hint(&self, profile: &Profile) -> Cost {
        let Some(c) = config(profile) else {
            return Cost::NONE;
        };
        let points = self.points(profile);
        let d = crate::data::downsampled_dim(28, c.downsample);
        let work = points
            .iter()
            .map(|p| {
                let (m, ks): (usize, usize) = (param(p, "filters"), param(p, "kernel"));
                let pf = (m * ks + c.hidden * m * m * ks + K * m * d) as f64;
                // dense products run about ten times faster than the per-layer estimate
                0.1 * ((c.n * K) as f64 * pf * pf + pf.powi(3) * 4.0)
            })
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
                let (ks, m): (usize, usize) = (param(point, "kernel"), param(point, "filters"));
                let net =
                    LinearCnn::kaiming(moment.d, m, ks, c.hidden, K, rng).ok_or_else(|| {
                        Error::Input(format!("kernel {ks} is too long for d = {}", moment.d))
                    })?;
                let dense = net.toeplitz();
                let pp = dense.partial_products();
                let sur = gn::kronecker_linear(&pp, &moment)?;
                let sv = PartialSingularValues::of(&pp)?;
                let filt = gn::cnn_filters(&net, &x)?;
                let row = Row::new()
                    .int("kernel", ks)
                    .int("filters", m)
                    .int("seed", point.replicate as usize)
                    .int("hidden", c.hidden);
                let row =
                    common::data_columns(row, &moment, data_rank, c.whiten, &images.source.id);
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
            },
        )
    }

    fn figure(&self, df: &DataFrame) -> Result<Figure> {
        let sur = curves(df, "kernel", "filters", "kappa_toeplitz")?;
        let bound = curves(df, "kernel", "filters", "b_convex_toeplitz")?;
        let filt = curves(df, "kernel", "filters", "kappa_filters")?;
        let panels = sur
            .into_iter()
            .zip(bound)
            .zip(filt)
            .map(|(((ks, s), (_, b)), (_, f))| Panel {
                title: format!("kernel size {ks}"),
                x_label: "number of filters m".into(),
                y_label: "κ (log scale)".into(),
                log_x: false,
                log_y: true,
                integer_x: true,
                legend_lower: false,
                series: vec![
                    Series {
                        markers_only: false,
                        label: "κ, dense-Toeplitz surrogate (authors)".into(),
                        color: 0,
                        dashed: false,
                        band: true,
                        fit: true,
                        points: s,
                    },
                    Series {
                        markers_only: false,
                        label: "B-convex of the surrogate".into(),
                        color: 0,
                        dashed: true,
                        band: false,
                        fit: true,
                        points: b,
                    },
                    Series {
                        markers_only: false,
                        label: "κ, true GN in the filter parameters".into(),
                        color: 1,
                        dashed: false,
                        band: true,
                        fit: true,
                        points: f,
                    },
                ],
            })
            .collect();
        let d = table::i64_col(df, "d")?.first().copied().unwrap_or(0);
        let n = table::i64_col(df, "n")?.first().copied().unwrap_or(0);
        let h = table::i64_col(df, "hidden")?.first().copied().unwrap_or(0);
        let w = table::str_values(df, "whiten")?;
        let white = w.first().map(|s| s == "true").unwrap_or(false);
        Ok(Figure {
            title: format!(
                "Linear CNN, {} hidden conv, {} MNIST (d = {d}, n = {n}, k = {K})",
                h,
                if white { "whitened" } else { "raw" }
            ),
            panels,
        })
    }

    fn summary(&self, df: &DataFrame) -> Result<SummaryTable> {
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
        Ok(SummaryTable {
            caption: "Means over seeds.".into(),
            header: [
                "kernel",
                "m",
                "κ surrogate",
                "rank surrogate",
                "κ true GN",
                "rank true GN",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        })
    }

    fn claims(&self, df: &DataFrame) -> Result<Vec<Claim>> {
        let kappa = table::f64_col(df, "kappa_toeplitz")?;
        let bound = table::f64_col(df, "b_convex_toeplitz")?;
        let kernel = table::i64_col(df, "kernel")?;
        let filters = table::i64_col(df, "filters")?;
        let seed = table::i64_col(df, "seed")?;
        let rank_s = table::i64_col(df, "rank_toeplitz")?;
        let rank_f = table::i64_col(df, "rank_filters")?;
        let mut claims = vec![
            common::bound_claim(
                "cnn/b-convex-holds-for-surrogate",
                "B-convex ≥ κ of the dense-Toeplitz surrogate on every point",
                &kappa,
                &bound,
                |i| format!("kernel={} m={} seed={}", kernel[i], filters[i], seed[i]),
            ),
            Claim {
                id: "cnn/true-gn-rank-below-surrogate".into(),
                kind: ClaimKind::Guaranteed,
                statement: "The true filter GN has rank at most the surrogate's (tied weights)"
                    .into(),
                pass: rank_f.iter().zip(&rank_s).all(|(f, s)| f <= s),
                evidence: format!(
                    "ranks true/surrogate from {}/{} to {}/{}",
                    rank_f.iter().min().unwrap_or(&0),
                    rank_s.iter().min().unwrap_or(&0),
                    rank_f.iter().max().unwrap_or(&0),
                    rank_s.iter().max().unwrap_or(&0)
                ),
            },
        ];
        // trends of the surrogate (what the authors plotted), by Spearman's ρ on the means
        let by_kernel = curves(df, "kernel", "filters", "kappa_toeplitz")?;
        let rho = common::trend;
        let more_filters = by_kernel.iter().all(|(_, c)| rho(c) >= 0.8);
        claims.push(Claim {
            id: "cnn/more-filters-raise-kappa".into(),
            kind: ClaimKind::Paper,
            statement: "More filters raise κ (surrogate; Spearman ρ ≥ 0.8 per kernel size)".into(),
            pass: more_filters,
            evidence: by_kernel
                .iter()
                .map(|(ks, c)| format!("ks={ks}: {} (ρ = {:.2})", common::span(c), rho(c)))
                .collect::<Vec<_>>()
                .join("; "),
        });
        let by_filters = curves(df, "filters", "kernel", "kappa_toeplitz")?;
        let larger_kernels = by_filters.iter().all(|(_, c)| rho(c) <= -0.8);
        claims.push(Claim {
            id: "cnn/larger-kernels-lower-kappa".into(),
            kind: ClaimKind::Paper,
            statement: "Larger kernels lower κ (surrogate; Spearman ρ ≤ −0.8 per number of filters)"
                .into(),
            pass: larger_kernels,
            evidence: by_filters
                .iter()
                .map(|(m, c)| format!("m={m}: {} (ρ = {:.2})", common::span(c), rho(c)))
                .collect::<Vec<_>>()
                .join("; "),
        });
        Ok(claims)
    }
}
