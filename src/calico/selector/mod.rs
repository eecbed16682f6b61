//! Calico's selector language: parsing, the canonical form, label matching.
//!
//! Calico's policies select endpoints with expressions such as
//! `app == 'web' && tier in {'a', 'b'} && !has(legacy)`. This module follows Calico's own
//! code (`libcalico-go/lib/selector`): [`parse`] accepts and refuses exactly what Calico's
//! parser does, [`Selector`]'s `Display` prints Calico's canonical form (its `String()`),
//! and [`Selector::matches`] gives each expression Calico's meaning.
//!
//! ```
//! use netpol::calico::selector::{Selector, parse};
//! use netpol::model::Labels;
//!
//! let sel = parse("app == 'web' && tier in {'b', 'a', 'b'} && !has(legacy)")?;
//! assert_eq!(sel.to_string(), r#"(app == "web" && tier in {"a", "b"} && !has(legacy))"#);
//!
//! let pod: Labels = [("app", "web"), ("tier", "a")]
//!     .map(|(k, v)| (k.to_string(), v.to_string()))
//!     .into();
//! assert!(sel.matches(&pod));
//! // Tuples work too: anything that implements `LabelMap`.
//! assert!(!sel.matches(&[("app", "web"), ("tier", "a"), ("legacy", "")]));
//!
//! let err = parse("app == web").unwrap_err();
//! assert_eq!(err.to_string(), r#"found "web" at byte 7, expected a quoted string"#);
//! # Ok::<(), netpol::calico::selector::ParseError>(())
//! ```
//!
//! # The language
//!
//! | written | a label set matches when |
//! | --- | --- |
//! | `all()`, or a selector of nothing but spaces and tabs | always |
//! | `global()` | always, for [`matches`](Selector::matches); see [`global()`](#global) |
//! | `has(k)` | it has key `k` |
//! | `k == 'v'` | it has `k` with the value `v` |
//! | `k != 'v'` | it lacks `k`, or has `k` with another value |
//! | `k in {'a', 'b'}` | it has `k` with a value in the set (never, for `{}`) |
//! | `k not in {'a', 'b'}` | it lacks `k`, or has `k` with a value outside the set (always, for `{}`) |
//! | `k contains 's'` | it has `k` and the value contains `s` |
//! | `k starts with 's'` | it has `k` and the value starts with `s` |
//! | `k ends with 's'` | it has `k` and the value ends with `s` |
//! | `!e`, `e && f`, `e \|\| f`, `(e)` | not, and, or, grouping |
//!
//! `contains`, `starts with` and `ends with` never match a label set without the key,
//! unlike `!=` and `not in`; `!has(k)` matches exactly the label sets without `k`.
//!
//! The details, as Calico's tokenizer and parser have them:
//!
//! - **Blanks**: spaces and tabs, optional between tokens. Every other whitespace
//!   character (a newline, a carriage return, a no-break space) is refused outside
//!   strings, so a YAML block scalar's trailing newline makes a selector invalid.
//! - **Label keys**: 1 to 512 bytes of `A-Z a-z 0-9 _ . / -` with no further structure
//!   (`-`, `a..b` and `/x/` are keys). Operator words are not reserved:
//!   `contains contains 'x'` tests the key `contains`.
//! - **Operators**: `==`, `!=`, `in`, `not in`, `contains`, `starts with`, `ends with`.
//!   The words of `not in`, `starts with` and `ends with` may be run together
//!   (`notin`, `startswith`) or separated by any blanks, and each word operator ends at a
//!   character that cannot be in a key (`in{'a'}` and `contains'x'` are fine, `inx` is not).
//!   A single `=`, `&` or `|` is refused.
//! - **Functions**: `all()`, `global()` and `has(k)` take no blank before `(`
//!   (`has (k)` is refused) but allow blanks inside (`has( k )`, `all( )`).
//! - **Strings**: in `"…"` or `'…'`, possibly empty, holding any character but the
//!   opening quote (newlines included). There are no escapes, so a string cannot hold
//!   both kinds of quote.
//! - **Sets**: `{}` or strings separated by commas, a trailing comma allowed
//!   (`{'a',}`); duplicates are dropped and the values sorted by bytes.
//! - **Precedence**: `!` applies to one operation (a comparison, `has()`, `all()`,
//!   `global()` or a parenthesised group); `&&` binds tighter than `||`. A run of `!`
//!   counts only by its parity (`!!has(a)` is `has(a)`), and a group of one operand is
//!   that operand (`((has(a)))` is `has(a)`).
//! - **Nesting** is not limited (Calico's API limits selector fields to 1024 bytes; the
//!   language does not), and nothing here recurses on it.
//!
//! # The canonical form
//!
//! `Display` prints what Calico's `Selector.String()` prints, so equal selectors print
//! equal text and a printed selector can be compared with Calico's:
//!
//! | parsed | printed |
//! | --- | --- |
//! | `all()`, empty | `all()` |
//! | `k == 'v'`, `k != 'v'` | `k == "v"`, `k != "v"` |
//! | a string holding `"` | in single quotes: `k == '"'` |
//! | `k in {'b','a','b'}`, `k not in {}` | `k in {"a", "b"}`, `k not in {}` |
//! | `k startswith 'v'` | `k starts with "v"` |
//! | `a && b && c`, `a \|\| b` | `(a && b && c)`, `(a \|\| b)` |
//! | `a && (b && c)` | `(a && (b && c))`: groups are kept, never flattened |
//! | `!(a == 'b')`, `!(a && b)` | `!a == "b"`, `!(a && b)` |
//!
//! One quirk is Calico's own: a negated group whose one operand is itself negated,
//! `!(!has(a))`, prints as `!!has(a)`, which parses back as `has(a)`. Printing is
//! therefore a fixed point from the second round on, and only selectors with such a
//! double negation ([`Selector::has_double_negation`]) change on the first.
//!
//! # `global()`
//!
//! Calico evaluates `global()` to true, like `all()`, and uses it in one place only: a
//! rule's `namespaceSelector`, where `global()` means "endpoints outside any namespace"
//! (global network sets, host endpoints) and `all()` "endpoints in any namespace".
//! [`Selector::matches_namespace`] and [`Selector::matches_non_namespaced`] give that
//! meaning; [`Selector::is_global`] says
//! whether a selector is exactly `global()`, the only form Calico's validator accepts in
//! a `namespaceSelector` that mentions it, and [`Selector::contains_global`] whether it
//! appears anywhere (Calico refuses it in every other selector field).
//!
//! # Cost
//!
//! A parsed selector holds five small arrays and no tree of boxes; matching runs a
//! precompiled branch program over the leaf tests, allocating nothing, and
//! short-circuits as Calico does.

