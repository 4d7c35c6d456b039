//! Trend claims that know their own uncertainty (docs/METHODS.md §6.1).
//!
//! A trend claim is a statistic `s` of the per-point means over initialisations (a Spearman ρ
//! of means, the smallest margin of "lower than" at every point, …) and a rule `s ≥ t` (or
//! `≤`, `>`, `<`). Besides the estimate `ŝ` on the results, we resample the initialisations
//! **within each grid point** (the rows of one initialisation stay together; conditions that
//! share an initialisation, such as "with and without skips", are resampled together, so the
//! comparison stays paired), recompute `s` on each of [`RESAMPLES`] resampled tables and take
//! the 2.5 % and 97.5 % quantiles. The claim passes when the whole interval (widened to contain
//! `ŝ`) satisfies the rule, fails when none of it does, and is otherwise **undecided at N
//! initialisations**. Its evidence then says about how many would decide it: the interval's
//! half-width on the threshold's side shrinks as `1/√N`, so
//! `N' ≈ N · (half-width / |ŝ − t|)²`.
//!
//! The resampling generator is seeded by the claim's id alone, so verdicts are reproducible.

use super::kit::{curves, trend, Curve};
use crate::claims::{Claim, ClaimKind, Verdict};
use crate::format::sig;
use crate::seed::point_rng;
use crate::table;
use crate::Result;
use polars::prelude::{DataFrame, IdxCa, NamedFrom};
use rand_chacha::rand_core::Rng;

/// Bootstrap resamples per claim.
pub const RESAMPLES: usize = 1000;

/// What the statistic must satisfy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    AtLeast(f64),
    AtMost(f64),
    Above(f64),
    Below(f64),
}

impl Rule {
    /// True when `v` satisfies the rule.
    pub fn holds(self, v: f64) -> bool {
        match self {
            Rule::AtLeast(t) => v >= t,
            Rule::AtMost(t) => v <= t,
            Rule::Above(t) => v > t,
            Rule::Below(t) => v < t,
        }
    }

    fn threshold(self) -> f64 {
        match self {
            Rule::AtLeast(t) | Rule::AtMost(t) | Rule::Above(t) | Rule::Below(t) => t,
        }
    }

    fn text(self) -> String {
        match self {
            Rule::AtLeast(t) => format!("≥ {}", sig(t)),
            Rule::AtMost(t) => format!("≤ {}", sig(t)),
            Rule::Above(t) => format!("> {}", sig(t)),
            Rule::Below(t) => format!("< {}", sig(t)),
        }
    }
}

/// The rows of a table grouped by grid point (the text of the key columns), then by
/// initialisation (the `seed` column), in order of first appearance.
pub struct Resampler {
    groups: Vec<Vec<Vec<usize>>>,
}

impl Resampler {
    /// Group `df`'s rows by the key columns and the seed.
    pub fn new(df: &DataFrame, keys: &[&str]) -> Result<Resampler> {
        let cols: Vec<Vec<String>> = keys
            .iter()
            .map(|k| table::str_values(df, k))
            .collect::<Result<_>>()?;
        let seeds = table::i64_col(df, "seed")?;
        let mut names: Vec<Vec<&str>> = Vec::new();
        let mut groups: Vec<(Vec<i64>, Vec<Vec<usize>>)> = Vec::new();
        for (row, seed) in seeds.iter().enumerate() {
            let name: Vec<&str> = cols.iter().map(|c| c[row].as_str()).collect();
            let g = match names.iter().position(|n| *n == name) {
                Some(g) => g,
                None => {
                    names.push(name);
                    groups.push((Vec::new(), Vec::new()));
                    groups.len() - 1
                }
            };
            let (ids, rows) = &mut groups[g];
            match ids.iter().position(|s| s == seed) {
                Some(s) => rows[s].push(row),
                None => {
                    ids.push(*seed);
                    rows.push(vec![row]);
                }
            }
        }
        Ok(Resampler {
            groups: groups.into_iter().map(|g| g.1).collect(),
        })
    }

    /// The fewest initialisations at any grid point.
    pub fn inits(&self) -> usize {
        self.groups.iter().map(Vec::len).min().unwrap_or(0)
    }

    /// One resample: at every grid point, as many initialisations as it has, drawn with
    /// replacement; the row indices of the drawn initialisations in order.
    pub fn draw(&self, rng: &mut impl Rng) -> Vec<usize> {
        let mut rows = Vec::new();
        for g in &self.groups {
            for _ in 0..g.len() {
                // Lemire's multiply-shift: an index in 0..len without a division
                let pick = ((u128::from(rng.next_u64()) * g.len() as u128) >> 64) as usize;
                rows.extend_from_slice(&g[pick]);
            }
        }
        rows
    }
}

