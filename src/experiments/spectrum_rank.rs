//! `spectrum-rank` (App.): the ordered eigenvalues of `G_O` at initialisation and after
//! training (λ_min⁺ starred), and κ as a function of the rank one assumes around the numerical
//! rank, for the training-dynamics model.

use super::kit::{self, first_int, param, Channels, Col, Params};
use crate::claims::Claim;
use crate::data::Want;
use crate::experiment::{Definition, Job, SummaryTable};
use crate::format::sig;
use crate::gn;
use crate::linalg::Spectrum;
use crate::nets::DeepLinear;
use crate::plot::{Figure, Panel, Series};
use crate::runner::Point;
use crate::table::Row;
use crate::train;
use crate::Result;
use polars::prelude::DataFrame;

/// The experiment.
pub struct SpectrumRank;

impl Definition for SpectrumRank {
    type Config = Config;
    const ID: &'static str = "spectrum-rank";
    const PAPER: &'static str = "App. (spectrum)";
    const TITLE: &'static str =
        "Ordered GN eigenvalues at initialisation and after training; κ vs assumed rank";
    const DESCRIPTION: &'static str = "κ uses the smallest nonzero eigenvalue, so it depends on \
         where the nonzero spectrum ends. The paper plots the ordered eigenvalues of the \
         Gauss-Newton matrix at initialisation and after training, with λ_min⁺ marked. We take \
         the training-dynamics model (deep linear, Xavier-normal, SGD on the mean-squared \
         error), compute every eigenvalue of the Kronecker form (order dk, zeros included) \
         before and after training, and show κ(r) = λ_1 / |λ_r| for ranks r around the \
         numerical rank (eigenvalues above λ_max · N · ε). The numerical rank is checked \
         against the theoretical rank q(s + k − q).";
    const WANTS: Want = Want::Cifar10;

    fn points(c: &Config) -> Vec<Point> {
        kit::grid(&[], 1, |_| {
            Params::data(c.data())
                .with("width", c.width)
                .with("hidden", c.hidden)
                .with("epochs", c.epochs)
                .with("lr", c.lr)
                .with("batch", c.batch)
        })
    }

    fn seconds(c: &Config, _: &[Point]) -> f64 {
        let d = 3 * crate::data::downsampled_dim(32, c.downsample);
        kit::seconds_for(kit::training_work(d, c.width, c.hidden, c.n, c.epochs))
    }

    fn run(c: &Config, job: &Job) -> Result<Vec<Row>> {
        kit::run_on(job, c.data(), Channels::All, |point, rng, data| {
            let d = data.moment.d;
            let dims = kit::dims(d, c.width, param(point, "hidden"));
            let mut net = DeepLinear::xavier(&dims, rng);
            let schedule = kit::sgd_mse(c.epochs, c.batch, c.lr, vec![0, c.epochs]);
            let mut spectra = Vec::new();
            train::train(
                &mut net,
                &data.x,
                &data.labels,
                &schedule,
                None,
                rng,
                |_, model, loss| {
                    let pp = model.partial_products();
                    let mut eigs = gn::kronecker_linear_eigenvalues(&pp, &data.moment)?;
                    eigs.reverse(); // descending: λ_1 ≥ λ_2 ≥ …
                    spectra.push((eigs, loss));
                    Ok(())
                },
            )?;
            let theory = gn::linear_rank_theory(&dims, data.moment.rank);
            let mut rows = Vec::new();
            for (stage, (eigs, loss)) in STAGES.iter().zip(&spectra) {
                let order = eigs.len();
                let spec = Spectrum::from_eigenvalues(eigs, order);
                for (i, &lam) in eigs.iter().enumerate() {
                    let r = i + 1;
                    rows.push(
                        Row::new()
                            .text("stage", stage)
                            .int("index", r)
                            .float("eigenvalue", lam)
                            .float("kappa_if_rank", eigs[0] / lam.abs())
                            .int("rank", spec.rank)
                            .int("rank_theory", theory)
                            .float("threshold", spec.threshold)
                            .float("kappa", spec.kappa)
                            .float("loss", *loss)
                            .int("order", order)
                            .int("d", d)
                            .int("n", c.n)
                            .int("width", c.width)
                            .int("hidden", c.hidden)
                            .int("epochs", c.epochs)
                            .int("window", c.window)
                            .text("data", &data.source),
                    );
                }
            }
            Ok(rows)
        })
    }

