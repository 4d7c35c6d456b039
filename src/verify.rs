//! `gncond verify`: evaluate every claim of the experiments recorded in an output folder and
//! print each verdict with its evidence (the claims themselves are in `claims` and in each
//! experiment's file).

use crate::claims::{Claim, ClaimKind, Tally};
use crate::experiments;
use crate::manifest::{self, Manifest};
use crate::messages::notice;
use crate::table;
use crate::{Error, Result};
use std::path::Path;

/// Which failed claims make `verify` fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    /// Any failed claim, guaranteed or from the paper.
    Any,
    /// Only a violated guaranteed bound (a theorem).
    Guaranteed,
}

/// Evaluate the claims of every experiment recorded in `out`'s manifest, in registry order.
pub fn claims_in(out: &Path) -> Result<Vec<Claim>> {
    let manifest = Manifest::load(out)?;
    let mut claims = Vec::new();
    for exp in experiments::registry() {
        if manifest.experiments.contains_key(exp.id()) {
            let df = table::read_csv(&out.join(manifest::csv_path(exp.id())))?;
            claims.extend(exp.claims(&df)?);
        }
    }
    Ok(claims)
}

/// Print every claim's verdict and evidence to standard output; a failed check (exit 1)
/// when a guaranteed bound is violated, or any claim fails under `FailOn::Any`.
pub fn verify(out: &Path, fail_on: FailOn) -> Result<()> {
    let claims = claims_in(out)?;
    let tally = Tally::of(&claims);
    let theorems = claims
        .iter()
        .filter(|c| !c.passed() && c.kind == ClaimKind::Guaranteed)
        .count();
    for c in &claims {
        println!(
            "{} {:?} {}: {}",
            c.verdict_text(),
            c.kind,
            c.id,
            c.statement
        );
        println!("     evidence: {}", c.evidence);
    }
    println!("{tally}");
    let failed = tally.failed + tally.undecided;
    if theorems > 0 {
        Err(Error::CheckFailed(format!(
            "verify: {theorems} guaranteed bound(s) violated: a bug to find"
        )))
    } else if failed > 0 && fail_on == FailOn::Any {
        Err(Error::CheckFailed(format!(
            "verify: {failed} claim(s) failed"
        )))
    } else {
        if failed > 0 {
            notice(format!(
                "verify: {failed} claim(s) of the paper not reproduced or undecided on these results (see the report)"
            ));
        }
        Ok(())
    }
}
