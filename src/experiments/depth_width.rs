//! `depth-width` (Fig. 2a): κ(G_O) and B-convex of deep linear networks at Kaiming
//! initialisation versus the number of hidden layers h, one curve per width m.

use super::{Experiment, SummaryTable};
use crate::bounds::{self, PartialSingularValues};
use crate::config::{DepthWidthConfig, Profile};
use crate::data::{self, SecondMoment};
use crate::gn;
use crate::nets::DeepLinear;
use crate::pipeline::{Point, RunContext};
use crate::plot::{LineFigure, Series};
use crate::table::{self, Row};
use crate::verify::{spearman, Claim, ClaimKind};
use crate::Result;
use polars::prelude::DataFrame;

/// Number of outputs (MNIST classes).
pub const K: usize = 10;

/// The experiment.
pub struct DepthWidth;

fn config(profile: &Profile) -> Option<&DepthWidthConfig> {
    profile.experiments.depth_width.as_ref()
}

/// The data matrix of a configuration: first n images, subsampled, optionally whitened.
/// Also returns the numerical rank of the raw (unwhitened) data.
pub fn prepare(images: &data::Images, c: &DepthWidthConfig) -> Result<(SecondMoment, usize)> {
    let x = data::design_matrix(images, c.n, c.downsample)?;
    if c.whiten {
        let (xw, raw_rank) = data::whiten(&x)?;
        Ok((SecondMoment::of(&xw)?, raw_rank))
    } else {
        let m = SecondMoment::of(&x)?;
        let rank = m.rank;
        Ok((m, rank))
    }
}

