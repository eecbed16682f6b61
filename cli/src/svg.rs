//! A hand-written SVG heatmap of reachability matrices: one panel per port, a square per
//! (source, destination) pair, green allowed and red denied.

use std::fmt::Write as _;

use netpol::engine::Matrix;

// Dark green and light red: allowed and denied differ in lightness too, for readers who
// do not tell red from green.
const ALLOW: &str = "#1e7b45";
const DENY: &str = "#f2aaa5";
const FONT: &str = "font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\"";

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The SVG document: a title, a legend, then the panels side by side (wrapping after
/// three). Rows are sources, columns destinations, as in the text tables.
pub fn heatmap(title: &str, names: &[String], matrices: &[Matrix]) -> String {
    let n = names.len().max(1);
    // Squares shrink for big clusters; labels only while they stay readable.
    let cell = (540 / n).clamp(2, 26) as f64;
    let labels = cell >= 9.0;
    let font = (cell * 0.55).clamp(7.0, 12.0);
    let longest = names.iter().map(|s| s.chars().count()).max().unwrap_or(0) as f64;
    let label_space = if labels {
        longest * font * 0.62 + 8.0
    } else {
        4.0
    };
    let grid = cell * n as f64;
    let panel_w = label_space + grid + 24.0;
    let panel_h = 30.0 + label_space + grid + 24.0;
    let per_row = matrices.len().clamp(1, 3);
    let rows = matrices.len().div_ceil(per_row).max(1);
    let width = (panel_w * per_row as f64 + 20.0).max(420.0);
    let height = 70.0 + panel_h * rows as f64;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}">"#
    );
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    let _ = writeln!(
        s,
        r##"<text x="16" y="26" {FONT} font-size="16" font-weight="bold" fill="#222">{}</text>"##,
        escape(title)
    );
    let _ = writeln!(
        s,
        r##"<text x="16" y="48" {FONT} font-size="12" fill="#444">rows: from (source) · columns: to (destination)</text>"##
    );
    let lx = (width - 190.0).max(300.0);
    let _ = writeln!(
        s,
        r##"<rect x="{lx:.0}" y="38" width="12" height="12" fill="{ALLOW}"/><text x="{:.0}" y="48" {FONT} font-size="12" fill="#222">allowed</text>"##,
        lx + 16.0
    );
    let _ = writeln!(
        s,
        r##"<rect x="{:.0}" y="38" width="12" height="12" fill="{DENY}"/><text x="{:.0}" y="48" {FONT} font-size="12" fill="#222">denied</text>"##,
        lx + 90.0,
        lx + 106.0
    );

    for (k, m) in matrices.iter().enumerate() {
        let ox = 10.0 + panel_w * (k % per_row) as f64;
        let oy = 64.0 + panel_h * (k / per_row) as f64;
        let total = m.sources().len() * m.destinations().len();
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" {FONT} font-size="14" font-weight="bold" fill="#222">{}/{}  <tspan font-weight="normal" fill="#555">{} of {} allowed</tspan></text>"##,
            ox + 6.0,
            oy + 18.0,
            m.port(),
            m.protocol(),
            m.allowed_count(),
            total
        );
        let gx = ox + label_space;
        let gy = oy + 30.0 + label_space;
        let _ = writeln!(s, r#"<g>"#);
        for i in 0..m.sources().len() {
            for j in 0..m.destinations().len() {
                let allowed = m.get(i, j).is_some_and(|v| v.is_allowed());
                let gap = if cell >= 6.0 { 1.0 } else { 0.0 };
                let _ = write!(
                    s,
                    r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{} → {}: {}</title></rect>"#,
                    gx + j as f64 * cell,
                    gy + i as f64 * cell,
                    cell - gap,
                    cell - gap,
                    if allowed { ALLOW } else { DENY },
                    escape(names.get(i).map_or("", String::as_str)),
                    escape(names.get(j).map_or("", String::as_str)),
                    if allowed { "allowed" } else { "denied" }
                );
            }
            s.push('\n');
        }
        let _ = writeln!(s, "</g>");
        if labels {
            for (i, name) in names.iter().enumerate() {
                let y = gy + i as f64 * cell + cell / 2.0 + font * 0.35;
                let _ = writeln!(
                    s,
                    r##"<text x="{:.1}" y="{y:.1}" {FONT} font-size="{font:.1}" text-anchor="end" fill="#222">{}</text>"##,
                    gx - 5.0,
                    escape(name)
                );
                let x = gx + i as f64 * cell + cell / 2.0 + font * 0.35;
                let _ = writeln!(
                    s,
                    r##"<text x="{x:.1}" y="{:.1}" {FONT} font-size="{font:.1}" text-anchor="start" transform="rotate(-90 {x:.1} {:.1})" fill="#222">{}</text>"##,
                    gy - 5.0,
                    gy - 5.0,
                    escape(name)
                );
            }
        }
    }
    s.push_str("</svg>\n");
    s
}

