//! The shared figure style on plotters: one embedded font (DejaVu Sans, see
//! `assets/fonts/LICENSE-DejaVu.txt`), log axes where a quantity spans decades, a legend that
//! names every series, and mean ± std bands. SVG is the reference format (byte-stable); PNG
//! is for viewing.

use crate::{Error, Result};
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::sync::Once;

/// The embedded font (DejaVu Sans), so figures do not depend on the machine's fonts.
pub const FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
/// The family name figures use for it.
pub const FONT_NAME: &str = "sans-serif";
/// Size in pixels of a single-panel figure.
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

/// Above this many points a solid line is drawn without a dot at every point.
const MAX_DOTS: usize = 80;

/// One curve: points (x, mean, std); a band of ±std is drawn when any std is positive.
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    /// Index into the palette (series that belong together share a colour).
    pub color: usize,
    pub dashed: bool,
    /// Draw the ±std band (off for bounds, whose spread would hide the measured curve's).
    pub band: bool,
    /// Let this series set the y range; when false it is clipped to the range the others
    /// set (for estimates that are orders of magnitude off).
    pub fit: bool,
    pub points: Vec<(f64, f64, f64)>,
    /// Draw only large star markers (✱) at the points, no line (to single out points).
    pub markers_only: bool,
}

/// One set of axes.
#[derive(Debug, Clone)]
pub struct Panel {
    /// Panel caption (empty for a single-panel figure, whose title says it all).
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_x: bool,
    pub log_y: bool,
    /// The x values are integers (depths, layer indices): label only those.
    pub integer_x: bool,
    /// Put the legend in the lower left corner instead of the upper left one.
    pub legend_lower: bool,
    /// Raise the top of the y axis so that the (upper) legend sits above the data.
    pub legend_room: bool,
    pub series: Vec<Series>,
}

/// A figure: a title over one or more panels side by side.
#[derive(Debug, Clone)]
pub struct Figure {
    pub title: String,
    pub panels: Vec<Panel>,
}

impl Series {
    /// A measured quantity: solid line with its ±std band, setting the y range.
    pub fn measured(
        label: impl Into<String>,
        color: usize,
        points: Vec<(f64, f64, f64)>,
    ) -> Series {
        Series {
            label: label.into(),
            color,
            dashed: false,
            band: true,
            fit: true,
            points,
            markers_only: false,
        }
    }

    /// A bound or estimate: dashed, no band.
    pub fn bound(label: impl Into<String>, color: usize, points: Vec<(f64, f64, f64)>) -> Series {
        Series::measured(label, color, points).dashed().no_band()
    }

    /// Dashed line.
    pub fn dashed(mut self) -> Series {
        self.dashed = true;
        self
    }

    /// Solid line.
    pub fn solid(mut self) -> Series {
        self.dashed = false;
        self
    }

    /// No ±std band.
    pub fn no_band(mut self) -> Series {
        self.band = false;
        self
    }

    /// Clipped to the range the other series set (for estimates orders of magnitude off).
    pub fn clipped(mut self) -> Series {
        self.fit = false;
        self
    }

    /// Large star markers only, no line.
    pub fn stars(mut self) -> Series {
        self.markers_only = true;
        self
    }
}