mod display;
mod error;
mod eval;
mod lexer;
mod parser;
mod term;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;
use std::str::FromStr;

pub use error::{ParseError, ParseErrorKind};
pub use term::{Conjuncts, Term, TermKind, Terms, Values};

use eval::{Scope, Step};

/// The longest label key Calico accepts, in bytes.
///
/// ```
/// use netpol::calico::selector::{MAX_KEY_LEN, parse};
/// assert!(parse(&format!("has({})", "k".repeat(MAX_KEY_LEN))).is_ok());
/// assert!(parse(&format!("has({})", "k".repeat(MAX_KEY_LEN + 1))).is_err());
/// ```
pub const MAX_KEY_LEN: usize = 512;

/// A byte range of [`Selector::text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Span {
    start: usize,
    end: usize,
}

/// The comparisons of a label with a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    Eq,
    Ne,
    Contains,
    StartsWith,
    EndsWith,
}

/// One node of the arena; children always come before their parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Node {
    All,
    Global,
    Has(Span),
    Cmp(Op, Span, Span),
    /// `in` (or `not in`, `not: true`): values `first..end` of [`Selector::values`].
    In {
        not: bool,
        key: Span,
        first: usize,
        end: usize,
    },
    Not(usize),
    /// Operands `first..end` of [`Selector::children`].
    And {
        first: usize,
        end: usize,
    },
    Or {
        first: usize,
        end: usize,
    },
}

