//! The tokenizer: Calico's `tokenizer.AppendTokens`, one token at a time.
//!
//! Calico tokenizes the whole input before parsing; reading tokens on demand refuses the
//! same inputs (a selector is accepted only when every token is read and parsed) and
//! lets an error point at the first problem in the text.

use super::MAX_KEY_LEN;
use super::error::ParseError;

/// A token and the bytes it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Token<'a> {
    pub tok: Tok<'a>,
    /// Byte offset where the token starts.
    pub start: usize,
    /// The token as written (for a string, with its quotes); empty at the end.
    pub text: &'a str,
}

/// Calico's token kinds, with the text of labels and strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tok<'a> {
    Label(&'a str),
    /// A string's contents, without the quotes.
    Str(&'a str),
    LBrace,
    RBrace,
    Comma,
    Eq,
    Ne,
    In,
    NotIn,
    Contains,
    StartsWith,
    EndsWith,
    Not,
    All,
    Global,
    Has(&'a str),
    LParen,
    RParen,
    And,
    Or,
    /// A character that starts no token (Calico: "expected identifier"); the parser
    /// reports it with what it expected instead.
    Unknown,
    End,
}

pub(super) const EXPECTED_OPERATOR: &str =
    "an operator (==, !=, in, not in, contains, starts with, ends with)";

/// Label key bytes: `[A-Za-z0-9_./-]`.
pub(super) fn is_key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'/' | b'-')
}

/// Calico skips spaces and tabs only; any other whitespace is refused.
fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

fn trim_blanks(s: &str) -> &str {
    s.trim_start_matches([' ', '\t'])
}

/// The longest prefix of label key bytes.
fn key_prefix(s: &str) -> &str {
    let end = s.bytes().position(|c| !is_key_byte(c)).unwrap_or(s.len());
    s.get(..end).unwrap_or("")
}

/// What an error shows as found at the start of `s`: a word of key bytes, else one
/// character, else nothing (the end).
pub(super) fn found_at(s: &str) -> &str {
    let word = key_prefix(s);
    if !word.is_empty() {
        return word;
    }
    match s.chars().next() {
        Some(c) => s.get(..c.len_utf8()).unwrap_or(""),
        None => "",
    }
}

/// The end of a word: the end of the input or a byte that cannot be in a label key.
fn is_boundary(rest: &str) -> bool {
    rest.bytes().next().is_none_or(|c| !is_key_byte(c))
}

/// `words` in sequence, spaces and tabs allowed (not required) between them, then a
/// word boundary: `starts with`, `startswith`, `not  in`. Returns the rest.
fn cut_words<'a>(s: &'a str, words: &[&str]) -> Option<&'a str> {
    let mut rest = s;
    for (i, word) in words.iter().enumerate() {
        if i > 0 {
            rest = trim_blanks(rest);
        }
        rest = rest.strip_prefix(word)?;
    }
    is_boundary(rest).then_some(rest)
}

