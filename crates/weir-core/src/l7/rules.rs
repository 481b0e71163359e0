//! Rule validation: a rule's type, comparison, key and value checked as
//! Octavia checks them (header names as RFC 7230 tokens, values without
//! spaces or control characters unless quoted, cookie values as RFC 6265
//! octets), and its regex compiled with Weir's bounds.

use super::*;

/// RFC 7230 `tchar`.
fn tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A header or cookie name: an RFC 7230 token of 1-255 bytes (Octavia's
/// "header name").
pub fn check_key(field: &str, key: &str) -> Result<(), Error> {
    if key.is_empty() || key.len() > MAX_VALUE_LEN || !key.bytes().all(tchar) {
        return Err(Error::invalid(
            field,
            format!(
                "{key:?} is not a header or cookie name (1-{MAX_VALUE_LEN} letters, digits and !#$%&'*+-.^_`|~)"
            ),
        ));
    }
    Ok(())
}

/// Compiles a rule's regex with Weir's bounds; the error is the tenant's.
pub fn compile_regex(
    field: &str,
    pattern: &str,
    case_insensitive: bool,
) -> Result<regex::Regex, Error> {
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .nest_limit(REGEX_NEST_LIMIT)
        .case_insensitive(case_insensitive)
        .build()
        .map_err(|e| {
            let why = match e {
                regex::Error::CompiledTooBig(_) => format!(
                    "the regular expression compiles larger than {} KiB",
                    REGEX_SIZE_LIMIT / 1024
                ),
                regex::Error::Syntax(text) => {
                    // The parser's message spans lines; keep the last.
                    let last = text.lines().rev().find(|l| !l.trim().is_empty());
                    format!(
                        "invalid regular expression: {}",
                        last.unwrap_or("syntax").trim()
                    )
                }
                other => format!("invalid regular expression: {other}"),
            };
            Error::invalid(field, why)
        })
}

/// A value compared as text (not a regex): Octavia's header-value rule,
/// visible ASCII without spaces, or a quoted string (`"a b"`) whose
/// quotes are not part of what is compared; a cookie value is an RFC 6265
/// `cookie-octet` string.
fn check_plain_value(field: &str, rule_type: RuleType, value: &str) -> Result<(), Error> {
    let quoted = value.len() >= 2 && value.starts_with('"') && value.ends_with('"');
    let ok = match rule_type {
        RuleType::Cookie => value
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"\",;\\".contains(&b)),
        _ if quoted => value[1..value.len() - 1]
            .bytes()
            .all(|b| (b == b' ' || b.is_ascii_graphic()) && b != b'"'),
        _ => value.bytes().all(|b| b.is_ascii_graphic()),
    };
    if !ok {
        let what = if rule_type == RuleType::Cookie {
            "a cookie value is visible ASCII without spaces, '\"', ',', ';' or '\\'"
        } else {
            "a value is visible ASCII without spaces, or a quoted string"
        };
        return Err(Error::invalid(field, format!("Invalid characters: {what}")));
    }
    Ok(())
}

/// The text a non-regex value compares with: a quoted value loses its
/// quotes.
pub fn plain_value(value: &str) -> &str {
    if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
        &value[1..value.len() - 1]
    } else {
        value
    }
}

pub(super) fn build_rule(
    at: &str,
    req: &NewL7Rule,
    policy_id: &L7PolicyId,
    project_id: &ProjectId,
    ids: &mut dyn IdSource,
    now: Timestamp,
) -> Result<L7Rule, Error> {
    let field = |name: &str| format!("{at}{name}");
    let rule_type: RuleType = req.rule_type.parse().map_err(|()| {
        Error::invalid(
            field("type"),
            format!(
                "{:?} is not one of {}",
                req.rule_type,
                RuleType::NAMES.join(", ")
            ),
        )
    })?;
    let compare_type: CompareType = req.compare_type.parse().map_err(|()| {
        Error::invalid(
            field("compare_type"),
            format!(
                "{:?} is not one of {}",
                req.compare_type,
                CompareType::NAMES.join(", ")
            ),
        )
    })?;
    let tags = crate::tags::validate(&field("tags"), &req.tags)?;
    let keyed = matches!(rule_type, RuleType::Header | RuleType::Cookie);
    match (&req.key, keyed) {
        (Some(key), true) => check_key(&field("key"), key)?,
        (None, true) => {
            return Err(Error::invalid(
                field("key"),
                format!("L7 rule type {rule_type} requires a key"),
            ))
        }
        (Some(_), false) => {
            return Err(Error::invalid(
                field("key"),
                format!("L7 rule type {rule_type} takes no key"),
            ))
        }
        (None, false) => {}
    }
    if rule_type == RuleType::FileType
        && !matches!(compare_type, CompareType::EqualTo | CompareType::Regex)
    {
        return Err(Error::invalid(
            field("compare_type"),
            "invalid comparison type for rule type file-type (equal-to or regex)",
        ));
    }
    let value = &req.value;
    if value.is_empty() {
        return Err(Error::invalid(
            field("value"),
            "rule value may not be empty",
        ));
    }
    if value.len() > MAX_VALUE_LEN {
        return Err(Error::invalid(
            field("value"),
            format!("longer than {MAX_VALUE_LEN} bytes"),
        ));
    }
    if compare_type == CompareType::Regex {
        if value.chars().any(char::is_control) {
            return Err(Error::invalid(
                field("value"),
                "contains control characters",
            ));
        }
        compile_regex(&field("value"), value, rule_type == RuleType::HostName)?;
    } else {
        check_plain_value(&field("value"), rule_type, value)?;
    }
    Ok(L7Rule {
        id: L7RuleId::new(ids.next_id()),
        project_id: project_id.clone(),
        policy_id: policy_id.clone(),
        rule_type,
        compare_type,
        key: req.key.clone(),
        value: value.clone(),
        invert: req.invert,
        enabled: !req.disabled,
        tags,
        created_at: now,
        updated_at: now,
    })
}
