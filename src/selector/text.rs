//! The kubectl string syntax for label selectors: `app=web,env in (a,b),!legacy`.
//!
//! [`parse`] reads the syntax of apimachinery's `labels.Parse` (what `kubectl -l` accepts)
//! into a written [`LabelSelector`]; [`format()`] prints a selector the way
//! `metav1.FormatLabelSelector` does (what `kubectl describe` shows).
//!
//! See [`parse`] for the syntax and [`format()`] for how selectors are printed.
//!
//! ```
//! use netpol::selector::{format, parse};
//!
//! let sel = parse("tier in (web, api), env != prod,!legacy,app = shop")?;
//! assert_eq!(format(&sel), "app=shop,env notin (prod),!legacy,tier in (api,web)");
//! // Printing sorts by key; parsing the print gives the selector in that order.
//! let again = parse(&format(&sel))?;
//! assert_eq!(again.match_expressions.as_ref().unwrap()[0].key(), "env");
//! assert_eq!(format(&again), format(&sel));
//! assert_eq!(format(&parse("")?), "<none>");
//!
//! let err = parse("app in web").unwrap_err();
//! assert_eq!(err.position, 7);
//! assert_eq!(err.to_string(), "found \"web\" at byte 7, expected '('");
//! # Ok::<(), netpol::selector::ParseError>(())
//! ```

use crate::model::{LabelSelector, LabelSelectorRequirement, Labels};
use crate::validate::{is_qualified_name, is_valid_label_value, quote, validate_label_selector};

/// A selector string that could not be parsed: where, what was found, what was expected.
///
/// `position` is the byte offset of the offending text in the input (its length when the
/// input ended too early); `found` is that text (empty at the end of the input);
/// `expected` says what would have fitted, for syntax errors; `key` names the key of a bad
/// value; `reasons` holds upstream's validation messages for a bad key or value (empty
/// for syntax errors and for the refused `>`/`<`). `message` is the whole explanation, in
/// lowercase, as `Display` prints it.
///
/// ```
/// let err = netpol::selector::parse("env notin (a b)").unwrap_err();
/// assert_eq!((err.position, err.found.as_str()), (13, "b"));
/// assert_eq!(err.expected, Some("',' or ')'"));
/// assert_eq!(err.to_string(), "found \"b\" at byte 13, expected ',' or ')'");
///
/// let err = netpol::selector::parse("app=").map(|_| ()).unwrap_or(());
/// assert_eq!(err, ()); // an empty value is allowed
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{message}")]
#[non_exhaustive]
pub struct ParseError {
    /// The whole explanation.
    pub message: String,
    /// Byte offset of the offending text.
    pub position: usize,
    /// The offending text; empty for the end of the input.
    pub found: String,
    /// What would have fitted (syntax errors only).
    pub expected: Option<&'static str>,
    /// The label key a bad value belongs to (invalid values only).
    pub key: Option<String>,
    /// Why a key or value is invalid, in upstream's words.
    pub reasons: Vec<String>,
}

fn shown(found: &str) -> String {
    if found.is_empty() {
        "end of string".to_owned()
    } else {
        quote(found)
    }
}

impl ParseError {
    fn syntax(item: &Item, expected: &'static str) -> Self {
        ParseError {
            message: format!(
                "found {} at byte {}, expected {expected}",
                shown(&item.lit),
                item.pos
            ),
            position: item.pos,
            found: item.lit.clone(),
            expected: Some(expected),
            key: None,
            reasons: Vec::new(),
        }
    }

    fn invalid_key(item: &Item, reasons: Vec<String>) -> Self {
        ParseError {
            message: format!(
                "invalid label key {} at byte {}: {}",
                quote(&item.lit),
                item.pos,
                reasons.join("; ")
            ),
            position: item.pos,
            found: item.lit.clone(),
            expected: None,
            key: None,
            reasons,
        }
    }

