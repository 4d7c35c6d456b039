//! `depth-width` (Fig. 2a): κ(G_O) and B-convex of deep linear networks at Kaiming
//! initialisation versus the number of hidden layers h, one curve per width m.

use super::common::{
    self, axis, bound_claim, curves, data_columns, increasing, linear_point, param, span,
};
use super::{Cost, Experiment, SummaryTable};
use crate::config::{DepthWidthConfig, Profile};
use crate::nets::DeepLinear;
use crate::pipeline::{Point, RunContext};
use crate::plot::{Figure, Panel, Series};
use crate::report::{sig, sig_digits};
use crate::table::{self, Row};
use crate::verify::{Claim, ClaimKind};
use crate::Result;
use polars::prelude::DataFrame;

/// The experiment.
pub struct DepthWidth;

fn config(profile: &Profile) -> Option<&DepthWidthConfig> {
    profile.experiments.depth_width.as_ref()
}

/// "whitened MNIST (d = 49, n = 1000)" for titles, from a result table.
pub fn data_phrase(df: &DataFrame) -> Result<String> {
    let d = table::i64_col(df, "d")?.first().copied().unwrap_or(0);
    let n = table::i64_col(df, "n")?.first().copied().unwrap_or(0);
    let w = table::str_values(df, "whiten")?;
    let white = w.first().map(|s| s == "true").unwrap_or(false);
    Ok(format!(
        "{} MNIST (d = {d}, n = {n}, k = {})",
        if white { "whitened" } else { "raw" },
        common::K
    ))
}

impl Experiment for DepthWidth {
    fn id(&self) -> &'static str {
        "depth-width"
    }

    fn paper_ref(&self) -> &'static str {
        "Fig. 2a"
    }

    fn title(&self) -> &'static str {
        "κ(G_O) and B-convex vs depth, one curve per width (deep linear, whitened MNIST)"
    }

    fn description(&self) -> &'static str {
        "The paper shows that at Kaiming initialisation the condition number of the \
         Gauss-Newton matrix of a deep linear network grows with depth and shrinks with width, \
         and that the B-convex bound follows it closely. We compute κ exactly from the \
         Kronecker form `Σ_ℓ A_ℓ ⊗ B_ℓ` (a dk×dk eigenproblem, never the p×p matrix) and \
         B-convex from the singular values of the partial products."
    }

    fn config_json(&self, profile: &Profile) -> Option<serde_json::Value> {
        common::config_json(config(profile))
    }

    fn points(&self, profile: &Profile) -> Vec<Point> {
        let Some(c) = config(profile) else {
            return Vec::new();
        };
        common::grid(&[axis(&c.widths), axis(&c.depths)], c.seeds, |v| {
            vec![
                ("n", c.n.to_string()),
                ("downsample", c.downsample.to_string()),
                ("whiten", c.whiten.to_string()),
                ("depth", v[1].to_string()),
                ("width", v[0].to_string()),
            ]
        })
    }

    fn cost_hint(&self, profile: &Profile) -> Cost {
        let Some(c) = config(profile) else {
            return Cost::NONE;
        };
        let work: f64 = c
            .widths
            .iter()
            .flat_map(|&m| c.depths.iter().map(move |&h| linear_work(m, h)))
            .sum::<f64>()
            * c.seeds as f64;
        cost_line(self.points(profile).len(), work)
    }

    fn run(&self, profile: &Profile, ctx: &RunContext) -> Result<Vec<Row>> {
        let c = config(profile).expect("run only on configured experiments");
        let images = ctx.data(self.wants())?;
        let (moment, data_rank) = common::prepare(images, c.n, c.downsample, c.whiten)?;
        ctx.compute_points(
            self.id(),
            &self.points(profile),
            &images.source,
            |point, rng| {
                let (depth, width): (usize, usize) = (param(point, "depth"), param(point, "width"));
                let row = Row::new()
                    .int("depth", depth)
                    .int("width", width)
                    .int("seed", point.replicate as usize);
                let row = data_columns(row, &moment, data_rank, c.whiten, &images.source.id);
                let net = DeepLinear::kaiming(&common::dims(moment.d, width, depth), rng);
                Ok(vec![linear_point(row, &net, &moment)?])
            },
        )
    }

    fn figure(&self, df: &DataFrame) -> Result<Figure> {
        let kappa = curves(df, "width", "depth", "kappa")?;
        let bound = curves(df, "width", "depth", "b_convex")?;
        let mut series = Vec::new();
        for (i, ((m, k), (_, b))) in kappa.into_iter().zip(bound).enumerate() {
            series.push(Series {
                markers_only: false,
                label: format!("κ, m = {m}"),
                color: i,
                dashed: false,
                band: true,
                fit: true,
                points: k,
            });
            series.push(Series {
                markers_only: false,
                label: format!("B-convex, m = {m}"),
                color: i,
                dashed: true,
                band: false,
                fit: true,
                points: b,
            });
        }
        Ok(Figure {
            title: format!("Deep linear nets on {}", data_phrase(df)?),
            panels: vec![Panel {
                title: String::new(),
                x_label: "depth h = number of hidden layers (L = h + 1 weight matrices)".into(),
                y_label: "condition number κ(G_O) (log scale)".into(),
                log_x: false,
                log_y: true,
                integer_x: true,
                legend_lower: false,
                series,
            }],
        })
    }

    fn summary(&self, df: &DataFrame) -> Result<SummaryTable> {
        depth_table(df, "width", "m = ")
    }

    fn claims(&self, df: &DataFrame) -> Result<Vec<Claim>> {
        let mut claims = linear_bound_claims(self.id(), df, "width")?;
        let kappa = curves(df, "width", "depth", "kappa")?;
        let grows = kappa.iter().all(|(_, c)| increasing(c));
        claims.push(Claim {
            id: "depth-width/kappa-grows-with-depth".into(),
            kind: ClaimKind::Paper,
            statement: "At fixed width, mean κ increases strictly with every added hidden layer"
                .into(),
            pass: grows,
            evidence: kappa
                .iter()
                .map(|(m, c)| format!("m={m}: κ {}", span(c)))
                .collect::<Vec<_>>()
                .join("; "),
        });
        let n_depths = kappa.first().map(|c| c.1.len()).unwrap_or(0);
        let mut wider = kappa.len() > 1;
        let mut ev = Vec::new();
        for i in 0..n_depths {
            let ks: Vec<f64> = kappa.iter().map(|(_, c)| c[i].1).collect();
            wider &= ks.windows(2).all(|w| w[1] < w[0]);
            let chain: Vec<String> = ks.iter().map(|k| sig(*k)).collect();
            ev.push(format!("h={}: {}", kappa[0].1[i].0, chain.join(" > ")));
        }
        claims.push(Claim {
            id: "depth-width/wider-is-better".into(),
            kind: ClaimKind::Paper,
            statement: "At fixed depth, mean κ decreases strictly with width".into(),
            pass: wider,
            evidence: ev.join("; "),
        });
        Ok(claims)
    }
}