impl Panel {
    /// Axes with these labels: linear, integer x, no caption, legend upper left, no series.
    pub fn new(x_label: impl Into<String>, y_label: impl Into<String>) -> Panel {
        Panel {
            title: String::new(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            log_x: false,
            log_y: false,
            integer_x: true,
            legend_lower: false,
            legend_room: false,
            series: Vec::new(),
        }
    }

    /// With a caption.
    pub fn titled(mut self, title: impl Into<String>) -> Panel {
        self.title = title.into();
        self
    }

    /// Logarithmic x axis.
    pub fn log_x(mut self) -> Panel {
        self.log_x = true;
        self
    }

    /// Logarithmic y axis.
    pub fn log_y(mut self) -> Panel {
        self.log_y = true;
        self
    }

    /// Leave room above the data for the upper legend (for panels whose curves fill the top).
    pub fn legend_room(mut self) -> Panel {
        self.legend_room = true;
        self
    }

    /// Legend in the lower left corner.
    pub fn legend_lower(mut self) -> Panel {
        self.legend_lower = true;
        self
    }

    /// With these series.
    pub fn with(mut self, series: Vec<Series>) -> Panel {
        self.series = series;
        self
    }
}

impl Figure {
    /// A titled figure of panels side by side.
    pub fn new(title: impl Into<String>, panels: Vec<Panel>) -> Figure {
        Figure {
            title: title.into(),
            panels,
        }
    }
}

/// Register the embedded font with plotters (once).
pub fn register_font() -> Result<()> {
    static ONCE: Once = Once::new();
    let mut ok = true;
    ONCE.call_once(|| {
        ok = plotters::style::register_font(FONT_NAME, FontStyle::Normal, FONT).is_ok();
    });
    if ok {
        Ok(())
    } else {
        Err(Error::Internal(
            "the embedded font could not be loaded".into(),
        ))
    }
}

fn plot_err<E: std::fmt::Display>(e: E) -> Error {
    Error::Internal(format!("drawing a figure failed: {e}"))
}

/// Range of finite values (log axes: positive values only), padded.
fn axis_range(values: impl Iterator<Item = f64>, log: bool, pad_frac: f64) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite() && (!log || *v > 0.0))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return if log { (1.0, 10.0) } else { (0.0, 1.0) };
    }
    if log {
        let (l, h) = (lo.log10(), hi.log10());
        let (l, h) = if pad_frac > 0.0 {
            let pad = pad_frac * (h - l).max(0.1);
            (l - pad, h + pad)
        } else {
            // a little headroom so a curve that ends on a power of ten is not on the frame
            ((l - 0.02).floor(), (h + 0.02).ceil().max(l.floor() + 1.0))
        };
        (10f64.powf(l), 10f64.powf(h))
    } else {
        let pad = pad_frac.max(0.05) * (hi - lo).max(1e-12 * hi.abs().max(1.0));
        (lo - pad, hi + pad)
    }
}

