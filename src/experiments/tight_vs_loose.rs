//! `tight-vs-loose` (Fig. 3): κ(G_O), B-convex and B-loose versus width for one hidden layer.

use super::common::{self, axis, curves, data_columns, linear_point, param};
use super::depth_width::{cost_line, data_phrase, linear_bound_claims, linear_work};
use super::{Cost, Experiment, SummaryTable};
use crate::config::{Profile, TightLooseConfig};
use crate::nets::DeepLinear;
use crate::pipeline::{Point, RunContext};
use crate::plot::{Figure, Panel, Series};
use crate::report::{sig, sig_digits};
use crate::table::{self, Row};
use crate::verify::{Claim, ClaimKind};
use crate::Result;
use polars::prelude::DataFrame;

/// The experiment.
pub struct TightVsLoose;

fn config(profile: &Profile) -> Option<&TightLooseConfig> {
    profile.experiments.tight_vs_loose.as_ref()
}

impl Experiment for TightVsLoose {
    fn id(&self) -> &'static str {
        "tight-vs-loose"
    }

    fn paper_ref(&self) -> &'static str {
        "Fig. 3"
    }

    fn title(&self) -> &'static str {
        "κ(G_O), B-convex and B-loose vs width, one hidden layer"
    }

    fn description(&self) -> &'static str {
        "The paper compares its convex-combination bound B-convex with the looser B-loose, \
         which takes the worst layer instead of a weighted average, for a network with one \
         hidden layer. On whitened data B-convex is exact for one hidden layer; B-loose is \
         orders of magnitude above it, most of all when the width is close to d."
    }

    fn config_json(&self, profile: &Profile) -> Option<serde_json::Value> {
        common::config_json(config(profile))
    }

    fn points(&self, profile: &Profile) -> Vec<Point> {
        let Some(c) = config(profile) else {
            return Vec::new();
        };
        common::grid(&[axis(&c.widths)], c.seeds, |v| {
            vec![
                ("n", c.n.to_string()),
                ("downsample", c.downsample.to_string()),
                ("whiten", c.whiten.to_string()),
                ("width", v[0].to_string()),
            ]
        })
    }

    fn cost_hint(&self, profile: &Profile) -> Cost {
        let points = self.points(profile);
        let work = points
            .iter()
            .map(|p| linear_work(param(p, "width"), 1))
            .sum();
        cost_line(points.len(), work)
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
                let width: usize = param(point, "width");
                let row = Row::new()
                    .int("depth", 1)
                    .int("width", width)
                    .int("seed", point.replicate as usize);
                let row = data_columns(row, &moment, data_rank, c.whiten, &images.source.id);
                let net = DeepLinear::kaiming(&common::dims(moment.d, width, 1), rng);
                Ok(vec![linear_point(row, &net, &moment)?])
            },
        )
    }

    fn figure(&self, df: &DataFrame) -> Result<Figure> {
        let one = |col: &str| -> Result<common::Curve> {
            Ok(curves(df, "depth", "width", col)?
                .into_iter()
                .next()
                .map(|g| g.1)
                .unwrap_or_default())
        };
        let series = vec![
            Series {
                markers_only: false,
                label: "κ(G_O)".into(),
                color: 0,
                dashed: false,
                band: true,
                fit: true,
                points: one("kappa")?,
            },
            Series {
                markers_only: false,
                label: "B-convex".into(),
                color: 1,
                dashed: true,
                band: false,
                fit: true,
                points: one("b_convex")?,
            },
            Series {
                markers_only: false,
                label: "B-loose".into(),
                color: 2,
                dashed: true,
                band: false,
                fit: true,
                points: one("b_loose")?,
            },
        ];
        Ok(Figure {
            title: format!("One hidden layer, {}", data_phrase(df)?),
            panels: vec![Panel {
                title: String::new(),
                x_label: "hidden width m (log scale)".into(),
                y_label: "κ(G_O) and its upper bounds (log scale)".into(),
                log_x: true,
                log_y: true,
                integer_x: true,
                legend_lower: false,
                series,
            }],
        })
    }

    fn summary(&self, df: &DataFrame) -> Result<SummaryTable> {
        let k = curves(df, "depth", "width", "kappa")?;
        let c = curves(df, "depth", "width", "b_convex")?;
        let l = curves(df, "depth", "width", "b_loose")?;
        let rows = match (k.first(), c.first(), l.first()) {
            (Some((_, k)), Some((_, c)), Some((_, l))) => (0..k.len())
                .map(|i| {
                    vec![
                        format!("{}", k[i].0),
                        format!("{} ± {}", sig(k[i].1), sig_digits(k[i].2, 2)),
                        sig(c[i].1),
                        sig(l[i].1),
                        format!("{:.3e}", l[i].1 / c[i].1),
                    ]
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(SummaryTable {
            caption: "Means over seeds.".into(),
            header: ["m", "κ", "B-convex", "B-loose", "B-loose / B-convex"]
                .map(String::from)
                .to_vec(),
            rows,
        })
    }

    fn claims(&self, df: &DataFrame) -> Result<Vec<Claim>> {
        let mut claims = linear_bound_claims(self.id(), df, "width")?;
        let convex = table::f64_col(df, "b_convex")?;
        let loose = table::f64_col(df, "b_loose")?;
        let logs: Vec<f64> = convex
            .iter()
            .zip(&loose)
            .map(|(c, l)| (l / c).log10())
            .collect();
        let geo = 10f64.powf(logs.iter().sum::<f64>() / logs.len() as f64);
        let min = logs.iter().copied().fold(f64::INFINITY, f64::min);
        claims.push(Claim {
            id: "tight-vs-loose/b-convex-far-tighter".into(),
            kind: ClaimKind::Paper,
            statement: "B-convex is far tighter than B-loose: their ratio is at least 2 on \
                        geometric average over all points"
                .into(),
            pass: geo >= 2.0,
            evidence: format!(
                "geometric mean B-loose/B-convex = {}, smallest = {}",
                sig(geo),
                sig(10f64.powf(min))
            ),
        });
        Ok(claims)
    }
}
