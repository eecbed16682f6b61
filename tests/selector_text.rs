//! The kubectl selector syntax: parse, format, errors, and the round trip.

use netpol::model::{LabelSelector, LabelSelectorRequirement, Labels};
use netpol::selector::{Selector, format, parse};
use proptest::prelude::*;

fn req(k: &str, op: &str, vs: &[&str]) -> LabelSelectorRequirement {
    LabelSelectorRequirement::new(k, op, vs.iter().copied())
}

fn exprs(list: Vec<LabelSelectorRequirement>) -> LabelSelector {
    LabelSelector {
        match_labels: None,
        match_expressions: Some(list),
    }
}

#[test]
fn parses_every_operator() {
    assert_eq!(parse("").unwrap(), LabelSelector::default());
    assert_eq!(parse(" \t\r\n").unwrap(), LabelSelector::default());
    assert_eq!(
        parse("a=b").unwrap(),
        LabelSelector::match_labels([("a", "b")])
    );
    assert_eq!(
        parse("a==b").unwrap(),
        LabelSelector::match_labels([("a", "b")])
    );
    assert_eq!(
        parse(" a = b ").unwrap(),
        LabelSelector::match_labels([("a", "b")])
    );
    assert_eq!(
        parse("a=").unwrap(),
        LabelSelector::match_labels([("a", "")])
    );
    assert_eq!(
        parse("a!=b").unwrap(),
        exprs(vec![req("a", "NotIn", &["b"])])
    );
    assert_eq!(
        parse("a in (c, b,b)").unwrap(),
        exprs(vec![req("a", "In", &["b", "c"])])
    );
    assert_eq!(
        parse("a in(b)").unwrap(),
        exprs(vec![req("a", "In", &["b"])])
    );
    assert_eq!(
        parse("a notin (b)").unwrap(),
        exprs(vec![req("a", "NotIn", &["b"])])
    );
    assert_eq!(
        parse("a in ()").unwrap(),
        exprs(vec![req("a", "In", &[""])])
    );
    assert_eq!(
        parse("a in (,b)").unwrap(),
        exprs(vec![req("a", "In", &["", "b"])])
    );
    assert_eq!(
        parse("a in (b,)").unwrap(),
        exprs(vec![req("a", "In", &["", "b"])])
    );
    assert_eq!(
        parse("a in (b,,c)").unwrap(),
        exprs(vec![req("a", "In", &["", "b", "c"])])
    );
    assert_eq!(parse("a").unwrap(), exprs(vec![req("a", "Exists", &[])]));
    assert_eq!(
        parse("!a").unwrap(),
        exprs(vec![req("a", "DoesNotExist", &[])])
    );
    assert_eq!(
        parse("! a").unwrap(),
        exprs(vec![req("a", "DoesNotExist", &[])])
    );
    assert_eq!(
        parse("example.com/a-b_c.d").unwrap(),
        exprs(vec![req("example.com/a-b_c.d", "Exists", &[])])
    );
    // `in` and `notin` are words where a key or value is expected.
    assert_eq!(
        parse("in in (notin)").unwrap(),
        exprs(vec![req("in", "In", &["notin"])])
    );
    assert_eq!(
        parse("notin=in").unwrap(),
        LabelSelector::match_labels([("notin", "in")])
    );
    // The same key twice with different values keeps both terms.
    let both = parse("a=1,a=2,a=1").unwrap();
    assert_eq!(
        both.match_labels,
        Some(Labels::from([("a".into(), "1".into())]))
    );
    assert_eq!(both.match_expressions, Some(vec![req("a", "In", &["2"])]));
    // Mixed, in written order.
    let sel = parse("x,!y,z notin (1)").unwrap();
    assert_eq!(
        sel,
        exprs(vec![
            req("x", "Exists", &[]),
            req("y", "DoesNotExist", &[]),
            req("z", "NotIn", &["1"])
        ])
    );
}

fn err(text: &str) -> (usize, String, String) {
    let e = parse(text).unwrap_err();
    (e.position, e.found.clone(), e.to_string())
}

