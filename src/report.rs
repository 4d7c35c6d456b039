//! The report: two minijinja templates, `templates/report.md.j2` (Markdown) and
//! `templates/report.tex.j2` (LaTeX, with LaTeX-friendly delimiters `\VAR{…}`, `\BLOCK{…}`,
//! `\#{…}`), rendered from the same view of every experiment's figure, table, protocol,
//! provenance and claim checks. In the LaTeX template every value is escaped by the formatter
//! ([`latex_inline`]) unless it is marked `safe`, so no value can break the document.

use crate::claims::{Claim, ClaimKind, Tally};
use crate::experiment::SummaryTable;
use crate::experiments;
use crate::experiments::stored_values::{self, Comparison};
use crate::format;
use crate::format::sig;
use crate::fsutil::write_atomic;
use crate::manifest::{self, Manifest};
use crate::table;
use crate::{Error, Result, VERSION};
use minijinja::Environment;
use serde::Serialize;
use std::path::{Path, PathBuf};

const MD_TEMPLATE: &str = include_str!("../templates/report.md.j2");
const TEX_TEMPLATE: &str = include_str!("../templates/report.tex.j2");

/// Choices where the paper is silent, shown in both reports: (title, text with Markdown
/// inline code and bold).
const CHOICES: &[(&str, &str)] = &[
    (
        "Data.",
        "When `gncond data fetch` has installed the official MNIST or CIFAR-10 and the \
         profile's data policy is `auto`, experiments take the first n training images, as the \
         authors did (CIFAR-10 for the experiments the paper ran on it, grayscale = mean of the \
         three channels where the paper used grayscale). Otherwise they use the embedded real \
         MNIST subset (500 images per digit, classes interleaved, so the first n images hold \
         n/10 of each digit). Each section names the data it used and its checksum. Pixels in \
         [0, 1], subsampled as `img[::f, ::f]` per channel.",
    ),
    (
        "Whitening of rank-deficient data.",
        "Strided MNIST is rank-deficient (the image border is blank: with f = 4 only about \
         34–36 of the 49 pixels ever vary). Whitening replaces the data by `U Vᵀ` from the thin \
         SVD of `Xᵀ` as the authors' code does; the singular vectors of the zero singular \
         values, an orthonormal completion, fill the missing directions, so `X Xᵀ = I` holds \
         exactly (checked). For linear networks `G_O` depends on the data only through Σ, so \
         how the completion is chosen cannot change κ. Each CSV row records the raw data's rank \
         (`data_rank`).",
    ),
    (
        "κ(Σ) of raw data",
        "is taken over the nonzero eigenvalues of Σ; the bounds stay valid with it because \
         `G_O` vanishes on `null(Σ) ⊗ R^k`.",
    ),
    (
        "Initialisation.",
        "Kaiming normal, fan-in, gain 1 (variance 1/fan_in) for linear layers and √2 for \
         layers followed by a (leaky) ReLU, including the ResNet's convolutions; Xavier normal \
         for the training-dynamics and spectrum-rank networks, as the paper's stored values \
         imply. Entries are drawn row by row from a ChaCha20 stream per point (seeded by a hash \
         of master seed, experiment, parameters and replicate); the same stream then orders \
         the minibatches of training.",
    ),
    (
        "Undefined bounds",
        "are written as ∞ (`inf` in the CSVs): B-convex and B-loose when a width is below \
         max(d, k), B-kaiming where √m ≤ √d + t or √m ≤ √k + t, B-relu unless α > 0 and \
         n ≤ d, or m ≥ n.",
    ),
    (
        "Batch norm in the ResNet's Gauss-Newton matrix.",
        "Training uses batch statistics; κ at a checkpoint is that of the network with the \
         batch-norm statistics of the n training images held fixed (a per-sample function, as \
         in evaluation mode), in the parameters pruning kept. The batch-norm experiment (Fig. \
         6) instead differentiates through the batch statistics, as the paper describes it.",
    ),
    (
        "Grids",
        "marked \"(ours)\" in the profile files are our choice where the paper's could not be \
         recovered.",
    ),
    (
        "Trend verdicts",
        "come from a 95 % bootstrap interval over initialisations, resampled within each grid \
         point (paired where conditions share weights): PASS or FAIL only when the interval \
         clears the threshold, else UNDECIDED with the number of initialisations that would \
         decide it (docs/METHODS.md §6.1).",
    ),
    (
        "Where the authors' code computes something else (docs/METHODS.md §7).",
        "(1) Their CNN κ puts Σ/2 (`cov_xx**1/2`) where Σ^{1/2} belongs and drops the linear \
         head; the paper's CNN trends come from that slot (claims \
         `cnn/root-reverses-filter-trend`, `cnn/kernel-trend-comes-from-sigma-half`). (2) Their \
         leaky-ReLU Gram takes the slope −α: another network's GN for α > 0 (claim \
         `relu-n-below-d/authors-gram-departs`). (3) Their ReLU networks initialise the linear \
         output layer with the ReLU gain √2 as well; their stored κ agrees with ours only under \
         that initialisation (claim `stored-values/relu/kappa`), which our `relu` experiments do \
         not use (gain 1 for a linear layer). (4) Their B-kaiming table evaluates the formula \
         where it is no bound (√m ≤ √d + t); we write ∞ there (claim \
         `stored-values/kaiming-table/b_highprob` compares the formula as written). (5) Their \
         batch-norm routine cannot evaluate batch statistics on per-sample Jacobians; our \
         batch-statistics GN is an interpretation of the figure. (6) Their pruning loop prunes \
         every parameter tensor, batch norm's γ and β included, which switches whole channels \
         off, and takes κ in all parameters; the paper's pruning trend comes from those \
         channels (claim `pruning/switched-off-channels-raise-kappa`); pruning the weights \
         alone does not raise κ.",
    ),
];

