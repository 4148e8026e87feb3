//! Figures of the suite and of `ebm plot`, drawn with plotters and
//! written twice: SVG (for the README and browsers) and PNG. Text in the PNG files uses DejaVu Sans,
//! embedded in the binary (`assets/`), so no system font is needed.

use crate::draws_file::write_atomically;
use crate::error::{CliError, CliResult};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::Path;
use std::sync::Once;

pub mod contour;

const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const BLUE_C: RGBColor = RGBColor(31, 119, 180);
const RED_C: RGBColor = RGBColor(214, 39, 40);
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// A square scatter panel of `points` (interleaved x, y) over `[lo, hi]^2`
/// with a title, dashed circles (cx, cy, r) and vertical lines (x).
pub struct Scatter<'a> {
    /// Interleaved x, y coordinates.
    pub points: &'a [f64],
    /// Lower end of the range shown on both axes.
    pub lo: f64,
    /// Upper end of the range.
    pub hi: f64,
    /// Title above the panel.
    pub title: String,
    /// Circles to outline, (cx, cy, r).
    pub circles: Vec<(f64, f64, f64)>,
    /// Vertical lines to draw, at these x.
    pub vlines: Vec<f64>,
    /// A density to shade behind the points: `n` x `n` values over the
    /// panel's square (row i at y = lo + (i + 1/2) h), if any.
    pub background: Option<(usize, Vec<f64>)>,
    /// Levels of the background's values to draw as contour lines
    /// (darker for higher levels).
    pub contours: Vec<f64>,
}

/// One panel of [`Figure::Lines`].
pub struct LinePanel {
    /// Title above the panel.
    pub title: String,
    /// x axis label.
    pub x_label: String,
    /// y axis label.
    pub y_label: String,
    /// (name, points) per series; names are listed in a legend when
    /// there are at most eight series.
    pub series: Vec<(String, Vec<(f64, f64)>)>,
    /// A horizontal reference line, if any.
    pub hline: Option<f64>,
}

/// One line of a [`LogLogPanel`].
pub struct LogSeries {
    /// Name in the legend.
    pub name: String,
    /// (x, y) points, both positive.
    pub points: Vec<(f64, f64)>,
    /// Index into the palette (series that belong together share it).
    pub colour: usize,
    /// Dashed instead of solid (e.g. one thread beside two).
    pub dashed: bool,
    /// Markers only, no line (single measured points, e.g. a peer's).
    pub markers_only: bool,
}

/// One panel of [`Figure::LogLog`]: lines on log-log axes.
pub struct LogLogPanel {
    /// Title above the panel.
    pub title: String,
    /// x axis label.
    pub x_label: String,
    /// y axis label.
    pub y_label: String,
    /// The lines.
    pub series: Vec<LogSeries>,
}

/// A named series of (x, y, error bar half-width) points.
pub type Series = (String, Vec<(f64, f64, f64)>);

/// One figure of the suite.
pub enum Figure<'a> {
    /// Scatter panels side by side, each `size` pixels square.
    Scatter {
        /// The panels.
        panels: Vec<Scatter<'a>>,
        /// Panel size in pixels.
        size: u32,
    },
    /// Lines with error bars against a log10 x axis, and a y = 0 reference.
    LogX {
        /// Title.
        title: String,
        /// x axis label.
        x_label: String,
        /// y axis label.
        y_label: String,
        /// The series.
        series: Vec<Series>,
    },
    /// Grayscale images in grids side by side, one grid per panel
    /// (values in [0, 1], 1 black), e.g. samples next to the data.
    Images {
        /// (title, images) per panel; each image `height` x `width`
        /// row-major.
        panels: Vec<(String, Vec<Vec<f64>>)>,
        /// Pixels per image row.
        width: usize,
        /// Pixel rows per image.
        height: usize,
        /// Images per row of a grid.
        cols: usize,
    },
    /// Line charts side by side on linear axes, one colour per series
    /// (trace, rank and autocorrelation plots).
    Lines {
        /// The panels.
        panels: Vec<LinePanel>,
    },
    /// Panels of lines on log-log axes side by side, two per row (cost
    /// curves).
    LogLog {
        /// The panels.
        panels: Vec<LogLogPanel>,
    },
    /// Heat maps side by side over `[lo, hi]^2`: `n` x `n` values each, row
    /// i at y = lo + (i + 1/2) h.
    Heatmaps {
        /// (title, values) per panel.
        panels: Vec<(String, Vec<f64>)>,
        /// Cells per axis.
        n: usize,
        /// Lower end of both axes.
        lo: f64,
        /// Upper end of both axes.
        hi: f64,
    },
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn circle_path(cx: f64, cy: f64, r: f64) -> Vec<(f64, f64)> {
    (0..=96)
        .map(|k| {
            let t = k as f64 / 96.0 * std::f64::consts::TAU;
            (cx + r * t.cos(), cy + r * t.sin())
        })
        .collect()
}

