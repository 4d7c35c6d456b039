//! Report helpers: number formatting and LaTeX escaping of any value.

mod common;
use common::copy_dir;

use gncond::experiment::SummaryTable;
use gncond::format::{sig, sig_digits};
use gncond::report::{
    breakable_id, latex_escape, latex_inline, latex_table, render, render_latex_template,
    LONG_TABLE_ROWS,
};
use std::path::Path;
use std::process::Command;

#[test]
fn numbers_are_formatted_with_significant_digits() {
    assert_eq!(sig(13.8123), "13.81");
    assert_eq!(sig(8413.4), "8413");
    assert_eq!(sig(0.0012345), "0.001234");
    assert_eq!(sig(1.5e7), "1.500e7");
    assert_eq!(sig(f64::INFINITY), "∞");
    assert_eq!(sig(0.0), "0");
    assert_eq!(sig_digits(0.08863, 2), "0.089");
    assert_eq!(sig_digits(17.64, 2), "18");
}

#[test]
fn latex_specials_cannot_break_the_document() {
    let raw = r"a_b%c&d#e$f{g}h~i^j\k";
    let esc = latex_escape(raw);
    assert_eq!(
        esc,
        r"a\_b\%c\&d\#e\$f\{g\}h\textasciitilde{}i\^{}j\textbackslash{}k"
    );
    // every special is preceded by a backslash (or replaced by a command)
    for (i, c) in esc.char_indices() {
        if "_%&#$".contains(c) {
            assert_eq!(&esc[i - 1..i], "\\", "unescaped {c} in {esc}");
        }
    }
    assert_eq!(latex_escape("κ ± ∞"), r"$\kappa$ $\pm$ $\infty$");
    // a superscript group is a superscript (its text escaped), not a caret and braces
    assert_eq!(
        latex_escape("Σ^{1/2} and e^{-t_0^2/2}"),
        r"$\Sigma$\textsuperscript{1/2} and e\textsuperscript{-t\_0\^{}2/2}"
    );
    // a caret without a closed, flat group stays a caret
    assert_eq!(latex_escape("a^{b"), r"a\^{}\{b");
    assert_eq!(latex_escape("a^{b{c}}"), r"a\^{}\{b\{c\}\}");
    let t = SummaryTable {
        caption: "100% of m_1 & co".into(),
        header: vec!["m_1".into(), "κ".into()],
        rows: vec![vec!["5 # 6".into(), "∞".into()]],
    };
    let tex = latex_table(&t);
    assert!(tex.contains(r"m\_1 & $\kappa$ \\"), "{tex}");
    assert!(tex.contains(r"5 \# 6 & $\infty$ \\"), "{tex}");
    assert!(tex.starts_with(r"% 100\% of m\_1 \& co"), "{tex}");
    assert!(tex.contains(r"\begin{tabular}{ll}") && tex.trim_end().ends_with(r"\end{tabular}"));
}

/// A value full of LaTeX specials, Markdown markup and Unicode.
const NASTY: &str = r"50% of a_b & c#d costs $5 {x} \relax ^ ~ `code_x` **bold** κ ± ∞ ↯";

#[test]
fn template_values_are_escaped_unless_marked_safe() {
    let ctx = minijinja::context! { v => NASTY, raw => r"\textit{ok}" };
    let tex = render_latex_template(r"[\VAR{v}] [\VAR{raw | safe}] [\VAR{raw}]", ctx).unwrap();
    let want_v = latex_inline(NASTY);
    assert!(tex.starts_with(&format!("[{want_v}]")), "{tex}");
    for piece in [
        r"50\% of a\_b \& c\#d costs \$5 \{x\} \textbackslash{}relax \^{} \textasciitilde{}",
        r"\texttt{code\_x}",
        r"\textbf{bold}",
        r"$\kappa$ $\pm$ $\infty$",
        "[U+21AF]",
    ] {
        assert!(want_v.contains(piece), "missing {piece:?} in {want_v}");
    }
    // safe passes through; the same value unmarked is escaped
    assert!(tex.contains(r"[\textit{ok}]"), "{tex}");
    assert!(tex.contains(r"[\textbackslash{}textit\{ok\}]"), "{tex}");
    // unpaired markers stay literal characters
    assert_eq!(latex_inline("a `b"), r"a \textasciigrave{}b");
    assert_eq!(latex_inline("2**3"), "2**3");
}

fn pdflatex() -> bool {
    Command::new("pdflatex").arg("--version").output().is_ok()
}

