//! The shared figure style on plotters: one embedded font (DejaVu Sans, see
//! `assets/fonts/LICENSE-DejaVu.txt`), log axes where a quantity spans decades, a legend that
//! names every series, and mean ± std bands. SVG is the reference format (byte-stable); PNG
//! is for viewing.

use crate::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

const FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
const FONT_NAME: &str = "sans-serif";
/// Figure size in pixels.
pub const SIZE: (u32, u32) = (960, 640);

/// Colour-blind-safe palette (Okabe-Ito), one per series index.
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

/// One curve: points (x, mean, std); a band of ±std is drawn when any std is positive.
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    /// Index into the palette (series that belong together share a colour).
    pub color: usize,
    pub dashed: bool,
    /// Draw the ±std band (off for bounds, whose spread would hide the measured curve's).
    pub band: bool,
    pub points: Vec<(f64, f64, f64)>,
}

/// A line figure.
#[derive(Debug, Clone)]
pub struct LineFigure {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_y: bool,
    /// The x values are integers (depths, widths): label only those.
    pub integer_x: bool,
    pub series: Vec<Series>,
}

fn register_font() -> Result<()> {
    static ONCE: Once = Once::new();
    let mut ok = true;
    ONCE.call_once(|| {
        ok = plotters::style::register_font(FONT_NAME, FontStyle::Normal, FONT).is_ok();
    });
    if ok {
        Ok(())
    } else {
        Err(Error::Numerics(
            "the embedded font could not be loaded".into(),
        ))
    }
}

fn plot_err<E: std::fmt::Debug>(e: E) -> Error {
    Error::Numerics(format!("drawing a figure failed: {e:?}"))
}

impl LineFigure {
    fn y_range(&self) -> (f64, f64) {
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for s in &self.series {
            for &(_, m, sd) in &s.points {
                if !m.is_finite() {
                    continue;
                }
                let (a, b) = (m - sd, m + sd);
                let a = if self.log_y && a <= 0.0 { m } else { a };
                lo = lo.min(a);
                hi = hi.max(b);
            }
        }
        if !lo.is_finite() || !hi.is_finite() {
            return (1.0, 10.0);
        }
        if self.log_y {
            let (l, h) = (lo.log10().floor(), hi.log10().ceil());
            let h = if h <= l { l + 1.0 } else { h };
            (10f64.powf(l), 10f64.powf(h))
        } else {
            let pad = 0.05 * (hi - lo).max(1e-12);
            (lo - pad, hi + pad)
        }
    }

