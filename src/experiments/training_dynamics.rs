//! `training-dynamics` (App.): κ(G_O), B-convex and B-loose of a deep linear network at
//! checkpoints while minibatch SGD trains it on the mean-squared error, and the training loss.

use super::kit::{self, cols, first_int, one_curve, param, Channels, LinearCheckpoint, Params};
use crate::claims::{bound_claim, Claim};
use crate::data::Want;
use crate::experiment::{Definition, Job, SummaryTable};
use crate::format::{mean_std, sig};
use crate::nets::DeepLinear;
use crate::plot::{Figure, Panel, Series};
use crate::runner::Point;
use crate::table::Row;
use crate::train;
use crate::Result;
use polars::prelude::DataFrame;
use std::collections::BTreeMap;

/// The experiment.
pub struct TrainingDynamics;

impl Definition for TrainingDynamics {
    type Config = Config;
    const ID: &'static str = "training-dynamics";
    const PAPER: &'static str = "App. (training)";
    const TITLE: &'static str = "κ(G_O), B-convex and B-loose during SGD training (deep linear)";
    const DESCRIPTION: &'static str = "The paper trains a deep linear network (two hidden layers \
         of 500, Xavier-normal initialisation, whitened CIFAR-10 with d = 192, n = 1000, SGD \
         with learning rate 0.2 and batch 256 on the mean-squared error, 3000 epochs) and \
         reports κ(G_O), B-convex and B-loose every 100 epochs: κ stays close to its value at \
         initialisation (about 6–12) and B-convex stays tight. We train with the same recipe \
         (plain SGD: no momentum, no weight decay), compute κ exactly by the Kronecker route at \
         every checkpoint, and record the full-data loss after every epoch. Without the \
         official CIFAR-10 the embedded MNIST subset stands in, as the title says.";
    const WANTS: Want = Want::Cifar10;

    fn points(c: &Config) -> Vec<Point> {
        kit::grid(&[], c.seeds, |_| {
            Params::data(c.data())
                .with("width", c.width)
                .with("hidden", c.hidden)
                .with("epochs", c.epochs)
                .with("every", c.every)
                .with("lr", c.lr)
                .with("batch", c.batch)
        })
    }

    fn seconds(c: &Config, _: &[Point]) -> f64 {
        let d = 3 * crate::data::downsampled_dim(32, c.downsample).max(1);
        kit::seconds_for(kit::training_work(d, c.width, c.hidden, c.n, c.epochs) * c.seeds as f64)
    }

    fn run(c: &Config, job: &Job) -> Result<Vec<Row>> {
        kit::run_on(job, c.data(), Channels::All, |point, rng, data| {
            let d = data.moment.d;
            let mut net = DeepLinear::xavier(&kit::dims(d, c.width, param(point, "hidden")), rng);
            let checkpoints = (0..=c.epochs).step_by(c.every).collect();
            let schedule = kit::sgd_mse(c.epochs, c.batch, c.lr, checkpoints);
            let mut at = BTreeMap::new();
            let history = train::train(
                &mut net,
                &data.x,
                &data.labels,
                &schedule,
                None,
                rng,
                |epoch, model, _| {
                    at.insert(epoch, LinearCheckpoint::of(model, &data.moment)?);
                    Ok(())
                },
            )?;
            Ok(history
                .loss
                .iter()
                .enumerate()
                .map(|(epoch, &loss)| {
                    let row = Row::new()
                        .int("epoch", epoch)
                        .int("seed", point.replicate as usize)
                        .int("width", c.width)
                        .int("hidden", c.hidden)
                        .float("lr", c.lr)
                        .int("batch", c.batch);
                    let row = data.columns(row);
                    LinearCheckpoint::columns(row.float("loss", loss), at.get(&epoch))
                })
                .collect())
        })
    }

    fn figure(df: &DataFrame) -> Result<Figure> {
        let one = |col: &str| one_curve(df, "width", "epoch", col);
        let data = kit::data_label(df, Self::WANTS, false)?;
        Ok(Figure::new(
            format!(
                "SGD on a deep linear net, {} {data}: d = {}, {} hidden layers of {}",
                if kit::whitened(df)? {
                    "whitened"
                } else {
                    "raw"
                },
                first_int(df, &cols::D)?,
                first_int(df, &cols::HIDDEN)?,
                first_int(df, &cols::WIDTH)?
            ),
            vec![
                Panel::new("epoch", "mean ± std over initialisations (log scale)")
                    .titled("κ(G_O) and its bounds at checkpoints")
                    .log_y()
                    .with(vec![
                        Series::measured("κ(G_O)", 0, one("kappa")?),
                        Series::bound("B-convex", 1, one("b_convex")?),
                        Series::bound("B-loose", 2, one("b_loose")?),
                    ]),
                Panel::new("epoch", "loss, mean ± std")
                    .titled("training loss (MSE, full data)")
                    .legend_lower()
                    .with(vec![Series::measured("training loss", 3, one("loss")?)]),
            ],
        ))
    }