    fn figure(df: &DataFrame) -> Result<Figure> {
        let (stage, index, eig) = (STAGE.of(df)?, INDEX.of(df)?, EIGENVALUE.of(df)?);
        let kr = Col::<f64>::new("kappa_if_rank").of(df)?;
        let rank = RANK.of(df)?;
        let thr = Col::<f64>::new("threshold").of(df)?;
        let window = Col::<i64>::new("window").first(df)?.unwrap_or(10);
        let mut left = Vec::new();
        let mut right = Vec::new();
        for (si, s) in STAGES.iter().enumerate() {
            let rows: Vec<usize> = (0..stage.len()).filter(|&i| stage[i] == *s).collect();
            let Some(&first) = rows.first() else { continue };
            let r = rank[first];
            let pts = |f: &dyn Fn(usize) -> bool, v: &[f64]| -> Vec<(f64, f64, f64)> {
                rows.iter()
                    .filter(|&&i| f(i))
                    .map(|&i| (index[i] as f64, v[i].abs(), 0.0))
                    .collect()
            };
            let series = |label: String, color, dashed: bool, star: bool, points| {
                let s = Series::measured(label, color, points).no_band();
                let s = if dashed { s.dashed() } else { s };
                if star {
                    s.stars()
                } else {
                    s
                }
            };
            left.push(series(
                format!("|λ_i|, {s}"),
                si,
                false,
                false,
                pts(&|_| true, &eig),
            ));
            left.push(series(
                format!("λ_min⁺ = λ_{r}, {s}"),
                si,
                false,
                true,
                pts(&|i| index[i] == r, &eig),
            ));
            let order = rows.len() as f64;
            left.push(series(
                format!("rank threshold, {s}"),
                si,
                true,
                false,
                vec![(1.0, thr[first], 0.0), (order, thr[first], 0.0)],
            ));
            let near = |i: usize| (index[i] - r).abs() <= window;
            right.push(series(
                format!("κ(r), {s}"),
                si,
                false,
                false,
                pts(&near, &kr),
            ));
            right.push(series(
                format!("numerical rank {r}, {s}"),
                si,
                false,
                true,
                pts(&|i| index[i] == r, &kr),
            ));
        }
        let data = kit::data_label(df, Self::WANTS, false)?;
        Ok(Figure::new(
            format!(
                "Spectrum of G_O, deep linear ({} hidden of {}) on {data}, d = {}",
                first_int(df, &kit::cols::HIDDEN)?,
                first_int(df, &kit::cols::WIDTH)?,
                first_int(df, &kit::cols::D)?
            ),
            vec![
                Panel::new("index i (descending order)", "|λ_i| (log scale)")
                    .titled("ordered eigenvalues (λ_min⁺ starred)")
                    .log_y()
                    .legend_lower()
                    .with(left),
                Panel::new("assumed rank r", "λ_1 / |λ_r| (log scale)")
                    .titled("κ if the rank were r")
                    .log_y()
                    .with(right),
            ],
        ))
    }

