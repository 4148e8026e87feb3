//! Minimal SVG plots (scatter panels and line charts), with no dependency:
//! enough for the suite's figures, readable in any browser.

use std::fmt::Write;

/// A square scatter panel of `points` (x, y pairs) over `[lo, hi]^2`,
/// `size` pixels wide, placed at `x_off`, with a title and optional circles
/// (cx, cy, r in data units) and vertical lines (x) drawn dashed.
pub struct Scatter<'a> {
    /// Interleaved x, y coordinates.
    pub points: &'a [f64],
    /// Data range shown on both axes.
    pub lo: f64,
    /// Upper end of the range.
    pub hi: f64,
    /// Title above the panel.
    pub title: String,
    /// Circles to outline, (cx, cy, r).
    pub circles: Vec<(f64, f64, f64)>,
    /// Vertical lines to draw, at these x.
    pub vlines: Vec<f64>,
}

impl Scatter<'_> {
    fn render(&self, x_off: f64, size: f64, out: &mut String) {
        let top = 30.0;
        let map = |x: f64, y: f64| {
            (
                x_off + (x - self.lo) / (self.hi - self.lo) * size,
                top + (self.hi - y) / (self.hi - self.lo) * size,
            )
        };
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="20" font-family="sans-serif" font-size="14" text-anchor="middle">{}</text><rect x="{x_off:.1}" y="{top}" width="{size}" height="{size}" fill="none" stroke="#444"/>"##,
            x_off + size / 2.0,
            self.title
        );
        for &(cx, cy, r) in &self.circles {
            let (px, py) = map(cx, cy);
            let pr = r / (self.hi - self.lo) * size;
            let _ = write!(
                out,
                r##"<circle cx="{px:.1}" cy="{py:.1}" r="{pr:.1}" fill="none" stroke="#d62728" stroke-dasharray="4"/>"##
            );
        }
        for &x in &self.vlines {
            let (px, y0) = map(x, self.hi);
            let (_, y1) = map(x, self.lo);
            let _ = write!(
                out,
                r##"<line x1="{px:.1}" y1="{y0:.1}" x2="{px:.1}" y2="{y1:.1}" stroke="#d62728" stroke-dasharray="4"/>"##
            );
        }
        // At most about 4,000 points, evenly thinned, keeps the file small.
        let stride = (self.points.len() / 2).div_ceil(4000).max(1);
        for p in self.points.chunks_exact(2).step_by(stride) {
            if p[0] < self.lo || p[0] > self.hi || p[1] < self.lo || p[1] > self.hi {
                continue;
            }
            let (px, py) = map(p[0], p[1]);
            let _ = write!(
                out,
                r##"<circle cx="{px:.1}" cy="{py:.1}" r="1.1" fill="#1f77b4" fill-opacity="0.45"/>"##
            );
        }
    }
}

/// Panels side by side, each `size` pixels square.
pub fn scatter_panels(panels: &[Scatter<'_>], size: f64) -> String {
    let width = panels.len() as f64 * (size + 20.0) + 20.0;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{}" viewBox="0 0 {width} {}"><rect width="100%" height="100%" fill="white"/>"#,
        size + 50.0,
        size + 50.0
    );
    for (i, p) in panels.iter().enumerate() {
        p.render(20.0 + i as f64 * (size + 20.0), size, &mut s);
    }
    s.push_str("</svg>");
    s
}

/// A named series of (x, y, error bar half-width) points.
pub type Series = (String, Vec<(f64, f64, f64)>);