    fn summary(df: &DataFrame) -> Result<SummaryTable> {
        let get = |col: &str| one_curve(df, "width", "epoch", col);
        let (k, c, l, loss) = (
            get("kappa")?,
            get("b_convex")?,
            get("b_loose")?,
            get("loss")?,
        );
        let loss_at: BTreeMap<u64, f64> = loss.iter().map(|p| (p.0 as u64, p.1)).collect();
        let rows = kit::spread(k.len(), 6)
            .into_iter()
            .map(|i| {
                vec![
                    format!("{}", k[i].0),
                    mean_std(k[i].1, k[i].2),
                    sig(c[i].1),
                    sig(l[i].1),
                    loss_at
                        .get(&(k[i].0 as u64))
                        .map_or("–".into(), |v| sig(*v)),
                ]
            })
            .collect();
        Ok(SummaryTable::new(
            "Checkpoints: κ mean ± std over initialisations, mean bounds and mean loss.",
            &["epoch", "κ", "B-convex", "B-loose", "loss"],
            rows,
        ))
    }

    fn claims(df: &DataFrame) -> Result<Vec<Claim>> {
        let at = kit::checkpoint_rows(df)?;
        let pick = |v: Vec<f64>| -> Vec<f64> { at.iter().map(|&i| v[i]).collect() };
        let kappa = pick(cols::KAPPA.of(df)?);
        let convex = pick(cols::B_CONVEX.of(df)?);
        let loose = pick(cols::B_LOOSE.of(df)?);
        let (all_epochs, all_seeds) = (cols::EPOCH.of(df)?, cols::SEED.of(df)?);
        let epoch: Vec<i64> = at.iter().map(|&i| all_epochs[i]).collect();
        let seed: Vec<i64> = at.iter().map(|&i| all_seeds[i]).collect();
        let label = |i: usize| format!("epoch {} seed {}", epoch[i], seed[i]);
        let mut claims = vec![
            bound_claim(
                "training-dynamics/b-convex-holds",
                "B-convex ≥ κ(G_O) at every checkpoint of training",
                &kappa,
                &convex,
                label,
            ),
            bound_claim(
                "training-dynamics/b-loose-above-b-convex",
                "B-loose ≥ B-convex at every checkpoint of training",
                &convex,
                &loose,
                label,
            ),
        ];
        // per seed: the largest factor between κ at a checkpoint and κ at initialisation
        let mut worst: BTreeMap<i64, (f64, f64)> = BTreeMap::new();
        for i in 0..kappa.len() {
            if epoch[i] == 0 {
                worst.entry(seed[i]).or_insert((kappa[i], 1.0)).0 = kappa[i];
            }
        }
        for i in 0..kappa.len() {
            if let Some(w) = worst.get_mut(&seed[i]) {
                let f = (kappa[i] / w.0).max(w.0 / kappa[i]);
                w.1 = w.1.max(f);
            }
        }
        let factor = worst.values().map(|w| w.1).fold(1.0, f64::max);
        let losses = cols::LOSS.of(df)?;
        let epochs = &all_epochs;
        let last = epochs.iter().copied().max().unwrap_or(0);
        let mean_at = |e: i64| {
            let v: Vec<f64> = (0..losses.len())
                .filter(|&i| epochs[i] == e)
                .map(|i| losses[i])
                .collect();
            v.iter().sum::<f64>() / v.len().max(1) as f64
        };
        claims.push(Claim::paper(
            "training-dynamics/kappa-stays-near-init",
            "κ at initialisation predicts κ during training: at every checkpoint κ is within a \
             factor 2 of its value at initialisation (same initialisation)",
            factor <= 2.0 && !worst.is_empty(),
            format!(
                "largest factor {} over {} initialisations; κ at init {}; mean loss {} → {} over {last} epochs",
                sig(factor),
                worst.len(),
                worst.values().map(|w| sig(w.0)).collect::<Vec<_>>().join(", "),
                sig(mean_at(0)),
                sig(mean_at(last))
            ),
        ));
        Ok(claims)
    }
}

crate::config! {
    /// Its table in a profile: SGD on a deep linear network (MSE, Xavier-normal init).
    pub struct Config [data] {
        /// Hidden width m of every hidden layer.
        width: usize => at_least_one,
        /// Number of hidden layers h.
        hidden: usize => at_least_one,
        epochs: usize,
        /// κ and the bounds every this many epochs (and at 0).
        every: usize => at_least_one,
        lr: f64 => rate,
        batch: usize => at_least_one,
        seeds: usize => at_least_one,
    }
}