/// Escape text for LaTeX: the specials `\ { } $ & # ^ _ % ~` cannot break the document, and
/// the Unicode symbols our tables use become math (κ, ±, ∞, σ, λ, β, Σ, ℓ, ≥, ≤, ×, →, …). A
/// superscript group `^{…}` without nested braces (`Σ^{1/2}`) is typeset as a superscript of
/// its escaped text; any other `^` is printed as a caret.
pub fn latex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        if c == '^' {
            let group = text[at + 1..].strip_prefix('{').and_then(|g| {
                let end = g.find(['{', '}'])?;
                (g.as_bytes()[end] == b'}').then(|| &g[..end])
            });
            if let Some(inner) = group {
                out.push_str(&format!("\\textsuperscript{{{}}}", latex_escape(inner)));
                // past `{`, the group's characters and `}`
                let skip = inner.chars().count() + 2;
                for _ in 0..skip {
                    chars.next();
                }
                continue;
            }
        }
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
            'ρ' => Some(r"$\rho$"),
            'γ' => Some(r"$\gamma$"),
            'ε' => Some(r"$\varepsilon$"),
            'μ' => Some(r"$\mu$"),
            'θ' => Some(r"$\theta$"),
            '…' => Some(r"\ldots{}"),
            'ᵀ' => Some(r"$^{\top}$"),
            '§' => Some(r"\S{}"),
            '⊗' => Some(r"$\otimes$"),
            '∘' => Some(r"$\circ$"),
            '⋯' => Some(r"$\cdots$"),
            '≈' => Some(r"$\approx$"),
            '≠' => Some(r"$\neq$"),
            '∈' => Some(r"$\in$"),
            '∝' => Some(r"$\propto$"),
            '≻' => Some(r"$\succ$"),
            '½' => Some(r"$\frac{1}{2}$"),
            '²' => Some(r"$^{2}$"),
            '³' => Some(r"$^{3}$"),
            '⁻' => Some(r"$^{-}$"),
            '¹' => Some(r"$^{1}$"),
            '₀' => Some(r"$_{0}$"),
            '₁' => Some(r"$_{1}$"),
            '₂' => Some(r"$_{2}$"),
            '“' | '”' => Some("\""),
            '‘' | '’' => Some("'"),
            '<' => Some(r"\textless{}"),
            '>' => Some(r"\textgreater{}"),
            '|' => Some(r"\textbar{}"),
            '`' => Some(r"\textasciigrave{}"),
            _ => None,
        };
        match rep {
            Some(r) => out.push_str(r),
            // a visible marker instead of a character pdflatex cannot typeset
            None if !c.is_ascii() => out.push_str(&format!("[U+{:04X}]", c as u32)),
            None => out.push(c),
        }
    }
    out
}