/// The rows `rows` of `df`, in that order (repeats allowed).
fn take(df: &DataFrame, rows: &[usize]) -> Result<DataFrame> {
    let idx = IdxCa::new(
        "rows".into(),
        rows.iter()
            .map(|&r| r as polars::prelude::IdxSize)
            .collect::<Vec<_>>(),
    );
    df.take(&idx)
        .map_err(|e| crate::Error::Internal(format!("bootstrap resample: {e}")))
}

/// A trend claim decided by its bootstrap interval (see the module text).
pub struct Trend<'a> {
    pub id: &'a str,
    pub statement: &'a str,
    /// Columns naming a grid point; the initialisations are resampled within each.
    pub keys: &'a [&'a str],
    pub rule: Rule,
    /// What the statistic is, for the evidence (`min ρ over kernels`).
    pub statistic: &'a str,
}

impl Trend<'_> {
    /// Evaluate `stat` on `df` and on [`RESAMPLES`] resamples; `evidence` is prepended to the
    /// interval and verdict.
    pub fn claim(
        &self,
        df: &DataFrame,
        stat: impl Fn(&DataFrame) -> Result<f64>,
        evidence: String,
    ) -> Result<Claim> {
        let est = stat(df)?;
        let sampler = Resampler::new(df, self.keys)?;
        let n = sampler.inits();
        let rule = self.rule;
        if n < 2 || !est.is_finite() {
            let verdict = if rule.holds(est) {
                Verdict::Pass
            } else {
                Verdict::Fail
            };
            let why = if n < 2 {
                "one initialisation per point: no interval"
            } else {
                "not finite: no interval"
            };
            return Ok(self
                .make(
                    verdict,
                    format!(
                        "{evidence}; {} = {} ({why}; rule {})",
                        self.statistic,
                        sig(est),
                        rule.text()
                    ),
                )
                .with_ours(format!("{} = {} ({why})", self.statistic, sig(est))));
        }
        let mut rng = point_rng(0, "bootstrap", &[("claim", self.id.to_string())], 0);
        let mut values = Vec::with_capacity(RESAMPLES);
        for _ in 0..RESAMPLES {
            let v = stat(&take(df, &sampler.draw(&mut rng))?)?;
            if v.is_finite() {
                values.push(v);
            }
        }
        values.sort_by(f64::total_cmp);
        let q = |p: f64| {
            values
                .get(((values.len() as f64 - 1.0) * p).round() as usize)
                .copied()
                .unwrap_or(est)
        };
        let (lo, hi) = (q(0.025).min(est), q(0.975).max(est));
        let verdict = match (rule.holds(lo), rule.holds(hi)) {
            (true, true) => Verdict::Pass,
            (false, false) => Verdict::Fail,
            _ => Verdict::Undecided,
        };
        let mut text = format!(
            "{evidence}; {} = {} (rule {}), 95 % bootstrap interval [{}, {}] over {n} \
             initialisations per point",
            self.statistic,
            sig(est),
            rule.text(),
            sig(lo),
            sig(hi)
        );
        let mut ours = format!(
            "{} = {}, 95 % interval [{}, {}], {n} inits",
            self.statistic,
            sig(est),
            sig(lo),
            sig(hi)
        );
        if verdict == Verdict::Undecided {
            let more = decide(n, est, lo, hi, rule);
            text.push_str(&format!("; {more}"));
            ours.push_str(&format!("; {more}"));
        }
        Ok(self.make(verdict, text).with_ours(ours))
    }

    fn make(&self, verdict: Verdict, evidence: String) -> Claim {
        Claim::decided(ClaimKind::Paper, self.id, self.statement, verdict, evidence)
    }
}

/// The statistic of "ρ(x, mean of `col`) satisfies `rule` for every value of `group`": the
/// smallest ρ over groups for `AtLeast`/`Above`, the largest for `AtMost`/`Below`.
pub fn worst_rho(
    group: &'static str,
    x: &'static str,
    col: &'static str,
    rule: Rule,
) -> impl Fn(&DataFrame) -> Result<f64> {
    move |df| {
        let rhos = curves(df, group, x, col)?
            .iter()
            .map(|(_, c)| trend(c))
            .collect::<Vec<_>>();
        Ok(worst(&rhos, rule))
    }
}

/// The value among `values` that decides `rule` for all of them: the smallest for
/// `AtLeast`/`Above`, the largest for `AtMost`/`Below` (NaN when empty).
pub fn worst(values: &[f64], rule: Rule) -> f64 {
    let lower = matches!(rule, Rule::AtLeast(_) | Rule::Above(_));
    values
        .iter()
        .copied()
        .reduce(|a, b| if lower { a.min(b) } else { a.max(b) })
        .unwrap_or(f64::NAN)
}

/// The ratios `mean(x_{i+1}) / mean(x_i)` of consecutive points of every curve: "increases
/// strictly at every step" is `worst(steps) > 1`, "decreases strictly" is `worst(steps) < 1`.
pub fn steps(curves: &[(String, Curve)]) -> Vec<f64> {
    curves
        .iter()
        .flat_map(|(_, c)| c.windows(2).map(|w| w[1].1 / w[0].1))
        .collect()
}

