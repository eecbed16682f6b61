//! Calico selectors, generated: every AST written in random but equivalent spellings
//! (blanks, quote styles, operator spellings, redundant parentheses and `!!`) must parse
//! to Calico's canonical form as an independent printer here writes it, match exactly
//! the label sets an independent recursive evaluator here matches, and survive
//! print → parse.

use std::collections::BTreeMap;

use netpol::calico::selector::{Selector, parse};
use netpol::model::Labels;
use proptest::prelude::*;

const KEYS: &[&str] = &[
    "a", "b", "app", "x.y/z-1", "in", "not", "contains", "starts", "has", "all",
];
const VALUES: &[&str] = &[
    "", "v", "w", "web", "we", "eb", "x\"y", "it's", "a b", "é", "{", "&&",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone)]
enum Ast {
    All,
    Global,
    Has(&'static str),
    Cmp(Cmp, &'static str, &'static str),
    /// `not`, key, values as written (unsorted, maybe repeated).
    Set(bool, &'static str, Vec<&'static str>),
    Not(Box<Ast>),
    And(Vec<Ast>),
    Or(Vec<Ast>),
}

fn leaf() -> impl Strategy<Value = Ast> {
    let key = prop::sample::select(KEYS);
    let value = prop::sample::select(VALUES);
    let cmp = prop::sample::select(vec![
        Cmp::Eq,
        Cmp::Ne,
        Cmp::Contains,
        Cmp::StartsWith,
        Cmp::EndsWith,
    ]);
    prop_oneof![
        1 => Just(Ast::All),
        1 => Just(Ast::Global),
        3 => key.clone().prop_map(Ast::Has),
        8 => (cmp, key.clone(), value.clone()).prop_map(|(c, k, v)| Ast::Cmp(c, k, v)),
        4 => (any::<bool>(), key, prop::collection::vec(value, 0..4))
            .prop_map(|(not, k, vs)| Ast::Set(not, k, vs)),
    ]
}

fn ast() -> impl Strategy<Value = Ast> {
    leaf().prop_recursive(5, 40, 4, |inner| {
        prop_oneof![
            2 => inner.clone().prop_map(|a| Ast::Not(Box::new(a))),
            3 => prop::collection::vec(inner.clone(), 2..4).prop_map(Ast::And),
            3 => prop::collection::vec(inner, 2..4).prop_map(Ast::Or),
        ]
    })
}

fn label_map() -> impl Strategy<Value = Labels> {
    prop::collection::btree_map(
        prop::sample::select(KEYS).prop_map(str::to_owned),
        prop::sample::select(VALUES).prop_map(str::to_owned),
        0..5,
    )
}

// --- an independent reading of Calico's semantics and printing ---------------------------

/// Calico's `Evaluate`, recursively; `global()` holds like `all()`.
fn eval(ast: &Ast, labels: &Labels) -> bool {
    let get = |k: &str| labels.get(k).map(String::as_str);
    match ast {
        Ast::All | Ast::Global => true,
        Ast::Has(k) => get(k).is_some(),
        Ast::Cmp(c, k, v) => match (c, get(k)) {
            (Cmp::Eq, got) => got == Some(*v),
            (Cmp::Ne, got) => got != Some(*v),
            (Cmp::Contains, Some(x)) => x.contains(v),
            (Cmp::StartsWith, Some(x)) => x.starts_with(v),
            (Cmp::EndsWith, Some(x)) => x.ends_with(v),
            (_, None) => false,
        },
        Ast::Set(not, k, vs) => match get(k) {
            Some(x) => vs.contains(&x) != *not,
            None => *not,
        },
        Ast::Not(a) => !eval(a, labels),
        Ast::And(ops) => ops.iter().all(|a| eval(a, labels)),
        Ast::Or(ops) => ops.iter().any(|a| eval(a, labels)),
    }
}

fn quote_canon(v: &str) -> String {
    if v.contains('"') {
        format!("'{v}'")
    } else {
        format!("\"{v}\"")
    }
}

/// Calico's `String()`.
fn canonical(ast: &Ast) -> String {
    match ast {
        Ast::All => "all()".into(),
        Ast::Global => "global()".into(),
        Ast::Has(k) => format!("has({k})"),
        Ast::Cmp(c, k, v) => {
            let op = match c {
                Cmp::Eq => "==",
                Cmp::Ne => "!=",
                Cmp::Contains => "contains",
                Cmp::StartsWith => "starts with",
                Cmp::EndsWith => "ends with",
            };
            format!("{k} {op} {}", quote_canon(v))
        }
        Ast::Set(not, k, vs) => {
            let mut vs = vs.clone();
            vs.sort();
            vs.dedup();
            let items: Vec<String> = vs.iter().map(|v| quote_canon(v)).collect();
            let op = if *not { "not in" } else { "in" };
            format!("{k} {op} {{{}}}", items.join(", "))
        }
        Ast::Not(a) => format!("!{}", canonical(a)),
        Ast::And(ops) => format!(
            "({})",
            ops.iter().map(canonical).collect::<Vec<_>>().join(" && ")
        ),
        Ast::Or(ops) => format!(
            "({})",
            ops.iter().map(canonical).collect::<Vec<_>>().join(" || ")
        ),
    }
}

/// Whether a `Not` directly holds a `Not` (Calico prints it as `!!`, which reads back
/// as no negation at all).
fn double_negation(ast: &Ast) -> bool {
    match ast {
        Ast::Not(a) => matches!(**a, Ast::Not(_)) || double_negation(a),
        Ast::And(ops) | Ast::Or(ops) => ops.iter().any(double_negation),
        _ => false,
    }
}

// --- random spellings ---------------------------------------------------------------------

/// Choices drawn from a seed (splitmix64).
struct Style(u64);

impl Style {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    /// Optional blanks.
    fn blank(&mut self) -> &'static str {
        ["", "", "", " ", "  ", "\t", " \t "][self.below(7) as usize]
    }
    /// At least one blank.
    fn blank1(&mut self) -> &'static str {
        [" ", " ", "  ", "\t", " \t "][self.below(5) as usize]
    }
    fn quoted(&mut self, v: &str) -> String {
        let single = if v.contains('"') {
            true
        } else if v.contains('\'') {
            false
        } else {
            self.chance(50)
        };
        if single {
            format!("'{v}'")
        } else {
            format!("\"{v}\"")
        }
    }
}

