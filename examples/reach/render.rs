//! Text and JSON renderings of a reachability matrix.

use std::fmt::Write as _;

use netpol::engine::Matrix;

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

/// Names longer than this get numbered columns instead of name headers.
const MAX_HEADER: usize = 8;

/// The truth table of one matrix: a header line with the port and counts, a row per
/// source, a column per destination, `✓` allowed and `✗` denied (green and red with
/// colour). Columns are headed by the destination names when those are short, else by
/// row numbers.
pub fn table(m: &Matrix, names: &[String], colour: bool) -> String {
    let total = m.sources().len() * m.destinations().len();
    let mut out = String::new();
    let (b, r) = if colour { (BOLD, RESET) } else { ("", "") };
    let _ = writeln!(
        out,
        "{b}{}/{}{r}: {} of {} allowed ({} = allowed, {} = denied)",
        m.port(),
        m.protocol(),
        m.allowed_count(),
        total,
        mark(true, colour),
        mark(false, colour),
    );
    let numbered = names.iter().any(|n| n.chars().count() > MAX_HEADER);
    let row_width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let number_width = names.len().to_string().len();
    let cell = if numbered {
        number_width
    } else {
        names.iter().map(|n| n.chars().count()).max().unwrap_or(1)
    };
    let lead = if numbered {
        number_width + 1 + row_width
    } else {
        row_width
    };
    // Header.
    let (d, r) = if colour { (DIM, RESET) } else { ("", "") };
    let _ = write!(out, "{d}{:lead$}{r}", "");
    for (j, name) in names.iter().enumerate() {
        let head = if numbered {
            (j + 1).to_string()
        } else {
            name.clone()
        };
        let _ = write!(
            out,
            " {b}{head:^cell$}{r}",
            b = if colour { BOLD } else { "" }
        );
    }
    out.push('\n');
    for (i, name) in names.iter().enumerate() {
        if numbered {
            let _ = write!(out, "{:>number_width$} {name:<row_width$}", i + 1);
        } else {
            let _ = write!(
                out,
                "{b}{name:<row_width$}{r}",
                b = if colour { BOLD } else { "" }
            );
        }
        for j in 0..names.len() {
            let allowed = m.get(i, j).is_some_and(|v| v.is_allowed());
            let pad = cell.saturating_sub(1);
            let left = pad / 2;
            let right = pad - left;
            let _ = write!(out, " {:left$}{}{:right$}", "", mark(allowed, colour), "");
        }
        let trimmed = out.trim_end_matches(' ').len();
        out.truncate(trimmed);
        out.push('\n');
    }
    out
}

fn mark(allowed: bool, colour: bool) -> String {
    match (allowed, colour) {
        (true, false) => "✓".into(),
        (false, false) => "✗".into(),
        (true, true) => format!("{GREEN}✓{RESET}"),
        (false, true) => format!("{RED}✗{RESET}"),
    }
}

/// The matrix as JSON: port, protocol, counts and a row of booleans per source.
pub fn matrix_json(m: &Matrix) -> serde_json::Value {
    let rows: Vec<Vec<bool>> = (0..m.sources().len())
        .map(|i| {
            (0..m.destinations().len())
                .map(|j| m.get(i, j).is_some_and(|v| v.is_allowed()))
                .collect()
        })
        .collect();
    serde_json::json!({
        "port": m.port(),
        "protocol": m.protocol(),
        "allowedCount": m.allowed_count(),
        "pairs": m.sources().len() * m.destinations().len(),
        "allowed": rows,
    })
}
