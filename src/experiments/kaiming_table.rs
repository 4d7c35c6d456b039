//! `kaiming-table`: the high-probability bound B-kaiming for one hidden layer at Kaiming
//! initialisation against the empirical κ over many initialisations, on whitened data.
//!
//! With Σ = I exactly the spectrum depends on the data only through d, so the points use the
//! closed-form Kronecker sum `{λ_i(W₁ᵀW₁) + λ_j(W₂W₂ᵀ)}` (checked against the Kronecker route
//! and the explicit Jacobian in the tests).

use super::common::{self, param};
use super::{Cost, Experiment, SummaryTable};
use crate::bounds;
use crate::config::{KaimingTableConfig, Profile};
use crate::data::DataSource;
use crate::gn;
use crate::nets::init::kaiming_normal;
use crate::pipeline::{Point, RunContext};
use crate::plot::{Figure, Panel, Series};
use crate::report::{sig, sig_digits};
use crate::table::{self, Row};
use crate::verify::{Claim, ClaimKind};
use crate::Result;
use polars::prelude::DataFrame;

/// The experiment.
pub struct KaimingTable;

fn config(profile: &Profile) -> Option<&KaimingTableConfig> {
    profile.experiments.kaiming_table.as_ref()
}

/// The data of this experiment: none is read, Σ = I is exact.
fn synthetic_source() -> DataSource {
    DataSource {
        id: "whitened-identity".into(),
        description: "no data set: whitened inputs with Σ = I exactly (the spectrum depends on \
                      the data only through Σ)"
            .into(),
        sha256: crate::fsutil::sha256_hex(b"sigma=identity"),
    }
}

impl Experiment for KaimingTable {
    fn reads_data(&self) -> bool {
        false
    }