/// Markdown inline markup to LaTeX: `` `code` `` becomes `\texttt{…}`, `**bold**` becomes
/// `\textbf{…}`, and every character is escaped with [`latex_escape`]. An unpaired marker is
/// kept as a literal character.
pub fn latex_inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while !rest.is_empty() {
        let tick = rest.find('`');
        let bold = rest.find("**");
        let (start, marker, cmd) = match (tick, bold) {
            (Some(t), Some(b)) if b < t => (b, "**", "textbf"),
            (Some(t), _) => (t, "`", "texttt"),
            (None, Some(b)) => (b, "**", "textbf"),
            (None, None) => break,
        };
        let after = &rest[start + marker.len()..];
        match after.find(marker) {
            Some(end) => {
                out.push_str(&latex_escape(&rest[..start]));
                out.push_str(&format!("\\{cmd}{{{}}}", latex_escape(&after[..end])));
                rest = &after[end + marker.len()..];
            }
            None => break,
        }
    }
    out.push_str(&latex_escape(rest));
    out
}

/// Rows from which a summary table is set as a `longtable` with wrapped columns (it breaks
/// across pages and keeps its font size) instead of a `tabular` scaled to the line width.
pub const LONG_TABLE_ROWS: usize = 40;

/// A summary table in LaTeX (booktabs rules), every cell escaped: a `tabular` (the report
/// scales it down to the line width if needed) or, from [`LONG_TABLE_ROWS`] rows on, a
/// footnote-size `longtable` whose columns wrap, each as wide as its longest cell asks (at most
/// 60 characters' worth), together 84 % of the line, and whose header repeats on every page.
pub fn latex_table(t: &SummaryTable) -> String {
    let long = t.rows.len() >= LONG_TABLE_ROWS;
    let ncols = t.header.len().max(1);
    let cols = if long {
        let want: Vec<f64> = (0..ncols)
            .map(|j| {
                std::iter::once(&t.header)
                    .chain(&t.rows)
                    .filter_map(|r| r.get(j))
                    .map(|c| c.chars().count())
                    .max()
                    .unwrap_or(1)
                    .clamp(4, 60) as f64
            })
            .collect();
        let total: f64 = want.iter().sum();
        want.iter()
            .map(|w| {
                format!(
                    ">{{\\raggedright\\arraybackslash}}p{{{:.3}\\linewidth}}",
                    0.84 * w / total
                )
            })
            .collect::<String>()
    } else {
        "l".repeat(ncols)
    };
    // in wrapped columns a line may also break after `,`, `;` and `=` (configurations)
    let cell = |c: &String| {
        let e = latex_escape(c);
        if long {
            e.replace(',', ",\\allowbreak{}")
                .replace(';', ";\\allowbreak{}")
                .replace('=', "=\\allowbreak{}")
        } else {
            e
        }
    };
    let row = |cells: &[String]| cells.iter().map(cell).collect::<Vec<_>>().join(" & ") + " \\\\\n";
    let env = if long { "longtable" } else { "tabular" };
    let mut s = format!("% {}\n", latex_escape(&t.caption));
    if long {
        s.push_str("{\\footnotesize\n");
    }
    s.push_str(&format!("\\begin{{{env}}}{{{cols}}}\n\\toprule\n"));
    s.push_str(&row(&t.header));
    s.push_str("\\midrule\n");
    if long {
        s.push_str("\\endhead\n");
    }
    for r in &t.rows {
        s.push_str(&row(r));
    }
    s.push_str(&format!("\\bottomrule\n\\end{{{env}}}\n"));
    if long {
        s.push_str("}\n");
    }
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
    /// The summary table as LaTeX (already escaped).
    summary_tex: String,
    /// True when `summary_tex` is a `longtable` (set as is, not scaled).
    summary_long: bool,
    profile: String,
    profile_source: String,
    master_seed: u64,
    config: String,
    data: crate::data::DataSource,
    points: usize,
    rows: usize,
    summary: SummaryTable,
    claims: Vec<Claim>,
    /// The authors' stored numbers for this experiment, beside ours (from `stored-values`).
    stored: Vec<StoredView>,
}