/// A line chart of named series of (x, y) points, x on a log10 axis, with
/// an optional horizontal reference line at y = 0 and symmetric error bars.
pub fn log_x_chart(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> String {
    let (w, h, left, top, pw, ph) = (640.0, 400.0, 70.0, 40.0, 520.0, 300.0);
    let all: Vec<(f64, f64, f64)> = series.iter().flat_map(|s| s.1.iter().copied()).collect();
    let (mut xmin, mut xmax) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut ymin, mut ymax) = (0.0f64, 0.0f64);
    for &(x, y, e) in &all {
        xmin = xmin.min(x.log10());
        xmax = xmax.max(x.log10());
        ymin = ymin.min(y - e);
        ymax = ymax.max(y + e);
    }
    if xmax <= xmin {
        xmax = xmin + 1.0;
    }
    let pad = 0.1 * (ymax - ymin).max(1e-6);
    let (ymin, ymax) = (ymin - pad, ymax + pad);
    let mx = |x: f64| left + (x.log10() - xmin) / (xmax - xmin) * pw;
    let my = |y: f64| top + (ymax - y) / (ymax - ymin) * ph;
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}"><rect width="100%" height="100%" fill="white"/><text x="{}" y="22" font-family="sans-serif" font-size="15" text-anchor="middle">{title}</text><rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#444"/><line x1="{left}" y1="{y0:.1}" x2="{}" y2="{y0:.1}" stroke="#999" stroke-dasharray="3"/><text x="{}" y="{}" font-family="sans-serif" font-size="12" text-anchor="middle">{x_label}</text><text x="16" y="{}" font-family="sans-serif" font-size="12" transform="rotate(-90 16 {})" text-anchor="middle">{y_label}</text>"##,
        w / 2.0,
        left + pw,
        left + pw / 2.0,
        top + ph + 40.0,
        top + ph / 2.0,
        top + ph / 2.0,
        y0 = my(0.0)
    );
    for k in (xmin.floor() as i32)..=(xmax.ceil() as i32) {
        let x = 10f64.powi(k);
        if x.log10() < xmin - 1e-9 || x.log10() > xmax + 1e-9 {
            continue;
        }
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{}" font-family="sans-serif" font-size="11" text-anchor="middle">{x}</text>"#,
            mx(x),
            top + ph + 16.0
        );
    }
    for t in 0..=4 {
        let y = ymin + (ymax - ymin) * t as f64 / 4.0;
        let _ = write!(
            s,
            r#"<text x="{}" y="{:.1}" font-family="sans-serif" font-size="11" text-anchor="end">{y:.3}</text>"#,
            left - 6.0,
            my(y) + 4.0
        );
    }
    let colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"];
    for (i, (name, pts)) in series.iter().enumerate() {
        let c = colours[i % colours.len()];
        let path: Vec<String> = pts
            .iter()
            .map(|&(x, y, _)| format!("{:.1},{:.1}", mx(x), my(y)))
            .collect();
        let _ = write!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{c}" stroke-width="2"/>"#,
            path.join(" ")
        );
        for &(x, y, e) in pts {
            let _ = write!(
                s,
                r#"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="{c}"/><circle cx="{0:.1}" cy="{3:.1}" r="3" fill="{c}"/>"#,
                mx(x),
                my(y - e),
                my(y + e),
                my(y)
            );
        }
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" font-family="sans-serif" font-size="12" fill="{c}">{name}</text>"#,
            left + 10.0,
            top + 18.0 + 16.0 * i as f64
        );
    }
    s.push_str("</svg>");
    s
}

/// Square grayscale images (values in [0, 1], `side` x `side`, row-major)
/// in a grid of `cols` columns under a title; 1 is black.
pub fn image_grid(title: &str, images: &[Vec<f64>], side: usize, cols: usize) -> String {
    let cell = 6.0;
    let gap = 4.0;
    let tile = side as f64 * cell + gap;
    let rows = images.len().div_ceil(cols.max(1));
    let (w, h) = (cols as f64 * tile + gap, rows as f64 * tile + gap + 30.0);
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}"><rect width="100%" height="100%" fill="white"/><text x="{:.1}" y="20" font-family="sans-serif" font-size="14" text-anchor="middle">{title}</text>"#,
        w / 2.0
    );
    for (k, img) in images.iter().enumerate() {
        let (x0, y0) = (gap + (k % cols) as f64 * tile, 30.0 + (k / cols) as f64 * tile);
        for (i, v) in img.iter().enumerate() {
            let g = (255.0 * (1.0 - v.clamp(0.0, 1.0))).round() as u8;
            let _ = write!(
                s,
                r#"<rect x="{:.1}" y="{:.1}" width="{cell}" height="{cell}" fill="rgb({g},{g},{g})"/>"#,
                x0 + (i % side) as f64 * cell,
                y0 + (i / side) as f64 * cell
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// Heat maps side by side: each panel is `n` x `n` values (row 0 at the
/// bottom, as y increases upwards), shaded from white (0) to dark blue
/// (the panel's maximum).
pub fn heatmap_panels(panels: &[(String, Vec<f64>)], n: usize, size: f64) -> String {
    let width = panels.len() as f64 * (size + 20.0) + 20.0;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{}" viewBox="0 0 {width} {}"><rect width="100%" height="100%" fill="white"/>"#,
        size + 50.0,
        size + 50.0
    );
    let cell = size / n as f64;
    for (p, (title, vals)) in panels.iter().enumerate() {
        let x_off = 20.0 + p as f64 * (size + 20.0);
        let max = vals.iter().copied().fold(0.0f64, f64::max).max(1e-300);
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="20" font-family="sans-serif" font-size="14" text-anchor="middle">{title}</text>"##,
            x_off + size / 2.0
        );
        for (k, v) in vals.iter().enumerate() {
            let t = (v / max).clamp(0.0, 1.0);
            if t < 0.01 {
                continue;
            }
            let (r, g, b) = (
                (255.0 * (1.0 - 0.88 * t)) as u8,
                (255.0 * (1.0 - 0.7 * t)) as u8,
                (255.0 * (1.0 - 0.3 * t)) as u8,
            );
            let (i, j) = (k / n, k % n);
            let _ = write!(
                s,
                r#"<rect x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="rgb({r},{g},{b})"/>"#,
                x_off + j as f64 * cell,
                30.0 + (n - 1 - i) as f64 * cell,
                cell + 0.05,
                cell + 0.05
            );
        }
        let _ = write!(
            s,
            r##"<rect x="{x_off:.1}" y="30" width="{size}" height="{size}" fill="none" stroke="#444"/>"##
        );
    }
    s.push_str("</svg>");
    s
}
