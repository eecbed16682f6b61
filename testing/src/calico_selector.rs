//! Calico selector case files (see the conformance FORMAT.md, "Calico selector cases"):
//! included by the conformance runner (`run.rs`) and by `tests/calico_selector_cases.rs`.
//!
//! ```json
//! {"calicoSelectors": [
//!    {"selector": "a == 'b' && has(c)", "matches": [{"a": "b", "c": ""}],
//!     "noMatches": [{"a": "b"}], "canonical": "(a == \"b\" && has(c))"}],
//!  "calicoBadSelectors": ["a == ", "has("]}
//! ```
//!
//! Each case counts once: a good one passes when it parses, matches every label set of
//! `matches`, none of `noMatches`, and prints as `canonical` (when given); a bad one
//! passes when it is refused. Other keys (`description`, a case's `description` or
//! `source`) are ignored; a bad selector may also be written `{"selector": "..."}`.

use netpol::calico::selector::{ParseError, Selector, parse};
use serde_json::{Map, Value, json};
use std::io::Write;

/// How many cases of a file passed and failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SelectorOutcome {
    /// Cases that held.
    pub passed: usize,
    /// Cases that did not, or were malformed.
    pub failed: usize,
}

/// True when `v` is a selector case file: an object holding `calicoSelectors` or
/// `calicoBadSelectors`.
pub fn is_selector_file(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|o| o.contains_key("calicoSelectors") || o.contains_key("calicoBadSelectors"))
}

fn error_json(e: &ParseError) -> Value {
    json!({"position": e.position(), "found": e.found(), "expected": e.expected(),
           "message": e.to_string()})
}

/// A label set of the file: a JSON object of strings.
fn labels(v: &Value) -> Result<Vec<(&str, &str)>, String> {
    let Some(obj) = v.as_object() else {
        return Err(format!("label set {v} is not an object"));
    };
    obj.iter()
        .map(|(k, v)| match v.as_str() {
            Some(s) => Ok((k.as_str(), s)),
            None => Err(format!("label {k:?} has a value that is not a string: {v}")),
        })
        .collect()
}

fn label_sets<'a>(case: &'a Map<String, Value>, key: &str) -> Result<Vec<&'a Value>, String> {
    match case.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items.iter().collect()),
        Some(other) => Err(format!("`{key}` is not an array: {other}")),
    }
}

/// Checks one good case; returns the parse result and what differed.
fn check_good(
    case: &Value,
) -> (
    Option<String>,
    Option<Result<Selector, ParseError>>,
    Vec<String>,
) {
    let Some(obj) = case.as_object() else {
        return (
            None,
            None,
            vec![format!("malformed case: not an object: {case}")],
        );
    };
    let Some(text) = obj.get("selector").and_then(Value::as_str) else {
        return (
            None,
            None,
            vec!["malformed case: needs a string `selector`".to_owned()],
        );
    };
    let parsed = parse(text);
    let mut problems = Vec::new();
    match &parsed {
        Err(e) => problems.push(format!("refused: {e}")),
        Ok(sel) => {
            for (key, want) in [("matches", true), ("noMatches", false)] {
                let sets = match label_sets(obj, key) {
                    Ok(s) => s,
                    Err(e) => {
                        problems.push(format!("malformed case: {e}"));
                        continue;
                    }
                };
                for set in sets {
                    match labels(set) {
                        Err(e) => problems.push(format!("malformed case: {e}")),
                        Ok(l) if sel.matches(l.as_slice()) != want => problems.push(format!(
                            "{} {set}",
                            if want { "does not match" } else { "matches" }
                        )),
                        Ok(_) => {}
                    }
                }
            }
            match obj.get("canonical") {
                None | Some(Value::Null) => {}
                Some(Value::String(c)) => {
                    let got = sel.to_string();
                    if got != *c {
                        problems.push(format!("canonical form {got:?}, expected {c:?}"));
                    }
                }
                Some(other) => problems.push(format!(
                    "malformed case: `canonical` is not a string: {other}"
                )),
            }
        }
    }
    (Some(text.to_owned()), Some(parsed), problems)
}

/// Checks one bad case: it must be refused.
fn check_bad(
    case: &Value,
) -> (
    Option<String>,
    Option<Result<Selector, ParseError>>,
    Vec<String>,
) {
    let text = case
        .as_str()
        .or_else(|| case.get("selector").and_then(Value::as_str));
    let Some(text) = text else {
        return (
            None,
            None,
            vec![format!(
                "malformed case: a bad selector is a string (or {{\"selector\": ...}}), not {case}"
            )],
        );
    };
    let parsed = parse(text);
    let problems = match &parsed {
        Ok(sel) => vec![format!("accepted, as {:?}", sel.to_string())],
        Err(_) => Vec::new(),
    };
    (Some(text.to_owned()), Some(parsed), problems)
}

/// Runs every case of a selector file; `file` is the name to print.
///
/// Without `json`, writes one line per failing case:
/// `FILE: calicoSelectors[I] "SELECTOR": what differed; …`. With `json`, one object per
/// case, in file order, good cases first:
/// `{"file", "case": "calicoSelectors[I]" | "calicoBadSelectors[I]", "selector",
///   "ok": bool, "expect": "accepted" | "refused", "canonical": string | null,
///   "error": {"position", "found", "expected", "message"} | null, "problems": [string]}`
/// where `canonical` and `error` are this crate's answer and `problems` what differed.
pub fn run_selector_file(
    file: &str,
    v: &Value,
    json: bool,
    out: &mut dyn Write,
) -> std::io::Result<SelectorOutcome> {
    let mut outcome = SelectorOutcome::default();
    for (list, good) in [("calicoSelectors", true), ("calicoBadSelectors", false)] {
        let cases: &[Value] = match v.get(list) {
            None => &[],
            Some(Value::Array(items)) => items,
            Some(other) => {
                outcome.failed += 1;
                let msg = format!("malformed file: `{list}` is not an array: {other}");
                if json {
                    let line = json!({"file": file, "case": list, "selector": null, "ok": false,
                        "expect": null, "canonical": null, "error": null, "problems": [msg]});
                    writeln!(out, "{line}")?;
                } else {
                    writeln!(out, "{file}: {msg}")?;
                }
                continue;
            }
        };
        for (index, case) in cases.iter().enumerate() {
            let (text, parsed, problems) = if good {
                check_good(case)
            } else {
                check_bad(case)
            };
            let ok = problems.is_empty();
            if ok {
                outcome.passed += 1;
            } else {
                outcome.failed += 1;
            }
            let label = format!("{list}[{index}]");
            if json {
                let (canonical, error) = match &parsed {
                    Some(Ok(sel)) => (json!(sel.to_string()), Value::Null),
                    Some(Err(e)) => (Value::Null, error_json(e)),
                    None => (Value::Null, Value::Null),
                };
                let line = json!({"file": file, "case": label, "selector": text, "ok": ok,
                    "expect": if good { "accepted" } else { "refused" },
                    "canonical": canonical, "error": error, "problems": problems});
                writeln!(out, "{line}")?;
            } else if !ok {
                let shown = text.map(|t| format!(" {t:?}")).unwrap_or_default();
                writeln!(out, "{file}: {label}{shown}: {}", problems.join("; "))?;
            }
        }
    }
    Ok(outcome)
}
