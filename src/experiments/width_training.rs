//! `width-training` (App.): training loss and κ(G_O) versus epoch for one hidden layer of
//! several widths, each width with the learning rate a short search picked.

use super::bootstrap::{Rule, Trend};
use super::kit::{self, cols, curves, first_int, param, Channels, Curve, LinearCheckpoint, Params};
use crate::claims::Claim;
use crate::config::Check;
use crate::experiment::{Definition, Job, SummaryTable};
use crate::format::sig;
use crate::nets::DeepLinear;
use crate::plot::Figure;
use crate::runner::Point;
use crate::table::Row;
use crate::train;
use crate::{Error, Result};
use polars::prelude::DataFrame;
use std::collections::BTreeMap;

/// The experiment.
pub struct WidthTraining;

impl Definition for WidthTraining {
    type Config = Config;
    const ID: &'static str = "width-training";
    const PAPER: &'static str = "App. (width)";
    const TITLE: &'static str =
        "Training loss and κ(G_O) vs epoch for one hidden layer of several widths";
    const DESCRIPTION: &'static str = "The paper trains networks with one hidden layer of \
         widths 15 to 200 on MNIST (n = 1000) with SGD, the learning rate of each width tuned by \
         a small grid search, and shows that wider networks are better conditioned and train \
         faster. We train the linear network (Kaiming-normal initialisation, mean-squared error \
         on one-hot targets, plain SGD); for each width and initialisation every candidate \
         learning rate trains for a few epochs from the same initialisation and minibatch \
         order, the one with the lowest loss wins (diverging rates lose), and the CSV records \
         it (`lr`). κ is exact (Kronecker route).";

    fn points(c: &Config) -> Vec<Point> {
        let lrs: Vec<String> = c.lrs.iter().map(|v| v.to_string()).collect();
        kit::grid(&[kit::axis(&c.widths)], c.seeds, |v| {
            Params::data(c.data())
                .with("width", v[0])
                .with("epochs", c.epochs)
                .with("every", c.every)
                .with("batch", c.batch)
                .with("lrs", lrs.join(" "))
                .with("search_epochs", c.search_epochs)
        })
    }

    fn seconds(c: &Config, _: &[Point]) -> f64 {
        let d = crate::data::downsampled_dim(28, c.downsample);
        kit::seconds_for(
            c.widths
                .iter()
                .map(|&m| {
                    kit::training_work(d, m, 1, c.n, c.epochs + c.lrs.len() * c.search_epochs)
                        * c.seeds as f64
                })
                .sum(),
        )
    }

    fn run(c: &Config, job: &Job) -> Result<Vec<Row>> {
        kit::run_on(job, c.data(), Channels::All, |point, rng, data| {
            let d = data.moment.d;
            let width: usize = param(point, "width");
            let init = DeepLinear::kaiming(&kit::dims(d, width, 1), rng);
            // every candidate starts from the same weights and minibatch order
            let mut best: Option<(f64, f64)> = None;
            for &lr in &c.lrs {
                let mut net = init.clone();
                let run = train::train(
                    &mut net,
                    &data.x,
                    &data.labels,
                    &kit::sgd_mse(c.search_epochs, c.batch, lr, Vec::new()),
                    None,
                    &mut rng.clone(),
                    |_, _, _| Ok(()),
                );
                let loss = match run {
                    Ok(h) => *h.loss.last().expect("loss at 0"),
                    Err(Error::Diverged(_)) => f64::INFINITY,
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
                &kit::sgd_mse(c.epochs, c.batch, lr, checkpoints),
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
                    data.columns(row)
                })
                .collect())
        })
    }

    fn figure(df: &DataFrame) -> Result<Figure> {
        let panel = |col: &str, title: &str, y: &str, log_y: bool| {
            kit::epoch_panel(df, "width", col, title, y, log_y, |m| format!("m = {m}"))
        };
        let data = kit::data_label(df, Self::WANTS, false)?;
        Ok(Figure {
            title: format!(
                "One hidden layer trained by SGD on {data}: d = {}, n = {}",
                first_int(df, &cols::D)?,
                first_int(df, &cols::N)?
            ),
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

    fn summary(df: &DataFrame) -> Result<SummaryTable> {
        let loss = curves(df, "width", "epoch", "loss")?;
        let kappa = curves(df, "width", "epoch", "kappa")?;
        let widths = cols::WIDTH.of(df)?;
        let lrs = kit::Col::<f64>::new("lr").of(df)?;
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
        Ok(SummaryTable::new(
            "Means over initialisations, first and last epoch; the learning rate the search \
             chose per initialisation.",
            &["m", "lr", "loss at 0", "final loss", "κ at 0", "final κ"],
            rows,
        ))
    }

    fn claims(df: &DataFrame) -> Result<Vec<Claim>> {
        let last = |col: &str| kit::at_last_epoch(df, "width", col);
        let (loss, kappa) = (last("loss")?, last("kappa")?);
        let init = kit::at_first_epoch(df, "width", "kappa")?;
        let show = |c: &Curve| kit::listing(c, "m=");
        let (rl, rk) = (kit::trend(&loss), kit::trend(&init));
        // an initialisation's run is resampled whole, within its width
        let keys: &[&str] = &["width"];
        let rule = Rule::AtMost(-0.8);
        let rho_last = |df: &DataFrame| -> Result<f64> {
            Ok(kit::trend(&kit::at_last_epoch(df, "width", "loss")?))
        };
        let rho_init = |df: &DataFrame| -> Result<f64> {
            Ok(kit::trend(&kit::at_first_epoch(df, "width", "kappa")?))
        };
        Ok(vec![
            Trend {
                id: "width-training/wider-reaches-lower-loss",
                statement: "Wider networks reach a lower training loss in the same number of \
                            epochs (Spearman ρ of final loss vs width ≤ −0.8)",
                keys,
                rule,
                statistic: "ρ",
            }
            .claim(
                df,
                rho_last,
                format!("final loss {} (ρ = {rl:.2})", show(&loss)),
            )?,
            Trend {
                id: "width-training/wider-is-better-conditioned",
                statement: "Wider networks are better conditioned at initialisation (Spearman ρ \
                            of κ at epoch 0 vs width ≤ −0.8)",
                keys,
                rule,
                statistic: "ρ",
            }
            .claim(
                df,
                rho_init,
                format!(
                    "κ at 0: {} (ρ = {rk:.2}); final κ: {}",
                    show(&init),
                    show(&kappa)
                ),
            )?,
        ])
    }
}

crate::config! {
    /// Its table in a profile: one hidden layer of several widths, the learning rate of each
    /// width picked from `lrs` by a short search.
    pub struct Config [data] {
        widths: Vec<usize> => positive_list,
        epochs: usize,
        /// Loss and κ every this many epochs (and at 0).
        every: usize => at_least_one,
        batch: usize => at_least_one,
        /// Candidate learning rates; each width uses the one with the lowest loss after
        /// `search_epochs` epochs from the same initialisation and minibatch order.
        lrs: Vec<f64>,
        search_epochs: usize,
        seeds: usize => at_least_one,
    }
    more rates
}

fn rates(c: &Config, check: &Check) -> std::result::Result<(), String> {
    if c.lrs.is_empty() {
        return check.fail("lrs", "must not be empty");
    }
    c.lrs.iter().try_for_each(|lr| check.rate("lrs", lr))
}
