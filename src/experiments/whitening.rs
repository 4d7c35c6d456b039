//! `whitening` (appendix): κ(G_O) versus depth with and without whitening the inputs. Each
//! point evaluates the same weights on both versions of the data, so the comparison is paired.

use super::bootstrap::{worst, Rule, Trend};
use super::kit::{self, cols, curves, find_curve, first_int, param, Col, Params};
use crate::authors;
use crate::claims::Claim;
use crate::config::{Check, DataSpec};
use crate::data::Want;
use crate::experiment::{Definition, Job, SummaryTable};
use crate::format::sig;
use crate::nets::DeepLinear;
use crate::plot::{Figure, Series};
use crate::runner::Point;
use crate::table::Row;
use crate::Result;
use polars::prelude::DataFrame;

/// The experiment.
pub struct Whitening;

impl Definition for Whitening {
    type Config = Config;
    const ID: &'static str = "whitening";
    const PAPER: &'static str = "App. (whitening)";
    const TITLE: &'static str =
        "κ(G_O) vs depth with and without whitening the inputs (deep linear)";
    const DESCRIPTION: &'static str = "κ(G_O) carries the conditioning of the input second \
         moment Σ: every bound has the factor κ(Σ). The paper shows that whitening the inputs \
         lowers κ(G_O) by about the order of κ(Σ). The paper runs this on CIFAR-10 (d = 3072, \
         m = 3100). We use the first n official CIFAR-10 training images in colour, subsampled \
         (f = 4: d = 192), when they are installed (`gncond data fetch cifar10`), and otherwise \
         MNIST (d = 49); the figure title and the `data` column say which. κ(Σ) is over the \
         nonzero eigenvalues of Σ.";
    const WANTS: Want = Want::Cifar10;

    fn points(c: &Config) -> Vec<Point> {
        kit::grid(&[kit::axis(&c.depths)], c.seeds, |v| {
            Params::new()
                .with("n", c.n)
                .with("downsample", c.downsample)
                .with("width", c.width)
                .with("depth", v[0])
        })
    }

    fn seconds(c: &Config, points: &[Point]) -> f64 {
        kit::seconds_for(
            points
                .iter()
                .map(|p| 2.0 * kit::linear_work(c.width, param(p, "depth")))
                .sum(),
        )
    }

    fn run(c: &Config, job: &Job) -> Result<Vec<Row>> {
        let images = job.images()?;
        let white = kit::prepare(images, c.data(true))?;
        let raw = kit::prepare(images, c.data(false))?;
        job.compute(&images.source, |point, rng| {
            let depth: usize = param(point, "depth");
            let net = DeepLinear::kaiming(&kit::dims(white.0.d, c.width, depth), rng);
            [(&white, true), (&raw, false)]
                .into_iter()
                .map(|((moment, rank), whiten)| {
                    let row = Row::new()
                        .text("inputs", if whiten { "whitened" } else { "raw" })
                        .int("depth", depth)
                        .int("width", c.width)
                        .int("seed", point.replicate as usize);
                    let row = kit::data_columns(row, moment, *rank, whiten, &images.source.id);
                    let sigma = moment.factor.transpose() * &moment.factor;
                    let theirs = authors::linear_kappa_as_written(&net.partial_products(), &sigma)?;
                    kit::linear_point(row, &net, moment).map(|r| r.float("kappa_authors", theirs))
                })
                .collect()
        })
    }

    fn figure(df: &DataFrame) -> Result<Figure> {
        let mut series = kit::kappa_and_bound(
            curves(df, "inputs", "depth", "kappa")?,
            curves(df, "inputs", "depth", "b_convex")?,
            |name| {
                (
                    format!("κ, {name} inputs"),
                    format!("B-convex, {name} inputs"),
                )
            },
        );
        let theirs = find_curve(&curves(df, "inputs", "depth", "kappa_authors")?, "raw");
        series.push(
            Series::measured(
                "κ as the authors' code computes it, raw inputs (eigvalsh of a non-symmetric product)",
                3,
                theirs,
            )
            .no_band(),
        );
        Ok(Figure::new(
            format!(
                "Whitening on {}: d = {}, n = {}, m = {}, raw κ(Σ) = {}",
                kit::data_label(df, Self::WANTS, false)?,
                first_int(df, &cols::D)?,
                first_int(df, &cols::N)?,
                first_int(df, &cols::WIDTH)?,
                sig(kappa_sigma(df)?)
            ),
            vec![kit::depth_panel().legend_room().with(series)],
        ))
    }

    fn summary(df: &DataFrame) -> Result<SummaryTable> {
        let mut t = kit::depth_table(df, "inputs", "")?;
        t.caption = format!(
            "Mean ± std of κ over seeds, mean B-convex in brackets; raw κ(Σ) = {}.",
            sig(kappa_sigma(df)?)
        );
        Ok(t)
    }