    fn x_range(&self) -> (f64, f64) {
        let xs = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0));
        let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
        if lo.is_finite() && hi > lo {
            let pad = 0.03 * (hi - lo);
            (lo - pad, hi + pad)
        } else {
            (0.0, 1.0)
        }
    }

    fn x_label_count(&self) -> usize {
        let (lo, hi) = self.x_range();
        if self.integer_x {
            ((hi - lo).round() as usize + 1).clamp(2, 12)
        } else {
            10
        }
    }

    fn format_x(&self, v: f64) -> String {
        if !self.integer_x {
            format!("{v}")
        } else if (v - v.round()).abs() < 1e-6 {
            format!("{}", v.round())
        } else {
            String::new()
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE).map_err(plot_err)?;
        let (x0, x1) = self.x_range();
        let (y0, y1) = self.y_range();
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(&self.title, (FONT_NAME, 24))
            .margin(16)
            .x_label_area_size(56)
            .y_label_area_size(88);
        if self.log_y {
            let mut chart = builder
                .build_cartesian_2d(x0..x1, (y0..y1).log_scale())
                .map_err(plot_err)?;
            chart
                .configure_mesh()
                .x_desc(&self.x_label)
                .y_desc(&self.y_label)
                .label_style((FONT_NAME, 16))
                .axis_desc_style((FONT_NAME, 18))
                .y_label_formatter(&|v| format_tick(*v))
                .x_labels(self.x_label_count())
                .x_label_formatter(&|v| self.format_x(*v))
                .draw()
                .map_err(plot_err)?;
            self.draw_series(&mut chart)?;
            legend(&mut chart)
        } else {
            let mut chart = builder
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(plot_err)?;
            chart
                .configure_mesh()
                .x_desc(&self.x_label)
                .y_desc(&self.y_label)
                .label_style((FONT_NAME, 16))
                .axis_desc_style((FONT_NAME, 18))
                .x_labels(self.x_label_count())
                .x_label_formatter(&|v| self.format_x(*v))
                .draw()
                .map_err(plot_err)?;
            self.draw_series(&mut chart)?;
            legend(&mut chart)
        }?;
        root.present().map_err(plot_err)
    }

    fn draw_series<'a, DB, Y>(
        &self,
        chart: &mut ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    ) -> Result<()>
    where
        DB: DrawingBackend + 'a,
        DB::ErrorType: 'static,
        Y: Ranged<ValueType = f64>,
    {
        for s in &self.series {
            let color = PALETTE[s.color % PALETTE.len()];
            let pts: Vec<(f64, f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|p| p.1.is_finite() && p.2.is_finite())
                .collect();
            if s.band && pts.iter().any(|p| p.2 > 0.0) {
                let mut band: Vec<(f64, f64)> = pts
                    .iter()
                    .map(|&(x, m, sd)| {
                        (
                            x,
                            if self.log_y && m - sd <= 0.0 {
                                m
                            } else {
                                m - sd
                            },
                        )
                    })
                    .collect();
                band.extend(pts.iter().rev().map(|&(x, m, sd)| (x, m + sd)));
                chart
                    .draw_series(std::iter::once(Polygon::new(
                        band,
                        color.mix(0.18).filled(),
                    )))
                    .map_err(plot_err)?;
            }
            let line: Vec<(f64, f64)> = pts.iter().map(|&(x, m, _)| (x, m)).collect();
            let style = color.stroke_width(2);
            let anno = if s.dashed {
                chart
                    .draw_series(DashedLineSeries::new(line.clone(), 8, 5, style))
                    .map_err(plot_err)?
            } else {
                chart
                    .draw_series(LineSeries::new(line.clone(), style))
                    .map_err(plot_err)?;
                chart
                    .draw_series(line.iter().map(|&p| Circle::new(p, 3, color.filled())))
                    .map_err(plot_err)?
            };
            let dashed = s.dashed;
            anno.label(s.label.clone()).legend(move |(x, y)| {
                if dashed {
                    PathElement::new(vec![(x, y), (x + 8, y)], color.stroke_width(2))
                } else {
                    PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(2))
                }
            });
        }
        Ok(())
    }

    /// Render to SVG text.
    pub fn to_svg(&self) -> Result<String> {
        register_font()?;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
            self.draw(root)?;
        }
        Ok(svg)
    }

    /// Render to a PNG file, atomically (drawn to a temporary name, then renamed).
    pub fn write_png(&self, path: &Path) -> Result<()> {
        register_font()?;
        let tmp = path.with_extension(format!("tmp{}.png", std::process::id()));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| Error::Write {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let drawn = {
            let root = BitMapBackend::new(&tmp, SIZE).into_drawing_area();
            self.draw(root)
        };
        let result = drawn.and_then(|_| {
            std::fs::rename(&tmp, path).map_err(|source| Error::Write {
                path: path.to_path_buf(),
                source,
            })
        });
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

fn legend<'a, DB, X, Y>(chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>) -> Result<()>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    X: Ranged,
    Y: Ranged,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font((FONT_NAME, 15))
        .draw()
        .map_err(plot_err)
}

/// Ticks of a log axis: powers of ten as `1e3`, other values with few digits.
fn format_tick(v: f64) -> String {
    if v <= 0.0 {
        return format!("{v}");
    }
    let e = v.log10();
    if (e - e.round()).abs() < 1e-9 {
        let e = e.round() as i32;
        if (-2..=3).contains(&e) {
            format!("{}", 10f64.powi(e))
        } else {
            format!("1e{e}")
        }
    } else {
        format!("{v:.3}")
    }
}
