//! `pruning` (Fig. 1): magnitude pruning of a CIFAR-style ResNet at initialisation, then SGD
//! with momentum and weight decay on the cross-entropy; the training loss after every epoch and
//! κ of the Gauss-Newton matrix in the kept parameters at checkpoints.

use super::bootstrap::{steps, worst, Rule, Trend};
use super::kit::{self, curves, first_int, param, Col, Curve, Params, K};
use crate::claims::Claim;
use crate::config::{Check, DataSpec};
use crate::data::{design_matrix, Want};
use crate::experiment::{Definition, Job, SummaryTable};
use crate::format::{mean_std, sig};
use crate::gn;
use crate::nets::{ResNet, ResNetSpec};
use crate::plot::Figure;
use crate::runner::Point;
use crate::table;
use crate::table::Row;
use crate::train::{self, magnitude_mask, Loss, PruneScope, Schedule};
use crate::{Error, Result};
use polars::prelude::DataFrame;
use std::collections::BTreeMap;

/// The experiment.
pub struct Pruning;

impl Definition for Pruning {
    type Config = Config;
    const ID: &'static str = "pruning";
    const PAPER: &'static str = "Fig. 1";
    const TITLE: &'static str =
        "Pruning at initialisation: training loss and κ(G_O) vs epoch (ResNet)";
    const DESCRIPTION: &'static str = "The paper prunes a ResNet on CIFAR-10 (n = 1000) at \
         initialisation by weight magnitude per tensor, keeps the masks during SGD (learning \
         rate 0.1, momentum 0.9, weight decay 1e-4, batch 64, cross-entropy), and shows that \
         larger pruning fractions give a worse conditioned Gauss-Newton matrix and slower \
         training. We prune every convolution and the linear head (never batch norm), train \
         with batch statistics, and at each checkpoint compute κ of `JᵀJ/n` in the kept \
         parameters exactly, with the batch-norm statistics of the n training images held fixed \
         (the network as a per-sample function, as in evaluation mode), by the smaller of `JᵀJ` \
         and `JJᵀ`. With `authors_scheme` the same recipe also runs as the authors' code prunes: \
         every parameter tensor, batch norm's γ and β included (the same channels lose both, \
         so their batch-norm output is 0), and κ of the Gauss-Newton matrix in all parameters, \
         pruned ones included. The ResNet's size is in the title; without the official \
         CIFAR-10 the embedded MNIST subset stands in.";
    const WANTS: Want = Want::Cifar10;

    fn points(c: &Config) -> Vec<Point> {
        let cps: Vec<String> = c.checkpoints.iter().map(|e| e.to_string()).collect();
        let recipe = |v: &[&str]| {
            Params::new()
                .with("n", c.n)
                .with("downsample", c.downsample)
                .with("base_width", c.base_width)
                .with("blocks_per_stage", c.blocks_per_stage)
                .with("fraction", v[0])
                .with("epochs", c.epochs)
                .with("checkpoints", cps.join(" "))
                .with("lr", c.lr)
                .with("momentum", c.momentum)
                .with("weight_decay", c.weight_decay)
                .with("batch", c.batch)
        };
        let axes = [kit::axis(&c.fractions)];
        let mut points = kit::grid(&axes, c.seeds, recipe);
        if c.authors_scheme {
            // at fraction 0 nothing is pruned under either scheme and every parameter is kept:
            // the paired run of our scheme is the authors' too (`by_scheme`)
            let pruned: Vec<f64> = c.fractions.iter().copied().filter(|&f| f > 0.0).collect();
            points.extend(kit::grid(&[kit::axis(&pruned)], c.seeds, |v| {
                recipe(v).with("scheme", AUTHORS)
            }));
        }
        points
    }

