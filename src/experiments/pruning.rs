//! `pruning` (Fig. 1): magnitude pruning of a CIFAR-style ResNet at initialisation, then SGD
//! with momentum and weight decay on the cross-entropy; the training loss after every epoch and
//! κ of the Gauss-Newton matrix in the kept parameters at checkpoints.

use super::common::{self, curves, param};
use super::depth_width::cost_line;
use super::{Cost, Experiment, SummaryTable};
use crate::config::{Profile, PruningConfig};
use crate::data::{design_matrix, Want};
use crate::gn;
use crate::nets::{ResNet, ResNetSpec};
use crate::pipeline::{Point, RunContext};
use crate::plot::Figure;
use crate::report::{sig, sig_digits};
use crate::table::{self, Row};
use crate::train::{self, magnitude_mask, Loss, Schedule};
use crate::verify::{Claim, ClaimKind};
use crate::Result;
use polars::prelude::DataFrame;
use std::collections::BTreeMap;

/// The experiment.
pub struct Pruning;

/// Largest Jacobian block held in memory when building the Gauss-Newton matrix (bytes).
const JACOBIAN_BUDGET: usize = 2 << 30;

fn config(profile: &Profile) -> Option<&PruningConfig> {
    profile.experiments.pruning.as_ref()
}

fn spec(c: &PruningConfig, channels: usize, side: usize) -> ResNetSpec {
    ResNetSpec {
        channels,
        height: side,
        width: side,
        base_width: c.base_width,
        blocks_per_stage: c.blocks_per_stage,
        classes: common::K,
    }
}

