//! A read-only view of a parsed selector's terms.

use std::fmt;
use std::iter::FusedIterator;

use super::{Node, Op, Selector, Span};

/// One term of a parsed selector (the whole expression, an operand, a leaf), borrowed
/// from it. `Display` prints the term's canonical form.
///
/// ```
/// use netpol::calico::selector::{TermKind, parse};
///
/// let sel = parse("!(a == 'b' && has(c))")?;
/// let TermKind::Not(inner) = sel.root().kind() else { panic!() };
/// assert_eq!(inner.to_string(), r#"(a == "b" && has(c))"#);
/// # Ok::<(), netpol::calico::selector::ParseError>(())
/// ```
#[derive(Clone, Copy)]
pub struct Term<'a> {
    sel: &'a Selector,
    id: usize,
}

/// What a [`Term`] is.
///
/// ```
/// use netpol::calico::selector::{TermKind, parse};
///
/// let sel = parse("tier not in {'b', 'a'}")?;
/// match sel.root().kind() {
///     TermKind::NotIn { key, values } => {
///         assert_eq!(key, "tier");
///         assert_eq!(values.collect::<Vec<_>>(), ["a", "b"]);
///     }
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), netpol::calico::selector::ParseError>(())
/// ```
#[derive(Debug, Clone)]
pub enum TermKind<'a> {
    /// `all()`.
    All,
    /// `global()`.
    Global,
    /// `has(key)`.
    Has {
        /// The label key.
        key: &'a str,
    },
    /// `key == "value"`.
    Equals {
        /// The label key.
        key: &'a str,
        /// The value it must have.
        value: &'a str,
    },
    /// `key != "value"`.
    NotEquals {
        /// The label key.
        key: &'a str,
        /// The value it must not have.
        value: &'a str,
    },
    /// `key contains "value"`.
    Contains {
        /// The label key.
        key: &'a str,
        /// The substring.
        value: &'a str,
    },
    /// `key starts with "value"`.
    StartsWith {
        /// The label key.
        key: &'a str,
        /// The prefix.
        value: &'a str,
    },
    /// `key ends with "value"`.
    EndsWith {
        /// The label key.
        key: &'a str,
        /// The suffix.
        value: &'a str,
    },
    /// `key in {…}`.
    In {
        /// The label key.
        key: &'a str,
        /// The set, sorted and deduplicated.
        values: Values<'a>,
    },
    /// `key not in {…}`.
    NotIn {
        /// The label key.
        key: &'a str,
        /// The set, sorted and deduplicated.
        values: Values<'a>,
    },
    /// `!term`.
    Not(Term<'a>),
    /// `(a && b && …)`: two or more operands, in written order.
    And(Terms<'a>),
    /// `(a || b || …)`: two or more operands, in written order.
    Or(Terms<'a>),
}

impl<'a> Term<'a> {
    pub(super) fn new(sel: &'a Selector, id: usize) -> Self {
        Term { sel, id }
    }

    fn str(&self, span: Span) -> &'a str {
        self.sel.str(span)
    }

    /// What the term is.
    ///
    /// ```
    /// use netpol::calico::selector::{TermKind, parse};
    /// let sel = parse("app starts with 'web-'")?;
    /// assert!(matches!(
    ///     sel.root().kind(),
    ///     TermKind::StartsWith { key: "app", value: "web-" }
    /// ));
    /// # Ok::<(), netpol::calico::selector::ParseError>(())
    /// ```
    #[must_use]
    pub fn kind(&self) -> TermKind<'a> {
        let Some(node) = self.sel.nodes.get(self.id) else {
            return TermKind::All;
        };
        match *node {
            Node::All => TermKind::All,
            Node::Global => TermKind::Global,
            Node::Has(key) => TermKind::Has { key: self.str(key) },
            Node::Cmp(op, key, value) => {
                let (key, value) = (self.str(key), self.str(value));
                match op {
                    Op::Eq => TermKind::Equals { key, value },
                    Op::Ne => TermKind::NotEquals { key, value },
                    Op::Contains => TermKind::Contains { key, value },
                    Op::StartsWith => TermKind::StartsWith { key, value },
                    Op::EndsWith => TermKind::EndsWith { key, value },
                }
            }
            Node::In {
                not,
                key,
                first,
                end,
            } => {
                let key = self.str(key);
                let values = Values {
                    sel: self.sel,
                    next: first,
                    end,
                };
                if not {
                    TermKind::NotIn { key, values }
                } else {
                    TermKind::In { key, values }
                }
            }
            Node::Not(operand) => TermKind::Not(Term::new(self.sel, operand)),
            Node::And { first, end } => TermKind::And(Terms {
                sel: self.sel,
                next: first,
                end,
            }),
            Node::Or { first, end } => TermKind::Or(Terms {
                sel: self.sel,
                next: first,
                end,
            }),
        }
    }
}