impl Panel {
    fn x_range(&self) -> (f64, f64) {
        let xs = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0));
        axis_range(xs, self.log_x, 0.03)
    }

    fn y_range(&self) -> (f64, f64) {
        let log = self.log_y;
        let ys = self.series.iter().filter(|s| s.fit).flat_map(|s| {
            s.points.iter().flat_map(move |&(_, m, sd)| {
                let lo = if log && m - sd <= 0.0 { m } else { m - sd };
                [lo, m + sd]
            })
        });
        let (y0, y1) = axis_range(ys, log, 0.0);
        if !self.legend_room {
            return (y0, y1);
        }
        // the legend's share of a panel's plotting height (about 470 px): 20 px per entry
        let share = ((self.series.len() * 20 + 24) as f64 / 470.0).min(0.6);
        if log {
            (y0, y0 * (y1 / y0).powf(1.0 / (1.0 - share)))
        } else {
            (y0, y0 + (y1 - y0) / (1.0 - share))
        }
    }

    fn x_label_count(&self) -> usize {
        let (lo, hi) = self.x_range();
        if self.log_x {
            // the log axis brings its own ticks (`log_ticks`); this is only an upper bound
            40
        } else if self.integer_x {
            ((hi - lo).round() as usize + 1).clamp(2, 12)
        } else {
            10
        }
    }

    fn format_x(&self, v: f64) -> String {
        if self.log_x {
            format_tick(v)
        } else if !self.integer_x {
            format!("{v}")
        } else if (v - v.round()).abs() < 1e-6 {
            format!("{}", v.round())
        } else {
            String::new()
        }
    }

    fn format_y(&self, v: f64) -> String {
        if self.log_y {
            format_tick(v)
        } else {
            let s = format!("{v:.3}");
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        }
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (x0, x1) = self.x_range();
        let (y0, y1) = self.y_range();
        let mut builder = ChartBuilder::on(area);
        builder
            .margin(14)
            .x_label_area_size(56)
            .y_label_area_size(80);
        if !self.title.is_empty() {
            builder.caption(&self.title, (FONT_NAME, 20));
        }
        let xs: Vec<f64> = if self.integer_x {
            self.series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.0))
                .collect()
        } else {
            Vec::new()
        };
        let log_axis = |lo: f64, hi: f64, data: &[f64]| {
            (lo..hi)
                .log_scale()
                .with_key_points(log_ticks(lo, hi, data))
                .with_light_points(log_minor_ticks(lo, hi))
        };
        match (self.log_x, self.log_y) {
            (false, false) => {
                let mut c = builder
                    .build_cartesian_2d(x0..x1, y0..y1)
                    .map_err(plot_err)?;
                self.body(&mut c, (y0, y1))
            }
            (false, true) => {
                let mut c = builder
                    .build_cartesian_2d(x0..x1, log_axis(y0, y1, &[]))
                    .map_err(plot_err)?;
                self.body(&mut c, (y0, y1))
            }
            (true, false) => {
                let mut c = builder
                    .build_cartesian_2d(log_axis(x0, x1, &xs), y0..y1)
                    .map_err(plot_err)?;
                self.body(&mut c, (y0, y1))
            }
            (true, true) => {
                let mut c = builder
                    .build_cartesian_2d(log_axis(x0, x1, &xs), log_axis(y0, y1, &[]))
                    .map_err(plot_err)?;
                self.body(&mut c, (y0, y1))
            }
        }
    }

    fn body<'a, DB, X, Y>(
        &self,
        chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
        y_range: (f64, f64),
    ) -> Result<()>
    where
        DB: DrawingBackend + 'a,
        DB::ErrorType: 'static,
        X: Ranged<ValueType = f64> + ValueFormatter<f64>,
        Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .label_style((FONT_NAME, 16))
            .axis_desc_style((FONT_NAME, 17))
            .x_labels(self.x_label_count())
            .x_label_formatter(&|v| self.format_x(*v))
            .y_label_formatter(&|v| self.format_y(*v))
            .draw()
            .map_err(plot_err)?;
        for s in &self.series {
            let color = PALETTE[s.color % PALETTE.len()];
            let pts: Vec<(f64, f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|p| p.1.is_finite() && p.2.is_finite() && (!self.log_y || p.1 > 0.0))
                .collect();
            if pts.is_empty() {
                continue;
            }
            if s.band && pts.iter().any(|p| p.2 > 0.0) {
                let lower = |m: f64, sd: f64| {
                    if self.log_y && m - sd <= 0.0 {
                        m
                    } else {
                        m - sd
                    }
                };
                let mut band: Vec<(f64, f64)> =
                    pts.iter().map(|&(x, m, sd)| (x, lower(m, sd))).collect();
                band.extend(pts.iter().rev().map(|&(x, m, sd)| (x, m + sd)));
                chart
                    .draw_series(std::iter::once(Polygon::new(
                        band,
                        color.mix(0.18).filled(),
                    )))
                    .map_err(plot_err)?;
            }
            let (y0, y1) = y_range;
            // A series that does not set the range is drawn up to where it leaves the axes.
            let line: Vec<(f64, f64)> = pts
                .iter()
                .map(|&(x, m, _)| (x, m))
                .take_while(|&(_, m)| s.fit || (y0..=y1).contains(&m))
                .collect();
            if line.is_empty() {
                continue;
            }
            let style = color.stroke_width(2);
            let anno = if s.markers_only {
                chart
                    .draw_series(line.iter().map(|&p| {
                        EmptyElement::at(p)
                            + Cross::new((0, 0), 7, color.stroke_width(2))
                            + PathElement::new(vec![(0, -9), (0, 9)], color.stroke_width(2))
                            + PathElement::new(vec![(-9, 0), (9, 0)], color.stroke_width(2))
                    }))
                    .map_err(plot_err)?
            } else if s.dashed {
                chart
                    .draw_series(DashedLineSeries::new(line.clone(), 8, 5, style))
                    .map_err(plot_err)?
            } else {
                let anno = chart
                    .draw_series(LineSeries::new(line.clone(), style))
                    .map_err(plot_err)?;
                // dots mark the measured points, unless they are so many that they merge
                if line.len() > MAX_DOTS {
                    anno
                } else {
                    chart
                        .draw_series(line.iter().map(|&p| Circle::new(p, 3, color.filled())))
                        .map_err(plot_err)?
                }
            };
            let (dashed, star) = (s.dashed, s.markers_only);
            anno.label(s.label.clone()).legend(move |(x, y)| {
                let seg =
                    |a: i32, b: i32| PathElement::new(vec![(a, 0), (b, 0)], color.stroke_width(2));
                if star {
                    EmptyElement::at((x, y))
                        + PathElement::new(vec![(12, -6), (12, 6)], color.stroke_width(2))
                        + seg(6, 18)
                        + PathElement::new(vec![(8, -4), (16, 4)], color.stroke_width(2))
                } else if dashed {
                    EmptyElement::at((x, y)) + seg(0, 6) + seg(9, 15) + seg(18, 24)
                } else {
                    EmptyElement::at((x, y)) + seg(0, 24) + seg(0, 0) + seg(0, 0)
                }
            });
        }
        chart
            .configure_series_labels()
            .position(if self.legend_lower {
                SeriesLabelPosition::LowerLeft
            } else {
                SeriesLabelPosition::UpperLeft
            })
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font((FONT_NAME, 14))
            .draw()
            .map_err(plot_err)
    }
}

