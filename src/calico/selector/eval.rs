//! Matching: the selector compiled into a branch program over its leaves.
//!
//! Each leaf test (`has(k)`, `k == "v"`, …) becomes a step that names where to go when
//! the test holds and when it fails: the next leaf to test, or the final answer. `!`
//! swaps the two, `&&` and `||` chain their operands, so evaluation is a loop over a
//! slice with no recursion and no allocation, and short-circuits as Calico's `Evaluate`
//! does. Jumps only go forward, so the loop ends.

use super::{LabelMap, Node, Op, Selector};

/// The program's two answers, as jump targets past every step.
pub(super) const ACCEPT: usize = usize::MAX;
pub(super) const REJECT: usize = usize::MAX - 1;

/// One leaf test and its two successors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Step {
    /// The leaf node to test.
    pub node: usize,
    pub on_true: usize,
    pub on_false: usize,
}

/// How `all()` and `global()` evaluate.
#[derive(Debug, Clone, Copy)]
pub(super) struct Scope {
    pub all: bool,
    pub global: bool,
}

/// Compiles the arena (children before parents, the root last, leaves in written order)
/// into steps; returns them and the entry step.
pub(super) fn compile(nodes: &[Node], children: &[usize]) -> (Vec<Step>, usize) {
    // The step of each node's leftmost leaf; leaves get steps in written order.
    let mut first = vec![0usize; nodes.len()];
    let mut steps = Vec::new();
    for (id, node) in nodes.iter().enumerate() {
        let leftmost = match *node {
            Node::Not(operand) => first.get(operand).copied(),
            Node::And { first: f, .. } | Node::Or { first: f, .. } => {
                children.get(f).and_then(|&c| first.get(c)).copied()
            }
            _ => {
                steps.push(Step {
                    node: id,
                    on_true: ACCEPT,
                    on_false: REJECT,
                });
                Some(steps.len() - 1)
            }
        };
        if let (Some(slot), Some(step)) = (first.get_mut(id), leftmost) {
            *slot = step;
        }
    }
    // Where each node goes when it holds and when it fails, parents before children.
    let mut targets = vec![(ACCEPT, REJECT); nodes.len()];
    for (id, node) in nodes.iter().enumerate().rev() {
        let Some(&(on_true, on_false)) = targets.get(id) else {
            continue;
        };
        match *node {
            Node::Not(operand) => {
                if let Some(t) = targets.get_mut(operand) {
                    *t = (on_false, on_true);
                }
            }
            Node::And { first: f, end } | Node::Or { first: f, end } => {
                let is_and = matches!(node, Node::And { .. });
                let ops = children.get(f..end).unwrap_or(&[]);
                for (i, &child) in ops.iter().enumerate() {
                    let next = ops.get(i + 1).and_then(|&n| first.get(n)).copied();
                    let target = if is_and {
                        (next.unwrap_or(on_true), on_false)
                    } else {
                        (on_true, next.unwrap_or(on_false))
                    };
                    if let Some(t) = targets.get_mut(child) {
                        *t = target;
                    }
                }
            }
            _ => {
                if let Some(step) = first.get(id).and_then(|&s| steps.get_mut(s)) {
                    step.on_true = on_true;
                    step.on_false = on_false;
                }
            }
        }
    }
    let entry = first.last().copied().unwrap_or(ACCEPT);
    (steps, entry)
}

impl Selector {
    /// Runs the program.
    pub(super) fn eval<L: LabelMap + ?Sized>(&self, labels: &L, scope: Scope) -> bool {
        let mut pc = self.entry;
        while let Some(step) = self.program.get(pc) {
            let holds = match self.nodes.get(step.node) {
                Some(node) => self.test(node, labels, scope),
                None => false,
            };
            pc = if holds { step.on_true } else { step.on_false };
        }
        pc == ACCEPT
    }

    /// One leaf test, as Calico's `Evaluate` of that node.
    fn test<L: LabelMap + ?Sized>(&self, node: &Node, labels: &L, scope: Scope) -> bool {
        match *node {
            Node::All => scope.all,
            Node::Global => scope.global,
            Node::Has(key) => labels.label(self.str(key)).is_some(),
            Node::Cmp(op, key, value) => {
                let value = self.str(value);
                match (op, labels.label(self.str(key))) {
                    (Op::Eq, Some(v)) => v == value,
                    (Op::Ne, Some(v)) => v != value,
                    (Op::Ne, None) => true,
                    (Op::Contains, Some(v)) => v.contains(value),
                    (Op::StartsWith, Some(v)) => v.starts_with(value),
                    (Op::EndsWith, Some(v)) => v.ends_with(value),
                    (_, None) => false,
                }
            }
            Node::In {
                not,
                key,
                first,
                end,
            } => match labels.label(self.str(key)) {
                Some(v) => {
                    let set = self.values.get(first..end).unwrap_or(&[]);
                    set.binary_search_by(|s| self.str(*s).cmp(v)).is_ok() != not
                }
                None => not,
            },
            Node::Not(_) | Node::And { .. } | Node::Or { .. } => false,
        }
    }
}