/// A parsed Calico selector.
///
/// Parse one with [`parse`] or [`str::parse`]; `Display` prints Calico's canonical form,
/// and equality is equality of that form. Serde reads and writes the selector as its
/// text (the canonical form when writing).
///
/// ```
/// use netpol::calico::selector::Selector;
///
/// let a: Selector = "tier in {'web','api'} && env != 'dev'".parse()?;
/// let b: Selector = r#"(tier in {"api", "web"} && env != "dev")"#.parse()?;
/// assert_eq!(a, b);
/// assert_eq!(a.to_string(), b.to_string());
/// assert!(a.matches(&[("tier", "api")]));
/// assert!(!a.matches(&[("tier", "api"), ("env", "dev")]));
///
/// let json = serde_json::to_string(&a).unwrap();
/// assert_eq!(json, r#""(tier in {\"api\", \"web\"} && env != \"dev\")""#);
/// assert_eq!(serde_json::from_str::<Selector>(&json).unwrap(), a);
/// # Ok::<(), netpol::calico::selector::ParseError>(())
/// ```
#[derive(Clone)]
pub struct Selector {
    /// The tree, children before parents; the root is the last node.
    nodes: Box<[Node]>,
    /// Operands of `And` and `Or` nodes.
    children: Box<[usize]>,
    /// Set values, each set sorted and deduplicated.
    values: Box<[Span]>,
    /// Every key and string, end to end.
    text: Box<str>,
    /// The branch program over the leaves, and its first step.
    program: Box<[Step]>,
    entry: usize,
}

/// Parses a Calico selector, accepting and refusing exactly what Calico does.
///
/// ```
/// use netpol::calico::selector::parse;
///
/// assert_eq!(parse("")?.to_string(), "all()");
/// assert_eq!(parse(" !! has( a ) ")?.to_string(), "has(a)");
/// assert_eq!(parse("a notin {'x',}")?.to_string(), r#"a not in {"x"}"#);
/// assert!(parse("a == 'b'\n").is_err()); // only spaces and tabs are blanks
/// assert!(parse("has (a)").is_err());
/// # Ok::<(), netpol::calico::selector::ParseError>(())
/// ```
pub fn parse(text: &str) -> Result<Selector, ParseError> {
    parser::parse(text)
}

impl Selector {
    fn from_builder(b: parser::Builder) -> Self {
        let (program, entry) = eval::compile(&b.nodes, &b.children);
        Selector {
            nodes: b.nodes.into_boxed_slice(),
            children: b.children.into_boxed_slice(),
            values: b.values.into_boxed_slice(),
            text: b.text.into_boxed_str(),
            program: program.into_boxed_slice(),
            entry,
        }
    }

    /// The selector `all()`: what an empty selector means.
    ///
    /// ```
    /// use netpol::calico::selector::Selector;
    /// assert!(Selector::all().is_all());
    /// assert_eq!(Selector::all(), "".parse()?);
    /// assert_eq!(Selector::all(), Selector::default());
    /// # Ok::<(), netpol::calico::selector::ParseError>(())
    /// ```
    #[must_use]
    pub fn all() -> Self {
        let mut b = parser::Builder::default();
        b.push(Node::All);
        Selector::from_builder(b)
    }

    fn str(&self, span: Span) -> &str {
        self.text.get(span.start..span.end).unwrap_or("")
    }

    fn root_id(&self) -> usize {
        self.nodes.len().saturating_sub(1)
    }

    fn root_node(&self) -> Option<&Node> {
        self.nodes.last()
    }

    /// Whether the label set matches, with Calico's meaning (its `Evaluate`); `global()`
    /// holds, like `all()`. Allocates nothing.
    ///
    /// ```
    /// use netpol::calico::selector::parse;
    /// use netpol::model::Labels;
    ///
    /// let sel = parse("env != 'prod' && team contains 'pay'")?;
    /// let labels: Labels = [("team".to_string(), "payments".to_string())].into();
    /// assert!(sel.matches(&labels)); // no env: != holds
    /// assert!(!parse("env contains ''")?.matches(&labels)); // no env: contains fails
    /// # Ok::<(), netpol::calico::selector::ParseError>(())
    /// ```
    pub fn matches<L: LabelMap + ?Sized>(&self, labels: &L) -> bool {
        self.eval(
            labels,
            Scope {
                all: true,
                global: true,
            },
        )
    }