impl Figure {
    /// Panels in a grid: side by side up to three, four as 2×2.
    fn grid(&self) -> (usize, usize) {
        let n = self.panels.len().max(1);
        let cols = if n == 4 { 2 } else { n.min(3) };
        (n.div_ceil(cols), cols)
    }

    /// Size in pixels.
    fn size(&self) -> (u32, u32) {
        let (rows, cols) = self.grid();
        if rows * cols == 1 {
            SIZE
        } else {
            (720 * cols as u32, 40 + 560 * rows as u32)
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE).map_err(plot_err)?;
        let body = root
            .margin(10, 0, 0, 0)
            .titled(&self.title, (FONT_NAME, 22))
            .map_err(plot_err)?;
        let areas = body.split_evenly(self.grid());
        for (panel, area) in self.panels.iter().zip(&areas) {
            panel.draw(area)?;
        }
        root.present().map_err(plot_err)
    }

    /// Render to SVG text.
    pub fn to_svg(&self) -> Result<String> {
        register_font()?;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, self.size()).into_drawing_area();
            self.draw(root)?;
        }
        Ok(svg)
    }

    /// Render to PNG bytes (drawn in memory, encoded as plotters' file backend would).
    pub fn to_png(&self) -> Result<Vec<u8>> {
        use image::ImageEncoder;
        register_font()?;
        let (w, h) = self.size();
        let mut pixels = vec![0u8; w as usize * h as usize * 3];
        {
            let root = BitMapBackend::with_buffer(&mut pixels, (w, h)).into_drawing_area();
            self.draw(root)?;
        }
        let mut png = Vec::new();
        image::codecs::png::PngEncoder::new(&mut png)
            .write_image(&pixels, w, h, image::ColorType::Rgb8)
            .map_err(|e| Error::Internal(format!("encoding a PNG failed: {e}")))?;
        Ok(png)
    }
}

