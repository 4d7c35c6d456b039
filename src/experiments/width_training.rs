//! `width-training` (App.): training loss and κ(G_O) versus epoch for one hidden layer of
//! several widths, each width with the learning rate a short search picked.

use super::common::{self, curves, data_columns, param};
use super::depth_width::cost_line;
use super::training_dynamics::{training_work, LinearCheckpoint, TrainingData};
use super::{Cost, Experiment, SummaryTable};
use crate::config::{Profile, WidthTrainingConfig};
use crate::nets::DeepLinear;
use crate::pipeline::{Point, RunContext};
use crate::plot::Figure;
use crate::report::sig;
use crate::table::{self, Row};
use crate::train::{self, Loss, Schedule};
use crate::verify::{Claim, ClaimKind};
use crate::{Error, Result};
use polars::prelude::DataFrame;
use std::collections::BTreeMap;

/// The experiment.
pub struct WidthTraining;

fn config(profile: &Profile) -> Option<&WidthTrainingConfig> {
    profile.experiments.width_training.as_ref()
}

fn schedule(c: &WidthTrainingConfig, epochs: usize, lr: f64, checkpoints: Vec<usize>) -> Schedule {
    Schedule {
        epochs,
        batch: c.batch,
        lr,
        momentum: 0.0,
        weight_decay: 0.0,
        loss: Loss::Mse,
        checkpoints,
    }
}