#[test]
fn syntax_errors_say_where_and_what() {
    assert_eq!(
        err("a,"),
        (
            2,
            "".into(),
            "found end of string at byte 2, expected '!' or a label key after ','".into()
        )
    );
    assert_eq!(
        err(",a"),
        (
            0,
            ",".into(),
            "found \",\" at byte 0, expected '!', a label key, or end of string".into()
        )
    );
    assert_eq!(
        err("a b"),
        (
            2,
            "b".into(),
            "found \"b\" at byte 2, expected one of: in, notin, =, ==, !=".into()
        )
    );
    assert_eq!(
        err("a in b"),
        (5, "b".into(), "found \"b\" at byte 5, expected '('".into())
    );
    assert_eq!(
        err("a in (b"),
        (
            7,
            "".into(),
            "found end of string at byte 7, expected ',' or ')'".into()
        )
    );
    assert_eq!(
        err("a in (="),
        (
            6,
            "=".into(),
            "found \"=\" at byte 6, expected ',', ')' or a value".into()
        )
    );
    assert_eq!(
        err("a in (b,="),
        (
            8,
            "=".into(),
            "found \"=\" at byte 8, expected ',' or a value".into()
        )
    );
    assert_eq!(
        err("a=b c"),
        (
            4,
            "c".into(),
            "found \"c\" at byte 4, expected ',' or end of string".into()
        )
    );
    assert_eq!(
        err("a=(b)"),
        (
            2,
            "(".into(),
            "found \"(\" at byte 2, expected a value".into()
        )
    );
    assert_eq!(
        err("!"),
        (
            1,
            "".into(),
            "found end of string at byte 1, expected a label key".into()
        )
    );
    assert_eq!(
        err("!a=b"),
        (
            2,
            "=".into(),
            "found \"=\" at byte 2, expected ',' or end of string".into()
        )
    );
    assert_eq!(err("a=!=b").0, 2);
    let e = parse("a b").unwrap_err();
    assert_eq!(e.expected, Some("one of: in, notin, =, ==, !="));
    assert!(e.reasons.is_empty() && e.key.is_none());
}

#[test]
fn keys_and_values_are_validated() {
    let e = parse("x,-a=b").unwrap_err();
    assert_eq!(
        (e.position, e.found.as_str(), e.key.as_deref()),
        (2, "-a", None)
    );
    assert!(
        e.to_string()
            .starts_with("invalid label key \"-a\" at byte 2: name part must consist of")
    );
    let e = parse("a in (ok, -bad)").unwrap_err();
    assert_eq!(
        (e.position, e.found.as_str(), e.key.as_deref()),
        (10, "-bad", Some("a"))
    );
    assert!(
        e.to_string()
            .starts_with("invalid value \"-bad\" for key \"a\" at byte 10: a valid label must be")
    );
    let e = parse(&format!("a={}", "v".repeat(64))).unwrap_err();
    assert_eq!(e.reasons, ["must be no more than 63 bytes"]);
    assert!(parse("é=a").is_err());
    assert!(parse("a=b\u{a0}").is_err());
}

#[test]
fn greater_and_less_than_are_refused() {
    let e = parse("a>1").unwrap_err();
    assert_eq!((e.position, e.found.as_str()), (1, ">"));
    assert_eq!(
        e.to_string(),
        "operator \">\" at byte 1 is not supported in label selectors"
    );
    // As upstream, the whole text parses first: a later syntax error wins.
    assert_eq!(parse("a<1,b c").unwrap_err().found, "c");
    // And a non-integer is reported as such.
    assert!(parse("a>x").unwrap_err().reasons[0].contains("must be an integer"));
}

#[test]
fn nul_ends_the_text_as_upstreams_lexer_reads_it() {
    assert_eq!(
        parse("a\0,b").unwrap(),
        exprs(vec![req("a", "Exists", &[]), req("b", "Exists", &[])])
    );
    // A NUL right after a symbol or a word is swallowed by that token's scan, as upstream.
    assert_eq!(
        parse("a,\0b").unwrap(),
        exprs(vec![req("a", "Exists", &[]), req("b", "Exists", &[])])
    );
    assert_eq!(parse("a, \0b").unwrap_err().found, "");
}

#[test]
fn format_prints_like_format_label_selector() {
    assert_eq!(format(&LabelSelector::default()), "<none>");
    assert_eq!(
        format(&LabelSelector {
            match_labels: Some(Labels::new()),
            match_expressions: Some(vec![])
        }),
        "<none>"
    );
    assert_eq!(format(&exprs(vec![req("a", "Like", &["x"])])), "<error>");
    assert_eq!(format(&exprs(vec![req("a", "In", &[])])), "<error>");
    assert_eq!(format(&exprs(vec![req("a", "Exists", &["x"])])), "<error>");
    let sel = LabelSelector {
        match_labels: Some(
            [
                ("z".to_string(), "1".to_string()),
                ("b".to_string(), "".to_string()),
            ]
            .into(),
        ),
        match_expressions: Some(vec![
            req("z", "NotIn", &["2"]),
            req("c", "In", &["y", "x", "x"]),
            req("a", "DoesNotExist", &[]),
            req("b", "Exists", &[]),
            req("d", "In", &["", "q"]),
        ]),
    };
    assert_eq!(format(&sel), "!a,b=,b,c in (x,y),d in (,q),z=1,z notin (2)");
}

