//! The parser: Calico's `parser.Parse`, without recursion.
//!
//! Calico's grammar, lowest precedence first:
//!
//! ```text
//! selector  = (blanks only)                        -> all()
//!           | or
//! or        = and ("||" and)*
//! and       = operation ("&&" operation)*
//! operation = "!"* ( "(" or ")" | all() | global() | has(key)
//!                  | key ("==" | "!=" | "contains" | "starts with" | "ends with") string
//!                  | key ("in" | "not in") "{" [string ("," string)* [","]] "}" )
//! ```
//!
//! A run of `!` counts only by its parity; a group of one operand is that operand; a set
//! is sorted and deduplicated. Calico recurses on parentheses; this parser keeps an
//! explicit stack of open groups instead, so nesting is limited by memory only, as in
//! Calico, and never by the thread's stack.

use super::error::ParseError;
use super::lexer::{EXPECTED_OPERATOR, Lexer, Tok, Token};
use super::{Node, Op, Selector, Span};

const EXPECTED_TERM: &str = "a label key, has(key), all(), global(), '!' or '('";
const EXPECTED_AFTER_TOP: &str = "'&&', '||' or the end of the selector";
const EXPECTED_AFTER_NESTED: &str = "'&&', '||' or ')'";

fn unexpected(t: &Token<'_>, expected: &'static str) -> ParseError {
    ParseError::unexpected(t.start, t.text, expected)
}

/// An open parenthesis: whether it was negated, and where its operands start on the
/// operand stacks.
struct Group {
    negated: bool,
    ands: usize,
    ors: usize,
}

/// The arenas of a selector under construction.
#[derive(Default)]
pub(super) struct Builder {
    pub nodes: Vec<Node>,
    pub children: Vec<usize>,
    pub values: Vec<Span>,
    pub text: String,
}

impl Builder {
    pub fn push(&mut self, node: Node) -> usize {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// Copies `s` into the text buffer.
    pub fn text(&mut self, s: &str) -> Span {
        let start = self.text.len();
        self.text.push_str(s);
        Span {
            start,
            end: self.text.len(),
        }
    }

    /// Replaces the operands above `base` on `stack` by one node: the operand itself when
    /// there is one, else an `And` (or `Or`) of them in written order.
    fn group(&mut self, stack: &mut Vec<usize>, base: usize, or: bool) -> usize {
        if stack.len() == base + 1 {
            if let Some(only) = stack.pop() {
                return only;
            }
        }
        if stack.len() <= base {
            // Never happens: every group holds at least one operand.
            return self.push(Node::All);
        }
        let first = self.children.len();
        self.children.extend(stack.drain(base..));
        let end = self.children.len();
        self.push(if or {
            Node::Or { first, end }
        } else {
            Node::And { first, end }
        })
    }

    /// After a label: an operator and its string or set.
    fn comparison(&mut self, lex: &mut Lexer<'_>, key: &str) -> Result<Node, ParseError> {
        let op = lex.next_token()?;
        let op_kind = match op.tok {
            Tok::Eq => Op::Eq,
            Tok::Ne => Op::Ne,
            Tok::Contains => Op::Contains,
            Tok::StartsWith => Op::StartsWith,
            Tok::EndsWith => Op::EndsWith,
            Tok::In | Tok::NotIn => return self.set(lex, key, op.tok == Tok::NotIn),
            _ => return Err(unexpected(&op, EXPECTED_OPERATOR)),
        };
        let value = lex.next_token()?;
        let Tok::Str(value) = value.tok else {
            return Err(unexpected(&value, "a quoted string"));
        };
        let key = self.text(key);
        let value = self.text(value);
        Ok(Node::Cmp(op_kind, key, value))
    }

    /// `{ "a", "b", }` after `in` or `not in`: sorted and deduplicated.
    fn set(&mut self, lex: &mut Lexer<'_>, key: &str, not: bool) -> Result<Node, ParseError> {
        let brace = lex.next_token()?;
        if brace.tok != Tok::LBrace {
            return Err(unexpected(&brace, "'{'"));
        }
        let mut items: Vec<&str> = Vec::new();
        loop {
            let t = lex.next_token()?;
            match t.tok {
                Tok::Str(v) => {
                    items.push(v);
                    let sep = lex.next_token()?;
                    match sep.tok {
                        Tok::Comma => {}
                        Tok::RBrace => break,
                        _ => return Err(unexpected(&sep, "',' or '}'")),
                    }
                }
                Tok::RBrace => break,
                _ => return Err(unexpected(&t, "a quoted string or '}'")),
            }
        }
        items.sort_unstable();
        items.dedup();
        let key = self.text(key);
        let first = self.values.len();
        for item in items {
            let span = self.text(item);
            self.values.push(span);
        }
        Ok(Node::In {
            not,
            key,
            first,
            end: self.values.len(),
        })
    }
}

/// Parses `src` into a [`Selector`], refusing exactly what Calico refuses.
pub(super) fn parse(src: &str) -> Result<Selector, ParseError> {
    let mut b = Builder::default();
    let mut lex = Lexer::new(src);
    if lex.only_blanks_left() {
        b.push(Node::All);
        return Ok(Selector::from_builder(b));
    }
    let mut groups: Vec<Group> = Vec::new();
    // Operands of the innermost open conjunction and disjunction, of every open group.
    let mut ands: Vec<usize> = Vec::new();
    let mut ors: Vec<usize> = Vec::new();
    'operand: loop {
        let mut negated = false;
        let mut t = lex.next_token()?;
        while t.tok == Tok::Not {
            negated = !negated;
            t = lex.next_token()?;
        }
        let leaf = match t.tok {
            Tok::LParen => {
                groups.push(Group {
                    negated,
                    ands: ands.len(),
                    ors: ors.len(),
                });
                continue 'operand;
            }
            Tok::All => Node::All,
            Tok::Global => Node::Global,
            Tok::Has(key) => Node::Has(b.text(key)),
            Tok::Label(key) => b.comparison(&mut lex, key)?,
            _ => return Err(unexpected(&t, EXPECTED_TERM)),
        };
        let mut node = b.push(leaf);
        if negated {
            node = b.push(Node::Not(node));
        }
        // After an operand: `&&`, `||`, the `)` of an open group, or the end.
        loop {
            ands.push(node);
            let t = lex.next_token()?;
            let base = groups.last().map_or((0, 0), |g| (g.ands, g.ors));
            match t.tok {
                Tok::And => continue 'operand,
                Tok::Or => {
                    let conj = b.group(&mut ands, base.0, false);
                    ors.push(conj);
                    continue 'operand;
                }
                Tok::RParen if !groups.is_empty() => {
                    let conj = b.group(&mut ands, base.0, false);
                    ors.push(conj);
                    node = b.group(&mut ors, base.1, true);
                    if groups.pop().is_some_and(|g| g.negated) {
                        node = b.push(Node::Not(node));
                    }
                }
                Tok::End if groups.is_empty() => {
                    let conj = b.group(&mut ands, 0, false);
                    ors.push(conj);
                    b.group(&mut ors, 0, true);
                    return Ok(Selector::from_builder(b));
                }
                _ if groups.is_empty() => return Err(unexpected(&t, EXPECTED_AFTER_TOP)),
                _ => return Err(unexpected(&t, EXPECTED_AFTER_NESTED)),
            }
        }
    }
}