/// `ast` as text that parses back to `ast`, in a random spelling.
fn render(ast: &Ast, s: &mut Style) -> String {
    let mut out = String::new();
    // Redundant `!!` and parentheses change nothing.
    let double_bang = s.chance(10);
    if double_bang {
        out.push('!');
        out.push_str(s.blank());
        out.push('!');
        out.push_str(s.blank());
    }
    let wrap = s.chance(10);
    if wrap {
        out.push('(');
        out.push_str(s.blank());
    }
    out.push_str(&render_bare(ast, s));
    if wrap {
        out.push_str(s.blank());
        out.push(')');
    }
    out
}

fn render_bare(ast: &Ast, s: &mut Style) -> String {
    match ast {
        Ast::All => format!("all({})", s.blank()),
        Ast::Global => format!("global({})", s.blank()),
        Ast::Has(k) => format!("has({}{k}{})", s.blank(), s.blank()),
        Ast::Cmp(c, k, v) => {
            let (op, word) = match c {
                Cmp::Eq => ("==".to_owned(), false),
                Cmp::Ne => ("!=".to_owned(), false),
                Cmp::Contains => ("contains".to_owned(), true),
                Cmp::StartsWith => (format!("starts{}with", s.blank()), true),
                Cmp::EndsWith => (format!("ends{}with", s.blank()), true),
            };
            let before = if word { s.blank1() } else { s.blank() };
            format!("{k}{before}{op}{}{}", s.blank(), s.quoted(v))
        }
        Ast::Set(not, k, vs) => {
            let op = if *not {
                format!("not{}in", s.blank())
            } else {
                "in".to_owned()
            };
            let mut items = Vec::new();
            for v in vs {
                items.push(format!("{}{}{}", s.blank(), s.quoted(v), s.blank()));
            }
            let mut body = items.join(",");
            if !vs.is_empty() && s.chance(20) {
                body.push(',');
            }
            format!("{k}{}{op}{}{{{body}{}}}", s.blank1(), s.blank(), s.blank())
        }
        Ast::Not(a) => {
            // A negated leaf may go bare; a negated group or negation needs parentheses
            // (`!!x` would read as `x`).
            let bare = !matches!(**a, Ast::Not(_) | Ast::And(_) | Ast::Or(_));
            if bare && s.chance(60) {
                format!("!{}{}", s.blank(), render_leafish(a, s))
            } else {
                format!("!{}({}{}{})", s.blank(), s.blank(), render(a, s), s.blank())
            }
        }
        Ast::And(ops) => join(ops, "&&", s, |op| matches!(op, Ast::And(_) | Ast::Or(_))),
        Ast::Or(ops) => join(ops, "||", s, |op| matches!(op, Ast::Or(_))),
    }
}

/// A leaf without a leading `!!` (which would be read as part of the negation).
fn render_leafish(ast: &Ast, s: &mut Style) -> String {
    render_bare(ast, s)
}

/// Operands joined by `op`, each in parentheses when `needs_parens` says the grammar
/// would otherwise read it differently; the whole in parentheses or not.
fn join(ops: &[Ast], op: &str, s: &mut Style, needs_parens: fn(&Ast) -> bool) -> String {
    let mut parts = Vec::new();
    for a in ops {
        let text = render(a, s);
        if needs_parens(a) {
            parts.push(format!("({}{text}{})", s.blank(), s.blank()));
        } else {
            parts.push(text);
        }
    }
    let sep = format!("{}{op}{}", s.blank(), s.blank());
    let inner = parts.join(&sep);
    if s.chance(50) {
        inner
    } else {
        format!("({}{inner}{})", s.blank(), s.blank())
    }
}