/// "undecided at N initialisations: about N' would decide it", from the `1/√N` shrinking of
/// the interval's half-width on the threshold's side.
fn decide(n: usize, est: f64, lo: f64, hi: f64, rule: Rule) -> String {
    let t = rule.threshold();
    let gap = (est - t).abs();
    let half = if est >= t { est - lo } else { hi - est };
    if gap == 0.0 || !half.is_finite() {
        return format!(
            "undecided at {n} initialisations: the estimate sits on the threshold, so no number \
             of initialisations decides it"
        );
    }
    let more = (n as f64 * (half / gap).powi(2)).ceil().max(n as f64 + 1.0);
    format!(
        "undecided at {n} initialisations: about {} would decide it",
        more as u64
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{rows_to_frame, Row};

    fn frame(values: &[(usize, usize, f64)]) -> DataFrame {
        let rows: Vec<Row> = values
            .iter()
            .map(|&(x, s, v)| Row::new().int("x", x).int("seed", s).float("v", v))
            .collect();
        rows_to_frame(&rows).unwrap()
    }

    fn mean_slope(df: &DataFrame) -> Result<f64> {
        let x = table::f64_col(df, "x")?;
        let v = table::f64_col(df, "v")?;
        let mean = |at: f64| {
            let s: Vec<f64> = (0..x.len()).filter(|&i| x[i] == at).map(|i| v[i]).collect();
            s.iter().sum::<f64>() / s.len() as f64
        };
        Ok(mean(1.0) - mean(0.0))
    }

    fn trend(rule: Rule) -> Trend<'static> {
        Trend {
            id: "test/slope",
            statement: "the mean rises",
            keys: &["x"],
            rule,
            statistic: "slope",
        }
    }

    #[test]
    fn clear_trends_are_decided_and_noisy_ones_are_not() {
        // a rise of 10 with a spread of 1 passes; the opposite rule fails
        let clear = frame(&[
            (0, 0, 0.0),
            (0, 1, 1.0),
            (0, 2, -1.0),
            (1, 0, 10.0),
            (1, 1, 11.0),
            (1, 2, 9.0),
        ]);
        let up = trend(Rule::Above(0.0))
            .claim(&clear, mean_slope, "e".into())
            .unwrap();
        assert_eq!(up.verdict, Verdict::Pass, "{}", up.evidence);
        let down = trend(Rule::Below(0.0))
            .claim(&clear, mean_slope, "e".into())
            .unwrap();
        assert_eq!(down.verdict, Verdict::Fail, "{}", down.evidence);
        // a rise of 1 with a spread of 10 is undecided, and says how many would decide it
        let noisy = frame(&[
            (0, 0, 0.0),
            (0, 1, 10.0),
            (0, 2, -10.0),
            (1, 0, 1.0),
            (1, 1, 11.0),
            (1, 2, -8.0),
        ]);
        let c = trend(Rule::Above(0.0))
            .claim(&noisy, mean_slope, "e".into())
            .unwrap();
        assert_eq!(c.verdict, Verdict::Undecided, "{}", c.evidence);
        assert!(c.evidence.contains("would decide it"), "{}", c.evidence);
        // the overview's headline: the estimate (4/3), its interval and how many would decide
        let ours = c.headline();
        assert!(ours.starts_with("slope = 1.333, 95 % interval ["), "{ours}");
        assert!(ours.contains("], 3 inits; undecided at 3"), "{ours}");
        // the same resampling twice: the same evidence
        let again = trend(Rule::Above(0.0))
            .claim(&noisy, mean_slope, "e".into())
            .unwrap();
        assert_eq!(c.evidence, again.evidence);
    }

    #[test]
    fn initialisations_stay_whole_and_paired() {
        // two rows per (x, seed): a resample keeps both rows of a drawn seed together
        let df = frame(&[(0, 0, 1.0), (0, 0, 2.0), (0, 1, 3.0), (0, 1, 4.0)]);
        let r = Resampler::new(&df, &["x"]).unwrap();
        assert_eq!(r.inits(), 2);
        let mut rng = point_rng(0, "t", &[], 0);
        for _ in 0..20 {
            let rows = r.draw(&mut rng);
            assert_eq!(rows.len(), 4);
            for pair in rows.chunks(2) {
                assert!(pair == [0, 1] || pair == [2, 3], "{rows:?}");
            }
        }
    }

    #[test]
    fn one_initialisation_decides_on_the_estimate() {
        let df = frame(&[(0, 0, 0.0), (1, 0, 1.0)]);
        let c = trend(Rule::Above(0.0))
            .claim(&df, mean_slope, "e".into())
            .unwrap();
        assert_eq!(c.verdict, Verdict::Pass);
        assert!(c.evidence.contains("no interval"));
        assert_eq!(
            c.headline(),
            "slope = 1.000 (one initialisation per point: no interval)"
        );
    }
}
