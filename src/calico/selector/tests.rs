use std::collections::{BTreeMap, HashMap};

use super::*;

fn canon(text: &str) -> String {
    match parse(text) {
        Ok(sel) => sel.to_string(),
        Err(e) => panic!("{text:?} should parse: {e}"),
    }
}

fn err(text: &str) -> ParseError {
    match parse(text) {
        Ok(sel) => panic!("{text:?} should be refused, parsed as {sel}"),
        Err(e) => e,
    }
}

/// Position, found text and expectation of the error for `text`.
fn err_at(text: &str) -> (usize, String, &'static str) {
    let e = err(text);
    (e.position(), e.found().to_owned(), e.expected())
}

fn m(text: &str, labels: &[(&str, &str)]) -> bool {
    parse(text)
        .unwrap_or_else(|e| panic!("{text:?}: {e}"))
        .matches(labels)
}

// --- accepted constructs and their canonical form ---------------------------------------

#[test]
fn empty_and_blank_selectors_are_all() {
    for text in ["", " ", "\t", " \t  "] {
        let sel = parse(text).unwrap();
        assert!(sel.is_all(), "{text:?}");
        assert_eq!(sel.to_string(), "all()");
        assert!(sel.matches(&[]));
        assert!(sel.matches(&[("a", "b")]));
    }
}

#[test]
fn functions() {
    assert_eq!(canon("all()"), "all()");
    assert_eq!(canon(" all( \t) "), "all()");
    assert_eq!(canon("global()"), "global()");
    assert_eq!(canon("global(  )"), "global()");
    assert_eq!(canon("has(a)"), "has(a)");
    assert_eq!(canon("has(\t a  )"), "has(a)");
    assert_eq!(
        canon("has(calico/k8s_NS-.1/role)"),
        "has(calico/k8s_NS-.1/role)"
    );
}