    fn summary(df: &DataFrame) -> Result<SummaryTable> {
        let (stage, index, eig) = (STAGE.of(df)?, INDEX.of(df)?, EIGENVALUE.of(df)?);
        let (rank, theory) = (RANK.of(df)?, RANK_THEORY.of(df)?);
        let (kappa, loss) = (kit::cols::KAPPA.of(df)?, kit::cols::LOSS.of(df)?);
        let order = Col::<i64>::new("order").of(df)?;
        let rows = STAGES
            .iter()
            .filter_map(|s| {
                let rows: Vec<usize> = (0..stage.len()).filter(|&i| stage[i] == *s).collect();
                let &f = rows.first()?;
                let at = |r: i64| rows.iter().find(|&&i| index[i] == r).map(|&i| eig[i]);
                let gap = match (at(rank[f]), at(rank[f] + 1)) {
                    (Some(a), Some(b)) => sig(a / b.abs()),
                    _ => "– (full rank)".into(),
                };
                Some(vec![
                    s.to_string(),
                    sig(loss[f]),
                    format!("{} of {}", rank[f], order[f]),
                    theory[f].to_string(),
                    sig(kappa[f]),
                    gap,
                ])
            })
            .collect();
        Ok(SummaryTable::new(
            "Numerical rank (eigenvalues above λ_max·N·ε) against theory, κ, and the gap \
             λ_rank / |λ_rank+1| that separates the nonzero spectrum from the zeros.",
            &["stage", "loss", "rank", "rank theory", "κ", "gap"],
            rows,
        ))
    }

    fn claims(df: &DataFrame) -> Result<Vec<Claim>> {
        let (stage, index, eig) = (STAGE.of(df)?, INDEX.of(df)?, EIGENVALUE.of(df)?);
        let (rank, theory) = (RANK.of(df)?, RANK_THEORY.of(df)?);
        let mut ranks = Vec::new();
        let mut gaps = Vec::new();
        for s in STAGES {
            let rows: Vec<usize> = (0..stage.len()).filter(|&i| stage[i] == s).collect();
            let Some(&f) = rows.first() else { continue };
            ranks.push((s, rank[f], theory[f]));
            let at = |r: i64| rows.iter().find(|&&i| index[i] == r).map(|&i| eig[i]);
            if let (Some(a), Some(b)) = (at(rank[f]), at(rank[f] + 1)) {
                gaps.push((s, a / b.abs()));
            }
        }
        Ok(vec![
            Claim::guaranteed(
                "spectrum-rank/rank-is-theoretical",
                "The numerical rank of G_O equals the theoretical rank q(s + k − q), at \
                 initialisation and after training",
                !ranks.is_empty() && ranks.iter().all(|r| r.1 == r.2),
                kit::joined(&ranks, |(s, r, t)| format!("{s}: {r} (theory {t})")),
            ),
            Claim::paper(
                "spectrum-rank/rank-is-unambiguous",
                "Our check of the rank rule, not a claim of the paper: λ_min⁺ is well defined, \
                 the nonzero eigenvalues end with a gap of at least 1e6 to the next one (κ jumps \
                 by as much if one more eigenvalue were counted)",
                gaps.iter().all(|g| g.1 >= 1e6),
                if gaps.is_empty() {
                    "G_O has full rank (no zero eigenvalues)".into()
                } else {
                    kit::joined(&gaps, |(s, g)| {
                        format!("{s}: λ_rank/|λ_rank+1| = {}", sig(*g))
                    })
                },
            ),
        ])
    }
}

crate::config! {
    /// Its table in a profile: the training-dynamics model, its spectrum before and after
    /// training, and κ as a function of the rank assumed around the numerical one.
    pub struct Config [data] {
        width: usize => at_least_one,
        hidden: usize => at_least_one,
        epochs: usize,
        lr: f64 => rate,
        batch: usize => at_least_one,
        /// Assumed ranks from numerical rank − window to numerical rank + window.
        window: usize => at_least_one,
    }
}

const STAGE: Col<String> = Col::new("stage");
const INDEX: Col<i64> = Col::new("index");
const EIGENVALUE: Col<f64> = Col::new("eigenvalue");
const RANK: Col<i64> = Col::new("rank");
const RANK_THEORY: Col<i64> = Col::new("rank_theory");

/// The two spectra: at initialisation and after the last epoch.
const STAGES: [&str; 2] = ["init", "trained"];