/// Rough flops of one deep linear point: the partial products cost h m² (d + k).
pub fn linear_work(m: usize, h: usize) -> f64 {
    (h as f64) * (m * m) as f64 * 60.0 + 2e6
}

/// "N points, ~S s on 1 core" from a flop count (≈1.5 Gflop/s measured here).
pub fn cost_line(points: usize, flops: f64) -> Cost {
    Cost {
        points,
        seconds: 1.0 + flops / 1.5e9,
    }
}

/// A table of mean ± std κ (mean B-convex) with one row per depth and one column per value
/// of `group`, headed `{prefix}{value}`.
pub fn depth_table(df: &DataFrame, group: &str, prefix: &str) -> Result<SummaryTable> {
    let kappa = curves(df, group, "depth", "kappa")?;
    let bound = curves(df, group, "depth", "b_convex")?;
    let mut header = vec!["h".to_string()];
    header.extend(
        kappa
            .iter()
            .map(|(g, _)| format!("{prefix}{g}: κ (B-convex)")),
    );
    let depths: Vec<f64> = kappa
        .first()
        .map(|(_, c)| c.iter().map(|p| p.0).collect())
        .unwrap_or_default();
    let rows = depths
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let mut row = vec![format!("{h}")];
            for ((_, k), (_, b)) in kappa.iter().zip(&bound) {
                row.push(match (k.get(i), b.get(i)) {
                    (Some(k), Some(b)) => {
                        format!("{} ± {} ({})", sig(k.1), sig_digits(k.2, 2), sig(b.1))
                    }
                    _ => "–".into(),
                });
            }
            row
        })
        .collect();
    Ok(SummaryTable {
        caption: "Mean ± std of κ over seeds, mean B-convex in brackets.".into(),
        header,
        rows,
    })
}

/// The guaranteed claims of every deep linear table: B-convex ≥ κ, B-loose ≥ B-convex, and
/// B-convex = κ for one hidden layer on whitened data.
pub fn linear_bound_claims(id: &str, df: &DataFrame, group: &str) -> Result<Vec<Claim>> {
    let kappa = table::f64_col(df, "kappa")?;
    let convex = table::f64_col(df, "b_convex")?;
    let loose = table::f64_col(df, "b_loose")?;
    let depth = table::i64_col(df, "depth")?;
    let groups = table::str_values(df, group)?;
    let seed = table::i64_col(df, "seed")?;
    let whiten = table::str_values(df, "whiten")?;
    let label = |i: usize| format!("h={} {group}={} seed={}", depth[i], groups[i], seed[i]);
    let mut claims = vec![
        bound_claim(
            &format!("{id}/b-convex-holds"),
            "B-convex ≥ κ(G_O) on every point",
            &kappa,
            &convex,
            label,
        ),
        bound_claim(
            &format!("{id}/b-loose-above-b-convex"),
            "B-loose ≥ B-convex on every point",
            &convex,
            &loose,
            label,
        ),
    ];
    let one: Vec<usize> = (0..kappa.len())
        .filter(|&i| depth[i] == 1 && whiten[i] == "true")
        .collect();
    if !one.is_empty() {
        let err = one
            .iter()
            .map(|&i| ((convex[i] - kappa[i]) / kappa[i]).abs())
            .fold(0.0, f64::max);
        claims.push(Claim {
            id: format!("{id}/b-convex-exact-one-hidden"),
            kind: ClaimKind::Guaranteed,
            statement: "B-convex equals κ for one hidden layer on whitened data".into(),
            pass: err <= 1e-9,
            evidence: format!(
                "max |B-convex − κ|/κ = {err:.2e} over {} points (tolerance 1e-9)",
                one.len()
            ),
        });
    }
    Ok(claims)
}
