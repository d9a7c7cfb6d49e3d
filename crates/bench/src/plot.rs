//! The scaling curve as a small self-contained SVG (log-log axes), written
//! by hand: four points per line need no plotting library.

use std::fmt::Write as _;

/// One line of the plot.
#[derive(Debug)]
pub(crate) struct Series<'a> {
    pub(crate) label: &'a str,
    pub(crate) color: &'a str,
    pub(crate) dashed: bool,
    /// `(x, y)`, both positive.
    pub(crate) points: Vec<(f64, f64)>,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 440.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 200.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;

/// Powers of ten spanning `[lo, hi]`.
fn decades(lo: f64, hi: f64) -> (i32, i32) {
    #[allow(
        clippy::cast_possible_truncation,
        reason = "decades of measured values"
    )]
    let (a, b) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    (a, if b > a { b } else { a + 1 })
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn tick_label(exp: i32) -> String {
    let v = 10f64.powi(exp);
    if exp >= 0 {
        format!("{v:.0}")
    } else {
        let digits = usize::try_from(-exp).unwrap_or(0);
        format!("{v:.digits$}")
    }
}

/// A log-log line plot; `None` when there is nothing positive to draw.
pub(crate) fn svg(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series<'_>],
) -> Option<String> {
    let points = || series.iter().flat_map(|s| s.points.iter());
    let positive = |v: f64| v.is_finite() && v > 0.0;
    if points().any(|&(x, y)| !positive(x) || !positive(y)) || points().next().is_none() {
        return None;
    }
    let fold = |f: fn(f64, f64) -> f64, init: f64, pick: fn(&(f64, f64)) -> f64| {
        points().map(pick).fold(init, f)
    };
    let (x0, x1) = decades(
        fold(f64::min, f64::MAX, |p| p.0),
        fold(f64::max, 0.0, |p| p.0),
    );
    let (y0, y1) = decades(
        fold(f64::min, f64::MAX, |p| p.1),
        fold(f64::max, 0.0, |p| p.1),
    );
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let sx = |x: f64| LEFT + (x.log10() - f64::from(x0)) / f64::from(x1 - x0) * plot_w;
    let sy = |y: f64| TOP + plot_h - (y.log10() - f64::from(y0)) / f64::from(y1 - y0) * plot_h;

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        out,
        r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
    );
    let _ = writeln!(
        out,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
        LEFT + plot_w / 2.0,
        escape(title)
    );
    for exp in x0..=x1 {
        let x = sx(10f64.powi(exp));
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#ddd"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 18.0,
            tick_label(exp)
        );
    }
    for exp in y0..=y1 {
        let y = sy(10f64.powi(exp));
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            y + 4.0,
            tick_label(exp)
        );
    }
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#333"/>"##
    );
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 18.0,
        escape(x_label)
    );
    let _ = writeln!(
        out,
        r#"<text transform="translate(18 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        TOP + plot_h / 2.0,
        escape(y_label)
    );
    for (i, s) in series.iter().enumerate() {
        let path: Vec<String> = s
            .points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
            .collect();
        let dash = if s.dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let _ = writeln!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"{dash}/>"#,
            path.join(" "),
            s.color
        );
        for &(x, y) in &s.points {
            let _ = writeln!(
                out,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"/>"#,
                sx(x),
                sy(y),
                s.color
            );
        }
        #[allow(clippy::cast_precision_loss, reason = "a handful of series")]
        let ly = TOP + 10.0 + 20.0 * i as f64;
        let lx = LEFT + plot_w + 12.0;
        let _ = writeln!(
            out,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{}" stroke-width="2"{dash}/><text x="{:.1}" y="{:.1}">{}</text>"#,
            lx + 22.0,
            s.color,
            lx + 28.0,
            ly + 4.0,
            escape(s.label)
        );
    }
    out.push_str("</svg>\n");
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(points: Vec<(f64, f64)>) -> Vec<Series<'static>> {
        vec![Series {
            label: "set <ms>",
            color: "#1f77b4",
            dashed: false,
            points,
        }]
    }

    #[test]
    fn points_land_on_log_axes_and_labels_are_escaped() {
        let svg = svg("t", "x", "y", &series(vec![(10.0, 0.1), (1000.0, 10.0)])).unwrap();
        // x spans 10..1000 over the plot width, y 0.1..10 over its height.
        let (w, h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
        let first = format!("{:.1},{:.1}", LEFT, TOP + h);
        let last = format!("{:.1},{:.1}", LEFT + w, TOP);
        assert!(
            svg.contains(&format!(r#"points="{first} {last}""#)),
            "{svg}"
        );
        assert!(svg.contains("set &lt;ms&gt;"));
        assert!(svg.contains(">0.1<") && svg.contains(">1000<"));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
    }

    #[test]
    fn nothing_drawable_gives_no_plot() {
        assert_eq!(svg("t", "x", "y", &series(vec![])), None);
        assert_eq!(svg("t", "x", "y", &series(vec![(10.0, 0.0)])), None);
        assert_eq!(svg("t", "x", "y", &series(vec![(f64::NAN, 1.0)])), None);
    }
}