    /// Whether an endpoint in a namespace with these labels matches this selector
    /// written as a rule's `namespaceSelector`, as Calico compiles it.
    ///
    /// Calico rewrites a `namespaceSelector`'s `all()` to "is in a namespace" and its
    /// `global()` to "is in no namespace", and tests the other terms against the labels of
    /// the endpoint's namespace (with `projectcalico.org/name` set to its name, as Calico
    /// adds it). So here `all()` holds and `global()` fails; see
    /// [`matches_non_namespaced`](Self::matches_non_namespaced) for endpoints outside any
    /// namespace. An empty `namespaceSelector` field means something else (the policy's
    /// own namespace, or every endpoint for a global policy): that is the caller's to
    /// decide before parsing.
    ///
    /// ```
    /// use netpol::calico::selector::parse;
    ///
    /// let shop = [("projectcalico.org/name", "shop")];
    /// assert!(parse("all()")?.matches_namespace(&shop));
    /// assert!(!parse("global()")?.matches_namespace(&shop));
    /// assert!(parse("projectcalico.org/name == 'shop'")?.matches_namespace(&shop));
    /// assert!(parse("!global()")?.matches_namespace(&shop));
    /// # Ok::<(), netpol::calico::selector::ParseError>(())
    /// ```
    pub fn matches_namespace<L: LabelMap + ?Sized>(&self, namespace_labels: &L) -> bool {
        self.eval(
            namespace_labels,
            Scope {
                all: true,
                global: false,
            },
        )
    }

    /// Whether an endpoint outside any namespace (a global network set, a host endpoint)
    /// matches this selector written as a rule's `namespaceSelector`, as Calico compiles
    /// it: `global()` holds, `all()` fails, and the other terms see no labels at all, so
    /// `k != 'v'` and `!has(k)` hold while `k == 'v'` and `has(k)` fail.
    ///
    /// ```
    /// use netpol::calico::selector::parse;
    ///
    /// assert!(parse("global()")?.matches_non_namespaced());
    /// assert!(!parse("all()")?.matches_non_namespaced());
    /// assert!(parse("!all()")?.matches_non_namespaced());
    /// assert!(parse("team != 'pay'")?.matches_non_namespaced());
    /// assert!(!parse("team == 'pay'")?.matches_non_namespaced());
    /// # Ok::<(), netpol::calico::selector::ParseError>(())
    /// ```
    #[must_use]
    pub fn matches_non_namespaced(&self) -> bool {
        self.eval(
            &NoLabels,
            Scope {
                all: false,
                global: true,
            },
        )
    }

    /// Whether the selector is `all()` as written (or empty, or `!!all()`, or
    /// `(all())`): a syntactic test, not a proof that every label set matches.
    ///
    /// ```
    /// use netpol::calico::selector::parse;
    /// assert!(parse("  ")?.is_all());
    /// assert!(parse("((all( )))")?.is_all());
    /// assert!(!parse("all() || has(a)")?.is_all()); // matches everything, still not all()
    /// # Ok::<(), netpol::calico::selector::ParseError>(())
    /// ```
    #[must_use]
    pub fn is_all(&self) -> bool {
        matches!(self.root_node(), Some(Node::All))
    }

    /// Whether the selector is exactly `global()` (up to blanks, parentheses and an even
    /// number of `!`): the one form Calico's validator accepts for a `namespaceSelector`
    /// that mentions `global()`.
    ///
    /// ```
    /// use netpol::calico::selector::parse;
    /// assert!(parse(" global( ) ")?.is_global());
    /// assert!(!parse("global() && has(a)")?.is_global());
    /// # Ok::<(), netpol::calico::selector::ParseError>(())
    /// ```
    #[must_use]
    pub fn is_global(&self) -> bool {
        matches!(self.root_node(), Some(Node::Global))
    }

