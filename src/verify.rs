//! The claims ledger: every guaranteed bound and every claim of the paper that a figure
//! supports is a named predicate over a result table, with the evidence numbers it used.

use crate::experiments;
use crate::pipeline::Manifest;
use crate::table;
use crate::Result;
use serde::Serialize;
use std::path::Path;

/// What kind of statement a claim is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ClaimKind {
    /// A theorem: a violation is a bug, never noise.
    Guaranteed,
    /// A qualitative claim of the paper, checked on our grid.
    Paper,
}

/// One checked claim.
#[derive(Debug, Clone, Serialize)]
pub struct Claim {
    /// Stable name, `experiment/claim`.
    pub id: String,
    pub kind: ClaimKind,
    /// What is claimed, in one sentence.
    pub statement: String,
    pub pass: bool,
    /// The numbers the verdict rests on.
    pub evidence: String,
}

impl Claim {
    /// PASS or FAIL.
    pub fn verdict(&self) -> &'static str {
        if self.pass {
            "PASS"
        } else {
            "FAIL"
        }
    }
}

/// Evaluate the claims of every experiment recorded in `out`'s manifest, in registry order.
pub fn claims_in(out: &Path) -> Result<Vec<Claim>> {
    let manifest = Manifest::load(out)?;
    let mut claims = Vec::new();
    for exp in experiments::registry() {
        if manifest.experiments.contains_key(exp.id()) {
            let df = table::read_csv(&out.join(experiments::csv_path(exp.id())))?;
            claims.extend(exp.claims(&df)?);
        }
    }
    Ok(claims)
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
