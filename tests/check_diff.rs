//! `gncond check --diff-dir`: a changed number and a changed figure are shown, not only
//! listed; nothing is written when the references match.

mod common;
use common::{check, copy_dir, s};

use std::path::Path;

#[test]
fn a_changed_cell_and_a_moved_point_are_shown_side_by_side() {
    let tmp = tempfile::tempdir().unwrap();
    let refs = tmp.path().join("golden");
    let diff = tmp.path().join("diff");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden"),
        &refs,
    );

    // unchanged references: success, and no diff folder
    let o = check(&tmp.path().join("scratch1"), &refs, &diff);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        !diff.exists(),
        "a diff folder was written although nothing differs"
    );

    // one κ of depth-width scaled by 1.001
    let csv = refs.join("figures/data/depth-width.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let col = lines[0].split(',').position(|c| c == "kappa").unwrap();
    let mut cells: Vec<String> = lines[2].split(',').map(String::from).collect();
    let v: f64 = cells[col].parse().unwrap();
    cells[col] = format!("{}", v * 1.001);
    lines[2] = cells.join(",");
    std::fs::write(&csv, lines.join("\n") + "\n").unwrap();

    // one dot of the relu figure moved down by 6 pixels
    let svg = refs.join("figures/relu.svg");
    let text = std::fs::read_to_string(&svg).unwrap();
    let at = text.find("<circle cx=\"").expect("a dot in the figure");
    let line_end = at + text[at..].find("/>").unwrap();
    let line = &text[at..line_end];
    let num = |key: &str| -> f64 {
        let i = line.find(key).unwrap() + key.len();
        line[i..i + line[i..].find('"').unwrap()].parse().unwrap()
    };
    let (cx, cy) = (num("cx=\""), num("cy=\""));
    let moved = line.replace(&format!("cy=\"{cy}\""), &format!("cy=\"{}\"", cy + 6.0));
    std::fs::write(&svg, text.replacen(line, &moved, 1)).unwrap();

    let o = check(&tmp.path().join("scratch2"), &refs, &diff);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{err}");
    let last = err.trim_end().lines().last().unwrap();
    assert!(
        last.contains(s(&diff.join("index.html"))),
        "the last line says where: {last}"
    );
    // the fresh run is kept for inspection, in the scratch folder the caller named
    let scratch = tmp.path().join("scratch2");
    assert!(
        last.contains(s(&scratch)),
        "the last line names the fresh run: {last}"
    );
    assert!(scratch.join("figures/manifest.json").exists());

    // cells.csv names exactly the changed cell
    let cells = std::fs::read_to_string(diff.join("depth-width/cells.csv")).unwrap();
    let rows: Vec<&str> = cells.lines().collect();
    assert_eq!(rows.len(), 2, "{cells}");
    assert!(rows[0].starts_with("row,column,reference,now,relative_change"));
    assert!(
        rows[1].contains("\"kappa\"") && rows[1].contains("seed=1"),
        "{cells}"
    );
    let rel: f64 = rows[1].rsplit(',').next().unwrap().parse().unwrap();
    assert!((rel - 0.001 / 1.001).abs() < 1e-9, "{rel}");
    assert!(
        !diff.join("depth-width/depth-width.png").exists(),
        "its figure did not change"
    );

    // the side-by-side PNG: the difference panel is red only around the moved dot
    let png = image::load_from_memory(&std::fs::read(diff.join("relu/relu.png")).unwrap())
        .unwrap()
        .to_rgb8();
    let panel = (png.width() - 2 * 12) / 3;
    let label = 36;
    let mut red = Vec::new();
    for y in label..png.height() {
        for x in 0..panel {
            let p = png.get_pixel(2 * (panel + 12) + x, y).0;
            if p == [220, 0, 0] {
                red.push((x as f64, (y - label) as f64));
            }
        }
    }
    assert!(!red.is_empty(), "the difference panel is blank");
    for (x, y) in &red {
        let near = (x - cx).abs() <= 12.0 && *y >= cy - 12.0 && *y <= cy + 6.0 + 12.0;
        assert!(
            near,
            "a changed pixel at ({x}, {y}), far from the dot at ({cx}, {cy})"
        );
    }

    // the index links both and says what changed
    let index = std::fs::read_to_string(diff.join("index.md")).unwrap();
    assert!(
        index.contains("[depth-width/cells.csv](depth-width/cells.csv)"),
        "{index}"
    );
    assert!(index.contains("[relu/relu.png](relu/relu.png)"), "{index}");
    assert!(index.contains("kappa: 1"), "{index}");
    assert!(index.contains("| `cnn` | match |"), "{index}");
    let html = std::fs::read_to_string(diff.join("index.html")).unwrap();
    assert!(
        html.contains("href=\"depth-width/cells.csv\"") && html.contains("href=\"relu/relu.png\"")
    );
    assert!(
        html.contains("data:image/png;base64,"),
        "the HTML is self-contained"
    );

    // a second failing check replaces its own report, but never a folder that is not one
    let o = check(&tmp.path().join("scratch3"), &refs, &diff);
    assert_eq!(o.status.code(), Some(1));
    let precious = tmp.path().join("precious");
    std::fs::create_dir_all(&precious).unwrap();
    std::fs::write(precious.join("notes.txt"), b"keep me").unwrap();
    let o = check(&tmp.path().join("scratch4"), &refs, &precious);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        std::fs::read(precious.join("notes.txt")).unwrap(),
        b"keep me"
    );
}

#[test]
fn base64_is_rfc4648() {
    use gncond::figdiff::base64;
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foo"), "Zm9v");
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
}
