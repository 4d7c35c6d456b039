//! What `gncond check` shows when a result drifts: for every changed figure, the reference,
//! the fresh one and their difference side by side (both SVGs rasterised with the embedded
//! font, so the picture shows exactly what the byte comparison saw), and for every changed
//! number a row of `cells.csv`; an index in Markdown and in self-contained HTML links them.

use crate::fsutil::write_atomic;
use crate::{Error, Result};
use std::path::Path;

/// One changed cell of a result table.
#[derive(Debug, Clone, PartialEq)]
pub struct CellDiff {
    /// The row, named by its leading columns up to `seed`.
    pub key: String,
    pub column: String,
    pub reference: String,
    pub now: String,
    /// |now − reference| / max(|now|, |reference|) for numbers; NaN for text.
    pub relative: f64,
}

/// An RGB image.
pub struct Raster {
    pub width: u32,
    pub height: u32,
    /// Row-major RGB bytes.
    pub pixels: Vec<u8>,
}

impl Raster {
    fn at(&self, x: u32, y: u32) -> [u8; 3] {
        if x >= self.width || y >= self.height {
            return [255, 255, 255];
        }
        let i = 3 * (y as usize * self.width as usize + x as usize);
        [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
    }
}

/// Rasterise SVG text (our figures) with the embedded DejaVu Sans as the sans-serif family.
pub fn rasterize(svg: &str) -> Result<Raster> {
    let mut opt = resvg::usvg::Options::default();
    let db = opt.fontdb_mut();
    db.load_font_data(crate::plot::FONT.to_vec());
    db.set_sans_serif_family("DejaVu Sans");
    let tree = resvg::usvg::Tree::from_str(svg, &opt)
        .map_err(|e| Error::Internal(format!("reading an SVG to rasterise it: {e}")))?;
    let size = tree.size().to_int_size();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| Error::Internal("an SVG of zero size".into()))?;
    pixmap.fill(resvg::tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pixmap.as_mut(),
    );
    let pixels = pixmap
        .data()
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    Ok(Raster {
        width: size.width(),
        height: size.height(),
        pixels,
    })
}

/// The region where two images differ: how many pixels, and their bounding box
/// (x0, y0, x1, y1), inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Changed {
    pub pixels: usize,
    pub bbox: Option<(u32, u32, u32, u32)>,
}

/// Pixels of the difference panel around a changed pixel are marked too, so that a change of
/// one pixel is visible at a glance.
const HALO: i64 = 3;
const LABEL_HEIGHT: u32 = 36;
const GAP: u32 = 12;

/// Reference | now | difference side by side, as PNG bytes, with a caption over each panel.
/// The difference panel is the reference faded to a light grey with every changed pixel, and
/// a halo of `HALO` pixels around it, in red.
pub fn side_by_side(reference: &Raster, now: &Raster) -> Result<(Vec<u8>, Changed)> {
    let (w, h) = (
        reference.width.max(now.width),
        reference.height.max(now.height),
    );
    let changed_at = |x: u32, y: u32| reference.at(x, y) != now.at(x, y);
    let mut mask = vec![false; (w * h) as usize];
    let mut count = 0;
    let mut bbox: Option<(u32, u32, u32, u32)> = None;
    for y in 0..h {
        for x in 0..w {
            if changed_at(x, y) {
                count += 1;
                bbox = Some(match bbox {
                    None => (x, y, x, y),
                    Some((a, b, c, d)) => (a.min(x), b.min(y), c.max(x), d.max(y)),
                });
                for dy in -HALO..=HALO {
                    for dx in -HALO..=HALO {
                        let (xx, yy) = (x as i64 + dx, y as i64 + dy);
                        if (0..w as i64).contains(&xx) && (0..h as i64).contains(&yy) {
                            mask[(yy as u32 * w + xx as u32) as usize] = true;
                        }
                    }
                }
            }
        }
    }
    let total_w = 3 * w + 2 * GAP;
    let total_h = h + LABEL_HEIGHT;
    let mut out = vec![255u8; (total_w * total_h * 3) as usize];
    let mut put = |x: u32, y: u32, rgb: [u8; 3]| {
        let i = 3 * ((y + LABEL_HEIGHT) * total_w + x) as usize;
        out[i..i + 3].copy_from_slice(&rgb);
    };
    for y in 0..h {
        for x in 0..w {
            put(x, y, reference.at(x, y));
            put(w + GAP + x, y, now.at(x, y));
            let diff = if mask[(y * w + x) as usize] {
                [220, 0, 0]
            } else {
                let g = reference.at(x, y);
                let fade = |c: u8| 255 - (255 - c) / 6;
                [fade(g[0]), fade(g[1]), fade(g[2])]
            };
            put(2 * (w + GAP) + x, y, diff);
        }
    }
    caption(
        &mut out,
        (total_w, total_h),
        [
            (0, "reference".to_string()),
            (w + GAP, "now".to_string()),
            (
                2 * (w + GAP),
                format!("difference: {count} pixel(s), marked in red with a halo"),
            ),
        ],
    )?;
    Ok((
        encode_png(&out, total_w, total_h)?,
        Changed {
            pixels: count,
            bbox,
        },
    ))
}

