//! `width-scaling` (Fig. 2b): κ(G_O) versus depth h when the width grows with depth, m = c·h,
//! against the fixed width m = c as a reference.

use super::common::{self, axis, curves, data_columns, linear_point, param, param_str, span};
use super::depth_width::{cost_line, data_phrase, depth_table, linear_bound_claims, linear_work};
use super::{Cost, Experiment, SummaryTable};
use crate::config::{Profile, WidthScalingConfig};
use crate::nets::DeepLinear;
use crate::pipeline::{Point, RunContext};
use crate::plot::{Figure, Panel, Series};
use crate::table::Row;
use crate::verify::{Claim, ClaimKind};
use crate::Result;
use polars::prelude::DataFrame;

/// The experiment.
pub struct WidthScaling;

fn config(profile: &Profile) -> Option<&WidthScalingConfig> {
    profile.experiments.width_scaling.as_ref()
}

const PROPORTIONAL: &str = "m=c·h";
const FIXED: &str = "m=c";

fn width_of(scaling: &str, c: usize, h: usize) -> usize {
    if scaling == PROPORTIONAL {
        c * h
    } else {
        c
    }
}

impl Experiment for WidthScaling {
    fn id(&self) -> &'static str {
        "width-scaling"
    }

    fn paper_ref(&self) -> &'static str {
        "Fig. 2b"
    }

    fn title(&self) -> &'static str {
        "κ(G_O) vs depth when the width scales with depth, m = c·h (deep linear)"
    }

    fn description(&self) -> &'static str {
        "The paper shows that growing the width in proportion to the depth, m = c·h, slows the \
         growth of κ with depth, and that for a large factor c κ even decreases with depth. \
         Beside each proportional curve (solid) we draw the fixed width m = c (dashed) as the \
         reference it improves on. κ comes from the exact Kronecker route."
    }

    fn config_json(&self, profile: &Profile) -> Option<serde_json::Value> {
        common::config_json(config(profile))
    }

    fn points(&self, profile: &Profile) -> Vec<Point> {
        let Some(c) = config(profile) else {
            return Vec::new();
        };
        let axes = [
            axis(&[PROPORTIONAL, FIXED]),
            axis(&c.multipliers),
            axis(&c.depths),
        ];
        common::grid(&axes, c.seeds, |v| {
            vec![
                ("n", c.n.to_string()),
                ("downsample", c.downsample.to_string()),
                ("whiten", c.whiten.to_string()),
                ("scaling", v[0].to_string()),
                ("c", v[1].to_string()),
                ("depth", v[2].to_string()),
            ]
        })
    }

    fn cost_hint(&self, profile: &Profile) -> Cost {
        let points = self.points(profile);
        let work = points
            .iter()
            .map(|p| {
                let (c, h): (usize, usize) = (param(p, "c"), param(p, "depth"));
                linear_work(width_of(param_str(p, "scaling"), c, h), h)
            })
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
                let scaling = param_str(point, "scaling");
                let (mult, depth): (usize, usize) = (param(point, "c"), param(point, "depth"));
                let width = width_of(scaling, mult, depth);
                let row = Row::new()
                    .text("curve", &format!("{scaling} c={mult}"))
                    .text("scaling", scaling)
                    .int("c", mult)
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
        let mut series = Vec::new();
        for (scaling, dashed) in [(PROPORTIONAL, false), (FIXED, true)] {
            for (i, (c, curve)) in scaled_curves(df, scaling)?.into_iter().enumerate() {
                series.push(Series {
                    markers_only: false,
                    label: format!("κ, {}", scaling.replace('c', &c)),
                    color: i,
                    dashed,
                    band: !dashed,
                    fit: true,
                    points: curve,
                });
            }
        }
        Ok(Figure {
            title: format!("Width proportional to depth, {}", data_phrase(df)?),
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
        let mut t = depth_table(df, "curve", "")?;
        t.caption = "Mean ± std of κ over seeds, mean B-convex in brackets; columns name the \
                     width rule and its factor c."
            .into();
        Ok(t)
    }

    fn claims(&self, df: &DataFrame) -> Result<Vec<Claim>> {
        let mut claims = linear_bound_claims(self.id(), df, "width")?;
        let prop = scaled_curves(df, PROPORTIONAL)?;
        let fixed = scaled_curves(df, FIXED)?;
        let growth = |c: &common::Curve| c.last().map(|l| l.1).unwrap_or(0.0) / c[0].1;
        let mut slows = true;
        let mut ev = Vec::new();
        for ((c, p), (_, f)) in prop.iter().zip(&fixed) {
            slows &= growth(p) < growth(f);
            ev.push(format!(
                "c={c}: m=c·h κ {} (×{:.3}) vs m=c κ {} (×{:.3})",
                span(p),
                growth(p),
                span(f),
                growth(f)
            ));
        }
        claims.push(Claim {
            id: "width-scaling/proportional-slows-growth".into(),
            kind: ClaimKind::Paper,
            statement: "For every c, κ grows less from the smallest to the largest depth with \
                        m = c·h than with the fixed width m = c"
                .into(),
            pass: slows && !prop.is_empty(),
            evidence: ev.join("; "),
        });
        if let Some((c, p)) = prop.last() {
            let reverses = growth(p) < 1.0;
            claims.push(Claim {
                id: "width-scaling/large-c-reverses".into(),
                kind: ClaimKind::Paper,
                statement: "For the largest factor c, κ at the largest depth is below κ at the \
                            smallest depth"
                    .into(),
                pass: reverses,
                evidence: format!("c={c}: κ {} (×{:.3})", span(p), growth(p)),
            });
        }
        Ok(claims)
    }
}

/// Mean ± std κ versus depth per factor c, for one width rule.
fn scaled_curves(df: &DataFrame, scaling: &str) -> Result<Vec<(String, common::Curve)>> {
    Ok(curves(df, "curve", "depth", "kappa")?
        .into_iter()
        .filter_map(|(g, c)| {
            g.strip_prefix(&format!("{scaling} c="))
                .map(|m| (m.to_string(), c))
        })
        .collect())
}
