//! `relu-n-below-d` (§ ReLU, the regime the paper plotted): two-layer (leaky) ReLU networks
//! on fewer samples than input dimensions, where B-relu is finite for every α > 0, with the
//! authors' `−α` Gram matrix beside the network's own.

use super::kit::{self, cols, curves, Channels, Col, K};
use crate::authors;
use crate::bounds::{self, ReluBlocks};
use crate::claims::{bound_claim, Claim};
use crate::config::Check;
use crate::experiment::{Definition, Job, SummaryTable};
use crate::format::{mean_std, sig};
use crate::gn;
use crate::linalg;
use crate::plot::{Figure, Panel, Series};
use crate::runner::Point;
use crate::table::Row;
use crate::Result;
use polars::prelude::DataFrame;

/// The experiment.
pub struct ReluNBelowD;

impl Definition for ReluNBelowD {
    type Config = Config;
    const ID: &'static str = "relu-n-below-d";
    const PAPER: &'static str = "§ ReLU (n ≤ d)";
    const TITLE: &'static str =
        "Two-layer (leaky) ReLU nets with n ≤ d: κ(G_O), B-relu and the authors' −α Gram";
    const DESCRIPTION: &'static str = "The paper's ReLU figure was computed with fewer samples \
         than input dimensions (CIFAR-10, d = 3072, n = 500), where XᵀX ≻ 0 and B-relu is \
         finite for every α > 0; the `relu` experiment runs n > d, where it is not. Here the \
         inputs are whitened MNIST with n ≤ d, so the samples are orthonormal; for such inputs \
         the spectrum's distribution at initialisation depends on the data only through n and \
         d (docs/METHODS.md §3), which is why these sizes stand in for the paper's. Beside κ of \
         the network's Gauss-Newton matrix we evaluate the authors' Gram matrix, which takes \
         the slope −α (not α) on the negative side: it is the Gauss-Newton matrix of \
         `W s(V x)` with `s(z) = −αz` for z < 0 (docs/METHODS.md §7), equal to ours at α = 0 \
         only. Its κ is taken as they do (all eigenvalues, no rank rule).";

    fn points(c: &Config) -> Vec<Point> {
        kit::relu_points(&c.alphas, &c.widths, c.seeds, c.data())
    }

    fn seconds(c: &Config, points: &[Point]) -> f64 {
        // two spectra per point: the ReLU Gram and the authors' −α Gram
        kit::relu_seconds(c.n, points, 2.0)
    }

    fn run(c: &Config, job: &Job) -> Result<Vec<Row>> {
        kit::run_on(job, c.data(), Channels::All, |point, rng, data| {
            let (alpha, net, row) = kit::relu_point(point, rng, data);
            let x = &data.x;
            let s = gn::two_layer(&net, x)?.spectrum;
            let blocks = ReluBlocks::of(&net, x)?;
            // the authors' Gram: the same weights with slope −α (module text of `authors`)
            let tilde = authors::relu_tilde(&net);
            let eigs = linalg::sym_eigenvalues(&tilde.gram(x))?;
            let lo = eigs.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = eigs.iter().copied().fold(0.0, f64::max);
            let kappa_authors = if lo > 0.0 { hi / lo } else { f64::INFINITY };
            let tilde_blocks = ReluBlocks::of(&tilde, x)?;
            Ok(vec![row
                .int("p", net.num_params())
                .float("kappa", s.kappa)
                .int("rank", s.rank)
                .float("b_relu", bounds::b_relu(&blocks, alpha))
                .float("kappa_authors", kappa_authors)
                .float(
                    "b_relu_authors",
                    bounds::b_relu(&tilde_blocks, alpha),
                )])
        })
    }

    fn figure(df: &DataFrame) -> Result<Figure> {
        let kappa = curves(df, "alpha", "width", "kappa")?;
        let bound = curves(df, "alpha", "width", "b_relu")?;
        let theirs = curves(df, "alpha", "width", "kappa_authors")?;
        let finite =
            |c: kit::Curve| -> kit::Curve { c.into_iter().filter(|p| p.1.is_finite()).collect() };
        let panels = kappa
            .into_iter()
            .zip(bound)
            .zip(theirs)
            .map(|(((alpha, k), (_, b)), (_, t))| {
                Panel::new("hidden width m (log scale)", "κ (log scale)")
                    .titled(kit::alpha_title(&alpha))
                    .log_x()
                    .log_y()
                    .legend_room()
                    .with(vec![
                        Series::measured("κ(G_O)", 0, k),
                        Series::bound("B-relu (where finite)", 1, finite(b)),
                        Series::measured("κ of the authors' −α Gram (σ̃(z) = −αz, z < 0)", 3, t)
                            .no_band(),
                    ])
            })
            .collect();
        Ok(Figure::new(
            format!(
                "Two-layer leaky-ReLU nets, n ≤ d: {}",
                kit::data_phrase(df)?
            ),
            panels,
        ))
    }

