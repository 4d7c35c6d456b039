//! The structure the code promises: no import cycle among the modules of `src/`, a thin
//! `main.rs`, no reference to a document outside the repository, and a README that names only
//! what exists and no open work.
//!
//! The import graph is read from the source text: every `crate::a::b…` path (also inside
//! `use crate::{…}` groups) and every `super::x` path is an edge from the file's module to
//! the longest module prefix it names. A folder's `mod.rs` is the module of the folder. Only
//! items of the crate root (`crate::Result`, `crate::Error`, macros) are not edges: the root
//! only declares modules and re-exports `error`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// `src/a/b.rs` → `a::b`; `src/a/mod.rs` → `a`; `src/lib.rs` → `` (the root).
fn module_of(path: &Path) -> String {
    let rel = path.strip_prefix("src").unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|s| s.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
        parts.pop();
    }
    parts.join("::")
}

fn ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The `a::b::c` path that starts at byte `i` of `text` (identifiers joined by `::`).
fn path_at(text: &str, i: usize) -> Vec<String> {
    let mut segs = Vec::new();
    let mut rest = &text[i..];
    loop {
        let n = rest.find(|c: char| !ident_char(c)).unwrap_or(rest.len());
        if n == 0 {
            break;
        }
        segs.push(rest[..n].to_string());
        rest = &rest[n..];
        match rest.strip_prefix("::") {
            Some(r) if r.starts_with(ident_char) => rest = r,
            _ => break,
        }
    }
    segs
}

/// Every module path a file names, as segment lists below the crate root.
fn references(text: &str, module: &str) -> Vec<Vec<String>> {
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut refs = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        if i > 0 && (ident_char(code.as_bytes()[i - 1] as char) || code.as_bytes()[i - 1] == b'$') {
            continue;
        }
        let start = i + "crate::".len();
        if code[start..].starts_with('{') {
            let end = start + code[start..].find('}').unwrap_or(0);
            for item in code[start + 1..end].split(',') {
                let item = item.trim();
                let seg: String = item.chars().take_while(|&c| ident_char(c)).collect();
                if !seg.is_empty() {
                    refs.push(vec![seg]);
                }
            }
        } else {
            refs.push(path_at(&code, start));
        }
    }
    let parent: Vec<String> = module
        .split("::")
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    for (i, _) in code.match_indices("super::") {
        if i > 0 && ident_char(code.as_bytes()[i - 1] as char) {
            continue;
        }
        let mut path = parent[..parent.len().saturating_sub(1)].to_vec();
        path.extend(path_at(&code, i + "super::".len()));
        refs.push(path);
    }
    refs
}

fn import_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    files.retain(|f| !f.ends_with("main.rs"));
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(f)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let m = module_of(f);
        let text = std::fs::read_to_string(f).unwrap();
        let edges = graph.entry(m.clone()).or_default();
        for path in references(&text, &m) {
            let target = (1..=path.len())
                .rev()
                .map(|n| path[..n].join("::"))
                .find(|p| modules.contains(p));
            if let Some(t) = target {
                if t != m && !t.is_empty() {
                    edges.insert(t);
                }
            }
        }
    }
    graph
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on.insert(v);
        let graph = s.graph;
        for w in graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[test]
fn no_import_cycle_among_modules() {
    let graph = import_graph();
    assert!(graph.len() > 40, "read only {} modules", graph.len());
    // the reader sees the edges the layering rests on
    assert!(graph["experiments::depth_width"].contains("experiments::kit"));
    assert!(graph["pipeline"].contains("plan"));
    let found = cycles(&graph);
    assert!(found.is_empty(), "import cycles: {found:?}");
}

#[test]
fn the_cycle_detector_finds_a_cycle() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    g.entry("c".into()).or_default().insert("a".into());
    g.entry("d".into()).or_default().insert("a".into());
    assert_eq!(cycles(&g), vec![vec!["a", "b", "c"]]);
    let refs = references(
        "use crate::{plan, report::sig};\nuse super::kit::x;",
        "experiments::cnn",
    );
    assert!(refs.contains(&vec!["plan".to_string()]));
    assert!(refs.contains(&vec!["report".to_string()]));
    assert!(refs.contains(&vec![
        "experiments".to_string(),
        "kit".to_string(),
        "x".to_string()
    ]));
}

#[test]
fn main_is_thin() {
    let lines = std::fs::read_to_string("src/main.rs")
        .unwrap()
        .lines()
        .count();
    assert!(lines < 100, "src/main.rs has {lines} lines");
}

#[test]
fn no_reference_outside_the_repository() {
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    files.extend(["README.md", "report/report.md", "report/report.tex"].map(PathBuf::from));
    for dir in ["templates", "profiles"] {
        for t in std::fs::read_dir(dir).unwrap().flatten() {
            files.push(t.path());
        }
    }
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(!text.contains("PAPER.md"), "{} cites PAPER.md", f.display());
        assert!(
            !text.contains("../shared"),
            "{} cites ../shared",
            f.display()
        );
    }
    // every section the code cites exists in the methods document
    let methods = std::fs::read_to_string("docs/METHODS.md").unwrap();
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, _) in text.match_indices("docs/METHODS.md §") {
            let n: String = text[i + "docs/METHODS.md §".len()..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            assert!(
                methods.contains(&format!("\n## {n}. ")),
                "{} cites docs/METHODS.md §{n}, which does not exist",
                f.display()
            );
        }
    }
}

#[test]
fn readme_names_what_exists_and_no_open_work() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    for phrase in ["Still to come", "open issue", "TODO"] {
        assert!(!readme.contains(phrase), "README mentions '{phrase}'");
    }
    // every experiment id in the README's tables exists (the README need not name a new
    // experiment: adding one touches its file, the registry and the profiles only)
    let ids: Vec<&str> = gncond::experiments::registry()
        .iter()
        .map(|e| e.id())
        .collect();
    assert!(
        readme.contains("`depth-width`"),
        "the README's figure table is gone"
    );
    for line in readme.lines().filter(|l| l.starts_with("| ")) {
        for cell in line.split('|') {
            let cell = cell.trim();
            if let Some(id) = cell.strip_prefix('`').and_then(|c| c.strip_suffix('`')) {
                let looks_like_id =
                    id.chars().all(|c| c.is_ascii_lowercase() || c == '-') && id.contains('-');
                if looks_like_id {
                    assert!(ids.contains(&id), "README names unknown experiment `{id}`");
                }
            }
        }
    }
    // every `make X` the README names is a target of the Makefile
    let makefile = std::fs::read_to_string("Makefile").unwrap();
    let targets: BTreeSet<&str> = makefile
        .lines()
        .filter_map(|l| l.split_once(':').map(|(t, _)| t))
        .filter(|t| {
            !t.contains(' ') && !t.contains('=') && !t.starts_with('.') && !t.starts_with('\t')
        })
        .collect();
    for (i, _) in readme.match_indices("make ") {
        let word: String = readme[i + 5..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '-')
            .collect();
        if !word.is_empty() && readme[..i].ends_with('`') {
            assert!(
                targets.contains(word.as_str()),
                "README names `make {word}`, no such target"
            );
        }
    }
}