pub(super) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    /// Whether the previous token was a label: then only an operator may follow.
    after_label: bool,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(src: &'a str) -> Self {
        Lexer {
            src,
            pos: 0,
            after_label: false,
        }
    }

    /// Whether nothing but spaces and tabs is left (Calico: an empty selector).
    pub(super) fn only_blanks_left(&self) -> bool {
        self.rest().bytes().all(is_blank)
    }

    fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn rest_at(&self, pos: usize) -> &'a str {
        self.src.get(pos..).unwrap_or("")
    }

    /// Reads a label key at `pos`: at least one key byte, at most [`MAX_KEY_LEN`].
    fn key_at(&self, pos: usize, expected: &'static str) -> Result<&'a str, ParseError> {
        let rest = self.rest_at(pos);
        let key = key_prefix(rest);
        if key.is_empty() {
            return Err(ParseError::unexpected(pos, found_at(rest), expected));
        }
        if key.len() > MAX_KEY_LEN {
            return Err(ParseError::too_long(pos, key));
        }
        Ok(key)
    }

    /// After `name(`: spaces and tabs, then `)`. Returns the offset past the `)`.
    fn close_paren(&self, pos: usize) -> Result<usize, ParseError> {
        let rest = self.rest_at(pos);
        let trimmed = trim_blanks(rest);
        let at = pos + (rest.len() - trimmed.len());
        if trimmed.starts_with(')') {
            Ok(at + 1)
        } else {
            Err(ParseError::unexpected(at, found_at(trimmed), "')'"))
        }
    }

    /// The next token.
    pub(super) fn next_token(&mut self) -> Result<Token<'a>, ParseError> {
        let rest = self.rest();
        let trimmed = trim_blanks(rest);
        self.pos += rest.len() - trimmed.len();
        let start = self.pos;
        let Some(&c) = trimmed.as_bytes().first() else {
            return Ok(Token {
                tok: Tok::End,
                start,
                text: "",
            });
        };
        let (tok, len) = match c {
            b'(' => (Tok::LParen, 1),
            b')' => (Tok::RParen, 1),
            b'{' => (Tok::LBrace, 1),
            b'}' => (Tok::RBrace, 1),
            b',' => (Tok::Comma, 1),
            b'"' | b'\'' => {
                let body = trimmed.get(1..).unwrap_or("");
                match body.find(char::from(c)) {
                    Some(end) => (Tok::Str(body.get(..end).unwrap_or("")), end + 2),
                    None => return Err(ParseError::unterminated(start, trimmed)),
                }
            }
            b'=' if trimmed.starts_with("==") => (Tok::Eq, 2),
            b'=' => return Err(ParseError::unexpected(start, "=", "'=='")),
            b'!' if trimmed.starts_with("!=") => (Tok::Ne, 2),
            b'!' => (Tok::Not, 1),
            b'&' if trimmed.starts_with("&&") => (Tok::And, 2),
            b'&' => return Err(ParseError::unexpected(start, "&", "'&&'")),
            b'|' if trimmed.starts_with("||") => (Tok::Or, 2),
            b'|' => return Err(ParseError::unexpected(start, "|", "'||'")),
            _ if self.after_label => {
                let ops: [(&[&str], Tok<'a>); 5] = [
                    (&["contains"], Tok::Contains),
                    (&["starts", "with"], Tok::StartsWith),
                    (&["ends", "with"], Tok::EndsWith),
                    (&["not", "in"], Tok::NotIn),
                    (&["in"], Tok::In),
                ];
                let found = ops
                    .iter()
                    .find_map(|(words, tok)| cut_words(trimmed, words).map(|r| (*tok, r)));
                match found {
                    Some((tok, r)) => (tok, trimmed.len() - r.len()),
                    None => {
                        return Err(ParseError::unexpected(
                            start,
                            found_at(trimmed),
                            EXPECTED_OPERATOR,
                        ));
                    }
                }
            }
            _ => {
                if trimmed.starts_with("has(") {
                    let rest = self.rest_at(start + 4);
                    let key_pos = start + 4 + (rest.len() - trim_blanks(rest).len());
                    let key = self.key_at(key_pos, "a label key")?;
                    let end = self.close_paren(key_pos + key.len())?;
                    (Tok::Has(key), end - start)
                } else if trimmed.starts_with("all(") {
                    (Tok::All, self.close_paren(start + 4)? - start)
                } else if trimmed.starts_with("global(") {
                    (Tok::Global, self.close_paren(start + 7)? - start)
                } else if is_key_byte(c) {
                    let key = self.key_at(start, "a label key")?;
                    (Tok::Label(key), key.len())
                } else {
                    (Tok::Unknown, found_at(trimmed).len())
                }
            }
        };
        self.pos = start + len;
        self.after_label = matches!(tok, Tok::Label(_));
        Ok(Token {
            tok,
            start,
            text: self.src.get(start..self.pos).unwrap_or(""),
        })
    }
}
