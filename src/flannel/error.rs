//! Errors and warnings produced while decoding a net-conf.json.

use std::fmt;

use crate::model::DecodeError;

/// The step of flannel's start-up at which a net-conf.json is refused.
///
/// ```
/// use netpol::flannel::{NetConf, Stage};
/// let err = NetConf::parse("{}").unwrap_err();
/// assert_eq!(err.stage(), Stage::Check);
/// assert_eq!(Stage::Check.to_string(), "check");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Stage {
    /// Not JSON, or a value of the wrong type (flannel's `ParseConfig`).
    Parse,
    /// The network check (flannel's `CheckNetworkConfig`).
    Check,
    /// Neither IPv4 nor IPv6 is enabled.
    IpFamily,
    /// Unknown backend type, or the backend's own options are refused.
    Backend,
}

impl Stage {
    /// The lower-case name used in conformance files (`parse`, `check`, `ipfamily`, `backend`).
    ///
    /// ```
    /// assert_eq!(netpol::flannel::Stage::IpFamily.as_str(), "ipfamily");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Parse => "parse",
            Stage::Check => "check",
            Stage::IpFamily => "ipfamily",
            Stage::Backend => "backend",
        }
    }
}

impl fmt::Display for Stage {
    /// [`as_str`](Stage::as_str); [`FromStr`](std::str::FromStr) reads it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stage name that is not `parse`, `check`, `ipfamily` or `backend`.
///
/// ```
/// let err = "lint".parse::<netpol::flannel::Stage>().unwrap_err();
/// assert_eq!(err.to_string(),
///     r#"unknown stage "lint": expected "parse", "check", "ipfamily" or "backend""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown stage \"{0}\": expected \"parse\", \"check\", \"ipfamily\" or \"backend\"")]
pub struct UnknownStage(String);

impl std::str::FromStr for Stage {
    type Err = UnknownStage;
    /// A name as [`as_str`](Stage::as_str) writes it.
    ///
    /// ```
    /// assert_eq!("ipfamily".parse(), Ok(netpol::flannel::Stage::IpFamily));
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Stage::Parse, Stage::Check, Stage::IpFamily, Stage::Backend]
            .into_iter()
            .find(|stage| stage.as_str() == s)
            .ok_or_else(|| UnknownStage(s.to_owned()))
    }
}

/// Why a net-conf.json was refused: the [`Stage`], a message and, for JSON syntax
/// errors, the line and column (1-based).
///
/// ```
/// use netpol::flannel::{NetConf, Stage};
/// let err = NetConf::parse("{\n  \"Network\": \"10.244.0.0/16\"\n  \"Backend\": {}\n}").unwrap_err();
/// assert_eq!(err.stage(), Stage::Parse);
/// assert_eq!(err.line(), Some(3));
/// // A JSON syntax error keeps the decoder's error as its source.
/// let source = std::error::Error::source(&err).unwrap();
/// assert_eq!(source.to_string(), "expected `,` or `}` (line 3, column 3)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{stage} error: {message}")]
pub struct NetConfError {
    stage: Stage,
    message: String,
    position: Option<(usize, usize)>,
    /// The JSON syntax error, for [`Stage::Parse`] errors of that kind.
    #[source]
    source: Option<DecodeError>,
}

impl NetConfError {
    pub(crate) fn new(stage: Stage, message: impl Into<String>) -> Self {
        NetConfError {
            stage,
            message: message.into(),
            position: None,
            source: None,
        }
    }

    pub(crate) fn syntax(err: &serde_json::Error) -> Self {
        let position = (err.line() > 0).then(|| (err.line(), err.column()));
        NetConfError {
            stage: Stage::Parse,
            message: format!("invalid JSON: {err}"),
            position,
            source: Some(crate::model::go_json::syntax_error(err)),
        }
    }

    /// The stage that refused the configuration.
    ///
    /// ```
    /// # use netpol::flannel::{NetConf, Stage};
    /// assert_eq!(NetConf::parse("[").unwrap_err().stage(), Stage::Parse);
    /// ```
    #[must_use]
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// The message, without the stage.
    ///
    /// ```
    /// # use netpol::flannel::NetConf;
    /// let err = NetConf::parse(r#"{"Network": "10.0.0.0/8", "SubnetLen": 31}"#).unwrap_err();
    /// assert_eq!(err.message(), "SubnetLen must be less than /31");
    /// ```
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The 1-based line of a JSON syntax error.
    ///
    /// ```
    /// # use netpol::flannel::NetConf;
    /// assert_eq!(NetConf::parse("{}").unwrap_err().line(), None);
    /// ```
    #[must_use]
    pub fn line(&self) -> Option<usize> {
        self.position.map(|p| p.0)
    }

    /// The 1-based column of a JSON syntax error.
    ///
    /// ```
    /// # use netpol::flannel::NetConf;
    /// assert_eq!(NetConf::parse("{,}").unwrap_err().column(), Some(2));
    /// ```
    #[must_use]
    pub fn column(&self) -> Option<usize> {
        self.position.map(|p| p.1)
    }
}

/// What a [`Warning`] is about.
///
/// ```
/// use netpol::flannel::{NetConf, WarningKind};
/// let parsed = NetConf::parse(r#"{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan", "Direcrouting": true}}"#).unwrap();
/// assert!(matches!(&parsed.warnings[0].kind, WarningKind::UnknownKey { suggestion: Some(s) } if s == "DirectRouting"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WarningKind {
    /// A key flannel does not read; `suggestion` is a known key close to it.
    UnknownKey {
        /// The known key within a small edit distance, if any.
        suggestion: Option<String>,
    },
    /// A key that matched a field only case-insensitively (Go's encoding/json accepts it).
    CaseInsensitiveMatch {
        /// The field's own spelling.
        canonical: String,
    },
    /// An option of another backend, which the chosen backend does not read.
    IgnoredByBackend {
        /// The backend that was chosen (lower-cased).
        backend: String,
    },
    /// An option flannel reads only on Windows.
    WindowsOnly,
    /// A key given more than once; the last value wins.
    DuplicateKey,
    /// A value flannel reads but then does not use (for example `Network` with `EnableIPv4: false`).
    Unused,
    /// A value flannel accepts that is unlikely to work as meant.
    Suspicious,
}

/// Something flannel accepts silently but that is likely a mistake. `path` is the
/// JSON path of the key (`Backend.Direcrouting`), empty for the whole document.
///
/// ```
/// use netpol::flannel::NetConf;
/// let parsed = NetConf::parse(r#"{"network": "10.244.0.0/16", "Backend": {"Type": "host-gw"}}"#).unwrap();
/// assert_eq!(parsed.warnings[0].path, "network");
/// assert!(parsed.warnings[0].to_string().contains("Network"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Warning {
    /// JSON path of the key, with the keys as written.
    pub path: String,
    /// What the warning is about.
    pub kind: WarningKind,
    /// A human-readable explanation.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}
