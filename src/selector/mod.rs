//! Label selectors: matching per `metav1.LabelSelector`, and the string syntax kubectl uses.
//!
//! A [`Selector`] is a compiled [`LabelSelector`]: its `matchLabels` and `matchExpressions`
//! become one list of requirements, all of which must hold (they are ANDed). An empty
//! selector matches everything. `NotIn` and `DoesNotExist` match objects that lack the key.
//!
//! ```
//! use netpol::model::{LabelSelector, LabelSelectorRequirement, Labels};
//! use netpol::selector::Selector;
//!
//! let written = LabelSelector {
//!     match_labels: Some([("app".to_string(), "web".to_string())].into()),
//!     match_expressions: Some(vec![LabelSelectorRequirement::new("env", "NotIn", ["prod"])]),
//! };
//! let sel = Selector::new(&written)?;
//! let labels: Labels = [("app".to_string(), "web".to_string())].into();
//! assert!(sel.matches(&labels)); // no `env` key: NotIn holds
//! # Ok::<(), netpol::selector::SelectorError>(())
//! ```

mod text;

use std::fmt;

use crate::model::{LabelSelector, Labels};

pub use text::{ParseError, format, parse};

/// The operator of a requirement, with its values.
///
/// ```
/// use netpol::model::LabelSelector;
/// use netpol::selector::{Operator, Selector};
/// let sel = Selector::new(&LabelSelector::match_labels([("app", "web")]))?;
/// assert_eq!(sel.requirements()[0].op, Operator::In(vec!["web".into()]));
/// let labels = [("app".to_string(), "web".to_string())].into();
/// assert!(sel.matches(&labels));
/// # Ok::<(), netpol::selector::SelectorError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Operator {
    /// The key is present and its value is one of these (sorted, deduplicated).
    In(Vec<String>),
    /// The key is absent, or its value is none of these.
    NotIn(Vec<String>),
    /// The key is present.
    Exists,
    /// The key is absent.
    DoesNotExist,
}

/// One compiled requirement: a key and an operator.
///
/// ```
/// use netpol::selector::{Operator, Requirement};
/// let r = Requirement { key: "tier".into(), op: Operator::Exists };
/// assert!(r.matches(&[("tier".to_string(), "db".to_string())].into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Requirement {
    /// The label key.
    pub key: String,
    /// What must hold of it.
    pub op: Operator,
}

impl Requirement {
    /// Whether this requirement holds for `labels`.
    ///
    /// ```
    /// use netpol::selector::{Operator, Requirement};
    /// let r = Requirement { key: "env".into(), op: Operator::NotIn(vec!["prod".into()]) };
    /// assert!(r.matches(&Default::default()));
    /// ```
    #[must_use]
    pub fn matches(&self, labels: &Labels) -> bool {
        self.holds_for(labels.get(&self.key).map(String::as_str))
    }

    /// Whether the requirement holds when its key has `value` (`None`: the key is absent).
    pub(crate) fn holds_for(&self, value: Option<&str>) -> bool {
        match (&self.op, value) {
            (Operator::In(values), Some(v)) => values.iter().any(|x| x == v),
            (Operator::In(_), None) => false,
            (Operator::NotIn(values), Some(v)) => !values.iter().any(|x| x == v),
            (Operator::NotIn(_), None) => true,
            (Operator::Exists, v) => v.is_some(),
            (Operator::DoesNotExist, v) => v.is_none(),
        }
    }
}

/// A label selector compiled for matching.
///
/// ```
/// use netpol::selector::Selector;
/// assert!(Selector::everything().matches(&Default::default()));
/// assert!(Selector::everything().is_everything());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

/// A selector that cannot be compiled: an unknown operator, or values that do not fit it.
///
/// [`crate::validate`] reports the same problems with field paths; this error exists for
/// callers who compile selectors that were never validated.
///
/// ```
/// use netpol::model::{LabelSelector, LabelSelectorRequirement};
/// let bad = LabelSelector {
///     match_labels: None,
///     match_expressions: Some(vec![LabelSelectorRequirement::new("a", "Like", ["x"])]),
/// };
/// let err = netpol::selector::Selector::new(&bad).unwrap_err();
/// assert_eq!(err.to_string(), "matchExpressions[0].operator: unsupported operator \"Like\"");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SelectorError {
    /// The operator is not `In`, `NotIn`, `Exists` or `DoesNotExist`.
    #[error("matchExpressions[{index}].operator: unsupported operator \"{operator}\"")]
    UnknownOperator {
        /// Index in `matchExpressions`.
        index: usize,
        /// The operator as written.
        operator: String,
    },
    /// `In`/`NotIn` without values, or `Exists`/`DoesNotExist` with values.
    #[error("matchExpressions[{index}].values: {reason}")]
    BadValues {
        /// Index in `matchExpressions`.
        index: usize,
        /// What is wrong.
        reason: &'static str,
    },
}