    fn claims(df: &DataFrame) -> Result<Vec<Claim>> {
        let mut claims = kit::linear_bound_claims(Self::ID, df, "inputs")?;
        let inputs = Col::<String>::new("inputs").of(df)?;
        let (ours, theirs) = (
            cols::KAPPA.of(df)?,
            Col::<f64>::new("kappa_authors").of(df)?,
        );
        let gap = |white: bool| {
            (0..ours.len())
                .filter(|&i| (inputs[i] == "whitened") == white)
                .map(|i| ((theirs[i] - ours[i]) / ours[i]).abs())
                .fold(0.0, f64::max)
        };
        claims.push(Claim::guaranteed(
            "whitening/authors-computation-exact-when-whitened",
            "On whitened inputs the authors' computation (eigvalsh of [Σ_ℓ B_ℓ ⊗ A_ℓ](I ⊗ Σ)) is \
             κ(G_O): the product is symmetric when Σ ∝ I (relative 1e-10)",
            gap(true) <= 1e-10,
            format!(
                "largest relative difference {:.1e} on whitened inputs",
                gap(true)
            ),
        ));
        claims.push(Claim::paper(
            "whitening/authors-computation-departs-on-raw",
            "On raw inputs the authors' computation is not κ(G_O): eigvalsh reads one triangle \
             of a non-symmetric matrix (differs by more than 1 % at some depth)",
            gap(false) > 0.01,
            format!(
                "largest relative difference {} on raw inputs",
                sig(gap(false))
            ),
        ));
        let kappa = curves(df, "inputs", "depth", "kappa")?;
        let ks = kappa_sigma(df)?;
        let (w, r) = (find_curve(&kappa, "whitened"), find_curve(&kappa, "raw"));
        if w.is_empty() || r.is_empty() {
            return Ok(claims);
        }
        let ratios: Vec<(f64, f64)> = w.iter().zip(&r).map(|(a, b)| (a.0, b.1 / a.1)).collect();
        // raw and whitened runs of one seed share the weights: resampled together (paired)
        let gains = |df: &DataFrame| -> Result<Vec<f64>> {
            let k = curves(df, "inputs", "depth", "kappa")?;
            let (w, r) = (find_curve(&k, "whitened"), find_curve(&k, "raw"));
            Ok(w.iter().zip(&r).map(|(a, b)| b.1 / a.1).collect())
        };
        claims.push(
            Trend {
                id: "whitening/lowers-kappa",
                statement: "Whitening lowers mean κ at every depth",
                keys: &["depth"],
                rule: Rule::Above(1.0),
                statistic: "smallest ratio κ_raw/κ_whitened over depths",
            }
            .claim(
                df,
                move |df| Ok(worst(&gains(df)?, Rule::Above(1.0))),
                kit::joined(&ratios, |(h, q)| format!("h={h}: ×{}", sig(*q))),
            )?,
        );
        // "About κ(Σ)'s order", read on a log scale: whitening removes at least half of
        // κ(Σ)'s orders of magnitude from κ(G_O), and never more than κ(Σ) itself would allow
        // for one hidden layer (where the ratio is at most κ(Σ)).
        let fractions: Vec<f64> = ratios
            .iter()
            .map(|&(_, q)| q.log10() / ks.log10())
            .collect();
        claims.push(
            Trend {
                id: "whitening/by-order-of-kappa-sigma",
                statement: "The improvement κ_raw/κ_whitened is of the order of κ(Σ): at every \
                            depth it is at least κ(Σ)^{1/2}, i.e. log κ_raw/κ_white ≥ ½ log κ(Σ)",
                keys: &["depth"],
                rule: Rule::AtLeast(0.5),
                statistic: "smallest log-fraction",
            }
            .claim(
                df,
                move |df| {
                    let f: Vec<f64> = gains(df)?.iter().map(|q| q.log10() / ks.log10()).collect();
                    Ok(worst(&f, Rule::AtLeast(0.5)))
                },
                format!(
                    "κ(Σ) = {}; ratio (log-fraction of κ(Σ)) {}",
                    sig(ks),
                    ratios
                        .iter()
                        .zip(&fractions)
                        .map(|((h, q), f)| format!("h={h}: {} ({f:.2})", sig(*q)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )?,
        );
        Ok(claims)
    }
}

/// κ(Σ) of the raw inputs, from the table.
fn kappa_sigma(df: &DataFrame) -> Result<f64> {
    let inputs = Col::<String>::new("inputs").of(df)?;
    let ks = Col::<f64>::new("kappa_sigma").of(df)?;
    Ok((0..ks.len())
        .find(|&i| inputs[i] == "raw")
        .map(|i| ks[i])
        .unwrap_or(f64::NAN))
}

crate::config! {
    /// Its table in a profile (both raw and whitened inputs are run, so there is no `whiten`).
    pub struct Config {
        n: usize,
        downsample: usize,
        width: usize => at_least_one,
        depths: Vec<usize> => positive_list,
        seeds: usize => at_least_one,
    }
    more whitenable
}

/// The data must allow whitening (n ≥ d).
fn whitenable(c: &Config, check: &Check) -> std::result::Result<(), String> {
    check.data(c.data(true))
}

impl Config {
    fn data(&self, whiten: bool) -> DataSpec {
        DataSpec {
            n: self.n,
            downsample: self.downsample,
            whiten,
        }
    }
}