    fn summary(df: &DataFrame) -> Result<SummaryTable> {
        let kappa = curves(df, "alpha", "width", "kappa")?;
        let bound = curves(df, "alpha", "width", "b_relu")?;
        let theirs = curves(df, "alpha", "width", "kappa_authors")?;
        let mut rows = Vec::new();
        for (((a, k), (_, b)), (_, t)) in kappa.iter().zip(&bound).zip(&theirs) {
            for i in 0..k.len() {
                rows.push(vec![
                    kit::label(a),
                    format!("{}", k[i].0),
                    mean_std(k[i].1, k[i].2),
                    sig(b[i].1),
                    sig(t[i].1),
                ]);
            }
        }
        Ok(SummaryTable::new(
            "Means over seeds (∞ where B-relu is undefined).",
            &["α", "m", "κ(G_O)", "B-relu", "κ, authors' −α Gram"],
            rows,
        ))
    }

    fn claims(df: &DataFrame) -> Result<Vec<Claim>> {
        let kappa = cols::KAPPA.of(df)?;
        let bound = Col::<f64>::new("b_relu").of(df)?;
        let theirs = Col::<f64>::new("kappa_authors").of(df)?;
        let rank = Col::<i64>::new("rank").of(df)?;
        let alpha = Col::<String>::new("alpha").of(df)?;
        let width = cols::WIDTH.of(df)?;
        let seed = cols::SEED.of(df)?;
        let n = cols::N.of(df)?;
        let a: Vec<f64> = alpha
            .iter()
            .map(|v| v.parse().unwrap_or(f64::NAN))
            .collect();
        let at = |i: usize| {
            format!(
                "α={} m={} seed={}",
                kit::label(&alpha[i]),
                width[i],
                seed[i]
            )
        };
        let finite: Vec<usize> = (0..kappa.len()).filter(|&i| bound[i].is_finite()).collect();
        let (k, b): (Vec<f64>, Vec<f64>) = finite.iter().map(|&i| (kappa[i], bound[i])).unzip();
        let holds = bound_claim(
            "relu-n-below-d/b-relu-holds",
            "B-relu ≥ κ(G_O) wherever it is finite",
            &k,
            &b,
            |j| at(finite[j]),
        );
        let positive: Vec<usize> = (0..a.len()).filter(|&i| a[i] > 0.0).collect();
        let infinite: Vec<usize> = positive
            .iter()
            .copied()
            .filter(|&i| !bound[i].is_finite())
            .collect();
        let finite_claim = Claim::paper(
            "relu-n-below-d/b-relu-finite",
            "With n ≤ d (the paper's regime), B-relu is finite for every α > 0 at every width",
            !positive.is_empty() && infinite.is_empty(),
            format!(
                "finite on {} of {} points with α > 0{}",
                positive.len() - infinite.len(),
                positive.len(),
                infinite
                    .first()
                    .map_or(String::new(), |&i| format!("; ∞ at {}", at(i)))
            ),
        );
        // at α = 0 the two Gram matrices are the same matrix: where ours has full rank nk (so
        // that their κ, without a rank rule, is the same quantity) the two κ agree
        let full: Vec<usize> = (0..a.len())
            .filter(|&i| a[i] == 0.0 && rank[i] == n[i] * K as i64)
            .collect();
        let worst = full
            .iter()
            .map(|&i| ((theirs[i] - kappa[i]) / kappa[i]).abs())
            .fold(0.0, f64::max);
        let same = Claim::guaranteed(
            "relu-n-below-d/authors-gram-is-relu-at-zero",
            "At α = 0 the authors' Gram matrix is the ReLU network's: equal κ (relative 1e-10) \
             wherever G_O has full rank nk",
            !full.is_empty() && worst <= 1e-10,
            format!(
                "largest relative difference {worst:.2e} over {} full-rank points",
                full.len()
            ),
        );
        let departs: Vec<f64> = positive.iter().map(|&i| theirs[i] / kappa[i]).collect();
        let close = departs.iter().filter(|r| (**r - 1.0).abs() <= 0.01).count();
        let (lo, hi) = departs
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(l, h), r| (l.min(*r), h.max(*r)));
        let differs = Claim::paper(
            "relu-n-below-d/authors-gram-departs",
            "For α > 0 the authors' −α Gram matrix is another network's: its κ differs from \
             κ(G_O) by more than 1 % at every point",
            !departs.is_empty() && close == 0,
            format!(
                "κ(authors)/κ(G_O) from {} to {} over {} points with α > 0; within 1 % on {close}",
                sig(lo),
                sig(hi),
                departs.len()
            ),
        );
        Ok(vec![holds, finite_claim, same, differs])
    }
}

crate::config! {
    /// Its table in a profile.
    pub struct Config [data] {
        widths: Vec<usize> => positive_list,
        /// Negative slopes α in [0, 1] (0 = ReLU, 1 = linear).
        alphas: Vec<f64>,
        seeds: usize => at_least_one,
    }
    more regime
}

/// Slopes in [0, 1], and n ≤ d: this experiment is the regime with fewer samples than inputs.
fn regime(c: &Config, check: &Check) -> std::result::Result<(), String> {
    check.list_in("alphas", &c.alphas, 0.0..=1.0, "give slopes in [0, 1]")?;
    let d = crate::data::downsampled_dim(28, c.downsample);
    if c.n > d {
        return check.fail(
            "n",
            &format!(
                "this experiment is the regime n ≤ d, but n = {} > d = {d} (the `relu` \
                 experiment runs n > d)",
                c.n
            ),
        );
    }
    Ok(())
}