#[derive(Serialize, Clone)]
struct StoredView {
    quantity: String,
    config: String,
    stored: String,
    ours: String,
    agreement: String,
}

/// One line of the first page: a claim, where it is checked, and what the authors stored.
#[derive(Serialize)]
struct OverviewRow {
    experiment: String,
    paper: String,
    claim: Claim,
    stored: String,
}

#[derive(Serialize)]
struct ReportView {
    version: String,
    choices: Vec<(&'static str, &'static str)>,
    source: String,
    rustc: String,
    experiments: Vec<ExperimentView>,
    overview: Vec<OverviewRow>,
    claims_total: usize,
    /// "71 passed, 6 failed (4 with a cause shown by another claim), 1 undecided".
    claims_tally: String,
}

fn command_line(cmd: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// SHA-256 of the sources this binary was built from (`src/`, `templates/`, `profiles/`,
/// `Cargo.toml`, `Cargo.lock`, `data/published-values.csv`), computed by `build.rs`: it names the code behind a report
/// without depending on git, so a report regenerated from the same code is byte-identical.
pub const SOURCE_SHA256: &str = env!("GNCOND_SOURCE_SHA256");

/// Render `out/report/report.md` from the results recorded in `out`.
pub fn render(out: &Path) -> Result<PathBuf> {
    let manifest = Manifest::load(out)?;
    let stored = stored_comparisons(out, &manifest)?;
    let mut views = Vec::new();
    for exp in experiments::registry() {
        let Some(entry) = manifest.experiments.get(exp.id()) else {
            continue;
        };
        let df = table::read_csv(&out.join(manifest::csv_path(exp.id())))?;
        views.push(ExperimentView {
            id: exp.id().into(),
            paper: entry.paper.clone(),
            title: exp.title().into(),
            description: exp.description().into(),
            svg: format!("../{}", manifest::svg_path(exp.id())),
            png: format!("../{}", manifest::png_path(exp.id())),
            csv: format!("../{}", manifest::csv_path(exp.id())),
            summary_tex: String::new(),
            summary_long: false,
            profile: entry.profile.clone(),
            profile_source: entry.profile_source.clone(),
            master_seed: entry.master_seed,
            config: toml::to_string(&entry.config).unwrap_or_else(|_| entry.config.to_string()),
            data: entry.data.clone(),
            points: entry.points,
            rows: entry.rows,
            summary: exp.summary(&df)?,
            claims: exp.claims(&df)?,
            stored: stored
                .iter()
                .filter(|c| c.experiment == exp.id())
                .map(|c| StoredView {
                    quantity: c.quantity.clone(),
                    config: c.config.clone(),
                    stored: format::sig(c.stored),
                    ours: c.ours_text(),
                    agreement: c.agreement.clone(),
                })
                .collect(),
        });
    }
    let overview = views
        .iter()
        .flat_map(|v| {
            let of_exp: Vec<_> = stored.iter().filter(|c| c.experiment == v.id).collect();
            let judged = of_exp.iter().filter(|c| c.verdict.is_some()).count();
            let agree = of_exp.iter().filter(|c| c.verdict == Some(true)).count();
            let note = if of_exp.is_empty() {
                "–".to_string()
            } else {
                format!("{} stored; {judged} compared, {agree} agree", of_exp.len())
            };
            v.claims
                .iter()
                .filter(|c| c.kind != ClaimKind::Stored)
                .map(move |c| OverviewRow {
                    experiment: v.id.clone(),
                    paper: v.paper.clone(),
                    claim: c.clone(),
                    stored: note.clone(),
                })
        })
        .collect();
    let claims_total = views.iter().map(|v| v.claims.len()).sum();
    let claims_tally = Tally::of(views.iter().flat_map(|v| &v.claims)).to_string();
    for v in &mut views {
        v.summary_tex = latex_table(&v.summary);
        v.summary_long = v.summary.rows.len() >= LONG_TABLE_ROWS;
    }
    let view = ReportView {
        version: VERSION.into(),
        choices: CHOICES.to_vec(),
        source: SOURCE_SHA256.into(),
        rustc: command_line("rustc", &["--version"]).unwrap_or_else(|| "unknown".into()),
        experiments: views,
        overview,
        claims_total,
        claims_tally,
    };
    let md = render_markdown(&view)?;
    let tex = render_latex(&view)?;
    for v in &view.experiments {
        write_atomic(
            &out.join(format!("report/tables/{}.tex", v.id)),
            v.summary_tex.as_bytes(),
        )?;
    }
    write_atomic(&out.join("report/report.tex"), tex.as_bytes())?;
    let path = out.join("report/report.md");
    write_atomic(&path, md.as_bytes())?;
    Ok(path)
}

/// The authors' stored numbers beside ours, when `stored-values` is among the results.
fn stored_comparisons(out: &Path, manifest: &Manifest) -> Result<Vec<Comparison>> {
    let id = <stored_values::StoredValues as crate::experiment::Definition>::ID;
    if !manifest.experiments.contains_key(id) {
        return Ok(Vec::new());
    }
    let df = table::read_csv(&out.join(manifest::csv_path(id)))?;
    stored_values::comparisons(&df)
}

fn template_error(name: &str, e: minijinja::Error) -> Error {
    Error::Internal(format!(
        "templates/{name}: {}",
        e.to_string().replace('\n', " ")
    ))
}

fn render_markdown(view: &ReportView) -> Result<String> {
    let mut env = Environment::new();
    env.add_filter("sig", sig);
    env.add_filter("cell", |s: String| s.replace('|', "\\|"));
    env.add_template("report.md.j2", MD_TEMPLATE)
        .map_err(|e| template_error("report.md.j2", e))?;
    env.get_template("report.md.j2")
        .and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(view))))
        .map_err(|e| template_error("report.md.j2", e))
}

