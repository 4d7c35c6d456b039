//! `training-dynamics` (App.): κ(G_O), B-convex and B-loose of a deep linear network at
//! checkpoints while minibatch SGD trains it on the mean-squared error, and the training loss.

use super::common::{self, bound_claim, curves, data_columns, param};
use super::depth_width::cost_line;
use super::{Cost, Experiment, SummaryTable};
use crate::bounds::{self, PartialSingularValues};
use crate::config::{Profile, TrainingDynamicsConfig};
use crate::data::{SecondMoment, Want};
use crate::gn;
use crate::nets::DeepLinear;
use crate::pipeline::{Point, RunContext};
use crate::plot::{Figure, Panel, Series};
use crate::report::{sig, sig_digits};
use crate::table::{self, Row};
use crate::train::{self, Loss, Schedule};
use crate::verify::{Claim, ClaimKind};
use crate::Result;
use nalgebra::DMatrix;
use polars::prelude::DataFrame;
use std::collections::BTreeMap;

/// The experiment.
pub struct TrainingDynamics;

fn config(profile: &Profile) -> Option<&TrainingDynamicsConfig> {
    profile.experiments.training_dynamics.as_ref()
}

/// κ(G_O) by the Kronecker route, B-convex, B-loose and the spectrum of a deep linear network.
pub struct LinearCheckpoint {
    pub kappa: f64,
    pub b_convex: f64,
    pub b_loose: f64,
    pub lambda_max: f64,
    pub lambda_min_nonzero: f64,
    pub rank: usize,
}

impl LinearCheckpoint {
    pub fn of(net: &DeepLinear, moment: &SecondMoment) -> Result<LinearCheckpoint> {
        let pp = net.partial_products();
        let spec = gn::kronecker_linear(&pp, moment)?.spectrum;
        let sv = PartialSingularValues::of(&pp)?;
        Ok(LinearCheckpoint {
            kappa: spec.kappa,
            b_convex: bounds::b_convex(&sv, moment.kappa),
            b_loose: bounds::b_loose(&sv, moment.kappa),
            lambda_max: spec.lambda_max,
            lambda_min_nonzero: spec.lambda_min_nonzero,
            rank: spec.rank,
        })
    }

    /// NaN columns for rows between checkpoints (skipped by the curves and claims).
    fn columns(row: Row, c: Option<&LinearCheckpoint>) -> Row {
        let nan = f64::NAN;
        row.float("kappa", c.map_or(nan, |c| c.kappa))
            .float("b_convex", c.map_or(nan, |c| c.b_convex))
            .float("b_loose", c.map_or(nan, |c| c.b_loose))
            .float("lambda_max", c.map_or(nan, |c| c.lambda_max))
            .float(
                "lambda_min_nonzero",
                c.map_or(nan, |c| c.lambda_min_nonzero),
            )
            .float("rank", c.map_or(nan, |c| c.rank as f64))
    }
}

/// The inputs of a training experiment: the first n images subsampled (and whitened if
/// asked), their second moment, the raw data's rank and the labels.
pub struct TrainingData {
    pub x: DMatrix<f64>,
    pub moment: SecondMoment,
    pub data_rank: usize,
    pub labels: Vec<u8>,
}

impl TrainingData {
    pub fn load(images: &crate::data::Images, n: usize, f: usize, whiten: bool) -> Result<Self> {
        let raw = crate::data::design_matrix(images, n, f)?;
        let (x, data_rank) = if whiten {
            crate::data::whiten(&raw)?
        } else {
            let rank = SecondMoment::of(&raw)?.rank;
            (raw, rank)
        };
        Ok(TrainingData {
            moment: SecondMoment::of(&x)?,
            x,
            data_rank,
            labels: images.labels[..n].to_vec(),
        })
    }
}

/// Rough cost of SGD on a deep linear net in the units of `cost_line` (whose 1.5 Gflop/s
/// calibrates scalar loops): ~6 flops per parameter per sample per epoch, run by matrix
/// products about 18× faster (measured: 100 epochs, m = 500, h = 2, d = 49, n = 1000 in 6 s).
pub fn training_work(d: usize, m: usize, h: usize, n: usize, epochs: usize) -> f64 {
    let p = (d * m + (h.max(1) - 1) * m * m + m * common::K) as f64;
    6.0 * p * (n * epochs) as f64 / 18.0
}