/// An SVG grid of connections between named things (the connectivity map's workloads):
/// rows are sources, columns destinations, a green square where `cell(i, j)` gives the
/// allowed ports (shown as the square's tooltip), blank where nothing is allowed.
pub fn connections(
    title: &str,
    names: &[String],
    cell: &dyn Fn(usize, usize) -> Option<String>,
) -> String {
    let n = names.len().max(1);
    let cell_size = (720 / n).clamp(2, 22) as f64;
    let labels = cell_size >= 9.0;
    let font = (cell_size * 0.55).clamp(7.0, 12.0);
    let longest = names.iter().map(|s| s.chars().count()).max().unwrap_or(0) as f64;
    let label_space = if labels {
        longest * font * 0.62 + 8.0
    } else {
        4.0
    };
    let grid = cell_size * n as f64;
    let width = (label_space + grid + 40.0).max(420.0);
    let height = 90.0 + label_space + grid + 24.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}">"#
    );
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    let _ = writeln!(
        s,
        r##"<text x="16" y="26" {FONT} font-size="16" font-weight="bold" fill="#222">{}</text>"##,
        escape(title)
    );
    let _ = writeln!(
        s,
        r##"<text x="16" y="48" {FONT} font-size="12" fill="#444">rows: from (source) · columns: to (destination) · hover a square for its ports</text>"##
    );
    let gx = 20.0 + label_space;
    let gy = 70.0 + label_space;
    let _ = writeln!(
        s,
        r##"<rect x="{gx:.1}" y="{gy:.1}" width="{grid:.1}" height="{grid:.1}" fill="{DENY}" fill-opacity="0.25"/>"##
    );
    let gap = if cell_size >= 6.0 { 1.0 } else { 0.0 };
    let _ = writeln!(s, "<g>");
    for i in 0..names.len() {
        for j in 0..names.len() {
            if let Some(ports) = cell(i, j) {
                let _ = write!(
                    s,
                    r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{ALLOW}"><title>{} → {}: {}</title></rect>"#,
                    gx + j as f64 * cell_size,
                    gy + i as f64 * cell_size,
                    cell_size - gap,
                    cell_size - gap,
                    escape(names.get(i).map_or("", String::as_str)),
                    escape(names.get(j).map_or("", String::as_str)),
                    escape(&ports)
                );
            }
        }
        s.push('\n');
    }
    let _ = writeln!(s, "</g>");
    if labels {
        for (i, name) in names.iter().enumerate() {
            let y = gy + i as f64 * cell_size + cell_size / 2.0 + font * 0.35;
            let _ = writeln!(
                s,
                r##"<text x="{:.1}" y="{y:.1}" {FONT} font-size="{font:.1}" text-anchor="end" fill="#222">{}</text>"##,
                gx - 5.0,
                escape(name)
            );
            let x = gx + i as f64 * cell_size + cell_size / 2.0 + font * 0.35;
            let _ = writeln!(
                s,
                r##"<text x="{x:.1}" y="{:.1}" {FONT} font-size="{font:.1}" text-anchor="start" transform="rotate(-90 {x:.1} {:.1})" fill="#222">{}</text>"##,
                gy - 5.0,
                gy - 5.0,
                escape(name)
            );
        }
    }
    s.push_str("</svg>\n");
    s
}