    fn seconds(c: &Config, points: &[Point]) -> f64 {
        // CIFAR-10 layout (3 channels, 32/f side). Per sample: every stage has 2b 3×3
        // convolutions costing 9 w² side² multiply-adds each (width doubles as the side
        // halves). The convolutions run as GEMMs (about 14 Gflop/s per core measured for
        // these small shapes with their im2col copies and batch norm, training and Jacobian
        // alike, against 1.5 Gflop/s for the scalar loops `seconds_for` assumes). With the
        // embedded MNIST (1×28×28, not 3×32×32) a point costs about 0.75 of this. Per
        // point: SGD (forward + backward ≈ 3 passes per sample and epoch), and
        // per checkpoint the Jacobian (k cotangent rows per sample: ≈ 2k passes, each entry
        // once, plus one forward pass, or one per slice when J does not fit in memory and
        // the forward tapes do not fit either), the Gram matrix of the kept parameters
        // ((nk)²·p_kept flops at ≈ 45 Gflop/s per core) and one eigensolve of order
        // min(nk, p_kept) (`kit::eigen_work`).
        // Measured on a paper-size checkpoint (n = 1000 embedded images, fraction 0.2, two
        // threads, this machine at 1.42× the reference speed): one epoch 5.0 s (training pass
        // 3.7 s, full-data loss 1.3 s), Jacobian 34.5 s, Gram 184 s, eigensolve (order
        // 10 000) 32 s; in reference core-seconds 14, 98, 523 and 91; this model gives 14,
        // 99, 516 and 74 for the same point (28×28: 0.766 of the convolutions' flops).
        let side = 32usize.div_ceil(c.downsample) as f64;
        let (w, b) = (c.base_width as f64, c.blocks_per_stage as f64);
        let conv = 2.0 * 9.0 * w * w * side * side * 6.0 * b + 2.0 * 27.0 * w * side * side;
        let p = 9.0 * w * w * 2.0 * b * 21.0;
        let nk = (c.n * K) as f64;
        let gemm = 1.5e9 / 14e9;
        let training = gemm * 3.0 * conv * (c.n * c.epochs) as f64;
        // a sample's forward tape: per block four activations of the block's output size
        // (stage s: 2ˢw channels of side/2ˢ), the stem's two and the input
        let tapes = c.n as f64 * 8.0 * ((7.0 * b + 2.0) * w + 3.0) * side * side;
        let work: f64 = points
            .iter()
            .map(|point| {
                // the authors' scheme takes the GN in all parameters
                let kept = if point.params.iter().any(|(k, _)| *k == "scheme") {
                    p
                } else {
                    p * (1.0 - param::<f64>(point, "fraction"))
                };
                let slices = (nk * kept * 8.0 / JACOBIAN_BUDGET as f64).ceil().max(1.0);
                let forwards = if tapes <= JACOBIAN_BUDGET as f64 {
                    1.0
                } else {
                    slices
                };
                let jacobian = gemm * (nk * 2.0 * conv + c.n as f64 * conv * forwards);
                let gram = nk * nk * kept * 1.5e9 / 45e9;
                let eigen = kit::eigen_work(nk.min(kept) as usize);
                training + c.checkpoints.len() as f64 * (jacobian + gram + eigen)
            })
            .sum();
        kit::seconds_for(work)
    }