    fn id(&self) -> &'static str {
        "kaiming-table"
    }

    fn paper_ref(&self) -> &'static str {
        "Table (§ Kaiming)"
    }

    fn title(&self) -> &'static str {
        "B-kaiming vs the empirical κ over many Kaiming initialisations, one hidden layer"
    }

    fn description(&self) -> &'static str {
        "For one hidden layer of width m at Kaiming initialisation, the paper bounds κ with \
         high probability using the extreme singular values of Gaussian matrices. We draw \
         many initialisations per width and compare the empirical mean, spread and the \
         fraction of draws above the bound with the bound and its probability level."
    }

    fn config_json(&self, profile: &Profile) -> Option<serde_json::Value> {
        common::config_json(config(profile))
    }

    fn points(&self, profile: &Profile) -> Vec<Point> {
        let Some(c) = config(profile) else {
            return Vec::new();
        };
        common::grid(&[common::axis(&c.widths)], 1, |v| {
            vec![
                ("d", c.d.to_string()),
                ("k", c.k.to_string()),
                ("inits", c.inits.to_string()),
                ("width", v[0].to_string()),
            ]
        })
    }

    fn cost_hint(&self, profile: &Profile) -> Cost {
        let Some(c) = config(profile) else {
            return Cost::NONE;
        };
        let draws: usize = c.widths.iter().map(|m| m * (c.d + c.k)).sum::<usize>() * c.inits;
        Cost {
            points: c.widths.len(),
            seconds: 1.0 + draws as f64 / 2e7,
        }
    }

    fn run(&self, profile: &Profile, ctx: &RunContext) -> Result<Vec<Row>> {
        let c = config(profile).expect("run only on configured experiments");
        let source = synthetic_source();
        ctx.compute_points(self.id(), &self.points(profile), &source, |point, rng| {
            let m: usize = param(point, "width");
            let mut kappas = Vec::with_capacity(c.inits);
            for _ in 0..c.inits {
                let w1 = kaiming_normal(m, c.d, 1.0, rng);
                let w2 = kaiming_normal(c.k, m, 1.0, rng);
                kappas.push(gn::kronecker_sum_one_hidden(&w1, &w2, 1.0)?.spectrum.kappa);
            }
            let bound = bounds::b_kaiming(m, c.d, c.k, c.t, 1.0);
            let n = kappas.len() as f64;
            let mean = kappas.iter().sum::<f64>() / n;
            let std = (kappas.iter().map(|k| (k - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0))
                .sqrt();
            let above = kappas.iter().filter(|&&k| k > bound).count();
            Ok(vec![Row::new()
                .int("width", m)
                .int("seed", 0)
                .int("d", c.d)
                .int("k", c.k)
                .float("t", c.t)
                .int("inits", c.inits)
                .float("b_kaiming", bound)
                .float("probability", bounds::b_kaiming_probability(c.t))
                .float("kappa_mean", mean)
                .float("kappa_std", std)
                .float(
                    "kappa_min",
                    kappas.iter().copied().fold(f64::INFINITY, f64::min),
                )
                .float("kappa_max", kappas.iter().copied().fold(0.0, f64::max))
                .float("fraction_above_bound", above as f64 / n)
                .text("route", gn::Route::KroneckerSum.as_str())
                .text("data", &source.id)])
        })
    }

    fn figure(&self, df: &DataFrame) -> Result<Figure> {
        let m = table::f64_col(df, "width")?;
        let mean = table::f64_col(df, "kappa_mean")?;
        let std = table::f64_col(df, "kappa_std")?;
        let bound = table::f64_col(df, "b_kaiming")?;
        let max = table::f64_col(df, "kappa_max")?;
        let d = table::i64_col(df, "d")?.first().copied().unwrap_or(0);
        let k = table::i64_col(df, "k")?.first().copied().unwrap_or(0);
        let inits = table::i64_col(df, "inits")?.first().copied().unwrap_or(0);
        let t = table::f64_col(df, "t")?.first().copied().unwrap_or(0.0);
        let pts = |v: &[f64], s: Option<&[f64]>| -> Vec<(f64, f64, f64)> {
            (0..m.len())
                .map(|i| (m[i], v[i], s.map(|s| s[i]).unwrap_or(0.0)))
                .collect()
        };
        Ok(Figure {
            title: format!(
                "Kaiming init, one hidden layer, Σ = I (d = {d}, k = {k}, {inits} inits per width)"
            ),
            panels: vec![Panel {
                title: String::new(),
                x_label: "hidden width m (log scale)".into(),
                y_label: "κ(G_O) (log scale)".into(),
                log_x: true,
                log_y: true,
                integer_x: true,
                legend_lower: false,
                series: vec![
                    Series {
                        markers_only: false,
                        label: "empirical κ, mean ± std".into(),
                        color: 0,
                        dashed: false,
                        band: true,
                        fit: true,
                        points: pts(&mean, Some(&std)),
                    },
                    Series {
                        markers_only: false,
                        label: "empirical κ, max".into(),
                        color: 3,
                        dashed: true,
                        band: false,
                        fit: true,
                        points: pts(&max, None),
                    },
                    Series {
                        markers_only: false,
                        label: format!("B-kaiming, t = {t} (finite where √m > √d + t)"),
                        color: 1,
                        dashed: true,
                        band: false,
                        fit: true,
                        points: pts(&bound, None),
                    },
                ],
            }],
        })
    }

    fn summary(&self, df: &DataFrame) -> Result<SummaryTable> {
        let m = table::i64_col(df, "width")?;
        let bound = table::f64_col(df, "b_kaiming")?;
        let mean = table::f64_col(df, "kappa_mean")?;
        let std = table::f64_col(df, "kappa_std")?;
        let above = table::f64_col(df, "fraction_above_bound")?;
        let prob = table::f64_col(df, "probability")?;
        let rows = (0..m.len())
            .map(|i| {
                vec![
                    m[i].to_string(),
                    sig(bound[i]),
                    format!("{} ± {}", sig(mean[i]), sig_digits(std[i], 2)),
                    format!("{:.4}", above[i]),
                    format!("{:.4}", prob[i]),
                ]
            })
            .collect();
        Ok(SummaryTable {
            caption: "B-kaiming against the empirical κ; the bound holds with probability at \
                      least the level shown, so at most 1 − level of the draws may exceed it."
                .into(),
            header: [
                "m",
                "B-kaiming",
                "empirical κ (mean ± std)",
                "fraction above bound",
                "probability level",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        })
    }

    fn claims(&self, df: &DataFrame) -> Result<Vec<Claim>> {
        let m = table::i64_col(df, "width")?;
        let bound = table::f64_col(df, "b_kaiming")?;
        let mean = table::f64_col(df, "kappa_mean")?;
        let above = table::f64_col(df, "fraction_above_bound")?;
        let prob = table::f64_col(df, "probability")?;
        let finite: Vec<usize> = (0..m.len()).filter(|&i| bound[i].is_finite()).collect();
        let allowed = 1.0 - prob.first().copied().unwrap_or(0.0);
        let worst = finite.iter().map(|&i| above[i]).fold(0.0, f64::max);
        Ok(vec![
            Claim {
                id: "kaiming-table/b-kaiming-probability".into(),
                kind: ClaimKind::Guaranteed,
                statement: "At every width where B-kaiming is finite, the fraction of draws \
                            above it is at most 8 e^{−t²/2}"
                    .into(),
                pass: worst <= allowed && !finite.is_empty(),
                evidence: format!(
                    "largest fraction above = {worst:.4} over {} finite widths, allowed {allowed:.4}",
                    finite.len()
                ),
            },
            Claim {
                id: "kaiming-table/b-kaiming-above-mean".into(),
                kind: ClaimKind::Paper,
                statement: "B-kaiming is above the empirical mean κ wherever it is finite".into(),
                pass: finite.iter().all(|&i| bound[i] >= mean[i]) && !finite.is_empty(),
                evidence: finite
                    .iter()
                    .map(|&i| format!("m={}: {} ≥ {}", m[i], sig(bound[i]), sig(mean[i])))
                    .collect::<Vec<_>>()
                    .join("; "),
            },
        ])
    }
}