/// Cells of an `n` x `n` grid of `vals` over `[lo, hi]^2`, shaded from
/// white to dark blue by value over the maximum (times `strength`); cells
/// under 1% of the maximum are left out.
fn shade(vals: &[f64], n: usize, lo: f64, hi: f64, strength: f64) -> Vec<Rectangle<(f64, f64)>> {
    let h = (hi - lo) / n as f64;
    let max = vals.iter().copied().fold(0.0f64, f64::max).max(1e-300);
    vals.iter()
        .enumerate()
        .filter(|(_, v)| **v / max >= 0.01)
        .map(|(k, v)| {
            let t = strength * (v / max).clamp(0.0, 1.0);
            let c = RGBColor(
                (255.0 * (1.0 - 0.88 * t)) as u8,
                (255.0 * (1.0 - 0.7 * t)) as u8,
                (255.0 * (1.0 - 0.3 * t)) as u8,
            );
            let (i, j) = ((k / n) as f64, (k % n) as f64);
            Rectangle::new(
                [(lo + j * h, lo + i * h), (lo + (j + 1.0) * h, lo + (i + 1.0) * h)],
                c.filled(),
            )
        })
        .collect()
}

/// Pixels per image pixel and the gap between images: 6 and 6 for small
/// images (8x8 digits), fewer for large ones, so a grid stays a few
/// hundred pixels wide.
fn image_scale(width: usize, height: usize) -> (u32, u32) {
    let side = width.max(height).max(1) as u32;
    ((48 / side).clamp(1, 6), (side / 8).clamp(2, 6))
}