/// Rows with a κ value (the checkpoints), as indices.
pub fn checkpoint_rows(df: &DataFrame) -> Result<Vec<usize>> {
    let kappa = table::f64_col(df, "kappa")?;
    Ok((0..kappa.len()).filter(|&i| !kappa[i].is_nan()).collect())
}

impl Experiment for TrainingDynamics {
    fn id(&self) -> &'static str {
        "training-dynamics"
    }

    fn paper_ref(&self) -> &'static str {
        "App. (training)"
    }

    fn title(&self) -> &'static str {
        "κ(G_O), B-convex and B-loose during SGD training (deep linear)"
    }

    fn description(&self) -> &'static str {
        "The paper trains a deep linear network (two hidden layers of 500, Xavier-normal \
         initialisation, whitened CIFAR-10 with d = 192, n = 1000, SGD with learning rate 0.2 \
         and batch 256 on the mean-squared error, 3000 epochs) and reports κ(G_O), B-convex and \
         B-loose every 100 epochs: κ stays close to its value at initialisation (about 6–12) and \
         B-convex stays tight. We train with the same recipe (plain SGD: no momentum, no weight \
         decay), compute κ exactly by the Kronecker route at every checkpoint, and record the \
         full-data loss after every epoch. Without the official CIFAR-10 the embedded MNIST \
         subset stands in, as the title says."
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
        common::grid(&[], c.seeds, |_| {
            vec![
                ("n", c.n.to_string()),
                ("downsample", c.downsample.to_string()),
                ("whiten", c.whiten.to_string()),
                ("width", c.width.to_string()),
                ("hidden", c.hidden.to_string()),
                ("epochs", c.epochs.to_string()),
                ("every", c.every.to_string()),
                ("lr", c.lr.to_string()),
                ("batch", c.batch.to_string()),
            ]
        })
    }

    fn cost_hint(&self, profile: &Profile) -> Cost {
        let Some(c) = config(profile) else {
            return Cost::NONE;
        };
        let d = 3 * crate::data::downsampled_dim(32, c.downsample).max(1);
        let work = training_work(d, c.width, c.hidden, c.n, c.epochs) * c.seeds as f64;
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
                let mut net =
                    DeepLinear::xavier(&common::dims(d, c.width, param(point, "hidden")), rng);
                let schedule = Schedule {
                    epochs: c.epochs,
                    batch: c.batch,
                    lr: c.lr,
                    momentum: 0.0,
                    weight_decay: 0.0,
                    loss: Loss::Mse,
                    checkpoints: (0..=c.epochs).step_by(c.every).collect(),
                };
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
                        let row = data_columns(
                            row,
                            &data.moment,
                            data.data_rank,
                            c.whiten,
                            &images.source.id,
                        );
                        LinearCheckpoint::columns(row.float("loss", loss), at.get(&epoch))
                    })
                    .collect())
            },
        )
    }

    fn figure(&self, df: &DataFrame) -> Result<Figure> {
        let one = |col: &str| -> Result<common::Curve> {
            Ok(curves(df, "width", "epoch", col)?
                .into_iter()
                .next()
                .map(|g| g.1)
                .unwrap_or_default())
        };
        let line = |label: &str, color, dashed, band, points| Series {
            markers_only: false,
            label: label.into(),
            color,
            dashed,
            band,
            fit: true,
            points,
        };
        let d = table::i64_col(df, "d")?.first().copied().unwrap_or(0);
        let m = table::i64_col(df, "width")?.first().copied().unwrap_or(0);
        let h = table::i64_col(df, "hidden")?.first().copied().unwrap_or(0);
        let data = common::data_label(df, self.wants(), false)?;
        let white = table::str_values(df, "whiten")?
            .first()
            .is_some_and(|w| w == "true");
        Ok(Figure {
            title: format!(
                "SGD on a deep linear net, {} {data}: d = {d}, {h} hidden layers of {m}",
                if white { "whitened" } else { "raw" }
            ),
            panels: vec![
                Panel {
                    title: "κ(G_O) and its bounds at checkpoints".into(),
                    x_label: "epoch".into(),
                    y_label: "mean ± std over initialisations (log scale)".into(),
                    log_x: false,
                    log_y: true,
                    integer_x: true,
                    legend_lower: false,
                    series: vec![
                        line("κ(G_O)", 0, false, true, one("kappa")?),
                        line("B-convex", 1, true, false, one("b_convex")?),
                        line("B-loose", 2, true, false, one("b_loose")?),
                    ],
                },
                Panel {
                    title: "training loss (MSE, full data)".into(),
                    x_label: "epoch".into(),
                    y_label: "loss, mean ± std".into(),
                    log_x: false,
                    log_y: false,
                    integer_x: true,
                    legend_lower: true,
                    series: vec![line("training loss", 3, false, true, one("loss")?)],
                },
            ],
        })
    }

    fn summary(&self, df: &DataFrame) -> Result<SummaryTable> {
        let get = |col: &str| -> Result<common::Curve> {
            Ok(curves(df, "width", "epoch", col)?
                .into_iter()
                .next()
                .map(|g| g.1)
                .unwrap_or_default())
        };
        let (k, c, l, loss) = (
            get("kappa")?,
            get("b_convex")?,
            get("b_loose")?,
            get("loss")?,
        );
        let loss_at: BTreeMap<u64, f64> = loss.iter().map(|p| (p.0 as u64, p.1)).collect();
        let pick = spread(k.len(), 6);
        let rows = pick
            .into_iter()
            .map(|i| {
                vec![
                    format!("{}", k[i].0),
                    format!("{} ± {}", sig(k[i].1), sig_digits(k[i].2, 2)),
                    sig(c[i].1),
                    sig(l[i].1),
                    loss_at
                        .get(&(k[i].0 as u64))
                        .map_or("–".into(), |v| sig(*v)),
                ]
            })
            .collect();
        Ok(SummaryTable {
            caption: "Checkpoints: κ mean ± std over initialisations, mean bounds and mean loss."
                .into(),
            header: ["epoch", "κ", "B-convex", "B-loose", "loss"]
                .map(String::from)
                .to_vec(),
            rows,
        })
    }

    fn claims(&self, df: &DataFrame) -> Result<Vec<Claim>> {
        let at = checkpoint_rows(df)?;
        let col = |c: &str| -> Result<Vec<f64>> {
            let v = table::f64_col(df, c)?;
            Ok(at.iter().map(|&i| v[i]).collect())
        };
        let (kappa, convex, loose) = (col("kappa")?, col("b_convex")?, col("b_loose")?);
        let epoch: Vec<i64> = at
            .iter()
            .map(|&i| table::i64_col(df, "epoch").map(|e| e[i]))
            .collect::<Result<_>>()?;
        let seed: Vec<i64> = at
            .iter()
            .map(|&i| table::i64_col(df, "seed").map(|e| e[i]))
            .collect::<Result<_>>()?;
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
        let losses = table::f64_col(df, "loss")?;
        let epochs = table::i64_col(df, "epoch")?;
        let last = epochs.iter().copied().max().unwrap_or(0);
        let mean_at = |e: i64| {
            let v: Vec<f64> = (0..losses.len())
                .filter(|&i| epochs[i] == e)
                .map(|i| losses[i])
                .collect();
            v.iter().sum::<f64>() / v.len().max(1) as f64
        };
        claims.push(Claim {
            id: "training-dynamics/kappa-stays-near-init".into(),
            kind: ClaimKind::Paper,
            statement: "κ at initialisation predicts κ during training: at every checkpoint κ is \
                        within a factor 2 of its value at initialisation (same initialisation)"
                .into(),
            pass: factor <= 2.0 && !worst.is_empty(),
            evidence: format!(
                "largest factor {} over {} initialisations; κ at init {}; mean loss {} → {} over {last} epochs",
                sig(factor),
                worst.len(),
                worst.values().map(|w| sig(w.0)).collect::<Vec<_>>().join(", "),
                sig(mean_at(0)),
                sig(mean_at(last))
            ),
        });
        Ok(claims)
    }
}

/// Up to `count` indices spread evenly over `0..len`, first and last included.
pub fn spread(len: usize, count: usize) -> Vec<usize> {
    if len <= count {
        return (0..len).collect();
    }
    let mut v: Vec<usize> = (0..count).map(|j| j * (len - 1) / (count - 1)).collect();
    v.dedup();
    v
}