#[test]
fn a_document_with_nasty_values_compiles() {
    if !pdflatex() {
        eprintln!("pdflatex not found: compile step SKIPPED (the escaping itself is tested above)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let template = "\\documentclass{article}\\usepackage{amssymb}\\begin{document}\n\\section{\\VAR{v}}\n\\VAR{v}\n\\begin{tabular}{l}\\VAR{v} \\\\ \\end{tabular}\n\\end{document}\n";
    let tex = render_latex_template(template, minijinja::context! { v => NASTY }).unwrap();
    std::fs::write(dir.path().join("t.tex"), tex).unwrap();
    let out = Command::new("pdflatex")
        .args(["-interaction=nonstopmode", "-halt-on-error", "t.tex"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(dir.path().join("t.pdf").exists());
}

/// The report (Markdown, LaTeX) of the committed quick references, rendered in a scratch copy.
fn golden_report() -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/figures");
    copy_dir(&src, &dir.path().join("figures"));
    render(dir.path()).unwrap();
    let read = |f: &str| std::fs::read_to_string(dir.path().join("report").join(f)).unwrap();
    (read("report.md"), read("report.tex"))
}

#[test]
fn the_rendered_reports_are_complete_and_the_latex_is_plain_ascii() {
    let (md, tex) = golden_report();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/figures");
    let manifest = std::fs::read_to_string(src.join("manifest.json")).unwrap();
    let ids: Vec<&str> = ["depth-width", "residual", "cnn", "batchnorm"]
        .into_iter()
        .filter(|id| manifest.contains(&format!("\"{id}\"")))
        .collect();
    assert!(!ids.is_empty());
    for id in ids {
        assert!(
            md.contains(&format!("](../figures/{id}.svg)")),
            "{id} figure in md"
        );
        assert!(
            tex.contains(&format!("{{../figures/{id}.png}}")),
            "{id} figure in tex"
        );
        assert!(
            tex.contains(&format!("\\label{{exp:{id}}}")),
            "{id} section in tex"
        );
    }
    assert!(tex.is_ascii(), "non-ASCII character left in report.tex");
    assert!(
        !tex.contains("[U+"),
        "an unmapped Unicode character in report.tex"
    );
    assert!(tex.contains("\\end{document}"));
}

#[test]
fn every_claim_at_a_glance_shows_our_number_beside_its_verdict() {
    let (md, tex) = golden_report();
    let start = md.find("## Every claim at a glance").unwrap();
    let end = start + md[start..].find("## Choices").unwrap();
    let rows: Vec<Vec<&str>> = md[start..end]
        .lines()
        .filter(|l| l.starts_with("| [`"))
        .map(|l| l.split(" | ").collect())
        .collect();
    assert!(rows.len() > 10, "{} rows", rows.len());
    for row in &rows {
        // experiment | claim | ours | verdict | stored
        assert_eq!(row.len(), 5, "{row:?}");
        assert!(row[2].chars().any(|c| c.is_ascii_digit()), "{row:?}");
        assert!(row[3].starts_with("**"), "{row:?}");
    }
    // a trend claim's number is its statistic with the bootstrap interval
    assert!(
        rows.iter()
            .any(|r| r[2].contains(", 95 % interval [") && r[2].contains(" inits")),
        "no trend headline"
    );
    assert!(tex.contains("experiment & claim & ours & verdict & stored by the authors"));
}

#[test]
fn claim_ids_may_break_after_slashes_and_hyphens_and_stay_escaped() {
    assert_eq!(
        breakable_id("stored-values/relu/b_relu"),
        r"stored-\allowbreak{}values/\allowbreak{}relu/\allowbreak{}b\_relu"
    );
    let tex = render_latex_template(
        r"\texttt{\VAR{id | breakable}}",
        minijinja::context! { id => "pruning/first-fraction" },
    )
    .unwrap();
    assert_eq!(
        tex,
        r"\texttt{pruning/\allowbreak{}first-\allowbreak{}fraction}"
    );
}

/// A tall summary table is set as a footnote-size `longtable` with wrapped columns, its header
/// repeated on every page and breaks allowed in configurations; a short one stays a `tabular`.
#[test]
fn tall_summary_tables_become_longtables_with_wrapped_columns() {
    let rows = |n: usize| {
        (0..n)
            .map(|i| vec![format!("d={i};k=5"), "x".repeat(70)])
            .collect::<Vec<_>>()
    };
    let tall = latex_table(&SummaryTable::new(
        "c",
        &["config", "note"],
        rows(LONG_TABLE_ROWS),
    ));
    assert!(tall.contains("\\begin{longtable}") && tall.contains("\\endhead"));
    assert!(tall.contains("p{0.099\\linewidth}") && tall.contains("p{0.741\\linewidth}"));
    assert!(tall.contains("d=\\allowbreak{}0;\\allowbreak{}k=\\allowbreak{}5"));
    let short = latex_table(&SummaryTable::new("c", &["config", "note"], rows(3)));
    assert!(short.contains("\\begin{tabular}{ll}") && !short.contains("allowbreak"));
}
