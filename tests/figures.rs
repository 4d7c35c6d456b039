//! A figure is a function of its result table alone: drawing each committed CSV again gives
//! the committed SVG and PNG byte for byte, for the default profile's `figures/` and the
//! quick references in `tests/golden/`. A change to the plotting code therefore shows here at
//! once, without recomputing a single point.

use gncond::manifest::{csv_path, png_path, svg_path, Manifest};
use gncond::{experiments, table};
use std::path::Path;

fn redraw_all(out: &Path) {
    let manifest = Manifest::load(out).unwrap();
    let mut drawn = 0;
    for exp in experiments::registry() {
        if !manifest.experiments.contains_key(exp.id()) {
            continue;
        }
        let df = table::read_csv(&out.join(csv_path(exp.id()))).unwrap();
        let figure = exp.figure(&df).unwrap();
        let svg = figure.to_svg().unwrap();
        let committed = std::fs::read_to_string(out.join(svg_path(exp.id()))).unwrap();
        if svg != committed {
            let at = svg.lines().zip(committed.lines()).position(|(a, b)| a != b);
            let line = |t: &str| at.and_then(|i| t.lines().nth(i)).unwrap_or("").to_string();
            panic!(
                "{}: {} is not what its CSV draws (line {:?}: committed `{}`, drawn `{}`)",
                out.display(),
                svg_path(exp.id()),
                at.map(|i| i + 1),
                line(&committed),
                line(&svg)
            );
        }
        let png = figure.to_png().unwrap();
        assert!(
            png == std::fs::read(out.join(png_path(exp.id()))).unwrap(),
            "{}: {}",
            out.display(),
            png_path(exp.id())
        );
        drawn += 1;
    }
    assert_eq!(drawn, manifest.experiments.len());
}

#[test]
fn committed_figures_are_what_their_tables_draw() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    redraw_all(&root.join("tests/golden"));
    redraw_all(root);
}
