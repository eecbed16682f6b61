//! The parse error: where, what was found, what was expected.

use std::fmt;

use crate::validate::quote;

use super::MAX_KEY_LEN;

/// What went wrong in a [`ParseError`].
///
/// ```
/// use netpol::calico::selector::{ParseErrorKind, parse};
///
/// let err = parse("a == 'b").unwrap_err();
/// assert_eq!(err.kind(), ParseErrorKind::UnterminatedString);
/// let err = parse("a = 'b'").unwrap_err();
/// assert_eq!(err.kind(), ParseErrorKind::Unexpected { expected: "'=='" });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// Something else was expected at [`ParseError::position`]; `expected` says what would
    /// have fitted, in words.
    Unexpected {
        /// What would have fitted, e.g. `a quoted string` or `',' or '}'`.
        expected: &'static str,
    },
    /// A string opened with `"` or `'` is never closed. Calico's strings have no escapes:
    /// a string ends at the next quote of the kind that opened it.
    UnterminatedString,
    /// A label key longer than Calico's limit of 512 bytes.
    LabelTooLong,
}

/// A selector Calico refuses: the byte position, what was found there and what was
/// expected.
///
/// [`position`](Self::position) is the byte offset of the offending text (the input's
/// length when the input ended too early) and always a char boundary;
/// [`found`](Self::found) is that text (a token, a word, a single character, an
/// unterminated string up to the end, or empty at the end of the input). Calico's own
/// messages carry no position; the refused inputs are exactly Calico's.
///
/// ```
/// use netpol::calico::selector::parse;
///
/// let err = parse("a in {'x' 'y'}").unwrap_err();
/// assert_eq!((err.position(), err.found()), (10, "'y'"));
/// assert_eq!(err.to_string(), r#"found "'y'" at byte 10, expected ',' or '}'"#);
///
/// let err = parse("(a == 'b'").unwrap_err();
/// assert_eq!(err.to_string(), "found end of input at byte 9, expected '&&', '||' or ')'");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub struct ParseError {
    position: usize,
    found: String,
    kind: ParseErrorKind,
}

impl ParseError {
    pub(super) fn unexpected(position: usize, found: &str, expected: &'static str) -> Self {
        ParseError {
            position,
            found: found.to_owned(),
            kind: ParseErrorKind::Unexpected { expected },
        }
    }

    pub(super) fn unterminated(position: usize, found: &str) -> Self {
        ParseError {
            position,
            found: found.to_owned(),
            kind: ParseErrorKind::UnterminatedString,
        }
    }

    pub(super) fn too_long(position: usize, found: &str) -> Self {
        ParseError {
            position,
            found: found.to_owned(),
            kind: ParseErrorKind::LabelTooLong,
        }
    }

    /// Byte offset of the offending text in the input.
    ///
    /// ```
    /// let err = netpol::calico::selector::parse("has(a) && %").unwrap_err();
    /// assert_eq!(err.position(), 10);
    /// ```
    #[must_use]
    pub fn position(&self) -> usize {
        self.position
    }

    /// The offending text as written; empty when the input ended too early.
    ///
    /// ```
    /// let err = netpol::calico::selector::parse("a == 'b' &&").unwrap_err();
    /// assert_eq!(err.found(), "");
    /// assert_eq!(err.position(), 11);
    /// ```
    #[must_use]
    pub fn found(&self) -> &str {
        &self.found
    }

    /// What went wrong.
    ///
    /// ```
    /// use netpol::calico::selector::{ParseErrorKind, parse};
    /// let long = format!("{} == 'v'", "k".repeat(513));
    /// assert_eq!(parse(&long).unwrap_err().kind(), ParseErrorKind::LabelTooLong);
    /// ```
    #[must_use]
    pub fn kind(&self) -> ParseErrorKind {
        self.kind
    }

    /// What would have fitted at [`position`](Self::position), in words.
    ///
    /// ```
    /// let err = netpol::calico::selector::parse("a == b").unwrap_err();
    /// assert_eq!(err.expected(), "a quoted string");
    /// ```
    #[must_use]
    pub fn expected(&self) -> &'static str {
        match self.kind {
            ParseErrorKind::Unexpected { expected } => expected,
            ParseErrorKind::UnterminatedString => {
                if self.found.starts_with('\'') {
                    "a closing \"'\""
                } else {
                    "a closing '\"'"
                }
            }
            ParseErrorKind::LabelTooLong => "a label key of at most 512 bytes",
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ParseErrorKind::Unexpected { expected } => {
                if self.found.is_empty() {
                    f.write_str("found end of input")?;
                } else {
                    write!(f, "found {}", quote(&self.found))?;
                }
                write!(f, " at byte {}, expected {expected}", self.position)
            }
            ParseErrorKind::UnterminatedString => write!(
                f,
                "found unterminated string {} at byte {}, expected {}",
                quote(&self.found),
                self.position,
                self.expected()
            ),
            ParseErrorKind::LabelTooLong => write!(
                f,
                "found label key {} of {} bytes at byte {}, expected at most {MAX_KEY_LEN}",
                quote(&self.found),
                self.found.len(),
                self.position
            ),
        }
    }
}