#[test]
fn comparisons_print_with_one_space_and_double_quotes() {
    assert_eq!(canon("a=='b'"), r#"a == "b""#);
    assert_eq!(canon(r#"a  ==  "b""#), r#"a == "b""#);
    assert_eq!(canon("a!='b'"), r#"a != "b""#);
    assert_eq!(canon("a contains'b'"), r#"a contains "b""#);
    assert_eq!(canon("a starts with 'b'"), r#"a starts with "b""#);
    assert_eq!(canon("a startswith 'b'"), r#"a starts with "b""#);
    assert_eq!(canon("a starts \t  with 'b'"), r#"a starts with "b""#);
    assert_eq!(canon("a ends with 'b'"), r#"a ends with "b""#);
    assert_eq!(canon("a endswith\"b\""), r#"a ends with "b""#);
    assert_eq!(canon("a == ''"), r#"a == """#);
}

#[test]
fn strings_holding_a_double_quote_print_in_single_quotes() {
    assert_eq!(canon(r#"a == '"'"#), r#"a == '"'"#);
    assert_eq!(canon(r#"a == "'""#), r#"a == "'""#);
    assert_eq!(canon(r#"a != 'x"y'"#), r#"a != 'x"y'"#);
    assert_eq!(canon(r#"a in {'"', "'", "c"}"#), r#"a in {'"', "'", "c"}"#);
    // No escapes: a backslash is an ordinary character and ends nothing.
    assert_eq!(canon(r#"a == 'x\'"#), r#"a == "x\""#);
    // Strings may hold anything else, newlines and non-ASCII text included.
    assert_eq!(canon("a == 'x\ny é'"), "a == \"x\ny é\"");
}

#[test]
fn sets_are_sorted_deduplicated_and_may_be_empty() {
    assert_eq!(canon("a in {}"), "a in {}");
    assert_eq!(canon("a in{ }"), "a in {}");
    assert_eq!(canon("a not in {}"), "a not in {}");
    assert_eq!(canon("a notin {}"), "a not in {}");
    assert_eq!(canon("a not \t in {}"), "a not in {}");
    assert_eq!(canon("a in {'b'}"), r#"a in {"b"}"#);
    assert_eq!(canon("a in {'b',}"), r#"a in {"b"}"#);
    assert_eq!(
        canon("a in {'z','x' , 'y','x','a','z'}"),
        r#"a in {"a", "x", "y", "z"}"#
    );
    // Byte order: upper case before lower case, the empty string first.
    assert_eq!(canon("a in {'b', 'B', ''}"), r#"a in {"", "B", "b"}"#);
}

#[test]
fn operator_words_are_not_reserved_as_keys() {
    assert_eq!(
        canon("contains contains 'contains'"),
        r#"contains contains "contains""#
    );
    assert_eq!(canon("in in {}"), "in in {}");
    assert_eq!(canon("not not in {}"), "not not in {}");
    assert_eq!(canon("has == 'x'"), r#"has == "x""#);
    assert_eq!(canon("all == 'x'"), r#"all == "x""#);
    assert_eq!(canon("global != 'x'"), r#"global != "x""#);
    assert_eq!(canon("starts starts with 'a'"), r#"starts starts with "a""#);
    assert_eq!(canon("hasx == 'y'"), r#"hasx == "y""#);
}

#[test]
fn key_characters() {
    for key in [
        "a",
        "A",
        "0",
        "_",
        ".",
        "/",
        "-",
        "a.b/c-d_E9",
        "..",
        "/x/",
        "-a",
    ] {
        assert_eq!(canon(&format!("{key} == 'v'")), format!("{key} == \"v\""));
        assert_eq!(canon(&format!("has({key})")), format!("has({key})"));
    }
    let long = "k".repeat(512);
    assert_eq!(canon(&format!("{long}=='v'")), format!("{long} == \"v\""));
    assert_eq!(canon(&format!("has({long})")), format!("has({long})"));
}

#[test]
fn precedence_and_grouping() {
    assert_eq!(
        canon("a == 'x' || b == 'y' && c == 'z'"),
        r#"(a == "x" || (b == "y" && c == "z"))"#
    );
    assert_eq!(
        canon("a == 'x' && b == 'y' || c == 'z'"),
        r#"((a == "x" && b == "y") || c == "z")"#
    );
    assert_eq!(
        canon("has(a) && has(b) && has(c)"),
        "(has(a) && has(b) && has(c))"
    );
    // Groups are kept, never flattened.
    assert_eq!(
        canon("has(a) && (has(b) && has(c))"),
        "(has(a) && (has(b) && has(c)))"
    );
    assert_eq!(
        canon("(has(a) || has(b)) || has(c)"),
        "((has(a) || has(b)) || has(c))"
    );
    // A group of one operand is that operand.
    assert_eq!(canon("((has(a)))"), "has(a)");
    assert_eq!(canon(" ( all() )"), "all()");
}

#[test]
fn negation_binds_to_one_operation_and_counts_by_parity() {
    assert_eq!(canon("!a == 'x' && b == 'y'"), r#"(!a == "x" && b == "y")"#);
    assert_eq!(canon("!(a == 'x')"), r#"!a == "x""#);
    assert_eq!(canon("!(a == 'x' || has(b))"), r#"!(a == "x" || has(b))"#);
    assert_eq!(canon("!has(a)"), "!has(a)");
    assert_eq!(canon("! has(a)"), "!has(a)");
    assert_eq!(canon("!!has(a)"), "has(a)");
    assert_eq!(canon("! ! !has(a)"), "!has(a)");
    assert_eq!(canon("!!!!all()"), "all()");
    assert_eq!(canon("!all()"), "!all()");
    assert_eq!(canon("!global()"), "!global()");
    assert_eq!(canon("!a in {}"), "!a in {}");
    // Calico's quirk: a negated group holding a negation prints as `!!`.
    assert_eq!(canon("!(!has(a))"), "!!has(a)");
    assert_eq!(canon("!(!(!has(a)))"), "!!!has(a)");
    assert_eq!(canon("!!!has(a)"), "!has(a)");
    assert_eq!(
        canon("! (a == \"b\"&&! c != \"d\")"),
        r#"!(a == "b" && !c != "d")"#
    );
    assert_eq!(
        canon("!(!(k == 'v' && has(t) || all()) && (a in {'b', 'c'}))"),
        r#"!(!((k == "v" && has(t)) || all()) && a in {"b", "c"})"#
    );
}

#[test]
fn double_negation_is_detected_and_settles_after_one_round() {
    for (text, first, second) in [
        ("!(!has(a))", "!!has(a)", "has(a)"),
        (
            "!(!(has(a) && has(b)))",
            "!!(has(a) && has(b))",
            "(has(a) && has(b))",
        ),
        (
            "has(x) || !(!all())",
            "(has(x) || !!all())",
            "(has(x) || all())",
        ),
    ] {
        let sel = parse(text).unwrap();
        assert!(sel.has_double_negation(), "{text}");
        assert_eq!(sel.to_string(), first);
        let again = parse(first).unwrap();
        assert!(!again.has_double_negation());
        assert_eq!(again.to_string(), second);
        assert_eq!(parse(second).unwrap().to_string(), second);
    }
    assert!(!parse("!!has(a)").unwrap().has_double_negation());
    assert!(!parse("!(has(a) && !has(b))").unwrap().has_double_negation());
}

#[test]
fn nesting_depth_is_not_limited_and_nothing_recurses() {
    // Parsing, printing, matching and dropping run in a thread with a small stack.
    let worker = std::thread::Builder::new().stack_size(256 * 1024);
    let handle = worker
        .spawn(|| {
            let depth = 50_000;
            let parens = format!("{}has(a){}", "(".repeat(depth), ")".repeat(depth));
            assert_eq!(canon(&parens), "has(a)");
            // Alternating && and || nest for real: one node per level.
            let mut text = String::new();
            for i in 0..depth {
                let op = if i % 2 == 0 { "&&" } else { "||" };
                text.push_str(&format!("has(k{i}) {op} ("));
            }
            text.push_str("has(z)");
            text.push_str(&")".repeat(depth));
            let sel = parse(&text).unwrap();
            let printed = sel.to_string();
            assert_eq!(parse(&printed).unwrap(), sel);
            let all: Vec<(String, String)> = (0..depth)
                .map(|i| (format!("k{i}"), String::new()))
                .chain([("z".to_owned(), String::new())])
                .collect();
            let labels: BTreeMap<String, String> = all.into_iter().collect();
            assert!(sel.matches(&labels));
            assert!(!sel.matches(&[]));
            let negs = format!("{}has(a){}", "!(".repeat(depth), ")".repeat(depth));
            let sel = parse(&negs).unwrap();
            assert!(sel.matches(&[("a", "")])); // an even number of negations
            assert!(sel.has_double_negation());
        })
        .unwrap();
    handle.join().unwrap();
}

// --- matching ----------------------------------------------------------------------------

#[test]
fn equality_and_inequality() {
    assert!(m("a == 'b'", &[("a", "b")]));
    assert!(m("a == 'b'", &[("a", "b"), ("c", "d")]));
    assert!(!m("a == 'b'", &[("a", "c")]));
    assert!(!m("a == 'b'", &[]));
    assert!(!m("a == 'b'", &[("A", "b")])); // keys are case-sensitive
    assert!(m("a == ''", &[("a", "")]));
    assert!(!m("a == ''", &[]));
    assert!(m("a != 'b'", &[("a", "c")]));
    assert!(m("a != 'b'", &[])); // absent: != holds
    assert!(!m("a != 'b'", &[("a", "b")]));
    assert!(m("a != ''", &[]));
}

#[test]
fn substring_operators_need_the_key() {
    assert!(m("a contains 'b'", &[("a", "abc")]));
    assert!(!m("a contains 'b'", &[("a", "ac")]));
    assert!(!m("a contains 'b'", &[("x", "b")]));
    assert!(m("a contains ''", &[("a", "")]));
    assert!(!m("a contains ''", &[]));
    assert!(m("a starts with 'ab'", &[("a", "abc")]));
    assert!(!m("a starts with 'bc'", &[("a", "abc")]));
    assert!(!m("a starts with ''", &[]));
    assert!(m("a ends with 'bc'", &[("a", "abc")]));
    assert!(!m("a ends with 'ab'", &[("a", "abc")]));
    assert!(!m("a ends with ''", &[]));
    assert!(m("!a contains 'b'", &[])); // negated: absent keys match
}

#[test]
fn sets() {
    assert!(m("a in {'x', 'y'}", &[("a", "y")]));
    assert!(!m("a in {'x', 'y'}", &[("a", "z")]));
    assert!(!m("a in {'x', 'y'}", &[]));
    assert!(!m("a in {}", &[("a", "")]));
    assert!(!m("a in {}", &[]));
    assert!(m("a in {''}", &[("a", "")]));
    assert!(m("a not in {'x', 'y'}", &[("a", "z")]));
    assert!(m("a not in {'x', 'y'}", &[]));
    assert!(!m("a not in {'x', 'y'}", &[("a", "x")]));
    assert!(m("a not in {}", &[("a", "x")]));
    assert!(m("a not in {}", &[]));
    assert!(m(r#"a in {'"', "'"}"#, &[("a", "\"")]));
    assert!(m(r#"a in {'"', "'"}"#, &[("a", "'")]));
}

#[test]
fn has_all_global_and_logic() {
    assert!(m("has(a)", &[("a", "")]));
    assert!(!m("has(a)", &[("b", "")]));
    assert!(m("!has(a)", &[("b", "")]));
    assert!(!m("!has(a)", &[("a", "x")]));
    assert!(m("all()", &[]));
    assert!(!m("!all()", &[("a", "b")]));
    assert!(m("global()", &[]));
    assert!(!m("!global()", &[]));
    assert!(m("has(a) && !has(b)", &[("a", "")]));
    assert!(!m("has(a) && !has(b)", &[("a", ""), ("b", "")]));
    assert!(m("!(!has(a) || has(b))", &[("a", "")]));
    assert!(m("has(a) || has(b)", &[("b", "")]));
    assert!(!m("has(a) || has(b)", &[("c", "")]));
    assert!(m("a == 'x' || b == 'y' && c == 'z'", &[("a", "x")]));
    assert!(!m("(a == 'x' || b == 'y') && c == 'z'", &[("a", "x")]));
    assert!(m("!a == 'x' && b == 'y'", &[("b", "y")]));
}

#[test]
fn label_maps() {
    let sel = parse("app == 'web' && !has(legacy)").unwrap();
    let owned: BTreeMap<String, String> = [("app".to_owned(), "web".to_owned())].into();
    let borrowed: BTreeMap<&str, &str> = [("app", "web")].into();
    let hashed: HashMap<String, String> = [("app".to_owned(), "web".to_owned())].into();
    let hashed_str: HashMap<&str, &str> = [("app", "web"), ("legacy", "1")].into();
    assert!(sel.matches(&owned));
    assert!(sel.matches(&borrowed));
    assert!(sel.matches(&hashed));
    assert!(!sel.matches(&hashed_str));
    assert!(sel.matches(&&owned));
    let slice: &[(&str, &str)] = &[("app", "web")];
    assert!(sel.matches(slice));
}

#[test]
fn namespace_selector_meaning() {
    let ns = [("projectcalico.org/name", "shop"), ("team", "pay")];
    let cases = [
        // text, namespaced endpoint, non-namespaced endpoint
        ("all()", true, false),
        ("!all()", false, true),
        ("global()", false, true),
        ("!global()", true, false),
        ("team == 'pay'", true, false),
        ("team != 'pay'", false, true),
        ("!has(team)", false, true),
        ("team not in {'x'}", true, true),
        ("global() || team == 'pay'", true, true),
        ("", true, false),
    ];
    for (text, inside, outside) in cases {
        let sel = parse(text).unwrap();
        assert_eq!(sel.matches_namespace(&ns), inside, "{text} in a namespace");
        assert_eq!(sel.matches_non_namespaced(), outside, "{text} outside");
    }
}

// --- accessors ---------------------------------------------------------------------------

#[test]
fn all_and_global_tests() {
    assert!(parse("!!all()").unwrap().is_all());
    assert!(!parse("!all()").unwrap().is_all());
    assert!(!parse("all() && all()").unwrap().is_all());
    assert!(parse("((global()))").unwrap().is_global());
    assert!(!parse("!global()").unwrap().is_global());
    assert!(parse("!global()").unwrap().contains_global());
    assert!(
        parse("has(a) && (has(b) || global())")
            .unwrap()
            .contains_global()
    );
    assert!(!parse("global == 'x'").unwrap().contains_global());
}

#[test]
fn conjuncts_and_equalities() {
    let sel = parse("a == 'x' && (b in {'y'} && !c == 'z') && (d == 'w' || has(e))").unwrap();
    let terms: Vec<String> = sel.conjuncts().map(|t| t.to_string()).collect();
    assert_eq!(
        terms,
        [
            r#"a == "x""#,
            r#"b in {"y"}"#,
            r#"!c == "z""#,
            r#"(d == "w" || has(e))"#
        ]
    );
    let eqs: Vec<(&str, &str)> = sel.equalities().collect();
    assert_eq!(eqs, [("a", "x"), ("b", "y")]);
    let single = parse("a == 'x'").unwrap();
    assert_eq!(single.equalities().collect::<Vec<_>>(), [("a", "x")]);
    assert_eq!(parse("!a == 'x'").unwrap().equalities().count(), 0);
    assert_eq!(parse("all()").unwrap().conjuncts().count(), 1);
    // Every label set the selector matches has every equality.
    let labels = [("a", "x"), ("b", "y"), ("e", "")];
    assert!(sel.matches(&labels));
    for (k, v) in sel.equalities() {
        let without: Vec<(&str, &str)> = labels.iter().copied().filter(|(x, _)| *x != k).collect();
        assert!(!sel.matches(without.as_slice()), "{k}={v} is required");
    }
}

#[test]
fn term_kinds() {
    let sel = parse(
        "has(h) && k == 'v' && k != 'v' && k contains 'c' && k starts with 's' \
         && k ends with 'e' && k in {'b','a'} && k not in {} && !global() && (all() || has(x))",
    )
    .unwrap();
    let TermKind::And(ops) = sel.root().kind() else {
        panic!("not an and")
    };
    let kinds: Vec<TermKind<'_>> = ops.map(|t| t.kind()).collect();
    assert!(matches!(kinds[0], TermKind::Has { key: "h" }));
    assert!(matches!(
        kinds[1],
        TermKind::Equals {
            key: "k",
            value: "v"
        }
    ));
    assert!(matches!(
        kinds[2],
        TermKind::NotEquals {
            key: "k",
            value: "v"
        }
    ));
    assert!(matches!(
        kinds[3],
        TermKind::Contains {
            key: "k",
            value: "c"
        }
    ));
    assert!(matches!(
        kinds[4],
        TermKind::StartsWith {
            key: "k",
            value: "s"
        }
    ));
    assert!(matches!(
        kinds[5],
        TermKind::EndsWith {
            key: "k",
            value: "e"
        }
    ));
    let TermKind::In { key: "k", values } = kinds[6].clone() else {
        panic!("{:?}", kinds[6])
    };
    assert_eq!(values.rev().collect::<Vec<_>>(), ["b", "a"]);
    let TermKind::NotIn { key: "k", values } = kinds[7].clone() else {
        panic!("{:?}", kinds[7])
    };
    assert_eq!(values.len(), 0);
    let TermKind::Not(inner) = kinds[8].clone() else {
        panic!("{:?}", kinds[8])
    };
    assert!(matches!(inner.kind(), TermKind::Global));
    let TermKind::Or(ops) = kinds[9].clone() else {
        panic!("{:?}", kinds[9])
    };
    assert_eq!(format!("{ops:?}"), "[Term(all()), Term(has(x))]");
    assert!(matches!(
        ops.clone().next().map(|t| t.kind()),
        Some(TermKind::All)
    ));
}

#[test]
fn equality_is_equality_of_the_canonical_form() {
    let pairs = [
        ("a=='b'&&has(c)", r#"(a == "b" && has(c))"#),
        ("a in {'y','x','y'}", r#"a in {"x", "y"}"#),
        ("", "all()"),
        ("!!has(a)", "has(a)"),
    ];
    for (x, y) in pairs {
        let (a, b) = (parse(x).unwrap(), parse(y).unwrap());
        assert_eq!(a, b);
        let mut set = std::collections::HashSet::new();
        set.insert(a.clone());
        assert!(set.contains(&b), "{x} and {y} hash alike");
        assert_eq!(a.to_string(), b.to_string());
    }
    assert_ne!(
        parse("has(a) && has(b)").unwrap(),
        parse("has(b) && has(a)").unwrap()
    );
    assert_ne!(
        parse("(has(a) && has(b)) && has(c)").unwrap(),
        parse("has(a) && has(b) && has(c)").unwrap()
    );
    assert_ne!(parse("a == 'b'").unwrap(), parse("a != 'b'").unwrap());
}

#[test]
fn serde_is_the_canonical_text() {
    let sel = parse("tier in {'b', 'a'}").unwrap();
    let json = serde_json::to_string(&sel).unwrap();
    assert_eq!(json, r#""tier in {\"a\", \"b\"}""#);
    let back: Selector = serde_json::from_str(&json).unwrap();
    assert_eq!(back, sel);
    let e = serde_json::from_str::<Selector>(r#""a = 'b'""#).unwrap_err();
    assert!(
        e.to_string().starts_with(
            r#"invalid Calico selector "a = 'b'": found "=" at byte 2, expected '=='"#
        ),
        "{e}"
    );
    assert!(serde_json::from_str::<Selector>("3").is_err());
    assert_eq!(format!("{sel:?}"), r#"Selector(tier in {"a", "b"})"#);
}

// --- refused selectors -------------------------------------------------------------------

#[test]
fn errors_name_position_found_and_expected() {
    let term = "a label key, has(key), all(), global(), '!' or '('";
    let op = "an operator (==, !=, in, not in, contains, starts with, ends with)";
    let top = "'&&', '||' or the end of the selector";
    let nested = "'&&', '||' or ')'";
    let cases: &[(&str, usize, &str, &str)] = &[
        ("a", 1, "", op),
        ("a ", 2, "", op),
        ("a b", 2, "b", op),
        ("a b == 'c'", 2, "b", op),
        ("a inx {}", 2, "inx", op),
        ("a not inx {}", 2, "not", op),
        ("a starts foo 'x'", 2, "starts", op),
        ("a ends withs 'x'", 2, "ends", op),
        ("a squiggles 'x'", 2, "squiggles", op),
        ("a ! 'x'", 2, "!", op),
        ("a !in {}", 2, "!", op),
        ("a ( 'x'", 2, "(", op),
        ("has (a)", 4, "(", op),
        ("all ()", 4, "(", op),
        ("a = 'b'", 2, "=", "'=='"),
        ("a =", 2, "=", "'=='"),
        ("a == b", 5, "b", "a quoted string"),
        ("a ==", 4, "", "a quoted string"),
        ("a == {'b'}", 5, "{", "a quoted string"),
        ("a contains b", 11, "b", "a quoted string"),
        ("a starts with b", 14, "b", "a quoted string"),
        ("a starts with x'b'", 14, "x", "a quoted string"),
        ("a in 'b'", 5, "'b'", "'{'"),
        ("a in b", 5, "b", "'{'"),
        ("a in", 4, "", "'{'"),
        ("a in {,}", 6, ",", "a quoted string or '}'"),
        ("a in {'x',,}", 10, ",", "a quoted string or '}'"),
        ("a in {b}", 6, "b", "a quoted string or '}'"),
        ("a in {'x' 'y'}", 10, "'y'", "',' or '}'"),
        ("a in {'x'", 9, "", "',' or '}'"),
        ("a in {", 6, "", "a quoted string or '}'"),
        ("a in {\"\", ||", 10, "||", "a quoted string or '}'"),
        ("has()", 4, ")", "a label key"),
        ("has( )", 5, ")", "a label key"),
        ("has(%)", 4, "%", "a label key"),
        ("has(", 4, "", "a label key"),
        ("has(a", 5, "", "')'"),
        ("has( a ", 7, "", "')'"),
        ("has(a b)", 6, "b", "')'"),
        ("has(a.b:c)", 7, ":", "')'"),
        ("all(", 4, "", "')'"),
        ("all(x)", 4, "x", "')'"),
        ("global(", 7, "", "')'"),
        ("global( x )", 8, "x", "')'"),
        ("!", 1, "", term),
        ("! ", 2, "", term),
        ("(", 1, "", term),
        ("()", 1, ")", term),
        (")", 0, ")", term),
        ("%", 0, "%", term),
        ("'b' == a", 0, "'b'", term),
        ("== 'b'", 0, "==", term),
        ("{}", 0, "{", term),
        ("a == 'b' && ", 12, "", term),
        ("a == 'b' || %", 12, "%", term),
        ("a == 'b' && && has(c)", 12, "&&", term),
        ("é == 'x'", 0, "é", term),
        ("\u{a0}has(a)", 0, "\u{a0}", term),
        ("\nhas(a)", 0, "\n", term),
        ("a == 'b')", 8, ")", top),
        ("a == 'b' has(c)", 9, "has(c)", top),
        ("a == 'b' c == 'd'", 9, "c", top),
        ("all() all()", 6, "all()", top),
        ("a == 'b'\n", 8, "\n", top),
        ("a == 'b'\r", 8, "\r", top),
        ("has(a)  (has(b))", 8, "(", top),
        ("a == 'b' &", 9, "&", "'&&'"),
        ("a == 'b' & has(c)", 9, "&", "'&&'"),
        ("a == 'b' |", 9, "|", "'||'"),
        ("(a == 'b'", 9, "", nested),
        ("((a == 'b')", 11, "", nested),
        ("(a == 'b' has(c))", 10, "has(c)", nested),
        ("(a == 'b'}", 9, "}", nested),
    ];
    for &(text, pos, found, expected) in cases {
        assert_eq!(
            err_at(text),
            (pos, found.to_owned(), expected),
            "error for {text:?}"
        );
    }
}

#[test]
fn unterminated_strings() {
    for (text, pos, found) in [
        ("a == 'b", 5, "'b"),
        ("a == \"b", 5, "\"b"),
        ("a == \"b'", 5, "\"b'"),
        ("\"FOO", 0, "\"FOO"),
        ("a in {'x', 'y}", 11, "'y}"),
        ("a == 'b' && c == '", 17, "'"),
    ] {
        let e = err(text);
        assert_eq!(e.kind(), ParseErrorKind::UnterminatedString, "{text:?}");
        assert_eq!((e.position(), e.found()), (pos, found), "{text:?}");
    }
    assert_eq!(
        err("a == 'b").to_string(),
        r#"found unterminated string "'b" at byte 5, expected a closing "'""#
    );
    assert_eq!(
        err("a == \"b").to_string(),
        r#"found unterminated string "\"b" at byte 5, expected a closing '"'"#
    );
}

#[test]
fn label_keys_longer_than_512_bytes() {
    let long = "k".repeat(513);
    for (text, pos) in [
        (format!("{long} == 'v'"), 0),
        (format!("has({long})"), 4),
        (format!("has(  {long} )"), 6),
        (format!("a == 'b' || {long} != 'v'"), 12),
    ] {
        let e = err(&text);
        assert_eq!(e.kind(), ParseErrorKind::LabelTooLong, "{text}");
        assert_eq!((e.position(), e.found()), (pos, long.as_str()));
    }
    let msg = err(&format!("{long} == 'v'")).to_string();
    assert!(
        msg.starts_with(r#"found label key "kkk"#)
            && msg.ends_with(" of 513 bytes at byte 0, expected at most 512"),
        "{msg}"
    );
}

#[test]
fn error_messages() {
    assert_eq!(
        err("a == b").to_string(),
        r#"found "b" at byte 5, expected a quoted string"#
    );
    assert_eq!(
        err("a == 'b' &&").to_string(),
        "found end of input at byte 11, expected a label key, has(key), all(), global(), '!' or '('"
    );
    assert_eq!(
        err("a == 'b'\n").to_string(),
        r#"found "\n" at byte 8, expected '&&', '||' or the end of the selector"#
    );
    assert_eq!(
        err("a in {'x' 'y'}").to_string(),
        r#"found "'y'" at byte 10, expected ',' or '}'"#
    );
}

#[test]
fn error_positions_are_char_boundaries_where_found_starts() {
    for text in [
        "é",
        "a == 'b' && é",
        "a é",
        "has(é)",
        "a in {é}",
        "(a == 'b' é",
        "ünïcödé",
    ] {
        let e = err(text);
        let rest = text.get(e.position()..).expect("char boundary");
        assert!(rest.starts_with(e.found()), "{text:?}: {e:?}");
    }
}
