//! `width-scaling` (Fig. 2b): κ(G_O) versus depth h when the width grows with depth, m = c·h,
//! against the fixed width m = c as a reference.

use super::bootstrap::{worst, Rule, Trend};
use super::kit::{self, axis, curves, param, param_str, span, Curve, Params};
use crate::claims::Claim;
use crate::experiment::{Definition, Job, SummaryTable};
use crate::plot::{Figure, Series};
use crate::runner::Point;
use crate::table::Row;
use crate::Result;
use polars::prelude::DataFrame;

/// The experiment.
pub struct WidthScaling;

impl Definition for WidthScaling {
    type Config = Config;
    const ID: &'static str = "width-scaling";
    const PAPER: &'static str = "Fig. 2b";
    const TITLE: &'static str =
        "κ(G_O) vs depth when the width scales with depth, m = c·h (deep linear)";
    const DESCRIPTION: &'static str = "The paper shows that growing the width in proportion to \
         the depth, m = c·h, slows the growth of κ with depth, and that for a large factor c κ \
         even decreases with depth. Beside each proportional curve (solid) we draw the fixed \
         width m = c (dashed) as the reference it improves on. κ comes from the exact Kronecker \
         route.";

    fn points(c: &Config) -> Vec<Point> {
        let axes = [
            axis(&[PROPORTIONAL, FIXED]),
            axis(&c.multipliers),
            axis(&c.depths),
        ];
        kit::grid(&axes, c.seeds, |v| {
            Params::data(c.data())
                .with("scaling", v[0])
                .with("c", v[1])
                .with("depth", v[2])
        })
    }

    fn seconds(_: &Config, points: &[Point]) -> f64 {
        kit::seconds_for(
            points
                .iter()
                .map(|p| {
                    let (c, h): (usize, usize) = (param(p, "c"), param(p, "depth"));
                    kit::linear_work(width_of(param_str(p, "scaling"), c, h), h)
                })
                .sum(),
        )
    }

    fn run(c: &Config, job: &Job) -> Result<Vec<Row>> {
        kit::run_linear(job, c.data(), |point| {
            let scaling = param_str(point, "scaling");
            let (mult, depth): (usize, usize) = (param(point, "c"), param(point, "depth"));
            let width = width_of(scaling, mult, depth);
            let row = Row::new()
                .text("curve", &format!("{scaling} c={mult}"))
                .text("scaling", scaling)
                .int("c", mult)
                .int("depth", depth)
                .int("width", width);
            (row, width, depth)
        })
    }

    fn figure(df: &DataFrame) -> Result<Figure> {
        let mut series = Vec::new();
        for (scaling, fixed) in [(PROPORTIONAL, false), (FIXED, true)] {
            for (i, (c, curve)) in scaled_curves(df, scaling)?.into_iter().enumerate() {
                let s = Series::measured(format!("κ, {}", scaling.replace('c', &c)), i, curve);
                series.push(if fixed { s.dashed().no_band() } else { s });
            }
        }
        Ok(Figure::new(
            format!("Width proportional to depth, {}", kit::data_phrase(df)?),
            vec![kit::depth_panel().with(series)],
        ))
    }

    fn summary(df: &DataFrame) -> Result<SummaryTable> {
        let mut t = kit::depth_table(df, "curve", "")?;
        t.caption = "Mean ± std of κ over seeds, mean B-convex in brackets; columns name the \
                     width rule and its factor c."
            .into();
        Ok(t)
    }

    fn claims(df: &DataFrame) -> Result<Vec<Claim>> {
        let mut claims = kit::linear_bound_claims(Self::ID, df, "width")?;
        let prop = scaled_curves(df, PROPORTIONAL)?;
        let fixed = scaled_curves(df, FIXED)?;
        let mut ev = Vec::new();
        for ((c, p), (_, f)) in prop.iter().zip(&fixed) {
            ev.push(format!(
                "c={c}: m=c·h κ {} (×{:.3}) vs m=c κ {} (×{:.3})",
                span(p),
                growth(p),
                span(f),
                growth(f)
            ));
        }
        let keys: &[&str] = &["curve", "depth"];
        let slower = |df: &DataFrame| -> Result<f64> {
            let (prop, fixed) = (scaled_curves(df, PROPORTIONAL)?, scaled_curves(df, FIXED)?);
            let r: Vec<f64> = prop
                .iter()
                .zip(&fixed)
                .map(|((_, p), (_, f))| growth(f) / growth(p))
                .collect();
            Ok(worst(&r, Rule::Above(1.0)))
        };
        claims.push(
            Trend {
                id: "width-scaling/proportional-slows-growth",
                statement: "For every c, κ grows less from the smallest to the largest depth \
                            with m = c·h than with the fixed width m = c",
                keys,
                rule: Rule::Above(1.0),
                statistic: "smallest ratio of growths (fixed / proportional)",
            }
            .claim(df, slower, ev.join("; "))?,
        );
        if let Some((c, p)) = prop.last() {
            let last_growth = |df: &DataFrame| -> Result<f64> {
                Ok(scaled_curves(df, PROPORTIONAL)?
                    .last()
                    .map_or(f64::NAN, |(_, p)| growth(p)))
            };
            claims.push(
                Trend {
                    id: "width-scaling/large-c-reverses",
                    statement: "For the largest factor c, κ at the largest depth is below κ at \
                                the smallest depth",
                    keys,
                    rule: Rule::Below(1.0),
                    statistic: "growth",
                }
                .claim(
                    df,
                    last_growth,
                    format!("c={c}: κ {} (×{:.3})", span(p), growth(p)),
                )?,
            );
        }
        Ok(claims)
    }
}

/// Mean ± std κ versus depth per factor c, for one width rule.
fn scaled_curves(df: &DataFrame, scaling: &str) -> Result<Vec<(String, Curve)>> {
    Ok(curves(df, "curve", "depth", "kappa")?
        .into_iter()
        .filter_map(|(g, c)| {
            g.strip_prefix(&format!("{scaling} c="))
                .map(|m| (m.to_string(), c))
        })
        .collect())
}

/// κ at the largest depth over κ at the smallest, along a curve.
fn growth(c: &Curve) -> f64 {
    c.last().map_or(f64::NAN, |l| l.1) / c.first().map_or(f64::NAN, |f| f.1)
}

crate::config! {
    /// Its table in a profile.
    pub struct Config [data] {
        depths: Vec<usize> => positive_list,
        /// The factors c of m = c·h.
        multipliers: Vec<usize> => positive_list,
        seeds: usize => at_least_one,
    }
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