impl fmt::Display for Term<'_> {
    /// The term's canonical form, as it appears in the selector's.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.sel.write_node(f, self.id)
    }
}

impl fmt::Debug for Term<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Term")
            .field(&format_args!("{self}"))
            .finish()
    }
}

/// The values of an `in` or `not in` set, sorted by bytes and deduplicated.
///
/// ```
/// use netpol::calico::selector::{TermKind, parse};
/// let sel = parse("a in {'z', 'x', 'z', ''}")?;
/// let TermKind::In { values, .. } = sel.root().kind() else { panic!() };
/// assert_eq!(values.len(), 3);
/// assert_eq!(values.collect::<Vec<_>>(), ["", "x", "z"]);
/// # Ok::<(), netpol::calico::selector::ParseError>(())
/// ```
#[derive(Clone)]
pub struct Values<'a> {
    sel: &'a Selector,
    next: usize,
    end: usize,
}

impl<'a> Iterator for Values<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.next >= self.end {
            return None;
        }
        let span = self.sel.values.get(self.next).copied()?;
        self.next += 1;
        Some(self.sel.str(span))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end.saturating_sub(self.next);
        (n, Some(n))
    }
}

impl DoubleEndedIterator for Values<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let span = self.sel.values.get(self.end - 1).copied()?;
        self.end -= 1;
        Some(self.sel.str(span))
    }
}

impl ExactSizeIterator for Values<'_> {}
impl FusedIterator for Values<'_> {}

impl fmt::Debug for Values<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

/// The operands of an `&&` or `||`, in written order.
///
/// ```
/// use netpol::calico::selector::{TermKind, parse};
/// let sel = parse("has(a) && has(b) && has(c)")?;
/// let TermKind::And(ops) = sel.root().kind() else { panic!() };
/// assert_eq!(ops.len(), 3);
/// assert_eq!(ops.rev().next().unwrap().to_string(), "has(c)");
/// # Ok::<(), netpol::calico::selector::ParseError>(())
/// ```
#[derive(Clone)]
pub struct Terms<'a> {
    sel: &'a Selector,
    next: usize,
    end: usize,
}

impl<'a> Iterator for Terms<'a> {
    type Item = Term<'a>;

    fn next(&mut self) -> Option<Term<'a>> {
        if self.next >= self.end {
            return None;
        }
        let id = self.sel.children.get(self.next).copied()?;
        self.next += 1;
        Some(Term::new(self.sel, id))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end.saturating_sub(self.next);
        (n, Some(n))
    }
}

impl DoubleEndedIterator for Terms<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let id = self.sel.children.get(self.end - 1).copied()?;
        self.end -= 1;
        Some(Term::new(self.sel, id))
    }
}

impl ExactSizeIterator for Terms<'_> {}
impl FusedIterator for Terms<'_> {}

impl fmt::Debug for Terms<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

/// The terms of a selector's top-level conjunction, nested `&&` groups flattened; see
/// [`Selector::conjuncts`].
///
/// ```
/// use netpol::calico::selector::parse;
/// let sel = parse("has(a) && (has(b) && has(c))")?;
/// assert_eq!(sel.conjuncts().count(), 3);
/// assert_eq!(parse("has(a) || has(b)")?.conjuncts().count(), 1);
/// # Ok::<(), netpol::calico::selector::ParseError>(())
/// ```
#[derive(Clone)]
pub struct Conjuncts<'a> {
    sel: &'a Selector,
    /// Nodes still to visit, the next on top.
    stack: Vec<usize>,
}

impl<'a> Conjuncts<'a> {
    pub(super) fn new(sel: &'a Selector) -> Self {
        Conjuncts {
            sel,
            stack: vec![sel.root_id()],
        }
    }
}

impl<'a> Iterator for Conjuncts<'a> {
    type Item = Term<'a>;

    fn next(&mut self) -> Option<Term<'a>> {
        loop {
            let id = self.stack.pop()?;
            match self.sel.nodes.get(id) {
                Some(Node::And { first, end }) => {
                    let ops = self.sel.children.get(*first..*end).unwrap_or(&[]);
                    self.stack.extend(ops.iter().rev());
                }
                Some(_) => return Some(Term::new(self.sel, id)),
                None => {}
            }
        }
    }
}

impl FusedIterator for Conjuncts<'_> {}

impl fmt::Debug for Conjuncts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}