#[test]
fn format_and_display_mean_the_same() {
    let sel = parse("app=web,env notin (a,b),tier!=db,!legacy,team in (x)").unwrap();
    let compiled = Selector::new(&sel).unwrap();
    let a = Selector::new(&parse(&format(&sel)).unwrap()).unwrap();
    let b = Selector::new(&parse(&compiled.to_string()).unwrap()).unwrap();
    let mut ra: Vec<String> = a.requirements().iter().map(|r| format!("{r:?}")).collect();
    let mut rb: Vec<String> = b.requirements().iter().map(|r| format!("{r:?}")).collect();
    ra.sort();
    rb.sort();
    assert_eq!(ra, rb);
}

// ---------------------------------------------------------------- round trip

/// The normal form `parse(format(s))` yields: requirements sorted by key (stable, labels
/// first), value lists sorted and deduplicated, empty fields absent.
fn normalise(s: &LabelSelector) -> LabelSelector {
    let mut all: Vec<(String, Option<LabelSelectorRequirement>, Option<String>)> = Vec::new();
    for (k, v) in s.match_labels.iter().flatten() {
        all.push((k.clone(), None, Some(v.clone())));
    }
    for e in s.match_expressions.iter().flatten() {
        let mut e = e.clone();
        if let Some(v) = &mut e.values {
            v.sort();
            v.dedup();
        }
        all.push((e.key().to_owned(), Some(e), None));
    }
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let mut labels = Labels::new();
    let mut exprs = Vec::new();
    for (_, e, v) in all {
        match (e, v) {
            (Some(e), _) => exprs.push(e),
            (None, Some(_)) => {}
            _ => {}
        }
    }
    for (k, v) in s.match_labels.iter().flatten() {
        labels.insert(k.clone(), v.clone());
    }
    LabelSelector {
        match_labels: (!labels.is_empty()).then_some(labels),
        match_expressions: (!exprs.is_empty()).then_some(exprs),
    }
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]([-a-z0-9_.]{0,6}[a-z0-9])?",
        "[a-z]{1,5}(\\.[a-z]{1,4})?/[A-Za-z0-9]([-A-Za-z0-9_.]{0,5}[A-Za-z0-9])?",
        Just("in".to_string()),
        Just("notin".to_string()),
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[A-Za-z0-9]([-A-Za-z0-9_.]{0,6}[A-Za-z0-9])?",
        Just("in".to_string())
    ]
}

fn requirement() -> impl Strategy<Value = LabelSelectorRequirement> {
    (key(), 0..4usize, prop::collection::vec(value(), 1..4)).prop_map(|(k, op, vs)| match op {
        0 => LabelSelectorRequirement::new(k, "In", vs),
        1 => LabelSelectorRequirement::new(k, "NotIn", vs),
        2 => LabelSelectorRequirement::new(k, "Exists", Vec::<String>::new()),
        _ => LabelSelectorRequirement::new(k, "DoesNotExist", Vec::<String>::new()),
    })
}

fn selector() -> impl Strategy<Value = LabelSelector> {
    (
        prop::option::of(prop::collection::btree_map(key(), value(), 0..4)),
        prop::option::of(prop::collection::vec(requirement(), 0..5)),
    )
        .prop_map(|(l, e)| LabelSelector {
            match_labels: l,
            match_expressions: e,
        })
}

proptest! {
    #[test]
    fn parse_of_format_is_the_normal_form(s in selector()) {
        let text = format(&s);
        if s.is_empty() {
            prop_assert_eq!(text, "<none>");
        } else {
            prop_assert_ne!(&text, "<error>");
            let back = parse(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
            prop_assert_eq!(&back, &normalise(&s), "text {:?}", text);
            // And printing is stable.
            prop_assert_eq!(format(&back), text);
        }
    }

    #[test]
    fn parse_never_panics(text in "[ a-z0-9=!(),<>.\\-_/\t]{0,24}|\\PC{0,12}") {
        let _ = parse(&text);
    }

    #[test]
    fn what_parses_is_valid_and_prints_back(text in "[ ab=!(),.\\-]{0,16}") {
        if let Ok(sel) = parse(&text) {
            prop_assert!(netpol::validate::validate_label_selector(&sel, "s").is_empty());
            if !sel.is_empty() {
                let again = parse(&format(&sel)).unwrap();
                prop_assert_eq!(format(&again), format(&sel));
            }
        }
    }
}