impl Selector {
    /// Compiles a written selector.
    ///
    /// ```
    /// use netpol::model::LabelSelector;
    /// let sel = netpol::selector::Selector::new(&LabelSelector::match_labels([("a", "1")])).unwrap();
    /// assert_eq!(sel.to_string(), "a=1");
    /// ```
    pub fn new(selector: &LabelSelector) -> Result<Self, SelectorError> {
        let mut requirements = Vec::new();
        if let Some(labels) = &selector.match_labels {
            for (k, v) in labels {
                requirements.push(Requirement {
                    key: k.clone(),
                    op: Operator::In(vec![v.clone()]),
                });
            }
        }
        for (index, e) in selector.match_expressions.iter().flatten().enumerate() {
            let values = e.values.as_deref().unwrap_or(&[]);
            let sorted = || {
                let mut v = values.to_vec();
                v.sort();
                v.dedup();
                v
            };
            let op = match e.operator() {
                "In" | "NotIn" if values.is_empty() => {
                    return Err(SelectorError::BadValues {
                        index,
                        reason: "must be specified when `operator` is 'In' or 'NotIn'",
                    });
                }
                "Exists" | "DoesNotExist" if !values.is_empty() => {
                    return Err(SelectorError::BadValues {
                        index,
                        reason: "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    });
                }
                "In" => Operator::In(sorted()),
                "NotIn" => Operator::NotIn(sorted()),
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(SelectorError::UnknownOperator {
                        index,
                        operator: other.to_owned(),
                    });
                }
            };
            requirements.push(Requirement {
                key: e.key().to_owned(),
                op,
            });
        }
        Ok(Selector { requirements })
    }

    /// The selector that matches every object (`{}`).
    ///
    /// ```
    /// assert!(netpol::selector::Selector::everything().requirements().is_empty());
    /// ```
    #[must_use]
    pub fn everything() -> Self {
        Selector::default()
    }

    /// Builds a selector from compiled requirements.
    ///
    /// ```
    /// use netpol::selector::{Operator, Requirement, Selector};
    /// let sel = Selector::from_requirements(vec![Requirement { key: "a".into(), op: Operator::Exists }]);
    /// assert_eq!(sel.to_string(), "a");
    /// ```
    #[must_use]
    pub fn from_requirements(requirements: Vec<Requirement>) -> Self {
        Selector { requirements }
    }

    /// The requirements, all of which must hold.
    ///
    /// ```
    /// use netpol::model::LabelSelector;
    /// let sel = netpol::selector::Selector::new(&LabelSelector::match_labels([("a", "1"), ("b", "2")])).unwrap();
    /// assert_eq!(sel.requirements().len(), 2);
    /// ```
    #[must_use]
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// True when the selector has no requirement and so matches everything.
    ///
    /// ```
    /// use netpol::model::LabelSelector;
    /// assert!(netpol::selector::Selector::new(&LabelSelector::default()).unwrap().is_everything());
    /// ```
    #[must_use]
    pub fn is_everything(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether every requirement holds for `labels`.
    ///
    /// ```
    /// use netpol::model::{LabelSelector, Labels};
    /// let sel = netpol::selector::Selector::new(&LabelSelector::match_labels([("app", "db")])).unwrap();
    /// let mut labels = Labels::new();
    /// assert!(!sel.matches(&labels));
    /// labels.insert("app".into(), "db".into());
    /// assert!(sel.matches(&labels));
    /// ```
    #[must_use]
    pub fn matches(&self, labels: &Labels) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// The selector back in its written form (`matchExpressions` only, sorted as compiled).
    ///
    /// ```
    /// use netpol::model::LabelSelector;
    /// let sel = netpol::selector::Selector::new(&LabelSelector::match_labels([("a", "1")])).unwrap();
    /// let written = sel.to_label_selector();
    /// assert_eq!(written.match_expressions.unwrap()[0].operator(), "In");
    /// ```
    #[must_use]
    pub fn to_label_selector(&self) -> LabelSelector {
        use crate::model::LabelSelectorRequirement as R;
        LabelSelector {
            match_labels: None,
            match_expressions: Some(
                self.requirements
                    .iter()
                    .map(|r| match &r.op {
                        Operator::In(v) => R::new(r.key.clone(), "In", v.clone()),
                        Operator::NotIn(v) => R::new(r.key.clone(), "NotIn", v.clone()),
                        Operator::Exists => R::new(r.key.clone(), "Exists", Vec::<String>::new()),
                        Operator::DoesNotExist => {
                            R::new(r.key.clone(), "DoesNotExist", Vec::<String>::new())
                        }
                    })
                    .collect(),
            ),
        }
    }
}

impl fmt::Display for Selector {
    /// The kubectl string form: `app=web,env notin (prod),tier,!legacy`; empty for "everything".
    /// [`FromStr`](std::str::FromStr) reads it back to an equal selector for every selector
    /// [`Selector::new`] builds (valid keys and values, value lists sorted and
    /// deduplicated); a selector [`from_requirements`](Selector::from_requirements) with
    /// other lists prints text that parses to a selector matching the same labels.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match &r.op {
                Operator::In(v) if v.len() == 1 => write!(f, "{}={}", r.key, v.join(""))?,
                Operator::In(v) => write!(f, "{} in ({})", r.key, v.join(","))?,
                Operator::NotIn(v) if v.len() == 1 => write!(f, "{}!={}", r.key, v.join(""))?,
                Operator::NotIn(v) => write!(f, "{} notin ({})", r.key, v.join(","))?,
                Operator::Exists => f.write_str(&r.key)?,
                Operator::DoesNotExist => write!(f, "!{}", r.key)?,
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for Selector {
    type Err = ParseError;
    /// Reads the kubectl selector syntax (see [`parse`]) into compiled requirements in the
    /// order written: `key=value` is `In` with one value, `key!=value` `NotIn` with one,
    /// value lists sorted and deduplicated; the empty string is [`Selector::everything`].
    ///
    /// ```
    /// use netpol::selector::{Operator, Selector};
    /// let sel: Selector = "tier in (web,api),app=shop,!legacy".parse()?;
    /// assert_eq!(sel.requirements()[0].op, Operator::In(vec!["api".into(), "web".into()]));
    /// assert_eq!(sel.to_string(), "tier in (api,web),app=shop,!legacy");
    /// assert!("".parse::<Selector>()?.is_everything());
    /// # Ok::<(), netpol::selector::ParseError>(())
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        text::parse_requirements(s).map(Selector::from_requirements)
    }
}