impl Figure<'_> {
    /// Size in pixels.
    pub fn size(&self) -> (u32, u32) {
        match self {
            Figure::Scatter { panels, size } => (panels.len() as u32 * size, size + 30),
            Figure::LogX { .. } => (700, 440),
            Figure::Images {
                panels,
                width,
                height,
                cols,
            } => {
                let (px, gap) = image_scale(*width, *height);
                let rows = panels
                    .iter()
                    .map(|(_, images)| images.len().div_ceil((*cols).max(1)))
                    .max()
                    .unwrap_or(1) as u32;
                let panel_w = (*cols as u32 * (*width as u32 * px + gap) + 12).max(160);
                (
                    panels.len() as u32 * panel_w,
                    rows * (*height as u32 * px + gap) + 50,
                )
            }
            Figure::Heatmaps { panels, .. } => (panels.len() as u32 * 360, 390),
            Figure::Lines { panels } => (
                panels.len().clamp(1, 4) as u32 * 420,
                panels.len().div_ceil(4).max(1) as u32 * 320,
            ),
            Figure::LogLog { panels } => (
                panels.len().clamp(1, 2) as u32 * 560,
                panels.len().div_ceil(2).max(1) as u32 * 400,
            ),
        }
    }

    /// Draw onto `root`.
    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(err)?;
        match self {
            Figure::LogLog { panels } => {
                let cols = panels.len().clamp(1, 2);
                let areas = root.split_evenly((panels.len().div_ceil(2).max(1), cols));
                for (area, p) in areas.iter().zip(panels) {
                    draw_log_log(area, p)?;
                }
            }
            Figure::Scatter { panels, .. } => {
                for (area, p) in root.split_evenly((1, panels.len())).iter().zip(panels) {
                    let mut chart = ChartBuilder::on(area)
                        .caption(&p.title, ("sans-serif", 16))
                        .margin(8)
                        .x_label_area_size(24)
                        .y_label_area_size(30)
                        .build_cartesian_2d(p.lo..p.hi, p.lo..p.hi)
                        .map_err(err)?;
                    chart.configure_mesh().disable_mesh().draw().map_err(err)?;
                    if let Some((n, vals)) = &p.background {
                        chart
                            .draw_series(shade(vals, *n, p.lo, p.hi, 0.45))
                            .map_err(err)?;
                    }
                    let stride = (p.points.len() / 2).div_ceil(5000).max(1);
                    let inside = |q: &&[f64]| q[0] >= p.lo && q[0] <= p.hi && q[1] >= p.lo && q[1] <= p.hi;
                    chart
                        .draw_series(
                            p.points
                                .chunks_exact(2)
                                .step_by(stride)
                                .filter(inside)
                                .map(|q| Circle::new((q[0], q[1]), 1, BLUE_C.mix(0.45).filled())),
                        )
                        .map_err(err)?;
                    if let Some((n, vals)) = &p.background {
                        let mut levels = p.contours.clone();
                        levels.sort_by(f64::total_cmp);
                        for (k, &level) in levels.iter().enumerate() {
                            let t = (k + 1) as f64 / levels.len() as f64;
                            // orange outside to dark red inside
                            let c = |outer: f64, inner: f64| (outer + (inner - outer) * t) as u8;
                            let style =
                                RGBColor(c(240.0, 150.0), c(140.0, 20.0), c(40.0, 20.0)).stroke_width(2);
                            chart
                                .draw_series(
                                    contour::level_segments(vals, *n, p.lo, p.hi, level)
                                        .into_iter()
                                        .map(|s| PathElement::new(s.to_vec(), style)),
                                )
                                .map_err(err)?;
                        }
                    }
                    for &(cx, cy, r) in &p.circles {
                        chart
                            .draw_series(LineSeries::new(circle_path(cx, cy, r), RED_C.stroke_width(1)))
                            .map_err(err)?;
                    }
                    for &x in &p.vlines {
                        chart
                            .draw_series(LineSeries::new([(x, p.lo), (x, p.hi)], RED_C.stroke_width(1)))
                            .map_err(err)?;
                    }
                }
            }
            Figure::LogX {
                title,
                x_label,
                y_label,
                series,
            } => {
                let all: Vec<(f64, f64, f64)> = series.iter().flat_map(|s| s.1.iter().copied()).collect();
                let xmin = all.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
                let xmax = all.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
                let (xmin, xmax) = if xmin.is_finite() && xmax > xmin {
                    (xmin / 1.5, xmax * 1.5)
                } else {
                    (1.0, 10.0)
                };
                let ymin = all.iter().map(|p| p.1 - p.2).fold(0.0f64, f64::min);
                let ymax = all.iter().map(|p| p.1 + p.2).fold(0.0f64, f64::max);
                let pad = 0.1 * (ymax - ymin).max(1e-6);
                let mut chart = ChartBuilder::on(root)
                    .caption(title, ("sans-serif", 18))
                    .margin(12)
                    .x_label_area_size(40)
                    .y_label_area_size(70)
                    .build_cartesian_2d((xmin..xmax).log_scale(), (ymin - pad)..(ymax + pad))
                    .map_err(err)?;
                chart
                    .configure_mesh()
                    .x_desc(x_label.as_str())
                    .y_desc(y_label.as_str())
                    .y_label_formatter(&|y| format!("{y:.3}"))
                    .x_label_formatter(&|x| format!("{x:.0}"))
                    .x_labels(5)
                    .light_line_style(WHITE)
                    .draw()
                    .map_err(err)?;
                chart
                    .draw_series(LineSeries::new([(xmin, 0.0), (xmax, 0.0)], BLACK.mix(0.4)))
                    .map_err(err)?;
                for (i, (name, pts)) in series.iter().enumerate() {
                    let c = PALETTE[i % PALETTE.len()];
                    chart
                        .draw_series(LineSeries::new(pts.iter().map(|p| (p.0, p.1)), c.stroke_width(2)))
                        .map_err(err)?
                        .label(name.as_str())
                        .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], c.stroke_width(2)));
                    chart
                        .draw_series(
                            pts.iter()
                                .map(|&(x, y, e)| ErrorBar::new_vertical(x, y - e, y, y + e, c.filled(), 8)),
                        )
                        .map_err(err)?;
                }
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK.mix(0.3))
                    .draw()
                    .map_err(err)?;
            }
            Figure::Images {
                panels,
                width,
                height,
                cols,
            } => {
                let (px, gap) = image_scale(*width, *height);
                let (px, gap) = (px as i32, gap as i32);
                let (tile_w, tile_h) = (*width as i32 * px + gap, *height as i32 * px + gap);
                for (area, (title, images)) in root.split_evenly((1, panels.len())).iter().zip(panels) {
                    let body = area.titled(title, ("sans-serif", 16)).map_err(err)?;
                    for (k, img) in images.iter().enumerate() {
                        let (x0, y0) = (6 + (k % cols) as i32 * tile_w, 6 + (k / cols) as i32 * tile_h);
                        for (i, v) in img.iter().enumerate() {
                            let g = (255.0 * (1.0 - v.clamp(0.0, 1.0))).round() as u8;
                            let (x, y) = (x0 + (i % width) as i32 * px, y0 + (i / width) as i32 * px);
                            body.draw(&Rectangle::new(
                                [(x, y), (x + px, y + px)],
                                RGBColor(g, g, g).filled(),
                            ))
                            .map_err(err)?;
                        }
                    }
                }
            }
            Figure::Lines { panels } => {
                let cols = panels.len().clamp(1, 4);
                let rows = panels.len().div_ceil(4).max(1);
                for (area, p) in root.split_evenly((rows, cols)).iter().zip(panels) {
                    let pts = || {
                        p.series
                            .iter()
                            .flat_map(|s| s.1.iter())
                            .filter(|q| q.0.is_finite() && q.1.is_finite())
                    };
                    let (x0, x1) = pts().fold((f64::INFINITY, f64::NEG_INFINITY), |a, q| {
                        (a.0.min(q.0), a.1.max(q.0))
                    });
                    let (mut y0, mut y1) = pts().fold((f64::INFINITY, f64::NEG_INFINITY), |a, q| {
                        (a.0.min(q.1), a.1.max(q.1))
                    });
                    if let Some(h) = p.hline {
                        (y0, y1) = (y0.min(h), y1.max(h));
                    }
                    let (x0, x1) = if x1 > x0 { (x0, x1) } else { (0.0, 1.0) };
                    let pad = if y1 > y0 { 0.05 * (y1 - y0) } else { 0.5 };
                    let (y0, y1) = if y0.is_finite() {
                        (y0 - pad, y1 + pad)
                    } else {
                        (0.0, 1.0)
                    };
                    let mut chart = ChartBuilder::on(area)
                        .caption(&p.title, ("sans-serif", 15))
                        .margin(8)
                        .x_label_area_size(34)
                        .y_label_area_size(46)
                        .build_cartesian_2d(x0..x1, y0..y1)
                        .map_err(err)?;
                    chart
                        .configure_mesh()
                        .disable_mesh()
                        .x_desc(p.x_label.as_str())
                        .y_desc(p.y_label.as_str())
                        .draw()
                        .map_err(err)?;
                    if let Some(h) = p.hline {
                        chart
                            .draw_series(LineSeries::new([(x0, h), (x1, h)], BLACK.mix(0.5)))
                            .map_err(err)?;
                    }
                    for (k, (name, points)) in p.series.iter().enumerate() {
                        let colour = PALETTE[k % PALETTE.len()].mix(0.8);
                        let line = chart
                            .draw_series(LineSeries::new(points.iter().copied(), colour))
                            .map_err(err)?;
                        if p.series.len() <= 8 {
                            line.label(name.as_str())
                                .legend(move |(x, y)| PathElement::new([(x, y), (x + 14, y)], colour));
                        }
                    }
                    if p.series.len() <= 8 {
                        chart
                            .configure_series_labels()
                            .background_style(WHITE.mix(0.8))
                            .border_style(BLACK.mix(0.3))
                            .label_font(("sans-serif", 11))
                            .draw()
                            .map_err(err)?;
                    }
                }
            }
            Figure::Heatmaps { panels, n, lo, hi } => {
                for (area, (title, vals)) in root.split_evenly((1, panels.len())).iter().zip(panels) {
                    let mut chart = ChartBuilder::on(area)
                        .caption(title, ("sans-serif", 16))
                        .margin(8)
                        .x_label_area_size(24)
                        .y_label_area_size(30)
                        .build_cartesian_2d(*lo..*hi, *lo..*hi)
                        .map_err(err)?;
                    chart.configure_mesh().disable_mesh().draw().map_err(err)?;
                    chart.draw_series(shade(vals, *n, *lo, *hi, 1.0)).map_err(err)?;
                }
            }
        }
        root.present().map_err(err)
    }
}