    fn invalid_value(key: &str, item: &Item, reasons: Vec<String>) -> Self {
        ParseError {
            message: format!(
                "invalid value {} for key {} at byte {}: {}",
                quote(&item.lit),
                quote(key),
                item.pos,
                reasons.join("; ")
            ),
            position: item.pos,
            found: item.lit.clone(),
            expected: None,
            key: Some(key.to_owned()),
            reasons,
        }
    }

    fn unsupported(op: &Item) -> Self {
        ParseError {
            message: format!(
                "operator {} at byte {} is not supported in label selectors",
                quote(&op.lit),
                op.pos
            ),
            position: op.pos,
            found: op.lit.clone(),
            expected: None,
            key: None,
            reasons: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    End,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Ident,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

#[derive(Debug, Clone)]
struct Item {
    tok: Tok,
    lit: String,
    pos: usize,
}

fn is_whitespace(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn keyword(s: &[u8]) -> Option<Tok> {
    Some(match s {
        b")" => Tok::ClosedPar,
        b"," => Tok::Comma,
        b"!" => Tok::DoesNotExist,
        b"==" => Tok::DoubleEquals,
        b"=" => Tok::Equals,
        b">" => Tok::GreaterThan,
        b"in" => Tok::In,
        b"<" => Tok::LessThan,
        b"!=" => Tok::NotEquals,
        b"notin" => Tok::NotIn,
        b"(" => Tok::OpenPar,
        _ => return None,
    })
}

/// upstream's lexer, byte for byte: it reads a NUL byte as the end of the string.
struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Lexer<'_> {
    fn read(&mut self) -> u8 {
        match self.s.get(self.pos) {
            Some(c) => {
                self.pos += 1;
                *c
            }
            None => 0,
        }
    }

    fn unread(&mut self) {
        self.pos = self.pos.saturating_sub(1);
    }

    fn text(&self, from: usize, to: usize) -> String {
        String::from_utf8_lossy(self.s.get(from..to).unwrap_or(&[])).into_owned()
    }

    fn lex(&mut self) -> Item {
        let mut ch = self.read();
        while is_whitespace(ch) {
            ch = self.read();
        }
        if ch == 0 {
            return Item {
                tok: Tok::End,
                lit: String::new(),
                pos: self.s.len(),
            };
        }
        self.unread();
        let start = self.pos;
        if is_special(ch) {
            let mut last: Option<(Tok, usize)> = None;
            loop {
                let c = self.read();
                if c == 0 {
                    break;
                }
                if !is_special(c) {
                    self.unread();
                    break;
                }
                match self.s.get(start..self.pos).and_then(keyword) {
                    Some(t) => last = Some((t, self.pos)),
                    None if last.is_some() => {
                        self.unread();
                        break;
                    }
                    None => {}
                }
            }
            // Every special character alone is a token, so `last` is always set here.
            let (tok, end) = last.unwrap_or((Tok::End, start));
            Item {
                tok,
                lit: self.text(start, end),
                pos: start,
            }
        } else {
            let mut end;
            loop {
                end = self.pos;
                let c = self.read();
                if c == 0 {
                    break;
                }
                if is_special(c) || is_whitespace(c) {
                    self.unread();
                    break;
                }
            }
            let bytes = self.s.get(start..end).unwrap_or(&[]);
            Item {
                tok: keyword(bytes).unwrap_or(Tok::Ident),
                lit: self.text(start, end),
                pos: start,
            }
        }
    }
}

/// One parsed requirement, before it is placed in a [`LabelSelector`].
enum Req {
    Exists(String),
    DoesNotExist(String),
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

struct Parser {
    items: Vec<Item>,
    at: usize,
    /// The first `>` or `<`: refused once the whole text has parsed.
    unsupported: Option<Item>,
}

/// Whether a token is read as it stands or, where a key or value is expected, with `in`
/// and `notin` taken as plain words.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    KeyAndOperator,
    Values,
}

const EXPECT_OPERATOR: &str = "one of: in, notin, =, ==, !=";

impl Parser {
    fn item(&self, i: usize, ctx: Ctx) -> Item {
        let mut it = self.items.get(i).cloned().unwrap_or(Item {
            tok: Tok::End,
            lit: String::new(),
            pos: self.items.last().map_or(0, |l| l.pos),
        });
        if ctx == Ctx::Values && matches!(it.tok, Tok::In | Tok::NotIn) {
            it.tok = Tok::Ident;
        }
        it
    }

    fn lookahead(&self, ctx: Ctx) -> Item {
        self.item(self.at, ctx)
    }

    fn consume(&mut self, ctx: Ctx) -> Item {
        let it = self.item(self.at, ctx);
        if self.at < self.items.len() {
            self.at += 1;
        }
        it
    }

    fn parse(&mut self) -> Result<Vec<Req>, ParseError> {
        let mut reqs = Vec::new();
        loop {
            let next = self.lookahead(Ctx::Values);
            match next.tok {
                Tok::Ident | Tok::DoesNotExist => {
                    if let Some(r) = self.requirement()? {
                        reqs.push(r);
                    }
                    let after = self.consume(Ctx::Values);
                    match after.tok {
                        Tok::End => return Ok(reqs),
                        Tok::Comma => {
                            let n = self.lookahead(Ctx::Values);
                            if !matches!(n.tok, Tok::Ident | Tok::DoesNotExist) {
                                return Err(ParseError::syntax(&n, "'!' or a label key after ','"));
                            }
                        }
                        _ => return Err(ParseError::syntax(&after, "',' or end of string")),
                    }
                }
                Tok::End => return Ok(reqs),
                _ => {
                    return Err(ParseError::syntax(
                        &next,
                        "'!', a label key, or end of string",
                    ));
                }
            }
        }
    }

    /// One requirement; `None` for `>`/`<`, which are remembered and refused later.
    fn requirement(&mut self) -> Result<Option<Req>, ParseError> {
        let mut first = self.consume(Ctx::Values);
        let negated = first.tok == Tok::DoesNotExist;
        if negated {
            first = self.consume(Ctx::Values);
        }
        if first.tok != Tok::Ident {
            return Err(ParseError::syntax(&first, "a label key"));
        }
        let reasons = is_qualified_name(&first.lit);
        if !reasons.is_empty() {
            return Err(ParseError::invalid_key(&first, reasons));
        }
        let key = first.lit;
        let next = self.lookahead(Ctx::Values);
        if negated {
            return Ok(Some(Req::DoesNotExist(key)));
        }
        if matches!(next.tok, Tok::End | Tok::Comma) {
            return Ok(Some(Req::Exists(key)));
        }
        let op = self.consume(Ctx::KeyAndOperator);
        let req = match op.tok {
            Tok::In | Tok::NotIn => {
                let values = self.values()?;
                let mut list: Vec<&Item> = values.iter().collect();
                list.sort_by(|a, b| a.lit.cmp(&b.lit));
                list.dedup_by(|a, b| a.lit == b.lit);
                for v in &list {
                    check_value(&key, v)?;
                }
                let list: Vec<String> = list.into_iter().map(|v| v.lit.clone()).collect();
                if op.tok == Tok::In {
                    Req::In(key, list)
                } else {
                    Req::NotIn(key, list)
                }
            }
            Tok::Equals | Tok::DoubleEquals | Tok::NotEquals => {
                let v = self.exact_value()?;
                check_value(&key, &v)?;
                if op.tok == Tok::NotEquals {
                    Req::NotEquals(key, v.lit)
                } else {
                    Req::Equals(key, v.lit)
                }
            }
            Tok::GreaterThan | Tok::LessThan => {
                let v = self.exact_value()?;
                check_value(&key, &v)?;
                if !is_go_int64(&v.lit) {
                    return Err(ParseError::invalid_value(
                        &key,
                        &v,
                        vec!["for 'Gt', 'Lt' operators, the value must be an integer".to_owned()],
                    ));
                }
                if self.unsupported.is_none() {
                    self.unsupported = Some(op);
                }
                return Ok(None);
            }
            _ => return Err(ParseError::syntax(&op, EXPECT_OPERATOR)),
        };
        Ok(Some(req))
    }

    /// `( v1, v2 )` after `in` / `notin`; an empty entry is the empty value.
    fn values(&mut self) -> Result<Vec<Item>, ParseError> {
        let open = self.consume(Ctx::Values);
        if open.tok != Tok::OpenPar {
            return Err(ParseError::syntax(&open, "'('"));
        }
        let next = self.lookahead(Ctx::Values);
        let empty_at = |it: &Item| Item {
            tok: Tok::Ident,
            lit: String::new(),
            pos: it.pos,
        };
        match next.tok {
            Tok::Ident | Tok::Comma => {
                let mut out: Vec<Item> = Vec::new();
                loop {
                    let it = self.consume(Ctx::Values);
                    match it.tok {
                        Tok::Ident => {
                            out.push(it);
                            let n = self.lookahead(Ctx::Values);
                            match n.tok {
                                Tok::Comma => continue,
                                Tok::ClosedPar => break,
                                _ => return Err(ParseError::syntax(&n, "',' or ')'")),
                            }
                        }
                        Tok::Comma => {
                            if out.is_empty() {
                                out.push(empty_at(&it));
                            }
                            let n = self.lookahead(Ctx::Values);
                            if n.tok == Tok::ClosedPar {
                                out.push(empty_at(&n));
                                break;
                            }
                            if n.tok == Tok::Comma {
                                self.consume(Ctx::Values);
                                out.push(empty_at(&n));
                            }
                        }
                        _ => return Err(ParseError::syntax(&it, "',' or a value")),
                    }
                }
                self.consume(Ctx::Values);
                Ok(out)
            }
            Tok::ClosedPar => {
                self.consume(Ctx::Values);
                Ok(vec![empty_at(&next)])
            }
            _ => Err(ParseError::syntax(&next, "',', ')' or a value")),
        }
    }

    /// The value after `=`, `==`, `!=`; nothing before `,` or the end is the empty value.
    fn exact_value(&mut self) -> Result<Item, ParseError> {
        let next = self.lookahead(Ctx::Values);
        if matches!(next.tok, Tok::End | Tok::Comma) {
            return Ok(Item {
                tok: Tok::Ident,
                lit: String::new(),
                pos: next.pos,
            });
        }
        let v = self.consume(Ctx::Values);
        if v.tok == Tok::Ident {
            Ok(v)
        } else {
            Err(ParseError::syntax(&v, "a value"))
        }
    }
}

fn check_value(key: &str, v: &Item) -> Result<(), ParseError> {
    let reasons = is_valid_label_value(&v.lit);
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(ParseError::invalid_value(key, v, reasons))
    }
}

/// Go's `strconv.ParseInt(s, 10, 64)` succeeds.
fn is_go_int64(s: &str) -> bool {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) && s.parse::<i64>().is_ok()
}

/// Parses the kubectl selector syntax into a written selector.
///
///
/// A selector is requirements separated by `,`, all of which must hold; the empty string
/// (or only whitespace) selects everything. Each requirement is one of
///
/// | text | meaning | parsed into |
/// |---|---|---|
/// | `key=value`, `key==value` | the label equals `value` | `matchLabels` |
/// | `key!=value` | the label is absent or differs | `NotIn` with one value |
/// | `key in (v1,v2)` | the label is one of the values | `In` |
/// | `key notin (v1,v2)` | the label is absent or none of the values | `NotIn` |
/// | `key` | the label is present | `Exists` |
/// | `!key` | the label is absent | `DoesNotExist` |
///
/// Whitespace (space, tab, CR, LF) may surround every token; a keyword or value ends at
/// whitespace or at one of `=`, `!`, `(`, `)`, `,`, `<`, `>`. Keys must be qualified names
/// and values label values ([`crate::validate::is_qualified_name`],
/// [`crate::validate::is_valid_label_value`]). An empty value is allowed: `key=`,
/// `key in ()`, `key in (,a)`. `in` and `notin` may be keys or values where a key or value
/// is expected. Value lists are sorted and deduplicated, as upstream does. `key>1` and
/// `key<1` parse upstream but have no `metav1.LabelSelector` form, so they are refused,
/// as `metav1.ParseToLabelSelector` refuses them.
///
/// Two choices go beyond upstream's `ParseToLabelSelector`: `!=` becomes `NotIn` with one
/// value (upstream refuses it there), and a second `=` on a key already in `matchLabels`
/// with a different value becomes an `In` expression, so that `a=1,a=2` keeps meaning
/// "both" (it matches nothing) instead of the last one winning.
///
/// `=`/`==` terms go to `matchLabels`; every other term becomes a `matchExpressions` entry,
/// in the order written. Fields with no entries are left out (`None`), so `""` gives
/// `LabelSelector::default()`, which selects everything.
///
/// ```
/// use netpol::model::{LabelSelector, LabelSelectorRequirement};
/// let sel = netpol::selector::parse("app=web, tier!=db, !legacy")?;
/// assert_eq!(sel, LabelSelector {
///     match_labels: Some([("app".to_string(), "web".to_string())].into()),
///     match_expressions: Some(vec![
///         LabelSelectorRequirement::new("tier", "NotIn", ["db"]),
///         LabelSelectorRequirement::new("legacy", "DoesNotExist", Vec::<String>::new()),
///     ]),
/// });
/// assert_eq!(netpol::selector::parse("  ")?, LabelSelector::default());
/// # Ok::<(), netpol::selector::ParseError>(())
/// ```
pub fn parse(text: &str) -> Result<LabelSelector, ParseError> {
    let reqs = parse_reqs(text)?;
    let mut labels = Labels::new();
    let mut exprs = Vec::new();
    for r in reqs {
        match r {
            Req::Equals(k, v) => match labels.get(&k) {
                None => {
                    labels.insert(k, v);
                }
                Some(existing) if *existing == v => {}
                Some(_) => exprs.push(LabelSelectorRequirement::new(k, "In", [v])),
            },
            Req::NotEquals(k, v) => exprs.push(LabelSelectorRequirement::new(k, "NotIn", [v])),
            Req::In(k, vs) => exprs.push(LabelSelectorRequirement::new(k, "In", vs)),
            Req::NotIn(k, vs) => exprs.push(LabelSelectorRequirement::new(k, "NotIn", vs)),
            Req::Exists(k) => exprs.push(LabelSelectorRequirement::new(
                k,
                "Exists",
                Vec::<String>::new(),
            )),
            Req::DoesNotExist(k) => exprs.push(LabelSelectorRequirement::new(
                k,
                "DoesNotExist",
                Vec::<String>::new(),
            )),
        }
    }
    Ok(LabelSelector {
        match_labels: (!labels.is_empty()).then_some(labels),
        match_expressions: (!exprs.is_empty()).then_some(exprs),
    })
}

/// The selector syntax as compiled requirements, in the order written (what
/// [`Selector`](super::Selector)'s `FromStr` gives): `key=value` is `In` with that value,
/// `key!=value` `NotIn` with it.
pub(crate) fn parse_requirements(text: &str) -> Result<Vec<super::Requirement>, ParseError> {
    use super::{Operator, Requirement};
    Ok(parse_reqs(text)?
        .into_iter()
        .map(|r| match r {
            Req::Equals(key, v) => Requirement {
                key,
                op: Operator::In(vec![v]),
            },
            Req::NotEquals(key, v) => Requirement {
                key,
                op: Operator::NotIn(vec![v]),
            },
            Req::In(key, vs) => Requirement {
                key,
                op: Operator::In(vs),
            },
            Req::NotIn(key, vs) => Requirement {
                key,
                op: Operator::NotIn(vs),
            },
            Req::Exists(key) => Requirement {
                key,
                op: Operator::Exists,
            },
            Req::DoesNotExist(key) => Requirement {
                key,
                op: Operator::DoesNotExist,
            },
        })
        .collect())
}

/// Lexes and parses the whole text into requirements, refusing `>` and `<`.
fn parse_reqs(text: &str) -> Result<Vec<Req>, ParseError> {
    let mut lexer = Lexer {
        s: text.as_bytes(),
        pos: 0,
    };
    let mut items = Vec::new();
    loop {
        let it = lexer.lex();
        let end = it.tok == Tok::End;
        items.push(it);
        if end {
            break;
        }
    }
    let mut parser = Parser {
        items,
        at: 0,
        unsupported: None,
    };
    let reqs = parser.parse()?;
    if let Some(op) = parser.unsupported {
        return Err(ParseError::unsupported(&op));
    }
    Ok(reqs)
}

/// Prints a selector as `metav1.FormatLabelSelector` does.
///
/// [`format()`] prints `<none>` for a selector with no terms (`kubectl`'s text for "no
/// selector", which is not selector syntax: [`parse`] refuses it), `<error>` for a selector
/// that would fail validation, and otherwise the requirements sorted by key (stable),
/// `matchLabels` first: `key=value`, `key in (a,b)`, `key notin (a)`, `key`, `!key`, with
/// each value list sorted. One deliberate difference: duplicate values are printed once
/// (upstream prints them as written, and `key in (,,)` from three empty values is text its
/// own parser refuses). For every selector that formats to neither `<none>` nor
/// `<error>`, `parse(&format(s))` is `s` up to that normal form.
///
/// [`Selector`](crate::selector::Selector)'s `Display` prints a compiled selector instead: `matchLabels`
/// are already folded into `In`, so it writes `In`/`NotIn` with one value as `key=value` /
/// `key!=value`, keeps the compiled order, and prints the empty string for "everything".
/// Both texts parse back to selectors that match the same objects.
///
/// ```
/// use netpol::model::{LabelSelector, LabelSelectorRequirement};
/// use netpol::selector::format;
///
/// let sel = LabelSelector {
///     match_labels: Some([("app".to_string(), "web".to_string())].into()),
///     match_expressions: Some(vec![
///         LabelSelectorRequirement::new("legacy", "DoesNotExist", Vec::<String>::new()),
///         LabelSelectorRequirement::new("env", "In", ["b", "a"]),
///     ]),
/// };
/// assert_eq!(format(&sel), "app=web,env in (a,b),!legacy");
/// assert_eq!(format(&LabelSelector::default()), "<none>");
/// let bad = LabelSelector::match_labels([("app", "-web")]);
/// assert_eq!(format(&bad), "<error>");
/// ```
pub fn format(selector: &LabelSelector) -> String {
    if !validate_label_selector(selector, "").is_empty() {
        return "<error>".to_owned();
    }
    let mut reqs: Vec<(&str, String)> = Vec::new();
    for (k, v) in selector.match_labels.iter().flatten() {
        reqs.push((k, format!("{k}={v}")));
    }
    for e in selector.match_expressions.iter().flatten() {
        let mut values: Vec<&str> = e.values.iter().flatten().map(String::as_str).collect();
        values.sort_unstable();
        values.dedup();
        let list = values.join(",");
        let key = e.key();
        let text = match e.operator() {
            "In" => format!("{key} in ({list})"),
            "NotIn" => format!("{key} notin ({list})"),
            "Exists" => key.to_owned(),
            _ => format!("!{key}"),
        };
        reqs.push((key, text));
    }
    if reqs.is_empty() {
        return "<none>".to_owned();
    }
    reqs.sort_by(|a, b| a.0.cmp(b.0));
    let texts: Vec<String> = reqs.into_iter().map(|(_, t)| t).collect();
    texts.join(",")
}