    /// Whether `global()` appears anywhere in the selector.
    ///
    /// Calico's schema refuses `global(` in every selector field but a rule's
    /// `namespaceSelector`; it tests the text, so it also refuses a string value that
    /// contains `global(`, which this method (a test of the parsed terms) does not see.
    ///
    /// ```
    /// use netpol::calico::selector::parse;
    /// assert!(parse("has(a) || !global()")?.contains_global());
    /// assert!(!parse("a == 'global()'")?.contains_global());
    /// # Ok::<(), netpol::calico::selector::ParseError>(())
    /// ```
    #[must_use]
    pub fn contains_global(&self) -> bool {
        self.nodes.iter().any(|n| matches!(n, Node::Global))
    }

    /// Whether a negation applies directly to a negation, `!(!e)`: the one shape whose
    /// canonical form parses back to a different selector (`!!e` reads as `e`).
    ///
    /// ```
    /// use netpol::calico::selector::parse;
    /// let sel = parse("!(!has(a))")?;
    /// assert!(sel.has_double_negation());
    /// assert_eq!(sel.to_string(), "!!has(a)");
    /// assert_eq!(parse(&sel.to_string())?.to_string(), "has(a)");
    /// assert!(!parse("!!has(a)")?.has_double_negation());
    /// # Ok::<(), netpol::calico::selector::ParseError>(())
    /// ```
    #[must_use]
    pub fn has_double_negation(&self) -> bool {
        self.nodes.iter().any(|n| match *n {
            Node::Not(operand) => matches!(self.nodes.get(operand), Some(Node::Not(_))),
            _ => false,
        })
    }

    /// The whole expression, to walk its terms.
    ///
    /// ```
    /// use netpol::calico::selector::{TermKind, parse};
    /// let sel = parse("has(a) || b == 'c'")?;
    /// let TermKind::Or(ops) = sel.root().kind() else { panic!() };
    /// let printed: Vec<String> = ops.map(|t| t.to_string()).collect();
    /// assert_eq!(printed, ["has(a)", r#"b == "c""#]);
    /// # Ok::<(), netpol::calico::selector::ParseError>(())
    /// ```
    #[must_use]
    pub fn root(&self) -> Term<'_> {
        Term::new(self, self.root_id())
    }

    /// The terms every matching label set satisfies at the top level: the operands of
    /// the top-level `&&` (and of `&&` groups nested in it), or the selector itself when
    /// it is not a conjunction. In written order.
    ///
    /// ```
    /// use netpol::calico::selector::parse;
    /// let sel = parse("a == 'x' && (has(b) && c != 'y') && (d == 'z' || e == 'w')")?;
    /// let terms: Vec<String> = sel.conjuncts().map(|t| t.to_string()).collect();
    /// assert_eq!(terms, [r#"a == "x""#, "has(b)", r#"c != "y""#, r#"(d == "z" || e == "w")"#]);
    /// # Ok::<(), netpol::calico::selector::ParseError>(())
    /// ```
    #[must_use]
    pub fn conjuncts(&self) -> Conjuncts<'_> {
        Conjuncts::new(self)
    }

    /// The `key == value` requirements among [`conjuncts`](Self::conjuncts), for
    /// indexing endpoints by label: every label set the selector matches has each of
    /// these pairs. `k in {'v'}` (one value) counts as `k == 'v'`.
    ///
    /// ```
    /// use netpol::calico::selector::parse;
    /// let sel = parse("app == 'web' && tier in {'a'} && has(x) && env in {'p', 'q'}")?;
    /// let eqs: Vec<(&str, &str)> = sel.equalities().collect();
    /// assert_eq!(eqs, [("app", "web"), ("tier", "a")]);
    /// assert_eq!(parse("a == 'b' || c == 'd'")?.equalities().count(), 0);
    /// # Ok::<(), netpol::calico::selector::ParseError>(())
    /// ```
    pub fn equalities(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.conjuncts().filter_map(|t| match t.kind() {
            TermKind::Equals { key, value } => Some((key, value)),
            TermKind::In { key, mut values } if values.len() == 1 => {
                values.next().map(|v| (key, v))
            }
            _ => None,
        })
    }
}