    fn run(c: &Config, job: &Job) -> Result<Vec<Row>> {
        let images = job.images()?;
        let x = design_matrix(images, c.n, c.downsample)?;
        let labels = images.labels[..c.n].to_vec();
        let side = images.rows.div_ceil(c.downsample);
        let spec = spec(c, images.channels, side);
        job.compute(&images.source, |point, _| {
            // paired, as the authors prune copies of one network: every fraction and both
            // schemes of a seed start from the same weights and draw the same minibatches
            let rng = &mut job.paired_rng(point, &["fraction", "scheme"]);
            let fraction: f64 = param(point, "fraction");
            let authors = point.params.iter().any(|(k, _)| *k == "scheme");
            let mut net = ResNet::kaiming(spec, rng);
            let scope = if authors {
                PruneScope::EveryTensor
            } else {
                PruneScope::Weights
            };
            let mask = magnitude_mask(&net, fraction, scope);
            // ours: the GN in the kept parameters; theirs: in all parameters
            let gn_mask = (!authors).then_some(&mask[..]);
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
                    let g = gn::resnet_frozen(model, &x, &stats, gn_mask, JACOBIAN_BUDGET)?;
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
                        .text("scheme", if authors { AUTHORS } else { OURS })
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
                        .int("k", K)
                        .int("base_width", c.base_width)
                        .int("blocks_per_stage", c.blocks_per_stage)
                        .int("side", side)
                        .int("channels", images.channels)
                        .text("data", &images.source.id)
                })
                .collect())
        })
    }

    fn figure(df: &DataFrame) -> Result<Figure> {
        let first = |c: &'static str| first_int(df, &Col::new(c));
        let data = kit::data_label(df, Self::WANTS, false)?;
        let (w, b, side, ch, n) = (
            first("base_width")?,
            first("blocks_per_stage")?,
            first("side")?,
            first("channels")?,
            first("n")?,
        );
        let mut panels = Vec::new();
        for (scheme, part) in by_scheme(df)? {
            let (prefix, gn) = if scheme == AUTHORS {
                ("as the authors prune: ", "in all parameters")
            } else {
                ("", "in the kept parameters")
            };
            let panel = |col: &str, title: String, y: &str, log_y: bool| {
                kit::epoch_panel(&part, "fraction", col, &title, y, log_y, |f| {
                    format!(
                        "pruned {}%",
                        (f.parse::<f64>().unwrap_or(0.0) * 100.0).round()
                    )
                })
            };
            panels.push(panel(
                "loss",
                format!("{prefix}training loss (cross-entropy)"),
                "loss, mean ± std",
                false,
            )?);
            panels.push(panel(
                "kappa",
                format!("{prefix}κ(G_O) {gn}"),
                "κ, mean ± std (log scale)",
                true,
            )?);
        }
        Ok(Figure {
            title: format!(
                "ResNet-{} (widths {w}/{}/{}, {b} block(s) per stage) on {data} {ch}×{side}×{side}, n = {n}",
                6 * b + 2,
                2 * w,
                4 * w
            ),
            panels,
        })
    }

    fn summary(df: &DataFrame) -> Result<SummaryTable> {
        let p = first_int(df, &Col::new("p"))?;
        let mut rows = Vec::new();
        for (scheme, part) in by_scheme(df)? {
            let loss = curves(&part, "fraction", "epoch", "loss")?;
            let kappa = curves(&part, "fraction", "epoch", "kappa")?;
            rows.extend(loss.iter().zip(&kappa).map(|((f, l), (_, k))| {
                let last = |c: &Curve| c.last().map_or("–".into(), |p| mean_std(p.1, p.2));
                vec![
                    scheme.clone(),
                    f.clone(),
                    k.first().map_or("–".into(), |p| sig(p.1)),
                    last(k),
                    l.first().map_or("–".into(), |p| sig(p.1)),
                    last(l),
                ]
            }));
        }
        Ok(SummaryTable::new(
            &format!(
                "Means over initialisations (± std) at the first and last checkpoint; p = {p} \
                 parameters before pruning. Pruning `{OURS}`: convolutions and head, κ in the \
                 kept parameters; `{AUTHORS}`: every tensor including batch norm's γ and β, κ \
                 in all parameters."
            ),
            &[
                "pruning",
                "fraction",
                "κ at init",
                "final κ",
                "loss at init",
                "final loss",
            ],
            rows,
        ))
    }

    fn claims(df: &DataFrame) -> Result<Vec<Claim>> {
        let parts = by_scheme(df)?;
        let part = |scheme: &str| parts.iter().find(|(s, _)| s == scheme).map(|(_, p)| p);
        let mut claims = Vec::new();
        let Some(ours) = part(OURS) else {
            return Ok(claims);
        };
        let [raises, slows] = trend_claims(
            ours,
            ["pruning/raises-final-kappa", "pruning/slows-training"],
            "",
        )?;
        let kappa = kit::at_last_epoch(ours, "fraction", "kappa")?;
        // which way pruning the weights alone takes κ (the cause where the authors' trend breaks)
        let lowers = Trend {
            id: "pruning/pruning-weights-lowers-kappa",
            statement: "Pruning the weights alone (convolutions and head, gncond's scheme) \
                        lowers κ: the final κ decreases with the pruning fraction",
            keys: PAIRED,
            rule: Rule::Below(1.0),
            statistic: "largest ratio of consecutive final κ",
        }
        .claim(
            ours,
            final_steps("kappa", Rule::Below(1.0)),
            format!("final κ by fraction {}", kit::listing(&kappa, "")),
        )?;
        // the same on the first step only: where the authors' scheme dips
        let first = Trend {
            id: "pruning/first-fraction-lowers-kappa",
            statement: "Pruning the smallest fraction of the weights alone (gncond's scheme) \
                        lowers the final κ below that of the unpruned network trained from the \
                        same initial weights",
            keys: PAIRED,
            rule: Rule::Below(1.0),
            statistic: "final κ at the smallest pruned fraction / unpruned",
        }
        .claim(
            ours,
            |df| first_step(&kit::at_last_epoch(df, "fraction", "kappa")?),
            format!("final κ by fraction {}", kit::listing(&kappa, "")),
        )?;
        let Some(theirs) = part(AUTHORS) else {
            claims.extend([raises, slows, lowers, first]);
            return Ok(claims);
        };
        let [their_raises, their_slows] = trend_claims(
            theirs,
            [
                "pruning/authors-scheme-raises-final-kappa",
                "pruning/authors-scheme-slows-training",
            ],
            "As the authors' code prunes (every parameter tensor, batch norm's γ and β \
             included, so whole channels are switched off; κ in all parameters, pruned ones \
             included): ",
        )?;
        let channels = Trend {
            id: "pruning/switched-off-channels-raise-kappa",
            statement: "Switching channels off raises κ: pruning batch norm's γ and β with the \
                        weights, as the authors' code does, gives a larger final κ than pruning \
                        the weights alone from the same initial weights, by a factor that grows \
                        with the pruning fraction",
            keys: PAIRED,
            rule: Rule::Above(1.0),
            statistic: "smallest ratio of consecutive factors",
        }
        .claim(
            df,
            |df| {
                let f = channel_factors(df)?;
                Ok(worst(&steps(&[(String::new(), f)]), Rule::Above(1.0)))
            },
            format!(
                "final κ as the authors prune / final κ of ours, by fraction {}",
                kit::listing(&channel_factors(df)?, "")
            ),
        )?;
        let cause = |claim: Claim, by: &Claim| {
            if by.passed() {
                claim.caused_by(&by.id)
            } else {
                claim
            }
        };
        claims.push(cause(raises, &channels));
        claims.push(cause(slows, &their_slows));
        // the authors' κ dips only at the first step when every later step rises: then the
        // weights' effect there (their κ there is ours times the channel factor, and the
        // factor is smallest at the first fraction) is the cause
        let theirs_final = kit::at_last_epoch(theirs, "fraction", "kappa")?;
        let later_rise = steps(&[(String::new(), theirs_final)])
            .iter()
            .skip(1)
            .all(|&r| r > 1.0);
        let their_raises = if later_rise {
            cause(their_raises, &first)
        } else {
            cause(their_raises, &lowers)
        };
        claims.push(their_raises);
        claims.extend([their_slows, lowers, first, channels]);
        Ok(claims)
    }
}