/// κ, B-convex and the spectrum summary of one Kaiming-initialised deep linear network.
pub fn compute_point(
    moment: &SecondMoment,
    depth: usize,
    width: usize,
    rng: &mut crate::seed::PointRng,
) -> Result<Row> {
    let mut dims = vec![moment.d];
    dims.extend(std::iter::repeat_n(width, depth));
    dims.push(K);
    let net = DeepLinear::kaiming(&dims, rng);
    let pp = net.partial_products();
    let spec = gn::kronecker_linear(&pp, moment)?;
    let sv = PartialSingularValues::of(&pp)?;
    let b_convex = bounds::b_convex(&sv, moment.kappa);
    let s = spec.spectrum;
    Ok(Row::new()
        .int("p", net.num_params())
        .float("kappa", s.kappa)
        .float("b_convex", b_convex)
        .float("lambda_max", s.lambda_max)
        .float("lambda_min_nonzero", s.lambda_min_nonzero)
        .int("rank", s.rank)
        .int("rank_theory", spec.rank_theory.unwrap_or(0))
        .float("rank_threshold", s.threshold)
        .float("kappa_sigma", moment.kappa)
        .text("route", spec.route.as_str()))
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
        config(profile).map(|c| serde_json::to_value(c).expect("config serialises"))
    }

    fn points(&self, profile: &Profile) -> Vec<Point> {
        let Some(c) = config(profile) else {
            return Vec::new();
        };
        let mut points = Vec::new();
        for &width in &c.widths {
            for &depth in &c.depths {
                for replicate in 0..c.seeds as u64 {
                    points.push(Point {
                        params: vec![
                            ("n", c.n.to_string()),
                            ("downsample", c.downsample.to_string()),
                            ("whiten", c.whiten.to_string()),
                            ("depth", depth.to_string()),
                            ("width", width.to_string()),
                        ],
                        replicate,
                    });
                }
            }
        }
        points
    }

    fn cost_hint(&self, profile: &Profile) -> String {
        let Some(c) = config(profile) else {
            return "not in this profile".into();
        };
        // Measured here: about 0.35 s for m = 1024, h = 10 (d = 49); cost ∝ h m² (d + k).
        let d = data::downsampled_dim(28, c.downsample) as f64;
        let flops: f64 = c
            .widths
            .iter()
            .flat_map(|&m| {
                c.depths
                    .iter()
                    .map(move |&h| (h as f64) * (m * m) as f64 * (d + 10.0))
            })
            .sum::<f64>()
            * c.seeds as f64;
        format!(
            "{} points, ~{:.0} s on 1 core",
            self.points(profile).len(),
            1.0 + flops / 1.5e9
        )
    }

    fn run(&self, profile: &Profile, ctx: &RunContext) -> Result<Vec<Row>> {
        let c = config(profile).expect("run only on configured experiments");
        let images = ctx.images()?;
        let (moment, data_rank) = prepare(images, c)?;
        let points = self.points(profile);
        ctx.compute_points(self.id(), &points, &images.source, |point, rng| {
            let get = |k: &str| -> usize {
                let v = &point.params.iter().find(|(n, _)| *n == k).expect("param").1;
                v.parse().expect("integer param")
            };
            let (depth, width) = (get("depth"), get("width"));
            let row = Row::new()
                .int("depth", depth)
                .int("width", width)
                .int("seed", point.replicate as usize)
                .int("d", moment.d)
                .int("n", moment.n)
                .int("k", K)
                .int("data_rank", data_rank)
                .text("whiten", &c.whiten.to_string())
                .text("data", &images.source.id);
            let rest = compute_point(&moment, depth, width, rng)?;
            Ok(Row(row.0.into_iter().chain(rest.0).collect()))
        })
    }

    fn figure(&self, df: &DataFrame) -> Result<LineFigure> {
        let groups = curves(df)?;
        let d = table::i64_col(df, "d")?.first().copied().unwrap_or(0);
        let n = table::i64_col(df, "n")?.first().copied().unwrap_or(0);
        let mut series = Vec::new();
        for (i, g) in groups.iter().enumerate() {
            series.push(Series {
                label: format!("κ, m = {}", g.width),
                color: i,
                dashed: false,
                band: true,
                points: g.kappa.clone(),
            });
            series.push(Series {
                label: format!("B-convex, m = {}", g.width),
                color: i,
                dashed: true,
                band: false,
                points: g.bound.clone(),
            });
        }
        Ok(LineFigure {
            title: format!("Deep linear nets on whitened MNIST (d = {d}, n = {n}, k = {K})"),
            x_label: "depth h = number of hidden layers (L = h + 1 weight matrices)".into(),
            y_label: "condition number κ(G_O) (log scale)".into(),
            log_y: true,
            integer_x: true,
            series,
        })
    }

    fn summary(&self, df: &DataFrame) -> Result<SummaryTable> {
        let groups = curves(df)?;
        let depths: Vec<f64> = groups
            .first()
            .map(|g| g.kappa.iter().map(|p| p.0).collect())
            .unwrap_or_default();
        let mut header = vec!["h".to_string()];
        header.extend(
            groups
                .iter()
                .map(|g| format!("m = {}: κ (B-convex)", g.width)),
        );
        let rows = depths
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let mut row = vec![format!("{h}")];
                for g in &groups {
                    let (k, b) = (g.kappa.get(i), g.bound.get(i));
                    row.push(match (k, b) {
                        (Some(k), Some(b)) => format!(
                            "{} ± {} ({})",
                            crate::report::sig(k.1),
                            crate::report::sig_digits(k.2, 2),
                            crate::report::sig(b.1)
                        ),
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

    fn claims(&self, df: &DataFrame) -> Result<Vec<Claim>> {
        let kappa = table::f64_col(df, "kappa")?;
        let bound = table::f64_col(df, "b_convex")?;
        let depth = table::i64_col(df, "depth")?;
        let width = table::i64_col(df, "width")?;
        let seed = table::i64_col(df, "seed")?;
        let whiten = table::str_values(df, "whiten")?;
        let mut claims = Vec::new();

        // B-convex ≥ κ, up to the rounding of two eigen/singular-value computations.
        let rel_slack = 1e-9;
        let (worst, at) = (0..kappa.len())
            .map(|i| (kappa[i] / bound[i], i))
            .fold((0.0, 0), |a, b| if b.0 > a.0 { b } else { a });
        claims.push(Claim {
            id: "depth-width/b-convex-holds".into(),
            kind: ClaimKind::Guaranteed,
            statement: "B-convex ≥ κ(G_O) on every point".into(),
            pass: kappa.iter().zip(&bound).all(|(k, b)| *k <= b * (1.0 + rel_slack)),
            evidence: format!(
                "max κ/B-convex = {worst:.12} at h={} m={} seed={} over {} points (slack {rel_slack:e})",
                depth[at],
                width[at],
                seed[at],
                kappa.len()
            ),
        });

        let one: Vec<usize> = (0..kappa.len())
            .filter(|&i| depth[i] == 1 && whiten[i] == "true")
            .collect();
        if !one.is_empty() {
            let err = one
                .iter()
                .map(|&i| ((bound[i] - kappa[i]) / kappa[i]).abs())
                .fold(0.0, f64::max);
            claims.push(Claim {
                id: "depth-width/b-convex-exact-one-hidden".into(),
                kind: ClaimKind::Guaranteed,
                statement: "B-convex equals κ for one hidden layer on whitened data".into(),
                pass: err <= 1e-9,
                evidence: format!(
                    "max |B-convex − κ|/κ = {err:.2e} over {} points (tolerance 1e-9)",
                    one.len()
                ),
            });
        }

        let groups = curves(df)?;
        let mut grows = true;
        let mut ev = Vec::new();
        for g in &groups {
            let hs: Vec<f64> = g.kappa.iter().map(|p| p.0).collect();
            let ks: Vec<f64> = g.kappa.iter().map(|p| p.1).collect();
            let increasing = ks.windows(2).all(|w| w[1] > w[0]);
            grows &= increasing && hs.len() > 1;
            ev.push(format!(
                "m={}: κ {}→{} (ρ={:.2})",
                g.width,
                crate::report::sig(ks[0]),
                crate::report::sig(*ks.last().expect("non-empty")),
                spearman(&hs, &ks)
            ));
        }
        claims.push(Claim {
            id: "depth-width/kappa-grows-with-depth".into(),
            kind: ClaimKind::Paper,
            statement: "At fixed width, mean κ increases strictly with every added hidden layer"
                .into(),
            pass: grows,
            evidence: ev.join("; "),
        });

        let mut wider = groups.len() > 1;
        let mut ev = Vec::new();
        let n_depths = groups.first().map(|g| g.kappa.len()).unwrap_or(0);
        for i in 0..n_depths {
            let ks: Vec<f64> = groups.iter().map(|g| g.kappa[i].1).collect();
            wider &= ks.windows(2).all(|w| w[1] < w[0]);
            ev.push(format!(
                "h={}: {}",
                groups[0].kappa[i].0,
                ks.iter()
                    .map(|k| crate::report::sig(*k))
                    .collect::<Vec<_>>()
                    .join(" > ")
            ));
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

/// Mean ± std over seeds of κ and B-convex versus depth, one entry per width.
struct Curve {
    width: i64,
    kappa: Vec<(f64, f64, f64)>,
    bound: Vec<(f64, f64, f64)>,
}

fn curves(df: &DataFrame) -> Result<Vec<Curve>> {
    let kappa = table::f64_col(df, "kappa")?;
    let bound = table::f64_col(df, "b_convex")?;
    let depth = table::i64_col(df, "depth")?;
    let width = table::i64_col(df, "width")?;
    let mut widths: Vec<i64> = width.clone();
    widths.sort_unstable();
    widths.dedup();
    Ok(widths
        .into_iter()
        .map(|m| {
            let idx: Vec<usize> = (0..width.len()).filter(|&i| width[i] == m).collect();
            let hs: Vec<i64> = idx.iter().map(|&i| depth[i]).collect();
            let to_points = |v: &[f64]| -> Vec<(f64, f64, f64)> {
                let vals: Vec<f64> = idx.iter().map(|&i| v[i]).collect();
                table::mean_std_by(&hs, &vals)
                    .into_iter()
                    .map(|(h, m, s)| (h as f64, m, s))
                    .collect()
            };
            Curve {
                width: m,
                kappa: to_points(&kappa),
                bound: to_points(&bound),
            }
        })
        .collect())
}