impl Experiment for Pruning {
    fn id(&self) -> &'static str {
        "pruning"
    }

    fn paper_ref(&self) -> &'static str {
        "Fig. 1"
    }

    fn title(&self) -> &'static str {
        "Pruning at initialisation: training loss and κ(G_O) vs epoch (ResNet)"
    }

    fn description(&self) -> &'static str {
        "The paper prunes a ResNet on CIFAR-10 (n = 1000) at initialisation by weight magnitude \
         per tensor, keeps the masks during SGD (learning rate 0.1, momentum 0.9, weight decay \
         1e-4, batch 64, cross-entropy), and shows that larger pruning fractions give a worse \
         conditioned Gauss-Newton matrix and slower training. We prune every convolution and \
         the linear head (never batch norm), train with batch statistics, and at each checkpoint \
         compute κ of `JᵀJ/n` in the kept parameters exactly, with the batch-norm statistics of \
         the n training images held fixed (the network as a per-sample function, as in \
         evaluation mode), by the smaller of `JᵀJ` and `JJᵀ`. The ResNet's size is in the title; \
         without the official CIFAR-10 the embedded MNIST subset stands in."
    }

    fn wants(&self) -> Want {
        Want::Cifar10
    }

    fn config_json(&self, profile: &Profile) -> Option<serde_json::Value> {
        common::config_json(config(profile))
    }

    fn points(&self, profile: &Profile) -> Vec<Point> {
        let Some(c) = config(profile) else {
            return Vec::new();
        };
        let cps: Vec<String> = c.checkpoints.iter().map(|e| e.to_string()).collect();
        common::grid(&[common::axis(&c.fractions)], c.seeds, |v| {
            vec![
                ("n", c.n.to_string()),
                ("downsample", c.downsample.to_string()),
                ("base_width", c.base_width.to_string()),
                ("blocks_per_stage", c.blocks_per_stage.to_string()),
                ("fraction", v[0].to_string()),
                ("epochs", c.epochs.to_string()),
                ("checkpoints", cps.join(" ")),
                ("lr", c.lr.to_string()),
                ("momentum", c.momentum.to_string()),
                ("weight_decay", c.weight_decay.to_string()),
                ("batch", c.batch.to_string()),
            ]
        })
    }

    fn cost_hint(&self, profile: &Profile) -> Cost {
        let Some(c) = config(profile) else {
            return Cost::NONE;
        };
        // CIFAR-10 layout (3 channels, 32/f side). Per sample: every stage has 2b 3×3
        // convolutions costing 9 w² side² multiply-adds each (width doubles as the side
        // halves). Per point: SGD (forward + backward ≈ 3 passes), and per checkpoint n·k
        // one-sample backward passes (times the recomputation of Jacobian blocks that do not
        // fit in memory) and one eigensolve of the smaller side (~N³/4 here with faer).
        let side = 32usize.div_ceil(c.downsample) as f64;
        let (w, b) = (c.base_width as f64, c.blocks_per_stage as f64);
        let conv = 2.0 * 9.0 * w * w * side * side * 6.0 * b + 2.0 * 27.0 * w * side * side;
        let p = 9.0 * w * w * 2.0 * b * 21.0;
        let nk = (c.n * common::K) as f64;
        let blocks = (nk * p * 8.0 / JACOBIAN_BUDGET as f64).ceil().max(1.0);
        let recompute = (blocks + 1.0) / 2.0;
        let per_point = 3.0 * conv * (c.n * c.epochs) as f64
            + c.checkpoints.len() as f64 * (nk * 3.0 * conv * recompute + nk.min(p).powi(3) / 4.0);
        cost_line(
            self.points(profile).len(),
            per_point * self.points(profile).len() as f64,
        )
    }

    fn run(&self, profile: &Profile, ctx: &RunContext) -> Result<Vec<Row>> {
        let c = config(profile).expect("run only on configured experiments");
        let images = ctx.data(self.wants())?;
        let x = design_matrix(images, c.n, c.downsample)?;
        let labels = images.labels[..c.n].to_vec();
        let side = images.rows.div_ceil(c.downsample);
        let spec = spec(c, images.channels, side);
        ctx.compute_points(
            self.id(),
            &self.points(profile),
            &images.source,
            |point, rng| {
                let fraction: f64 = param(point, "fraction");
                let mut net = ResNet::kaiming(spec, rng);
                let mask = magnitude_mask(&net, fraction);
                let kept = mask.iter().filter(|&&k| k).count();
                let schedule = Schedule {
                    epochs: c.epochs,
                    batch: c.batch,
                    lr: c.lr,
                    momentum: c.momentum,
                    weight_decay: c.weight_decay,
                    loss: Loss::CrossEntropy,
                    checkpoints: c.checkpoints.clone(),
                };
                let mut at = BTreeMap::new();
                let history = train::train(
                    &mut net,
                    &x,
                    &labels,
                    &schedule,
                    Some(&mask),
                    rng,
                    |epoch, model, _| {
                        let stats = model.batch_stats(&x);
                        let g = gn::resnet_frozen(model, &x, &stats, Some(&mask), JACOBIAN_BUDGET)?;
                        at.insert(epoch, g);
                        Ok(())
                    },
                )?;
                let nan = f64::NAN;
                Ok(history
                    .loss
                    .iter()
                    .enumerate()
                    .map(|(epoch, &loss)| {
                        let g = at.get(&epoch);
                        Row::new()
                            .float("fraction", fraction)
                            .int("epoch", epoch)
                            .int("seed", point.replicate as usize)
                            .float("loss", loss)
                            .float("kappa", g.map_or(nan, |g| g.spectrum.kappa))
                            .float("lambda_max", g.map_or(nan, |g| g.spectrum.lambda_max))
                            .float(
                                "lambda_min_nonzero",
                                g.map_or(nan, |g| g.spectrum.lambda_min_nonzero),
                            )
                            .float("rank", g.map_or(nan, |g| g.spectrum.rank as f64))
                            .text("route", g.map_or("", |g| g.route.as_str()))
                            .int("p", net.num_params())
                            .int("p_kept", kept)
                            .int("d", x.nrows())
                            .int("n", c.n)
                            .int("k", common::K)
                            .int("base_width", c.base_width)
                            .int("blocks_per_stage", c.blocks_per_stage)
                            .int("side", side)
                            .int("channels", images.channels)
                            .text("data", &images.source.id)
                    })
                    .collect())
            },
        )
    }

    fn figure(&self, df: &DataFrame) -> Result<Figure> {
        let panel = |col: &str, title: &str, y: &str, log_y: bool| {
            common::epoch_panel(df, "fraction", col, title, y, log_y, |f| {
                format!(
                    "pruned {}%",
                    (f.parse::<f64>().unwrap_or(0.0) * 100.0).round()
                )
            })
        };
        let first =
            |c: &str| -> Result<i64> { Ok(table::i64_col(df, c)?.first().copied().unwrap_or(0)) };
        let data = common::data_label(df, self.wants(), false)?;
        let (w, b, side, ch, n) = (
            first("base_width")?,
            first("blocks_per_stage")?,
            first("side")?,
            first("channels")?,
            first("n")?,
        );
        Ok(Figure {
            title: format!(
                "ResNet-{} (widths {w}/{}/{}, {b} block(s) per stage) on {data} {ch}×{side}×{side}, n = {n}",
                6 * b + 2,
                2 * w,
                4 * w
            ),
            panels: vec![
                panel(
                    "loss",
                    "training loss (cross-entropy)",
                    "loss, mean ± std",
                    false,
                )?,
                panel(
                    "kappa",
                    "κ(G_O) in the kept parameters",
                    "κ, mean ± std (log scale)",
                    true,
                )?,
            ],
        })
    }

    fn summary(&self, df: &DataFrame) -> Result<SummaryTable> {
        let loss = curves(df, "fraction", "epoch", "loss")?;
        let kappa = curves(df, "fraction", "epoch", "kappa")?;
        let p = table::i64_col(df, "p")?.first().copied().unwrap_or(0);
        let rows = loss
            .iter()
            .zip(&kappa)
            .map(|((f, l), (_, k))| {
                let last = |c: &common::Curve| {
                    c.last().map_or("–".into(), |p| {
                        format!("{} ± {}", sig(p.1), sig_digits(p.2, 2))
                    })
                };
                vec![
                    f.clone(),
                    k.first().map_or("–".into(), |p| sig(p.1)),
                    last(k),
                    l.first().map_or("–".into(), |p| sig(p.1)),
                    last(l),
                ]
            })
            .collect();
        Ok(SummaryTable {
            caption: format!(
                "Means over initialisations (± std) at the first and last checkpoint; p = {p} \
                 parameters before pruning."
            ),
            header: [
                "fraction",
                "κ at init",
                "final κ",
                "loss at init",
                "final loss",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        })
    }

    fn claims(&self, df: &DataFrame) -> Result<Vec<Claim>> {
        let finals = |col: &str| -> Result<common::Curve> {
            Ok(curves(df, "fraction", "epoch", col)?
                .into_iter()
                .filter_map(|(f, c)| c.last().map(|p| (f.parse().unwrap_or(f64::NAN), p.1, p.2)))
                .collect())
        };
        let (kappa, loss) = (finals("kappa")?, finals("loss")?);
        let show = |c: &common::Curve| {
            c.iter()
                .map(|p| format!("{}: {}", p.0, sig(p.1)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let monotone = |c: &common::Curve| common::increasing(c);
        let breaks = |c: &common::Curve| -> String {
            let v: Vec<String> = c
                .windows(2)
                .filter(|w| w[1].1 <= w[0].1)
                .map(|w| format!("{}→{}", w[0].0, w[1].0))
                .collect();
            if v.is_empty() {
                "monotone".into()
            } else {
                format!("not increasing at {}", v.join(", "))
            }
        };
        Ok(vec![
            Claim {
                id: "pruning/raises-final-kappa".into(),
                kind: ClaimKind::Paper,
                statement: "Pruning raises κ: the final κ increases with the pruning fraction"
                    .into(),
                pass: monotone(&kappa),
                evidence: format!("final κ by fraction {} ({})", show(&kappa), breaks(&kappa)),
            },
            Claim {
                id: "pruning/slows-training".into(),
                kind: ClaimKind::Paper,
                statement: "Pruning slows training: the final loss increases with the pruning \
                            fraction"
                    .into(),
                pass: monotone(&loss),
                evidence: format!("final loss by fraction {} ({})", show(&loss), breaks(&loss)),
            },
        ])
    }
}