fn caption(buf: &mut [u8], size: (u32, u32), labels: [(u32, String); 3]) -> Result<()> {
    use plotters::prelude::*;
    crate::plot::register_font()?;
    let root = BitMapBackend::with_buffer(buf, size).into_drawing_area();
    let style = TextStyle::from((crate::plot::FONT_NAME, 22).into_font()).color(&BLACK);
    for (x, text) in labels {
        root.draw_text(&text, &style, (x as i32 + 8, 8))
            .map_err(|e| Error::Internal(format!("captioning a difference image: {e}")))?;
    }
    root.present()
        .map_err(|e| Error::Internal(format!("captioning a difference image: {e}")))
}

fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>> {
    use image::ImageEncoder;
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(rgb, w, h, image::ColorType::Rgb8)
        .map_err(|e| Error::Internal(format!("encoding a PNG failed: {e}")))?;
    Ok(png)
}

/// What changed in one experiment.
pub struct ExperimentDiff {
    pub id: String,
    pub cells: Vec<CellDiff>,
    /// Figures whose bytes changed: (file name, side-by-side PNG, changed region).
    pub figures: Vec<(String, Vec<u8>, Changed)>,
    /// Other differences in words (a missing file, say).
    pub notes: Vec<String>,
}

/// Write `dir/index.md`, `dir/index.html`, and per experiment `dir/<id>/cells.csv` and
/// `dir/<id>/<figure>.png`. `all` lists every experiment compared (those without changes
/// get a row that says so).
pub fn write_report(dir: &Path, all: &[String], diffs: &[ExperimentDiff]) -> Result<()> {
    let mut md = String::from(
        "# gncond check: differences from the references\n\n\
         | experiment | verdict | changed cells per column | largest relative change | files |\n\
         |---|---|---|---|---|\n",
    );
    let mut html = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>gncond check</title>\
         <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}\
         td,th{border:1px solid #bbb;padding:4px 8px;text-align:left}img{max-width:100%;\
         border:1px solid #ddd}h2{margin-top:2em}</style></head><body>\
         <h1>gncond check: differences from the references</h1><table><tr><th>experiment</th>\
         <th>verdict</th><th>changed cells per column</th><th>largest relative change</th>\
         <th>files</th></tr>",
    );
    let mut sections = String::new();
    for id in all {
        let Some(d) = diffs.iter().find(|d| &d.id == id) else {
            md.push_str(&format!("| `{id}` | match | – | – | – |\n"));
            html.push_str(&format!(
                "<tr><td>{id}</td><td>match</td><td>–</td><td>–</td><td>–</td></tr>"
            ));
            continue;
        };
        let mut per_column: Vec<(String, usize)> = Vec::new();
        for c in &d.cells {
            match per_column.iter_mut().find(|(n, _)| *n == c.column) {
                Some(e) => e.1 += 1,
                None => per_column.push((c.column.clone(), 1)),
            }
        }
        let counts = if per_column.is_empty() {
            "–".to_string()
        } else {
            per_column
                .iter()
                .map(|(c, n)| format!("{c}: {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let largest = d
            .cells
            .iter()
            .map(|c| c.relative)
            .filter(|r| !r.is_nan())
            .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))))
            .map_or("–".to_string(), |r| format!("{r:.3e}"));
        let mut links = Vec::new();
        if !d.cells.is_empty() {
            write_atomic(
                &dir.join(id).join("cells.csv"),
                cells_csv(&d.cells).as_bytes(),
            )?;
            links.push(format!("{id}/cells.csv"));
        }
        let mut figure_html = String::new();
        for (name, png, changed) in &d.figures {
            write_atomic(&dir.join(id).join(name), png)?;
            links.push(format!("{id}/{name}"));
            figure_html.push_str(&format!(
                "<p>{name}: {} pixel(s) changed{}</p><img alt=\"{name}\" src=\"data:image/png;base64,{}\">",
                changed.pixels,
                changed
                    .bbox
                    .map(|(a, b, c, e)| format!(", within x {a}–{c}, y {b}–{e}"))
                    .unwrap_or_default(),
                base64(png)
            ));
        }
        let notes = d.notes.join("; ");
        md.push_str(&format!(
            "| `{id}` | **changed** | {counts} | {largest} | {} |\n",
            links
                .iter()
                .map(|l| format!("[{l}]({l})"))
                .chain((!notes.is_empty()).then(|| notes.replace('|', "\\|")))
                .collect::<Vec<_>>()
                .join(" · ")
        ));
        html.push_str(&format!(
            "<tr><td><a href=\"#{id}\">{id}</a></td><td><b>changed</b></td><td>{}</td><td>{largest}</td><td>{}</td></tr>",
            escape(&counts),
            links
                .iter()
                .map(|l| format!("<a href=\"{l}\">{l}</a>"))
                .chain((!notes.is_empty()).then(|| escape(&notes)))
                .collect::<Vec<_>>()
                .join(" · ")
        ));
        let rows: String = d
            .cells
            .iter()
            .take(200)
            .map(|c| {
                format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3e}</td></tr>",
                    escape(&c.key),
                    escape(&c.column),
                    escape(&c.reference),
                    escape(&c.now),
                    c.relative
                )
            })
            .collect();
        sections.push_str(&format!(
            "<h2 id=\"{id}\">{id}</h2>{figure_html}{}",
            if rows.is_empty() {
                String::new()
            } else {
                format!(
                    "<table><tr><th>row</th><th>column</th><th>reference</th><th>now</th>\
                     <th>relative change</th></tr>{rows}</table>{}",
                    if d.cells.len() > 200 {
                        format!("<p>… {} more in cells.csv</p>", d.cells.len() - 200)
                    } else {
                        String::new()
                    }
                )
            }
        ));
    }
    html.push_str("</table>");
    html.push_str(&sections);
    html.push_str("</body></html>\n");
    write_atomic(&dir.join("index.md"), md.as_bytes())?;
    write_atomic(&dir.join("index.html"), html.as_bytes())
}

fn cells_csv(cells: &[CellDiff]) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out = String::from("row,column,reference,now,relative_change\n");
    for c in cells {
        out.push_str(&format!(
            "{},{},{},{},{:e}\n",
            quote(&c.key),
            quote(&c.column),
            quote(&c.reference),
            quote(&c.now),
            c.relative
        ));
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Standard base64 (RFC 4648, with padding), for images inlined in the HTML index.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
