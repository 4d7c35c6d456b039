//! Claims: every guaranteed bound and every qualitative claim of the paper that a figure
//! supports is a named predicate over a result table, with the evidence numbers it used.
//! Experiments build them here; `verify` collects them.

use serde::Serialize;

/// What kind of statement a claim is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ClaimKind {
    /// A theorem: a violation is a bug, never noise.
    Guaranteed,
    /// A qualitative claim of the paper, checked on our grid.
    Paper,
    /// A number the authors stored in their published outputs, beside ours for the same
    /// configuration (`data/published-values.csv`).
    Stored,
}

/// The outcome of a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    Pass,
    Fail,
    /// A trend whose bootstrap interval over initialisations straddles its threshold: more
    /// initialisations are needed to decide it (the evidence says how many).
    Undecided,
}

/// One checked claim.
#[derive(Debug, Clone)]
pub struct Claim {
    /// Stable name, `experiment/claim`.
    pub id: String,
    pub kind: ClaimKind,
    /// What is claimed, in one sentence.
    pub statement: String,
    pub verdict: Verdict,
    /// The numbers the verdict rests on.
    pub evidence: String,
    /// For a failed claim of the paper: the id of the claim that shows why it fails here.
    pub cause: Option<String>,
    /// Our number in a few words, for the overview table (`ρ = 0.95, 95 % interval [0.9, 1]`);
    /// `None` when the evidence itself is that short.
    pub ours: Option<String>,
}

impl Claim {
    /// A theorem's check: `id`, the statement, the verdict and its evidence.
    pub fn guaranteed(id: &str, statement: &str, pass: bool, evidence: String) -> Claim {
        Claim::new(ClaimKind::Guaranteed, id, statement, pass, evidence)
    }

    /// A qualitative claim of the paper checked on our grid.
    pub fn paper(id: &str, statement: &str, pass: bool, evidence: String) -> Claim {
        Claim::new(ClaimKind::Paper, id, statement, pass, evidence)
    }

    /// A comparison with a number the authors stored.
    pub fn stored(id: &str, statement: &str, pass: bool, evidence: String) -> Claim {
        Claim::new(ClaimKind::Stored, id, statement, pass, evidence)
    }

    fn new(kind: ClaimKind, id: &str, statement: &str, pass: bool, evidence: String) -> Claim {
        Claim::decided(
            kind,
            id,
            statement,
            if pass { Verdict::Pass } else { Verdict::Fail },
            evidence,
        )
    }

    /// A claim with any verdict (the trend claims, which may be undecided).
    pub fn decided(
        kind: ClaimKind,
        id: &str,
        statement: &str,
        verdict: Verdict,
        evidence: String,
    ) -> Claim {
        Claim {
            id: id.into(),
            kind,
            statement: statement.into(),
            verdict,
            evidence,
            cause: None,
            ours: None,
        }
    }

    /// Give the overview table a shorter account of our number than the evidence.
    pub fn with_ours(mut self, ours: String) -> Claim {
        self.ours = Some(ours);
        self
    }

    /// Our number in a few words: [`Claim::ours`] when set, else the evidence.
    pub fn headline(&self) -> &str {
        self.ours.as_deref().unwrap_or(&self.evidence)
    }

    /// Name the claim that shows why this one fails here (kept only if it does fail).
    pub fn caused_by(mut self, id: &str) -> Claim {
        if self.verdict == Verdict::Fail {
            self.cause = Some(id.into());
        }
        self
    }

    /// True when the claim passed.
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }

    /// `PASS`, `FAIL`, `FAIL (cause: id)` or `UNDECIDED`.
    pub fn verdict_text(&self) -> String {
        match (self.verdict, &self.cause) {
            (Verdict::Pass, _) => "PASS".into(),
            (Verdict::Fail, None) => "FAIL".into(),
            (Verdict::Fail, Some(c)) => format!("FAIL (cause: {c})"),
            (Verdict::Undecided, _) => "UNDECIDED".into(),
        }
    }
}

impl Serialize for Claim {
    /// The fields (`ours` as [`Claim::headline`]), plus `passed` and `verdict_text` for the
    /// report templates.
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Claim", 9)?;
        st.serialize_field("id", &self.id)?;
        st.serialize_field("kind", &self.kind)?;
        st.serialize_field("statement", &self.statement)?;
        st.serialize_field("verdict", &self.verdict)?;
        st.serialize_field("evidence", &self.evidence)?;
        st.serialize_field("cause", &self.cause)?;
        st.serialize_field("ours", self.headline())?;
        st.serialize_field("passed", &self.passed())?;
        st.serialize_field("verdict_text", &self.verdict_text())?;
        st.end()
    }
}