impl Default for Selector {
    /// `all()`, what an empty selector means.
    ///
    /// ```
    /// assert!(netpol::calico::selector::Selector::default().is_all());
    /// ```
    fn default() -> Self {
        Selector::all()
    }
}

impl PartialEq for Selector {
    fn eq(&self, other: &Self) -> bool {
        // The arenas are a function of the parsed structure (the text buffer is filled in
        // written order, sets after sorting), so equal structure means equal arenas.
        self.nodes == other.nodes
            && self.children == other.children
            && self.values == other.values
            && self.text == other.text
    }
}

impl Eq for Selector {}

impl std::hash::Hash for Selector {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.nodes.hash(state);
        self.children.hash(state);
        self.values.hash(state);
        self.text.hash(state);
    }
}

impl fmt::Display for Selector {
    /// Calico's canonical form. [`FromStr`] reads it back to an equal selector, except
    /// for Calico's double-negation quirk (see [the canonical form](self#the-canonical-form)).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_node(f, self.root_id())
    }
}

impl fmt::Debug for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Selector")
            .field(&format_args!("{self}"))
            .finish()
    }
}

impl FromStr for Selector {
    type Err = ParseError;

    /// The same as [`parse`].
    fn from_str(s: &str) -> Result<Self, ParseError> {
        parse(s)
    }
}

impl serde::Serialize for Selector {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Selector {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Selector;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Calico selector string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Selector, E> {
                parse(v).map_err(|e| {
                    E::custom(format_args!(
                        "invalid Calico selector {}: {e}",
                        crate::validate::quote(v)
                    ))
                })
            }
        }
        deserializer.deserialize_str(Visit)
    }
}

/// Labels to match a selector against: a key's value, or `None` when the key is absent.
///
/// Implemented for [`crate::model::Labels`] (`BTreeMap<String, String>`), `HashMap`s,
/// and slices and arrays of `(&str, &str)` pairs. Implement it for a view that layers
/// several maps (say a pod's labels over the ones Calico adds) to match without building
/// a merged map.
///
/// ```
/// use netpol::calico::selector::{LabelMap, parse};
///
/// /// A pod's own labels, then its namespace's under `pcns.`.
/// struct Endpoint<'a> { own: &'a [(&'a str, &'a str)], ns: &'a [(&'a str, &'a str)] }
/// impl LabelMap for Endpoint<'_> {
///     fn label(&self, key: &str) -> Option<&str> {
///         self.own.label(key)
///             .or_else(|| key.strip_prefix("pcns.").and_then(|k| self.ns.label(k)))
///     }
/// }
///
/// let ep = Endpoint { own: &[("app", "db")], ns: &[("team", "pay")] };
/// assert!(parse("app == 'db' && pcns.team == 'pay'")?.matches(&ep));
/// # Ok::<(), netpol::calico::selector::ParseError>(())
/// ```
pub trait LabelMap {
    /// The value of `key`, or `None` when the label is absent.
    ///
    /// ```
    /// use netpol::calico::selector::LabelMap;
    /// assert_eq!([("a", "b")].label("a"), Some("b"));
    /// assert_eq!([("a", "b")].label("c"), None);
    /// ```
    fn label(&self, key: &str) -> Option<&str>;
}

impl LabelMap for BTreeMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

impl LabelMap for BTreeMap<&str, &str> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).copied()
    }
}

impl<S: BuildHasher> LabelMap for HashMap<String, String, S> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

impl<S: BuildHasher> LabelMap for HashMap<&str, &str, S> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).copied()
    }
}

/// Pairs searched in order; the first with the key wins.
impl LabelMap for [(&str, &str)] {
    fn label(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

impl<const N: usize> LabelMap for [(&str, &str); N] {
    fn label(&self, key: &str) -> Option<&str> {
        self.as_slice().label(key)
    }
}

impl<T: LabelMap + ?Sized> LabelMap for &T {
    fn label(&self, key: &str) -> Option<&str> {
        (**self).label(key)
    }
}

/// The labels of an endpoint outside any namespace, as a namespace selector sees them.
struct NoLabels;

impl LabelMap for NoLabels {
    fn label(&self, _key: &str) -> Option<&str> {
        None
    }
}

#[cfg(test)]
mod tests;
