//! The report: a minijinja template (`templates/report.md.j2`) rendered with every
//! experiment's figure, table, protocol, provenance and claim checks.

use crate::experiments;
use crate::fsutil::write_atomic;
use crate::pipeline::{self, Manifest};
use crate::table;
use crate::verify::Claim;
use crate::{Error, Result, VERSION};
use minijinja::Environment;
use serde::Serialize;
use std::path::{Path, PathBuf};

const MD_TEMPLATE: &str = include_str!("../templates/report.md.j2");

/// A number with four significant digits (`∞` for infinity), as tables show it.
pub fn sig(x: f64) -> String {
    sig_digits(x, 4)
}

/// A number with `digits` significant digits (`∞` for infinity).
pub fn sig_digits(x: f64, digits: usize) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            "∞".into()
        } else {
            "−∞".into()
        };
    }
    if x == 0.0 {
        return "0".into();
    }
    let e = x.abs().log10().floor() as i32;
    let digits = digits.max(1);
    if (-3..6).contains(&e) {
        let decimals = (digits as i32 - 1 - e).max(0) as usize;
        format!("{x:.decimals$}")
    } else {
        let decimals = digits - 1;
        format!("{x:.decimals$e}")
    }
}

/// Escape text for LaTeX: the specials `\ { } $ & # ^ _ % ~` cannot break the document, and
/// the Unicode symbols our tables use become math (κ, ±, ∞, σ, λ, β, Σ, ℓ, ≥, ≤, ×, →, …).
pub fn latex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let rep: Option<&str> = match c {
            '\\' => Some(r"\textbackslash{}"),
            '{' => Some(r"\{"),
            '}' => Some(r"\}"),
            '$' => Some(r"\$"),
            '&' => Some(r"\&"),
            '#' => Some(r"\#"),
            '^' => Some(r"\^{}"),
            '_' => Some(r"\_"),
            '%' => Some(r"\%"),
            '~' => Some(r"\textasciitilde{}"),
            'κ' => Some(r"$\kappa$"),
            '±' => Some(r"$\pm$"),
            '∞' => Some(r"$\infty$"),
            'σ' => Some(r"$\sigma$"),
            'λ' => Some(r"$\lambda$"),
            'β' => Some(r"$\beta$"),
            'α' => Some(r"$\alpha$"),
            'Σ' => Some(r"$\Sigma$"),
            'ℓ' => Some(r"$\ell$"),
            '≥' => Some(r"$\geq$"),
            '≤' => Some(r"$\leq$"),
            '×' => Some(r"$\times$"),
            '→' => Some(r"$\to$"),
            '·' => Some(r"$\cdot$"),
            '−' => Some("-"),
            '–' => Some("--"),
            '√' => Some(r"$\surd$"),
            '⁺' => Some(r"$^{+}$"),
            _ => None,
        };
        match rep {
            Some(r) => out.push_str(r),
            None => out.push(c),
        }
    }
    out
}

/// A summary table as a LaTeX `tabular` (booktabs rules), every cell escaped.
pub fn latex_table(t: &crate::experiments::SummaryTable) -> String {
    let cols = "l".repeat(t.header.len().max(1));
    let row = |cells: &[String]| {
        cells
            .iter()
            .map(|c| latex_escape(c))
            .collect::<Vec<_>>()
            .join(" & ")
            + " \\\\\n"
    };
    let mut s = format!(
        "% {}\n\\begin{{tabular}}{{{cols}}}\n\\toprule\n",
        latex_escape(&t.caption)
    );
    s.push_str(&row(&t.header));
    s.push_str("\\midrule\n");
    for r in &t.rows {
        s.push_str(&row(r));
    }
    s.push_str("\\bottomrule\n\\end{tabular}\n");
    s
}

#[derive(Serialize)]
struct ExperimentView {
    id: String,
    paper: String,
    title: String,
    description: String,
    svg: String,
    png: String,
    csv: String,
    profile: String,
    profile_source: String,
    master_seed: u64,
    config: String,
    data: crate::data::DataSource,
    points: usize,
    rows: usize,
    timing: Option<pipeline::RunStats>,
    summary: experiments::SummaryTable,
    claims: Vec<Claim>,
}

#[derive(Serialize)]
struct ReportView {
    version: String,
    commit: String,
    rustc: String,
    experiments: Vec<ExperimentView>,
    claims_total: usize,
    claims_failed: usize,
}

fn command_line(cmd: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The git commit of the working tree (with `+dirty` when tracked files changed).
pub fn git_commit() -> String {
    match command_line("git", &["rev-parse", "--short=12", "HEAD"]) {
        Some(c) => {
            let dirty = command_line("git", &["status", "--porcelain", "--untracked-files=no"])
                .map(|s| !s.is_empty())
                .unwrap_or(false);
            if dirty {
                format!("{c}+dirty")
            } else {
                c
            }
        }
        None => "unknown (not a git checkout)".into(),
    }
}

/// Render `out/report/report.md` from the results recorded in `out`.
pub fn render(out: &Path) -> Result<PathBuf> {
    let manifest = Manifest::load(out)?;
    let timings = pipeline::load_timings(out);
    let mut views = Vec::new();
    for exp in experiments::registry() {
        let Some(entry) = manifest.experiments.get(exp.id()) else {
            continue;
        };
        let df = table::read_csv(&out.join(experiments::csv_path(exp.id())))?;
        views.push(ExperimentView {
            id: exp.id().into(),
            paper: entry.paper.clone(),
            title: exp.title().into(),
            description: exp.description().into(),
            svg: format!("../{}", experiments::svg_path(exp.id())),
            png: format!("../{}", experiments::png_path(exp.id())),
            csv: format!("../{}", experiments::csv_path(exp.id())),
            profile: entry.profile.clone(),
            profile_source: entry.profile_source.clone(),
            master_seed: entry.master_seed,
            config: toml::to_string(&entry.config).unwrap_or_else(|_| entry.config.to_string()),
            data: entry.data.clone(),
            points: entry.points,
            rows: entry.rows,
            timing: timings.get(exp.id()).cloned(),
            summary: exp.summary(&df)?,
            claims: exp.claims(&df)?,
        });
    }
    let claims_total = views.iter().map(|v| v.claims.len()).sum();
    let claims_failed = views
        .iter()
        .flat_map(|v| &v.claims)
        .filter(|c| !c.pass)
        .count();
    let view = ReportView {
        version: VERSION.into(),
        commit: git_commit(),
        rustc: command_line("rustc", &["--version"]).unwrap_or_else(|| "unknown".into()),
        experiments: views,
        claims_total,
        claims_failed,
    };
    let mut env = Environment::new();
    env.add_filter("sig", sig);
    env.add_filter("cell", |s: String| s.replace('|', "\\|"));
    env.add_template("report.md", MD_TEMPLATE)
        .map_err(|e| Error::Numerics(format!("templates/report.md.j2: {e}")))?;
    let text = env
        .get_template("report.md")
        .and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(&view))))
        .map_err(|e| Error::Numerics(format!("rendering templates/report.md.j2: {e}")))?;
    for v in &view.experiments {
        let tex = latex_table(&v.summary);
        write_atomic(
            &out.join(format!("report/tables/{}.tex", v.id)),
            tex.as_bytes(),
        )?;
    }
    let path = out.join("report/report.md");
    write_atomic(&path, text.as_bytes())?;
    Ok(path)
}
