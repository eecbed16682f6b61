//! The apiserver's string checks (`k8s.io/apimachinery/pkg/util/validation` and
//! `pkg/api/validate/content`), each returning the upstream messages, empty when valid.
//!
//! Lengths are counted in bytes, as upstream's `len()` does. Two families of length
//! messages exist upstream and are kept apart here: the label checks of the `content`
//! package say "bytes" (`name part must be no more than 63 bytes`), the DNS name checks of
//! `util/validation` used for `metadata.name` and `metadata.namespace` say "characters".

/// Longest label value, and longest name part of a qualified name.
///
/// The example shows the limit at work in the public checks:
///
/// ```
/// use netpol::validate::is_valid_label_value;
/// assert!(is_valid_label_value(&"a".repeat(63)).is_empty());
/// assert_eq!(is_valid_label_value(&"a".repeat(64)), ["must be no more than 63 bytes"]);
/// ```
pub const LABEL_VALUE_MAX_LENGTH: usize = 63;
/// Longest DNS-1123 label.
///
/// ```
/// use netpol::validate::is_dns1123_label;
/// assert!(is_dns1123_label(&"x".repeat(63)).is_empty());
/// assert_eq!(is_dns1123_label(&"x".repeat(64))[0], "must be no more than 63 characters");
/// ```
pub const DNS1123_LABEL_MAX_LENGTH: usize = 63;
/// Longest DNS-1123 subdomain.
///
/// ```
/// use netpol::validate::is_dns1123_subdomain;
/// let longest = ["a".repeat(63), "b".repeat(63), "c".repeat(63), "d".repeat(61)].join(".");
/// assert_eq!(longest.len(), 253);
/// assert!(is_dns1123_subdomain(&longest).is_empty());
/// assert_eq!(is_dns1123_subdomain(&format!("{longest}e"))[0], "must be no more than 253 characters");
/// ```
pub const DNS1123_SUBDOMAIN_MAX_LENGTH: usize = 253;

const LABEL_KEY_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_KEY_ERR: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_ERR: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_ERR: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_ERR: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";

/// Which wording a length message uses (see the module documentation).
#[derive(Clone, Copy)]
enum Unit {
    Bytes,
    Characters,
}

fn max_len_error(n: usize, unit: Unit) -> String {
    match unit {
        Unit::Bytes => format!("must be no more than {n} bytes"),
        Unit::Characters => format!("must be no more than {n} characters"),
    }
}

/// Upstream's `RegexError`: the message, examples, and the regex.
fn regex_error(msg: &str, re: &str, examples: &[&str]) -> String {
    let mut out = String::from(msg);
    if examples.is_empty() {
        out.push_str(" (regex used for validation is '");
    } else {
        out.push_str(" (e.g. ");
        for (i, e) in examples.iter().enumerate() {
            if i > 0 {
                out.push_str(" or ");
            }
            out.push('\'');
            out.push_str(e);
            out.push_str("', ");
        }
        out.push_str("regex used for validation is '");
    }
    out.push_str(re);
    out.push_str("')");
    out
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, anchored.
fn matches_label_key_name(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => {
            f.is_ascii_alphanumeric()
                && l.is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, anchored.
fn matches_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => alnum(f) && alnum(l) && b.iter().all(|c| alnum(c) || *c == b'-'),
        _ => false,
    }
}

/// Labels joined by single dots, anchored.
fn matches_dns1123_subdomain(s: &str) -> bool {
    s.split('.').all(matches_dns1123_label)
}

fn dns1123_subdomain(value: &str, unit: Unit) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH, unit));
    }
    if !matches_dns1123_subdomain(value) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_ERR,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// Checks a qualified name (a label key, an annotation key): an optional DNS-1123