/// Trend claims on pruning resample a seed's runs at every fraction (and under both schemes)
/// as one initialisation: they share their initial weights (`run`).
const PAIRED: &[&str] = &[];

/// Per fraction, the mean final κ as the authors prune over that of our scheme (1 at fraction
/// 0, where both schemes are the same run).
fn channel_factors(df: &DataFrame) -> Result<Curve> {
    let parts = by_scheme(df)?;
    let finals = |scheme: &str| -> Result<Curve> {
        match parts.iter().find(|(s, _)| s == scheme) {
            Some((_, part)) => kit::at_last_epoch(part, "fraction", "kappa"),
            None => Ok(Vec::new()),
        }
    };
    let (ours, theirs) = (finals(OURS)?, finals(AUTHORS)?);
    Ok(ours
        .iter()
        .filter_map(|o| {
            let t = theirs.iter().find(|t| t.0 == o.0)?;
            Some((o.0, t.1 / o.1, f64::NAN))
        })
        .collect())
}

/// The scheme of ours, pruning the convolutions and the head (`magnitude_mask` with
/// [`PruneScope::Weights`]) and computing κ in the kept parameters.
const OURS: &str = "ours";
/// The authors' scheme: [`PruneScope::EveryTensor`] and κ in all parameters.
const AUTHORS: &str = "authors";

/// The result table split by pruning scheme, ours first. The unpruned runs (fraction 0)
/// belong to both: nothing is pruned and every parameter is kept under either scheme, and the
/// runs are paired, so the authors' scheme at fraction 0 is the same run (not computed twice).
fn by_scheme(df: &DataFrame) -> Result<Vec<(String, DataFrame)>> {
    let schemes = table::str_values(df, "scheme")?;
    let fractions = table::f64_col(df, "fraction")?;
    [OURS, AUTHORS]
        .into_iter()
        .filter(|s| schemes.iter().any(|x| x == s))
        .map(|s| {
            let keep: Vec<bool> = schemes
                .iter()
                .zip(&fractions)
                .map(|(x, &f)| x == s || (s == AUTHORS && f == 0.0))
                .collect();
            Ok((s.to_string(), table::filter_rows(df, &keep)?))
        })
        .collect()
}

