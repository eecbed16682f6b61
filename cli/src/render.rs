//! Text and JSON renderings of a reachability matrix and of the Service tables.

use std::fmt::Write as _;

use netpol::engine::Matrix;
use netpol::service::Reachability;

use crate::services::Grid;

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

const YELLOW: &str = "\x1b[33m";

/// Service column names longer than this get numbered headers.
const MAX_SERVICE_HEADER: usize = 14;

/// The mark for a Service cell: `✓` every endpoint reachable, `◐` some, `✗` none, `–`
/// no endpoint (green, yellow, red and dim with colour).
pub fn reach_mark(r: Reachability, colour: bool) -> String {
    let (text, code) = match r {
        Reachability::All => ("✓", GREEN),
        Reachability::Some => ("◐", YELLOW),
        Reachability::None => ("✗", RED),
        Reachability::NoEndpoints => ("–", DIM),
    };
    if colour {
        format!("{code}{text}{RESET}")
    } else {
        text.to_owned()
    }
}

/// The legend line of the Service tables.
pub fn reach_legend(colour: bool) -> String {
    format!(
        "{} = every endpoint reachable, {} = some, {} = none, {} = no endpoints",
        reach_mark(Reachability::All, colour),
        reach_mark(Reachability::Some, colour),
        reach_mark(Reachability::None, colour),
        reach_mark(Reachability::NoEndpoints, colour),
    )
}

/// The Service tables as one table: a row per source, a column per (Service, Service
/// port) headed by the Service and the port, then per column the counts and the
/// endpoints (pod and the port it receives on) or why there are none.
pub fn service_tables(grids: &[Grid], names: &[String], colour: bool) -> String {
    let mut out = String::new();
    let (b, r) = if colour { (BOLD, RESET) } else { ("", "") };
    let (d, dr) = if colour { (DIM, RESET) } else { ("", "") };
    // (grid, column) pairs in port order, then input order.
    let columns: Vec<(&Grid, usize)> = grids
        .iter()
        .flat_map(|g| (0..g.columns.len()).map(move |j| (g, j)))
        .collect();
    let numbered = columns
        .iter()
        .any(|(g, j)| g.columns[*j].service.chars().count() > MAX_SERVICE_HEADER);
    let heads: Vec<(String, String)> = columns
        .iter()
        .enumerate()
        .map(|(k, (g, j))| {
            let name = if numbered {
                format!("#{}", k + 1)
            } else {
                g.columns[*j].service.clone()
            };
            (name, format!("{}/{}", g.port, g.protocol))
        })
        .collect();
    let widths: Vec<usize> = heads
        .iter()
        .map(|(a, p)| a.chars().count().max(p.chars().count()))
        .collect();
    let lead = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    for line in 0..2 {
        let _ = write!(out, "{:lead$}", "");
        for ((name, port), w) in heads.iter().zip(&widths) {
            let text = if line == 0 { name } else { port };
            let _ = write!(out, " {b}{text:^w$}{r}");
        }
        let trimmed = out.trim_end_matches(' ').len();
        out.truncate(trimmed);
        out.push('\n');
    }
    for (i, name) in names.iter().enumerate() {
        let _ = write!(out, "{b}{name:<lead$}{r}");
        for ((g, j), w) in columns.iter().zip(&widths) {
            let reach = g
                .cells
                .get(i)
                .and_then(|row| row.get(*j))
                .map_or(Reachability::NoEndpoints, |c| c.reachability);
            let left = w.saturating_sub(1) / 2;
            let right = w.saturating_sub(1) - left;
            let _ = write!(
                out,
                " {:left$}{}{:right$}",
                "",
                reach_mark(reach, colour),
                ""
            );
        }
        let trimmed = out.trim_end_matches(' ').len();
        out.truncate(trimmed);
        out.push('\n');
    }
    let labels: Vec<String> = columns
        .iter()
        .zip(&heads)
        .map(|((g, j), (head, port))| {
            let service = &g.columns[*j].service;
            if numbered {
                format!("{head} {service} {port}")
            } else {
                format!("{service} {port}")
            }
        })
        .collect();
    let width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    for ((g, j), label) in columns.iter().zip(&labels) {
        let c = &g.columns[*j];
        let counts = |want: Reachability| {
            g.cells
                .iter()
                .filter(|row| row.get(*j).is_some_and(|c| c.reachability == want))
                .count()
        };
        let what = match &c.no_endpoints {
            Some(why) => format!("no endpoints: {why}"),
            None => {
                let list: Vec<String> = c
                    .endpoints
                    .iter()
                    .map(|e| format!("{}:{}", e.pod, e.target_port))
                    .collect();
                let target = if c.target_port == "unchanged" {
                    "headless, port unchanged".to_owned()
                } else {
                    format!("targetPort {}", c.target_port)
                };
                format!(
                    "{target} -> {}; {} all, {} some, {} none",
                    list.join(", "),
                    counts(Reachability::All),
                    counts(Reachability::Some),
                    counts(Reachability::None),
                )
            }
        };
        let _ = writeln!(out, "{d}  {label:<width$}  {what}{dr}");
    }
    out
}

/// A Service grid as JSON: port, protocol, the Services with their endpoints, and per
/// source a cell per Service with its reachability and each endpoint's verdict.
pub fn grid_json(g: &Grid, names: &[String]) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = names
        .iter()
        .zip(&g.cells)
        .map(|(name, row)| {
            let cells: Vec<serde_json::Value> = row
                .iter()
                .zip(&g.columns)
                .map(|(cell, col)| {
                    let endpoints: serde_json::Map<String, serde_json::Value> = col
                        .endpoints
                        .iter()
                        .zip(&cell.endpoints)
                        .map(|(e, v)| (e.pod.clone(), serde_json::json!(v)))
                        .collect();
                    serde_json::json!({
                        "service": col.service,
                        "reachability": cell.reachability,
                        "endpoints": endpoints,
                    })
                })
                .collect();
            serde_json::json!({"from": name, "services": cells})
        })
        .collect();
    serde_json::json!({
        "port": g.port,
        "protocol": g.protocol,
        "services": g.columns,
        "counts": {
            "all": g.count(Reachability::All),
            "some": g.count(Reachability::Some),
            "none": g.count(Reachability::None),
            "noEndpoints": g.count(Reachability::NoEndpoints),
        },
        "rows": rows,
    })
}
