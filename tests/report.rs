//! Report helpers: number formatting and LaTeX escaping of any value.

use gncond::experiments::SummaryTable;
use gncond::report::{latex_escape, latex_table, sig, sig_digits};

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