/// Write `fig` as `dir/stem.svg` and `dir/stem.png` (each atomically);
/// returns the two file names.
pub fn write_figure(dir: &Path, stem: &str, fig: &Figure<'_>) -> CliResult<Vec<String>> {
    static FONT_ONCE: Once = Once::new();
    FONT_ONCE.call_once(|| {
        // the embedded font is valid; a failure would only lose PNG text
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
    let plot_err = |name: &str, e: String| CliError::Unsupported(format!("plot {name}: {e}"));
    let size = fig.size();
    let svg_name = format!("{stem}.svg");
    let mut svg = String::new();
    fig.draw(&SVGBackend::with_string(&mut svg, size).into_drawing_area())
        .map_err(|e| plot_err(&svg_name, e))?;
    write_atomically(&dir.join(&svg_name).to_string_lossy(), svg.as_bytes())?;
    let png_name = format!("{stem}.png");
    let tmp = dir.join(format!(".{stem}.tmp{}.png", std::process::id()));
    let drawn = fig.draw(&BitMapBackend::new(&tmp, size).into_drawing_area());
    if let Err(e) = drawn {
        let _ = std::fs::remove_file(&tmp);
        return Err(plot_err(&png_name, e));
    }
    std::fs::rename(&tmp, dir.join(&png_name)).map_err(|source| CliError::Io {
        path: dir.join(&png_name).to_string_lossy().into_owned(),
        source,
    })?;
    Ok(vec![svg_name, png_name])
}

/// The power-of-ten range around `values` (positive ones), at least one
/// decade wide.
fn decades(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| *v > 0.0 && v.is_finite())
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !lo.is_finite() {
        return (1.0, 10.0);
    }
    let lo = 10f64.powf(lo.log10().floor());
    let hi = 10f64.powf(hi.log10().ceil()).max(lo * 10.0);
    (lo, hi)
}

/// A label of a log axis: 1, 2 and 5 times a power of ten ("20",
/// "5e4"), nothing for the ticks between them.
fn log_label(v: f64) -> String {
    let e = v.log10().floor();
    let m = v / 10f64.powf(e);
    let lead = [1.0, 2.0, 5.0].into_iter().find(|l| (m - l).abs() < 1e-6 * l);
    match lead {
        Some(l) if (0.0..=3.0).contains(&e) => format!("{}", l * 10f64.powf(e)),
        Some(1.0) => format!("1e{e}"),
        Some(l) => format!("{l}e{e}"),
        None => String::new(),
    }
}

/// The corner of a log-log panel with the fewest points near it, for the
/// legend.
fn emptiest_corner(p: &LogLogPanel, x: (f64, f64), y: (f64, f64)) -> SeriesLabelPosition {
    let unit = |v: f64, (lo, hi): (f64, f64)| (v.log10() - lo.log10()) / (hi.log10() - lo.log10());
    let near = |left: bool, low: bool| {
        p.series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|q| {
                let (u, w) = (unit(q.0, x), unit(q.1, y));
                (if left { u < 0.5 } else { u > 0.5 }) && (if low { w < 0.45 } else { w > 0.55 })
            })
            .count()
    };
    [
        (near(true, true), SeriesLabelPosition::LowerLeft),
        (near(false, true), SeriesLabelPosition::LowerRight),
        (near(false, false), SeriesLabelPosition::UpperRight),
        (near(true, false), SeriesLabelPosition::UpperLeft),
    ]
    .into_iter()
    .min_by_key(|c| c.0)
    .map_or(SeriesLabelPosition::UpperRight, |c| c.1)
}