/// The LaTeX environment: delimiters that cannot clash with TeX's braces, and a formatter
/// that escapes every value not marked `safe`.
fn latex_environment() -> Result<Environment<'static>> {
    let mut env = Environment::new();
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .block_delimiters("\\BLOCK{", "}")
        .variable_delimiters("\\VAR{", "}")
        .comment_delimiters("\\#{", "}")
        .build()
        .map_err(|e| template_error("report.tex.j2", e))?;
    env.set_syntax(syntax);
    env.add_filter("lines", |s: String| {
        s.lines().map(String::from).collect::<Vec<_>>()
    });
    env.add_filter("breakable", |s: String| {
        minijinja::Value::from_safe_string(breakable_id(&s))
    });
    env.set_formatter(|out, _state, value| {
        let text = if value.is_safe() {
            value.to_string()
        } else if value.is_none() || value.is_undefined() {
            String::new()
        } else {
            latex_inline(&value.to_string())
        };
        out.write_str(&text)
            .map_err(|_| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, "write"))
    });
    Ok(env)
}

/// A claim id for LaTeX: escaped, with a permitted line break after every `/` and `-` (ids
/// like `pruning/authors-scheme-raises-final-kappa` are wider than a table column).
pub fn breakable_id(id: &str) -> String {
    latex_escape(id)
        .replace('/', "/\\allowbreak{}")
        .replace('-', "-\\allowbreak{}")
}

/// Render a LaTeX template with the report's escaping rules (used by the report and tests).
pub fn render_latex_template(template: &str, ctx: minijinja::Value) -> Result<String> {
    let mut env = latex_environment()?;
    env.add_template_owned("t.tex.j2", template.to_string())
        .map_err(|e| template_error("t.tex.j2", e))?;
    env.get_template("t.tex.j2")
        .and_then(|t| t.render(ctx))
        .map_err(|e| template_error("t.tex.j2", e))
}

fn render_latex(view: &ReportView) -> Result<String> {
    let mut env = latex_environment()?;
    env.add_template("report.tex.j2", TEX_TEMPLATE)
        .map_err(|e| template_error("report.tex.j2", e))?;
    env.get_template("report.tex.j2")
        .and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(view))))
        .map_err(|e| template_error("report.tex.j2", e))
}