impl Experiment for WidthTraining {
    fn id(&self) -> &'static str {
        "width-training"
    }

    fn paper_ref(&self) -> &'static str {
        "App. (width)"
    }

    fn title(&self) -> &'static str {
        "Training loss and κ(G_O) vs epoch for one hidden layer of several widths"
    }

    fn description(&self) -> &'static str {
        "The paper trains networks with one hidden layer of widths 15 to 200 on MNIST (n = 1000) \
         with SGD, the learning rate of each width tuned by a small grid search, and shows that \
         wider networks are better conditioned and train faster. We train the linear network \
         (Kaiming-normal initialisation, mean-squared error on one-hot targets, plain SGD); for \
         each width and initialisation every candidate learning rate trains for a few epochs \
         from the same initialisation and minibatch order, the one with the lowest loss wins \
         (diverging rates lose), and the CSV records it (`lr`). κ is exact (Kronecker route)."
    }

    fn config_json(&self, profile: &Profile) -> Option<serde_json::Value> {
        common::config_json(config(profile))
    }

    fn points(&self, profile: &Profile) -> Vec<Point> {
        let Some(c) = config(profile) else {
            return Vec::new();
        };
        let lrs: Vec<String> = c.lrs.iter().map(|v| v.to_string()).collect();
        common::grid(&[common::axis(&c.widths)], c.seeds, |v| {
            vec![
                ("n", c.n.to_string()),
                ("downsample", c.downsample.to_string()),
                ("whiten", c.whiten.to_string()),
                ("width", v[0].to_string()),
                ("epochs", c.epochs.to_string()),
                ("every", c.every.to_string()),
                ("batch", c.batch.to_string()),
                ("lrs", lrs.join(" ")),
                ("search_epochs", c.search_epochs.to_string()),
            ]
        })
    }

    fn cost_hint(&self, profile: &Profile) -> Cost {
        let Some(c) = config(profile) else {
            return Cost::NONE;
        };
        let d = crate::data::downsampled_dim(28, c.downsample);
        let work: f64 = c
            .widths
            .iter()
            .map(|&m| {
                training_work(d, m, 1, c.n, c.epochs + c.lrs.len() * c.search_epochs)
                    * c.seeds as f64
            })
            .sum();
        cost_line(self.points(profile).len(), work)
    }

    fn run(&self, profile: &Profile, ctx: &RunContext) -> Result<Vec<Row>> {
        let c = config(profile).expect("run only on configured experiments");
        let images = ctx.data(self.wants())?;
        let data = TrainingData::load(images, c.n, c.downsample, c.whiten)?;
        let d = data.moment.d;
        ctx.compute_points(
            self.id(),
            &self.points(profile),
            &images.source,
            |point, rng| {
                let width: usize = param(point, "width");
                let init = DeepLinear::kaiming(&common::dims(d, width, 1), rng);
                // every candidate starts from the same weights and minibatch order
                let mut best: Option<(f64, f64)> = None;
                for &lr in &c.lrs {
                    let mut net = init.clone();
                    let run = train::train(
                        &mut net,
                        &data.x,
                        &data.labels,
                        &schedule(c, c.search_epochs, lr, Vec::new()),
                        None,
                        &mut rng.clone(),
                        |_, _, _| Ok(()),
                    );
                    let loss = match run {
                        Ok(h) => *h.loss.last().expect("loss at 0"),
                        Err(Error::Numerics(_)) => f64::INFINITY,
                        Err(e) => return Err(e),
                    };
                    if loss.is_finite() && best.is_none_or(|b| loss < b.1) {
                        best = Some((lr, loss));
                    }
                }
                let Some((lr, _)) = best else {
                    return Err(Error::Numerics(format!(
                        "width-training: every learning rate in {:?} diverged at width {width}",
                        c.lrs
                    )));
                };
                let mut net = init;
                let checkpoints: Vec<usize> = (0..=c.epochs).step_by(c.every).collect();
                let mut at = BTreeMap::new();
                train::train(
                    &mut net,
                    &data.x,
                    &data.labels,
                    &schedule(c, c.epochs, lr, checkpoints),
                    None,
                    rng,
                    |epoch, model, loss| {
                        at.insert(epoch, (loss, LinearCheckpoint::of(model, &data.moment)?));
                        Ok(())
                    },
                )?;
                Ok(at
                    .into_iter()
                    .map(|(epoch, (loss, cp))| {
                        let row = Row::new()
                            .int("width", width)
                            .int("epoch", epoch)
                            .int("seed", point.replicate as usize)
                            .float("lr", lr)
                            .float("loss", loss)
                            .float("kappa", cp.kappa)
                            .float("b_convex", cp.b_convex)
                            .float("lambda_max", cp.lambda_max)
                            .float("lambda_min_nonzero", cp.lambda_min_nonzero)
                            .int("rank", cp.rank);
                        data_columns(
                            row,
                            &data.moment,
                            data.data_rank,
                            c.whiten,
                            &images.source.id,
                        )
                    })
                    .collect())
            },
        )
    }

    fn figure(&self, df: &DataFrame) -> Result<Figure> {
        let panel = |col: &str, title: &str, y: &str, log_y: bool| {
            common::epoch_panel(df, "width", col, title, y, log_y, |m| format!("m = {m}"))
        };
        let d = table::i64_col(df, "d")?.first().copied().unwrap_or(0);
        let n = table::i64_col(df, "n")?.first().copied().unwrap_or(0);
        let data = common::data_label(df, self.wants(), false)?;
        Ok(Figure {
            title: format!("One hidden layer trained by SGD on {data}: d = {d}, n = {n}"),
            panels: vec![
                panel(
                    "loss",
                    "training loss (MSE, full data)",
                    "loss, mean ± std",
                    false,
                )?,
                panel("kappa", "κ(G_O)", "κ(G_O), mean ± std (log scale)", true)?,
            ],
        })
    }

    fn summary(&self, df: &DataFrame) -> Result<SummaryTable> {
        let loss = curves(df, "width", "epoch", "loss")?;
        let kappa = curves(df, "width", "epoch", "kappa")?;
        let widths = table::i64_col(df, "width")?;
        let lrs = table::f64_col(df, "lr")?;
        let rows = loss
            .iter()
            .zip(&kappa)
            .map(|((m, l), (_, k))| {
                let chosen: Vec<String> = (0..widths.len())
                    .filter(|&i| widths[i].to_string() == *m)
                    .map(|i| lrs[i].to_string())
                    .fold(Vec::new(), |mut v, s| {
                        if !v.contains(&s) {
                            v.push(s);
                        }
                        v
                    });
                vec![
                    m.clone(),
                    chosen.join(", "),
                    l.first().map_or("–".into(), |p| sig(p.1)),
                    l.last().map_or("–".into(), |p| sig(p.1)),
                    k.first().map_or("–".into(), |p| sig(p.1)),
                    k.last().map_or("–".into(), |p| sig(p.1)),
                ]
            })
            .collect();
        Ok(SummaryTable {
            caption: "Means over initialisations, first and last epoch; the learning rate the \
                      search chose per initialisation."
                .into(),
            header: ["m", "lr", "loss at 0", "final loss", "κ at 0", "final κ"]
                .map(String::from)
                .to_vec(),
            rows,
        })
    }

    fn claims(&self, df: &DataFrame) -> Result<Vec<Claim>> {
        let last = |col: &str| -> Result<common::Curve> {
            Ok(curves(df, "width", "epoch", col)?
                .into_iter()
                .filter_map(|(m, c)| c.last().map(|p| (m.parse().unwrap_or(f64::NAN), p.1, p.2)))
                .collect())
        };
        let (loss, kappa) = (last("loss")?, last("kappa")?);
        let init: common::Curve = curves(df, "width", "epoch", "kappa")?
            .into_iter()
            .filter_map(|(m, c)| c.first().map(|p| (m.parse().unwrap_or(f64::NAN), p.1, p.2)))
            .collect();
        let show = |c: &common::Curve| {
            c.iter()
                .map(|p| format!("m={}: {}", p.0, sig(p.1)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (rl, rk) = (common::trend(&loss), common::trend(&init));
        Ok(vec![
            Claim {
                id: "width-training/wider-reaches-lower-loss".into(),
                kind: ClaimKind::Paper,
                statement: "Wider networks reach a lower training loss in the same number of \
                            epochs (Spearman ρ of final loss vs width ≤ −0.8)"
                    .into(),
                pass: rl <= -0.8,
                evidence: format!("final loss {} (ρ = {rl:.2})", show(&loss)),
            },
            Claim {
                id: "width-training/wider-is-better-conditioned".into(),
                kind: ClaimKind::Paper,
                statement: "Wider networks are better conditioned at initialisation (Spearman ρ \
                            of κ at epoch 0 vs width ≤ −0.8)"
                    .into(),
                pass: rk <= -0.8,
                evidence: format!(
                    "κ at 0: {} (ρ = {rk:.2}); final κ: {}",
                    show(&init),
                    show(&kappa)
                ),
            },
        ])
    }
}