/// subdomain prefix and `/`, then a name of at most 63 alphanumerics, `-`, `_`, `.`.
///
/// ```
/// use netpol::validate::is_qualified_name;
/// assert!(is_qualified_name("app.kubernetes.io/name").is_empty());
/// assert_eq!(is_qualified_name("/app"), vec!["prefix part must be non-empty"]);
/// assert!(is_qualified_name("a/b/c")[0].starts_with("a valid label key must consist of"));
/// ```
#[must_use]
pub fn is_qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_owned());
            } else {
                for m in dns1123_subdomain(prefix, Unit::Bytes) {
                    errs.push(format!("prefix part {m}"));
                }
            }
            *name
        }
        _ => {
            errs.push(format!(
                "a valid label key {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(LABEL_KEY_ERR, LABEL_KEY_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_owned());
    } else if name.len() > LABEL_VALUE_MAX_LENGTH {
        errs.push(format!(
            "name part {}",
            max_len_error(LABEL_VALUE_MAX_LENGTH, Unit::Bytes)
        ));
    }
    if !matches_label_key_name(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                LABEL_KEY_ERR,
                LABEL_KEY_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// Checks a label value: empty, or at most 63 alphanumerics, `-`, `_`, `.`, starting and
/// ending with an alphanumeric.
///
/// ```
/// use netpol::validate::is_valid_label_value;
/// assert!(is_valid_label_value("").is_empty());
/// assert!(is_valid_label_value("v1.2_rc-3").is_empty());
/// assert_eq!(is_valid_label_value(&"a".repeat(64))[0], "must be no more than 63 bytes");
/// assert!(is_valid_label_value("-x")[0].starts_with("a valid label must be an empty string"));
/// ```
#[must_use]
pub fn is_valid_label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > LABEL_VALUE_MAX_LENGTH {
        errs.push(max_len_error(LABEL_VALUE_MAX_LENGTH, Unit::Bytes));
    }
    if !value.is_empty() && !matches_label_key_name(value) {
        errs.push(regex_error(
            LABEL_VALUE_ERR,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// Checks a DNS-1123 label (a namespace name): at most 63 lowercase alphanumerics or `-`,
/// starting and ending with an alphanumeric.
///
/// ```
/// use netpol::validate::is_dns1123_label;
/// assert!(is_dns1123_label("kube-system").is_empty());
/// assert_eq!(is_dns1123_label("a.b"), vec!["must not contain dots"]);
/// ```
#[must_use]
pub fn is_dns1123_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_LABEL_MAX_LENGTH, Unit::Characters));
    }
    if !matches_dns1123_label(value) {
        if matches_dns1123_subdomain(value) {
            errs.push("must not contain dots".to_owned());
        } else {
            errs.push(regex_error(
                DNS1123_LABEL_ERR,
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

/// Checks a DNS-1123 subdomain (an object name): at most 253 characters, DNS-1123 labels
/// joined by dots.
///
/// ```
/// use netpol::validate::is_dns1123_subdomain;
/// assert!(is_dns1123_subdomain("allow.web-1").is_empty());
/// assert!(is_dns1123_subdomain("Web")[0].starts_with("a lowercase RFC 1123 subdomain"));
/// ```
#[must_use]
pub fn is_dns1123_subdomain(value: &str) -> Vec<String> {
    dns1123_subdomain(value, Unit::Characters)
}

/// Checks a port name (an IANA service name): at most 15 characters of `[-a-z0-9]`, at
/// least one letter, no leading, trailing or doubled hyphen.
///
/// ```
/// use netpol::validate::is_valid_port_name;
/// assert!(is_valid_port_name("http-alt").is_empty());
/// assert_eq!(is_valid_port_name("8080"), vec!["must contain at least one letter (a-z)"]);
/// ```
pub fn is_valid_port_name(port: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let b = port.as_bytes();
    if b.len() > 15 {
        errs.push(max_len_error(15, Unit::Characters));
    }
    if b.is_empty()
        || !b
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
    {
        errs.push(
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_owned(),
        );
    }
    if !b.iter().any(u8::is_ascii_lowercase) {
        errs.push("must contain at least one letter (a-z)".to_owned());
    }
    if port.contains("--") {
        errs.push("must not contain consecutive hyphens".to_owned());
    }
    if b.first() == Some(&b'-') || b.last() == Some(&b'-') {
        errs.push("must not begin or end with a hyphen".to_owned());
    }
    errs
}

/// Checks a port number: 1 to 65535.
///
/// ```
/// use netpol::validate::is_valid_port_num;
/// assert!(is_valid_port_num(443).is_empty());
/// assert_eq!(is_valid_port_num(0), vec!["must be between 1 and 65535, inclusive"]);
/// ```
#[must_use]
pub fn is_valid_port_num(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec!["must be between 1 and 65535, inclusive".to_owned()]
    }
}

/// Checks an object name or `generateName` prefix the way `NameIsDNSSubdomain` does: with
/// `prefix`, a trailing `-` is masked before the subdomain check. Upstream's
/// `maskTrailingDash` replaces the last *two* bytes with `a` (`name[:len(name)-2] + "a"`),
/// so `--` passes as `a`; a lone `-` (where Go's slice would be out of range and the
/// request fails) is refused here.
///
/// ```
/// use netpol::validate::name_is_dns_subdomain;
/// assert!(name_is_dns_subdomain("web-", true).is_empty());
/// assert!(name_is_dns_subdomain("--", true).is_empty()); // masked to "a"
/// assert!(!name_is_dns_subdomain("web-", false).is_empty());
/// assert!(!name_is_dns_subdomain("-", true).is_empty());
/// ```
#[must_use]
pub fn name_is_dns_subdomain(name: &str, prefix: bool) -> Vec<String> {
    if prefix && name.len() > 1 && name.ends_with('-') {
        let bytes = name.as_bytes();
        let mut masked = bytes.get(..bytes.len() - 2).unwrap_or_default().to_vec();
        masked.push(b'a');
        // Cutting two bytes may split a character: Go keeps the broken bytes, which no
        // subdomain check accepts; U+FFFD is refused the same way.
        return is_dns1123_subdomain(&String::from_utf8_lossy(&masked));
    }
    is_dns1123_subdomain(name)
}
