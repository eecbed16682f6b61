//! Calico's canonical form (`Selector.String()`), printed without recursion.

use std::fmt::{self, Write as _};

use super::{Node, Op, Selector};

enum Item {
    Node(usize),
    Text(&'static str),
}

/// Writes a string literal as Calico does: in double quotes, or in single quotes when
/// it holds a double quote (it cannot hold both).
fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    let q = if s.contains('"') { '\'' } else { '"' };
    f.write_char(q)?;
    f.write_str(s)?;
    f.write_char(q)
}

impl Selector {
    /// Writes the canonical form of node `id`.
    pub(super) fn write_node(&self, f: &mut fmt::Formatter<'_>, id: usize) -> fmt::Result {
        let mut stack = vec![Item::Node(id)];
        while let Some(item) = stack.pop() {
            let id = match item {
                Item::Text(s) => {
                    f.write_str(s)?;
                    continue;
                }
                Item::Node(id) => id,
            };
            let Some(node) = self.nodes.get(id) else {
                continue;
            };
            match *node {
                Node::All => f.write_str("all()")?,
                Node::Global => f.write_str("global()")?,
                Node::Has(key) => {
                    f.write_str("has(")?;
                    f.write_str(self.str(key))?;
                    f.write_char(')')?;
                }
                Node::Cmp(op, key, value) => {
                    f.write_str(self.str(key))?;
                    f.write_str(match op {
                        Op::Eq => " == ",
                        Op::Ne => " != ",
                        Op::Contains => " contains ",
                        Op::StartsWith => " starts with ",
                        Op::EndsWith => " ends with ",
                    })?;
                    write_quoted(f, self.str(value))?;
                }
                Node::In {
                    not,
                    key,
                    first,
                    end,
                } => {
                    f.write_str(self.str(key))?;
                    f.write_str(if not { " not in {" } else { " in {" })?;
                    for (i, v) in self
                        .values
                        .get(first..end)
                        .unwrap_or(&[])
                        .iter()
                        .enumerate()
                    {
                        if i > 0 {
                            f.write_str(", ")?;
                        }
                        write_quoted(f, self.str(*v))?;
                    }
                    f.write_char('}')?;
                }
                Node::Not(operand) => {
                    f.write_char('!')?;
                    stack.push(Item::Node(operand));
                }
                Node::And { first, end } | Node::Or { first, end } => {
                    let sep = if matches!(node, Node::And { .. }) {
                        " && "
                    } else {
                        " || "
                    };
                    f.write_char('(')?;
                    stack.push(Item::Text(")"));
                    let ops = self.children.get(first..end).unwrap_or(&[]);
                    for (i, &child) in ops.iter().enumerate().rev() {
                        stack.push(Item::Node(child));
                        if i > 0 {
                            stack.push(Item::Text(sep));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