fn check(ast: &Ast, seed: u64, maps: &[Labels]) -> Result<(), TestCaseError> {
    let text = render(ast, &mut Style(seed));
    let want = canonical(ast);
    let sel = parse(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
    let c1 = sel.to_string();
    prop_assert_eq!(&c1, &want, "canonical form of {:?}", text);
    prop_assert_eq!(sel.has_double_negation(), double_negation(ast));
    for labels in maps {
        prop_assert_eq!(
            sel.matches(labels),
            eval(ast, labels),
            "{} on {:?}",
            text,
            labels
        );
        let ns = sel.matches_namespace(labels);
        prop_assert_eq!(
            ns,
            eval_scoped(ast, labels, true),
            "namespace {} on {:?}",
            text,
            labels
        );
    }
    prop_assert_eq!(
        sel.matches_non_namespaced(),
        eval_scoped(ast, &Labels::new(), false)
    );
    // print -> parse: same matches; the same canonical form unless a double negation
    // collapsed, and a fixed point from then on.
    let again = parse(&c1).map_err(|e| TestCaseError::fail(format!("{c1:?}: {e}")))?;
    let c2 = again.to_string();
    if double_negation(ast) {
        prop_assert!(c1.contains("!!"));
        prop_assert_eq!(parse(&c2).map(|s| s.to_string()), Ok(c2.clone()));
    } else {
        prop_assert_eq!(&c2, &c1);
        prop_assert_eq!(&again, &sel);
    }
    for labels in maps {
        prop_assert_eq!(
            again.matches(labels),
            sel.matches(labels),
            "{} on {:?}",
            c1,
            labels
        );
    }
    // Serde writes the canonical form and reads it back.
    let json = serde_json::to_string(&sel).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let back: Selector =
        serde_json::from_str(&json).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(back.to_string(), c2);
    Ok(())
}

/// As a namespace selector: `all()` holds in a namespace only, `global()` outside only.
fn eval_scoped(ast: &Ast, labels: &Labels, namespaced: bool) -> bool {
    match ast {
        Ast::All => namespaced,
        Ast::Global => !namespaced,
        Ast::Not(a) => !eval_scoped(a, labels, namespaced),
        Ast::And(ops) => ops.iter().all(|a| eval_scoped(a, labels, namespaced)),
        Ast::Or(ops) => ops.iter().any(|a| eval_scoped(a, labels, namespaced)),
        leaf => eval(leaf, labels),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn spelled_any_way_selectors_parse_print_and_match_as_calico(
        ast in ast(),
        seed in any::<u64>(),
        maps in prop::collection::vec(label_map(), 8),
    ) {
        check(&ast, seed, &maps)?;
    }

    #[test]
    fn every_spelling_of_one_ast_gives_one_selector(ast in ast(), a in any::<u64>(), b in any::<u64>()) {
        let x = parse(&render(&ast, &mut Style(a))).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let y = parse(&render(&ast, &mut Style(b))).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&x, &y);
        prop_assert_eq!(x.to_string(), y.to_string());
    }

    /// Anything at all: parsing never panics, an error points at a char boundary where
    /// its found text starts, and a parsed selector's print parses to one that matches
    /// alike.
    #[test]
    fn arbitrary_text_never_panics(text in "[ \\t!&|(){}a-c.=,'\"in otsw]{0,40}", maps in prop::collection::vec(label_map(), 4)) {
        match parse(&text) {
            Err(e) => {
                let rest = text.get(e.position()..);
                prop_assert!(rest.is_some_and(|r| r.starts_with(e.found())), "{:?}: {:?}", text, e);
                prop_assert!(!e.to_string().is_empty());
            }
            Ok(sel) => {
                let printed = sel.to_string();
                let again = parse(&printed).map_err(|e| TestCaseError::fail(format!("{printed:?}: {e}")))?;
                for labels in &maps {
                    prop_assert_eq!(again.matches(labels), sel.matches(labels));
                }
            }
        }
    }
}

#[test]
fn the_generators_reach_every_construct() {
    // A fixed AST with every construct, rendered in many styles.
    let ast = Ast::Or(vec![
        Ast::And(vec![
            Ast::Cmp(Cmp::Eq, "a", "x\"y"),
            Ast::Cmp(Cmp::StartsWith, "in", "it's"),
            Ast::Not(Box::new(Ast::Not(Box::new(Ast::Has("has"))))),
        ]),
        Ast::Set(true, "not", vec!["w", "", "w"]),
        Ast::Not(Box::new(Ast::Or(vec![Ast::Global, Ast::All]))),
        Ast::Set(false, "b", vec![]),
    ]);
    let maps: Vec<Labels> = vec![
        BTreeMap::new(),
        [
            ("a".to_owned(), "x\"y".to_owned()),
            ("in".to_owned(), "it's me".to_owned()),
            ("has".to_owned(), String::new()),
        ]
        .into(),
        [("not".to_owned(), "w".to_owned())].into(),
    ];
    for seed in 0..500 {
        check(&ast, seed, &maps).unwrap();
    }
    assert_eq!(
        canonical(&ast),
        r#"((a == 'x"y' && in starts with "it's" && !!has(has)) || not not in {"", "w"} || !(global() || all()) || b in {})"#
    );
}
