//! The kubectl string syntax for label selectors.

use crate::model::LabelSelector;

/// A selector string that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// What went wrong.
    pub message: String,
}

/// Parses `app=web,tier!=db,env in (a,b),!legacy`.
pub fn parse(_text: &str) -> Result<LabelSelector, ParseError> {
    Err(ParseError {
        message: "not yet supported".into(),
    })
}

/// Prints a selector in the string syntax.
pub fn format(_selector: &LabelSelector) -> String {
    String::new()
}