/// Ticks of a log axis: only 1, 2 and 5 times a power of ten are labelled (plotters offers
/// more), powers of ten beyond 1000 as `1e4`.
fn format_tick(v: f64) -> String {
    if v <= 0.0 || !v.is_finite() {
        return String::new();
    }
    let e = v.log10().floor() as i32;
    if (-3..=4).contains(&e) {
        // up to three significant digits, no trailing zeros: 25, 150, 0.015, 12000
        let decimals = (2 - e).max(0) as usize;
        let s = format!("{v:.decimals$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        let m = v / 10f64.powi(e);
        let m = format!("{m:.2}");
        let m = m.trim_end_matches('0').trim_end_matches('.');
        format!("{m}e{e}")
    }
}

/// The unlabelled grid of a log axis: 1…9 × 10^e inside the range (every decade only, when
/// that would be more than 100 lines).
fn log_minor_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let (e0, e1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let per = if e1 - e0 > 11 { 1 } else { 9 };
    (e0..=e1)
        .flat_map(|e| (1..=per).map(move |m| f64::from(m) * 10f64.powi(e)))
        .filter(|v| *v >= lo && *v <= hi)
        .collect()
}

/// Where a log axis from `lo` to `hi` gets labelled ticks: the data's own x values where they
/// are few (`data`), else round numbers — one per decade (thinned to at most about 10) on
/// long ranges, 1-2-5 on medium ones, and finer mantissas on short ones, always at least
/// three labels.
fn log_ticks(lo: f64, hi: f64, data: &[f64]) -> Vec<f64> {
    let inside = |v: &f64| *v >= lo * (1.0 - 1e-9) && *v <= hi * (1.0 + 1e-9);
    let mut own: Vec<f64> = data
        .iter()
        .copied()
        .filter(|v| *v > 0.0 && inside(v))
        .collect();
    own.sort_by(|a, b| a.total_cmp(b));
    own.dedup();
    if (3..=12).contains(&own.len()) {
        return own;
    }
    let (e0, e1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let sets: [&[f64]; 4] = [
        &[1.0],
        &[1.0, 2.0, 5.0],
        &[1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
        &[
            1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0, 2.2, 2.4, 2.6, 2.8, 3.0, 3.5,
            4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0,
        ],
    ];
    for (i, set) in sets.iter().enumerate() {
        let mut ticks: Vec<f64> = (e0..=e1)
            .flat_map(|e| set.iter().map(move |m| m * 10f64.powi(e)))
            .filter(inside)
            .collect();
        if i == 0 && ticks.len() > 10 {
            let step = ticks.len().div_ceil(10);
            ticks = ticks.into_iter().step_by(step).collect();
        }
        if ticks.len() >= 3 && (i > 0 || ticks.len() <= 10) {
            return ticks;
        }
    }
    // a range shorter than a tenth of a decade: three values spread over it, each rounded to
    // the fewest significant digits that keep it inside
    (1..=3)
        .map(|j| lo * (hi / lo).powf(j as f64 / 4.0))
        .map(|v| {
            (2..=12)
                .map(|digits| {
                    let e = 10f64.powi(v.log10().floor() as i32 + 1 - digits);
                    (v / e).round() * e
                })
                .find(inside)
                .unwrap_or(v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{format_tick, log_ticks};

    #[test]
    fn every_log_axis_gets_at_least_three_labelled_ticks_inside_it() {
        // ranges from a hundredth of a decade to twenty decades, at many offsets
        for i in 0..400 {
            let lo = 10f64.powf(-6.0 + 0.037 * i as f64);
            for span in [0.01, 0.05, 0.2, 0.5, 1.0, 1.5, 3.0, 7.0, 20.0] {
                let hi = lo * 10f64.powf(span);
                let ticks = log_ticks(lo, hi, &[]);
                assert!(ticks.len() >= 3, "{lo}..{hi}: {ticks:?}");
                assert!(ticks.len() <= 40, "{lo}..{hi}: {} ticks", ticks.len());
                for t in &ticks {
                    assert!(
                        *t >= lo * (1.0 - 1e-6) && *t <= hi * (1.0 + 1e-6),
                        "{t} outside {lo}..{hi}"
                    );
                    assert!(!format_tick(*t).is_empty(), "{t} has no label");
                }
            }
        }
        // few data x values are labelled themselves
        assert_eq!(
            log_ticks(20.0, 900.0, &[25.0, 50.0, 100.0, 200.0, 400.0, 800.0]),
            vec![25.0, 50.0, 100.0, 200.0, 400.0, 800.0]
        );
        assert_eq!(format_tick(25.0), "25");
        assert_eq!(format_tick(0.015), "0.015");
        assert_eq!(format_tick(1.5e-4), "1.5e-4");
        assert_eq!(format_tick(2e7), "2e7");
    }
}