fn draw_log_log<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: &LogLogPanel) -> Result<(), String> {
    let (xmin, xmax) = decades(p.series.iter().flat_map(|s| s.points.iter().map(|q| q.0)));
    let (ymin, ymax) = decades(p.series.iter().flat_map(|s| s.points.iter().map(|q| q.1)));
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, ("sans-serif", 15))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d((xmin..xmax).log_scale(), (ymin..ymax).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(p.x_label.as_str())
        .y_desc(p.y_label.as_str())
        .x_label_formatter(&|x| log_label(*x))
        .y_label_formatter(&|y| log_label(*y))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .draw()
        .map_err(err)?;
    for s in &p.series {
        let c = PALETTE[s.colour % PALETTE.len()];
        let style = c.stroke_width(2);
        let pts = &s.points;
        if !s.markers_only {
            let drawn = if s.dashed {
                chart.draw_series(DashedLineSeries::new(pts.iter().copied(), 6, 4, style))
            } else {
                chart.draw_series(LineSeries::new(pts.iter().copied(), style))
            }
            .map_err(err)?;
            let dashed = s.dashed;
            drawn.label(s.name.as_str()).legend(move |(x, y)| {
                let end = if dashed { x + 8 } else { x + 18 };
                PathElement::new([(x, y), (end, y)], c.stroke_width(2))
            });
        }
        let marker = chart
            .draw_series(pts.iter().map(|&q| {
                if s.markers_only {
                    TriangleMarker::new(q, 7, c.filled()).into_dyn()
                } else {
                    Circle::new(q, 3, c.filled()).into_dyn()
                }
            }))
            .map_err(err)?;
        if s.markers_only {
            marker
                .label(s.name.as_str())
                .legend(move |(x, y)| TriangleMarker::new((x + 9, y), 6, c.filled()));
        }
    }
    chart
        .configure_series_labels()
        .position(emptiest_corner(p, (xmin, xmax), (ymin, ymax)))
        .label_font(("sans-serif", 12))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_axes_label_one_two_five_and_span_whole_decades() {
        assert_eq!(log_label(1.0), "1");
        assert_eq!(log_label(20.0), "20");
        assert_eq!(log_label(500.0), "500");
        assert_eq!(log_label(1e5), "1e5");
        assert_eq!(log_label(5e6), "5e6");
        assert_eq!(log_label(3e4), "");
        assert_eq!(decades([3.0, 420.0].into_iter()), (1.0, 1000.0));
        // one value: at least a decade; nothing positive: a default
        assert_eq!(decades([20.0].into_iter()), (10.0, 100.0));
        assert_eq!(decades([0.0, -1.0, f64::NAN].into_iter()), (1.0, 10.0));
    }

    #[test]
    fn the_legend_goes_to_the_emptiest_corner() {
        // a rising line leaves the upper left and lower right empty
        let p = LogLogPanel {
            title: String::new(),
            x_label: String::new(),
            y_label: String::new(),
            series: vec![LogSeries {
                name: "rising".into(),
                points: vec![(1.0, 1.0), (10.0, 10.0), (100.0, 100.0), (1000.0, 1000.0)],
                colour: 0,
                dashed: false,
                markers_only: false,
            }],
        };
        let corner = emptiest_corner(&p, (1.0, 1000.0), (1.0, 1000.0));
        assert!(matches!(
            corner,
            SeriesLabelPosition::LowerRight | SeriesLabelPosition::UpperLeft
        ));
    }
}