/// How a set of claims came out: passed, failed (of which with a cause shown by another
/// claim) and undecided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
    pub caused: usize,
    pub undecided: usize,
}

impl Tally {
    /// The tally of `claims`.
    pub fn of<'a>(claims: impl IntoIterator<Item = &'a Claim>) -> Tally {
        let mut t = Tally {
            passed: 0,
            failed: 0,
            caused: 0,
            undecided: 0,
        };
        for c in claims {
            match c.verdict {
                Verdict::Pass => t.passed += 1,
                Verdict::Fail => {
                    t.failed += 1;
                    t.caused += usize::from(c.cause.is_some());
                }
                Verdict::Undecided => t.undecided += 1,
            }
        }
        t
    }
}

impl std::fmt::Display for Tally {
    /// `70 passed, 6 failed (4 with a cause shown by another claim), 1 undecided`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} passed, {} failed ({} with a cause shown by another claim), {} undecided",
            self.passed, self.failed, self.caused, self.undecided
        )
    }
}

/// Relative slack for "bound ≥ κ": the rounding of two independent eigen/singular-value
/// computations, not a tolerance on the theorem.
pub const BOUND_SLACK: f64 = 1e-9;

/// The largest ratio `value / bound` over rows, with the row index (for bound checks).
pub fn worst_ratio(value: &[f64], bound: &[f64]) -> (f64, usize) {
    (0..value.len())
        .map(|i| (value[i] / bound[i], i))
        .fold((0.0, 0), |a, b| if b.0 > a.0 { b } else { a })
}

/// Claim: `bound` ≥ `kappa` on every row (up to [`BOUND_SLACK`]), with the worst ratio as
/// evidence, naming the row by `label`.
pub fn bound_claim(
    id: &str,
    statement: &str,
    kappa: &[f64],
    bound: &[f64],
    label: impl Fn(usize) -> String,
) -> Claim {
    let (worst, at) = worst_ratio(kappa, bound);
    Claim::guaranteed(
        id,
        statement,
        kappa
            .iter()
            .zip(bound)
            .all(|(k, b)| *k <= b * (1.0 + BOUND_SLACK)),
        format!(
            "max ratio = {worst:.12} at {} over {} points (slack {BOUND_SLACK:e})",
            label(at),
            kappa.len()
        ),
    )
}

/// How often `value` exceeds an estimate that is not a theorem (counted, never failed).
pub fn count_above(value: &[f64], estimate: &[f64]) -> usize {
    value
        .iter()
        .zip(estimate)
        .filter(|(v, e)| **v > **e * (1.0 + BOUND_SLACK))
        .count()
}

/// Spearman rank correlation of two equally long samples (average ranks for ties).
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    fn ranks(v: &[f64]) -> Vec<f64> {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
        let mut r = vec![0.0; v.len()];
        let mut i = 0;
        while i < idx.len() {
            let mut j = i;
            while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
                j += 1;
            }
            let avg = (i + j) as f64 / 2.0 + 1.0;
            for &t in &idx[i..=j] {
                r[t] = avg;
            }
            i = j + 1;
        }
        r
    }
    let (rx, ry) = (ranks(x), ranks(y));
    let n = x.len() as f64;
    let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
    let cov: f64 = rx.iter().zip(&ry).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = rx.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = ry.iter().map(|b| (b - my).powi(2)).sum();
    if vx == 0.0 || vy == 0.0 {
        0.0
    } else {
        cov / (vx * vy).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tally_counts_each_verdict_and_the_failures_with_a_cause() {
        let cause = Claim::paper("a/cause", "s", true, String::new());
        let claims = vec![
            Claim::paper("a/pass", "s", true, String::new()),
            Claim::paper("a/fail", "s", false, String::new()),
            Claim::paper("a/explained", "s", false, String::new()).caused_by(&cause.id),
            // a cause on a passing claim is dropped, so it is not counted
            Claim::paper("a/passes-anyway", "s", true, String::new()).caused_by(&cause.id),
            Claim::decided(
                ClaimKind::Paper,
                "a/undecided",
                "s",
                Verdict::Undecided,
                String::new(),
            ),
            cause,
        ];
        let t = Tally::of(&claims);
        assert_eq!(
            t,
            Tally {
                passed: 3,
                failed: 2,
                caused: 1,
                undecided: 1
            }
        );
        assert_eq!(
            t.to_string(),
            "3 passed, 2 failed (1 with a cause shown by another claim), 1 undecided"
        );
    }
}