/// The second point's mean over the first's: the first step of a curve sorted by fraction.
fn first_step(c: &[(f64, f64, f64)]) -> Result<f64> {
    match c {
        [a, b, ..] => Ok(b.1 / a.1),
        _ => Err(Error::Internal(
            "the first pruning step needs two fractions".into(),
        )),
    }
}

/// The ratio of consecutive final-epoch means of `col` that decides `rule` for every step
/// (`worst` of `steps`): "> 1" is an increase at every step, "< 1" a decrease.
fn final_steps(col: &'static str, rule: Rule) -> impl Fn(&DataFrame) -> Result<f64> {
    move |df| {
        let c = kit::at_last_epoch(df, "fraction", col)?;
        Ok(worst(&steps(&[(String::new(), c)]), rule))
    }
}

/// The paper's two pruning claims on one scheme's rows: the final κ and the final loss
/// increase with the pruning fraction (ids in that order; `prefix` opens the statements).
fn trend_claims(df: &DataFrame, ids: [&str; 2], prefix: &str) -> Result<[Claim; 2]> {
    let finals = |col: &str| kit::at_last_epoch(df, "fraction", col);
    let (kappa, loss) = (finals("kappa")?, finals("loss")?);
    let show = |c: &Curve| kit::listing(c, "");
    let breaks = |c: &Curve| -> String {
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
    let keys = PAIRED;
    let kappa_statement =
        format!("{prefix}Pruning raises κ: the final κ increases with the pruning fraction");
    let loss_statement = format!(
        "{prefix}Pruning slows training: the final loss increases with the pruning fraction"
    );
    Ok([
        Trend {
            id: ids[0],
            statement: &kappa_statement,
            keys,
            rule: Rule::Above(1.0),
            statistic: "smallest ratio of consecutive final κ",
        }
        .claim(
            df,
            final_steps("kappa", Rule::Above(1.0)),
            format!("final κ by fraction {} ({})", show(&kappa), breaks(&kappa)),
        )?,
        Trend {
            id: ids[1],
            statement: &loss_statement,
            keys,
            rule: Rule::Above(1.0),
            statistic: "smallest ratio of consecutive final losses",
        }
        .claim(
            df,
            final_steps("loss", Rule::Above(1.0)),
            format!("final loss by fraction {} ({})", show(&loss), breaks(&loss)),
        )?,
    ])
}

crate::config! {
    /// Its table in a profile: magnitude pruning at initialisation of a CIFAR-style ResNet,
    /// then SGD; the training loss every epoch and κ in the kept parameters at checkpoints.
    pub struct Config {
        n: usize,
        downsample: usize,
        /// Stage widths w, 2w, 4w (16 for ResNet20); must be even.
        base_width: usize,
        /// Basic blocks per stage (3 for ResNet20).
        blocks_per_stage: usize => at_least_one,
        fractions: Vec<f64>,
        epochs: usize,
        /// Epochs at which κ is computed (0 = at initialisation, after pruning).
        checkpoints: Vec<usize>,
        lr: f64 => rate,
        momentum: f64,
        weight_decay: f64,
        batch: usize => at_least_one,
        seeds: usize => at_least_one,
        /// Also run every fraction as the authors' code prunes (every tensor, batch norm
        /// included; κ in all parameters), to show where its trend comes from.
        authors_scheme: bool,
    }
    more recipe
}

fn recipe(c: &Config, check: &Check) -> std::result::Result<(), String> {
    check.data(DataSpec {
        n: c.n,
        downsample: c.downsample,
        whiten: false,
    })?;
    if c.base_width < 2 || c.base_width % 2 == 1 {
        return check.fail(
            "base_width",
            &format!(
                "{} is impossible, use an even width of at least 2",
                c.base_width
            ),
        );
    }
    check.list_in(
        "fractions",
        &c.fractions,
        0.0..1.0,
        "give pruning fractions in [0, 1)",
    )?;
    if c.checkpoints.is_empty() || c.checkpoints.iter().any(|&e| e > c.epochs) {
        return check.fail(
            "checkpoints",
            &format!("give epochs between 0 and epochs = {}", c.epochs),
        );
    }
    if !(0.0..1.0).contains(&c.momentum) || c.weight_decay < 0.0 {
        return Err(
            "experiments.pruning: momentum must be in [0, 1) and weight_decay at least 0".into(),
        );
    }
    Ok(())
}

/// Largest Jacobian block held in memory when building the Gauss-Newton matrix (bytes).
const JACOBIAN_BUDGET: usize = 4 << 30;

fn spec(c: &Config, channels: usize, side: usize) -> ResNetSpec {
    ResNetSpec {
        channels,
        height: side,
        width: side,
        base_width: c.base_width,
        blocks_per_stage: c.blocks_per_stage,
        classes: K,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::rows_to_frame;

    /// Final-epoch rows (one epoch) of seeds 0 and 1 under a scheme.
    fn rows(scheme: &str, fraction: f64, kappa: [f64; 2]) -> Vec<Row> {
        (0..2)
            .map(|seed| {
                Row::new()
                    .text("scheme", scheme)
                    .float("fraction", fraction)
                    .int("epoch", 0)
                    .int("seed", seed)
                    .float("kappa", kappa[seed])
                    .float("loss", 1.0)
            })
            .collect()
    }

    #[test]
    fn the_unpruned_runs_belong_to_both_schemes_and_the_factor_there_is_one() {
        let mut all = rows(OURS, 0.0, [4.0, 6.0]);
        all.extend(rows(OURS, 0.5, [2.0, 2.0]));
        all.extend(rows(AUTHORS, 0.5, [20.0, 60.0]));
        let df = rows_to_frame(&all).unwrap();
        let parts = by_scheme(&df).unwrap();
        assert_eq!(
            parts
                .iter()
                .map(|(s, p)| (s.as_str(), p.height()))
                .collect::<Vec<_>>(),
            [(OURS, 4), (AUTHORS, 4)]
        );
        let theirs = table::f64_col(&parts[1].1, "fraction").unwrap();
        assert_eq!(theirs, [0.0, 0.0, 0.5, 0.5]);
        // means: ours 5 → 2, theirs 5 → 40
        let f = channel_factors(&df).unwrap();
        assert_eq!(
            f.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>(),
            [(0.0, 1.0), (0.5, 20.0)]
        );
        // without the authors' scheme there is nothing to compare
        let ours_only = rows_to_frame(&rows(OURS, 0.0, [4.0, 6.0])).unwrap();
        assert_eq!(by_scheme(&ours_only).unwrap().len(), 1);
        assert!(channel_factors(&ours_only).unwrap().is_empty());
    }

    fn cause_of(claims: &[Claim], id: &str) -> Option<String> {
        let c = claims.iter().find(|c| c.id == id).expect("claim present");
        c.cause.clone()
    }

    /// Three fractions, two paired seeds: ours falls at every step; theirs dips at the first
    /// step (by `dip`) and then rises (or falls again when `later` is below 1).
    fn two_schemes(dip: f64, later: f64) -> DataFrame {
        let mut all = rows(OURS, 0.0, [10.0, 12.0]);
        all.extend(rows(OURS, 0.2, [6.0, 7.0]));
        all.extend(rows(OURS, 0.4, [3.0, 4.0]));
        all.extend(rows(AUTHORS, 0.2, [10.0 * dip, 12.0 * dip]));
        all.extend(rows(AUTHORS, 0.4, [10.0 * dip * later, 12.0 * dip * later]));
        rows_to_frame(&all).unwrap()
    }

    #[test]
    fn a_dip_of_the_authors_scheme_at_the_first_step_only_is_caused_by_the_first_step_of_ours() {
        let id = "pruning/authors-scheme-raises-final-kappa";
        let claims = Pruning::claims(&two_schemes(0.8, 3.0)).unwrap();
        let first = claims
            .iter()
            .find(|c| c.id == "pruning/first-fraction-lowers-kappa")
            .unwrap();
        assert!(first.passed(), "{}", first.evidence);
        assert_eq!(
            cause_of(&claims, id).as_deref(),
            Some("pruning/first-fraction-lowers-kappa")
        );
        // a fall at a later step too: the first step alone does not explain it
        let claims = Pruning::claims(&two_schemes(0.8, 0.5)).unwrap();
        let lowers = claims
            .iter()
            .find(|c| c.id == "pruning/pruning-weights-lowers-kappa")
            .unwrap();
        assert_eq!(
            cause_of(&claims, id),
            lowers.passed().then(|| lowers.id.clone())
        );
        assert_ne!(
            cause_of(&claims, id).as_deref(),
            Some("pruning/first-fraction-lowers-kappa")
        );
    }
}
