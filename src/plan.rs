//! From what the user asked to what will run: a profile checked against every experiment's
//! configuration type, and the experiments selected from it.

use crate::calibrate::Speed;
use crate::config::Profile;
use crate::experiment::{Cost, Experiment};
use crate::experiments;
use crate::{Error, Result};

/// Load a profile (built-in name or path) and check every experiment table in it.
pub fn load_profile(name_or_path: &str) -> Result<Profile> {
    checked(Profile::load(name_or_path)?)
}

/// Parse profile text (`file` names it in errors) and check every experiment table in it.
pub fn parse_profile(text: &str, file: &str) -> Result<Profile> {
    checked(Profile::parse(text, file)?)
}

fn checked(profile: Profile) -> Result<Profile> {
    let known: Vec<&str> = experiments::registry().iter().map(|e| e.id()).collect();
    for id in profile.experiments.keys() {
        if !known.contains(&id.as_str()) {
            let at = profile
                .line_of(id)
                .map(|l| format!("line {l} (`[experiments.{id}]`): "))
                .unwrap_or_default();
            return Err(Error::Config {
                file: profile.source.clone(),
                msg: format!(
                    "{at}unknown experiment `{id}`, expected one of {}",
                    known.join(", ")
                ),
            });
        }
    }
    for exp in experiments::registry() {
        exp.validate(&profile)?;
    }
    Ok(profile)
}

/// Resolve experiment ids against the registry and the profile (none: every experiment the
/// profile configures).
pub fn select(ids: &[String], profile: &Profile) -> Result<Vec<&'static dyn Experiment>> {
    let known: Vec<&str> = experiments::registry().iter().map(|e| e.id()).collect();
    if ids.is_empty() {
        let all: Vec<_> = experiments::registry()
            .into_iter()
            .filter(|e| !e.points(profile).is_empty())
            .collect();
        if all.is_empty() {
            return Err(Error::Input(format!(
                "{} configures no experiment",
                profile.source
            )));
        }
        return Ok(all);
    }
    ids.iter()
        .map(|id| {
            let exp = experiments::find(id).ok_or_else(|| {
                Error::Input(format!(
                    "unknown experiment '{id}': known are {}",
                    known.join(", ")
                ))
            })?;
            if exp.points(profile).is_empty() {
                return Err(Error::Input(format!(
                    "{} does not configure experiment '{id}'",
                    profile.source
                )));
            }
            Ok(exp)
        })
        .collect()
}

/// `gncond list`: every experiment, its paper figure, its cost in `profile` (the cost models'
/// reference-machine seconds times `speed`'s factor) and what it shows, as aligned text.
pub fn list_table(profile: &Profile, speed: &Speed) -> String {
    let factor = speed.factor();
    let cost = |e: &dyn Experiment| {
        let c = e.cost_hint(profile);
        Cost {
            seconds: c.seconds * factor,
            ..c
        }
    };
    let header = [
        "id".to_string(),
        "paper".to_string(),
        format!("cost ({} profile)", profile.name),
        "what it shows".to_string(),
    ];
    let rows: Vec<[String; 4]> = experiments::registry()
        .into_iter()
        .map(|e| {
            [
                e.id().to_string(),
                e.paper_ref().to_string(),
                cost(e).to_string(),
                e.title().to_string(),
            ]
        })
        .collect();
    let width = |c: usize| {
        rows.iter()
            .chain(std::iter::once(&header))
            .map(|r| r[c].chars().count())
            .max()
            .unwrap_or(0)
    };
    let (w0, w1, w2) = (width(0), width(1), width(2));
    let mut out: String = std::iter::once(&header)
        .chain(&rows)
        .map(|r| format!("{:<w0$}  {:<w1$}  {:<w2$}  {}\n", r[0], r[1], r[2], r[3]))
        .collect();
    let costs: Vec<Cost> = experiments::registry().into_iter().map(cost).collect();
    let seconds: f64 = costs.iter().map(|c| c.seconds).sum();
    let points: usize = costs.iter().map(|c| c.points).sum();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    out.push_str(&format!(
        "total: {points} points, ~{} on 1 core (~{} with {cores} cores if the points spread evenly)\n",
        crate::messages::duration(seconds),
        crate::messages::duration(seconds / cores as f64)
    ));
    out.push_str(&format!(
        "this machine: {:.1} Gflop/s on one core ({}; the cost models' machine: {:.1}), so the \
         estimates are ×{:.2} of that machine's\n",
        speed.gflops,
        if speed.cached {
            "cached calibration; --recalibrate measures again"
        } else {
            "measured now"
        },
        crate::calibrate::REFERENCE_GFLOPS,
        factor
    ));
    out
}

/// The experiments of `profile` that read a data set, with the data each wants (for
/// `gncond data info`).
pub fn data_users(profile: &Profile) -> Vec<(&'static str, crate::data::Want)> {
    experiments::registry()
        .into_iter()
        .filter(|e| e.config_json(profile).is_some() && e.reads_data())
        .map(|e| (e.id(), e.wants()))
        .collect()
}
