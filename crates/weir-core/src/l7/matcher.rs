//! A listener's L7 policies compiled once per topology change into a
//! table the HTTP engine evaluates per request without compiling or
//! allocating per rule.
//!
//! Rules are grouped by what they read (the host, the path, the file
//! extension, one header, one cookie: a *subject*). Each subject is read
//! from the request once and compared against all its rules at once:
//! equality by one hash lookup, prefixes and suffixes by one lookup per
//! distinct length, substrings and regexes by one pass of a
//! `regex::bytes::RegexSet` (a lazy DFA, linear in the subject). Each rule
//! sets one bit; a policy matches when every one of its rules' bits
//! (inverted where the rule says) is set. Headers and cookies are found
//! in one pass over the request's fields through hash maps of the wanted
//! names, so a request with many fields costs their number, not their
//! number times the rules'. The cost per request is thus the subjects
//! read plus one bit test per rule, whatever the rule count
//! (`bench/l7_rules.py`).

use std::collections::HashMap;
use std::fmt;

use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use super::*;

/// Bits of the per-request match set: one per rule of the listener.
const WORDS: usize = MAX_RULES.div_ceil(64);

/// Compiled size bound of the substring and regex patterns of one subject
/// of a listener, together: the planner refuses rules past it
/// ([`check_budget`]), which bounds both the memory of a listener's table
/// and the work of one pass when the regex engine has to fall back from
/// its lazy DFA to simulating the NFA (linear in the subject times the
/// NFA's size).
pub const SET_BUDGET: usize = 2 * 1024 * 1024;

/// The table's own limit: the budget, so a set the planner let through
/// always compiles (past it each regex would run on its own: the same
/// answers, more time).
const SET_SIZE_LIMIT: usize = SET_BUDGET;

/// The set a substring or regex rule joins: its subject; `None` for the
/// other comparisons.
fn pattern_subject(r: &L7Rule) -> Option<(RuleType, String)> {
    if !matches!(r.compare_type, CompareType::Regex | CompareType::Contains) {
        return None;
    }
    let key = match r.rule_type {
        RuleType::Header => r.key.as_deref().unwrap_or_default().to_ascii_lowercase(),
        RuleType::Cookie => r.key.clone().unwrap_or_default(),
        _ => String::new(),
    };
    Some((r.rule_type, key))
}

/// Refuses a listener's policies when the substring and regex patterns
/// that one subject would be compared with compile past [`SET_BUDGET`]
/// together. Every rule counts, enabled or not (enabling one later is
/// not checked again). Only the subjects of `touched` (the rules a
/// command writes) are compiled: the others were checked when written,
/// and a command adding no pattern compiles nothing (the check runs in
/// the store's single writer).
pub fn check_budget(policies: &[L7Policy], touched: &[&L7Rule]) -> Result<(), Error> {
    let wanted: Vec<(RuleType, String)> =
        touched.iter().filter_map(|r| pattern_subject(r)).collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let mut groups: HashMap<(RuleType, String), Vec<String>> = HashMap::new();
    for r in policies.iter().flat_map(|p| &p.rules) {
        let Some(subject) = pattern_subject(r).filter(|s| wanted.contains(s)) else {
            continue;
        };
        let pattern = match r.compare_type {
            CompareType::Regex => r.value.clone(),
            _ => regex::escape(plain_value(&r.value)),
        };
        groups.entry(subject).or_default().push(pattern);
    }
    for ((rule_type, key), patterns) in groups {
        let built = RegexSetBuilder::new(&patterns)
            .size_limit(SET_BUDGET)
            .nest_limit(REGEX_NEST_LIMIT)
            .case_insensitive(rule_type == RuleType::HostName)
            .build();
        if let Err(regex::Error::CompiledTooBig(_)) = built {
            let subject = if key.is_empty() {
                rule_type.to_string()
            } else {
                format!("{rule_type} {key}")
            };
            return Err(Error::invalid(
                "value",
                format!(
                    "the listener's regular expressions and substrings on {subject} compile \
                     larger than {} KiB together",
                    SET_BUDGET / 1024
                ),
            ));
        }
    }
    Ok(())
}

/// What a matched policy does, ready to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Forward to the listener's `l7_targets[i]`.
    Pool(usize),
    /// Answer `code` with this `Location`.
    RedirectUrl { url: String, code: u16 },
    /// Answer `code` with `Location:` this prefix (without a trailing
    /// `/`) followed by the request's path and query.
    RedirectPrefix { prefix: String, code: u16 },
    /// Answer 403.
    Reject,
}

struct Policy {
    route: Route,
    /// Indices of its enabled rules.
    rules: Vec<u16>,
}

/// Prefixes (or suffixes) by length: `(length, value -> rules)`, one map
/// per distinct length.
type Affixes = Vec<(usize, HashMap<Box<[u8]>, Vec<u16>>)>;

/// The rules of one subject, by comparison.
#[derive(Default)]
struct Subject {
    equal: HashMap<Box<[u8]>, Vec<u16>>,
    /// `(length, prefix -> rules)`, one map per distinct length.
    prefixes: Affixes,
    suffixes: Affixes,
    /// Substrings (escaped) and regexes, with the rule of each pattern.
    patterns: Vec<(String, u16)>,
    set: Option<RegexSet>,
    /// When the set would be too large: each pattern alone.
    singles: Vec<(Regex, u16)>,
}

impl Subject {
    fn add_affix(list: &mut Affixes, value: &[u8], rule: u16) {
        let len = value.len();
        let slot = match list.iter().position(|(l, _)| *l == len) {
            Some(i) => i,
            None => {
                list.push((len, HashMap::new()));
                list.len() - 1
            }
        };
        list[slot].1.entry(value.into()).or_default().push(rule);
    }

    fn finish(&mut self, case_insensitive: bool) {
        if self.patterns.is_empty() {
            return;
        }
        let size = (REGEX_SIZE_LIMIT * self.patterns.len()).min(SET_SIZE_LIMIT);
        let built = RegexSetBuilder::new(self.patterns.iter().map(|(p, _)| p))
            .size_limit(size)
            .nest_limit(REGEX_NEST_LIMIT)
            .case_insensitive(case_insensitive)
            .build();
        match built {
            Ok(set) => self.set = Some(set),
            Err(_) => {
                // Each was compiled within the limit by the planner.
                self.singles = self
                    .patterns
                    .iter()
                    .filter_map(|(p, rule)| {
                        RegexBuilder::new(p)
                            .size_limit(REGEX_SIZE_LIMIT)
                            .nest_limit(REGEX_NEST_LIMIT)
                            .case_insensitive(case_insensitive)
                            .build()
                            .ok()
                            .map(|r| (r, *rule))
                    })
                    .collect();
            }
        }
    }

    fn run(&self, value: &[u8], bits: &mut Bits) {
        if let Some(rules) = self.equal.get(value) {
            bits.set_all(rules);
        }
        for (len, map) in &self.prefixes {
            if let Some(rules) = value.get(..*len).and_then(|p| map.get(p)) {
                bits.set_all(rules);
            }
        }
        for (len, map) in &self.suffixes {
            if let Some(start) = value.len().checked_sub(*len) {
                if let Some(rules) = map.get(&value[start..]) {
                    bits.set_all(rules);
                }
            }
        }
        if let Some(set) = &self.set {
            for i in set.matches(value).iter() {
                bits.set(self.patterns[i].1);
            }
        }
        for (regex, rule) in &self.singles {
            if regex.is_match(value) {
                bits.set(*rule);
            }
        }
    }
}

/// One bit per rule, on the stack.
#[derive(Clone, Copy)]
struct Bits([u64; WORDS]);

impl Bits {
    fn set(&mut self, i: u16) {
        let i = usize::from(i);
        self.0[i / 64] |= 1 << (i % 64);
    }

    fn set_all(&mut self, rules: &[u16]) {
        for r in rules {
            self.set(*r);
        }
    }

    fn get(&self, i: u16) -> bool {
        let i = usize::from(i);
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
}

/// A listener's compiled policies.
pub struct L7Table {
    /// What it was compiled from, for equality (the topology diff).
    source: Vec<L7Policy>,
    /// Enabled policies with enabled rules, in evaluation order.
    policies: Vec<Policy>,
    invert: Bits,
    subjects: Vec<Subject>,
    host: Option<usize>,
    path: Option<usize>,
    file_type: Option<usize>,
    /// Lower-case header name -> subject.
    headers: HashMap<Box<[u8]>, usize>,
    /// Cookie name (case-sensitive) -> subject.
    cookies: HashMap<Box<[u8]>, usize>,
    /// Each pool `compile` named, in the order it named them.
    target_order: Vec<PoolId>,
}

impl PartialEq for L7Table {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for L7Table {}

impl fmt::Debug for L7Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("L7Table")
            .field("policies", &self.policies.len())
            .field("subjects", &self.subjects.len())
            .finish()
    }
}

/// The evaluation class of an action: rejects, then redirects, then
/// forwards (Octavia's order, see the module docs).
fn class(action: &L7Action) -> u8 {
    match action {
        L7Action::Reject => 0,
        L7Action::RedirectToUrl { .. } | L7Action::RedirectPrefix { .. } => 1,
        L7Action::RedirectToPool { .. } => 2,
    }
}

impl L7Table {
    /// The policies it was compiled from.
    pub fn source(&self) -> &[L7Policy] {
        &self.source
    }

    /// The pools of its REDIRECT_TO_POOL routes in the order
    /// [`Self::compile`] asked for their index.
    pub fn target_order(&self) -> &[PoolId] {
        &self.target_order
    }

    /// Compiles a listener's policies; `target` gives the index of a
    /// REDIRECT_TO_POOL pool in the listener's targets. `None` when no
    /// policy can match (none enabled with an enabled rule): the engine
    /// then does no L7 work at all.
    pub fn compile(
        policies: &[L7Policy],
        mut target: impl FnMut(&PoolId) -> usize,
    ) -> Option<Self> {
        let mut order: Vec<&L7Policy> = policies
            .iter()
            .filter(|p| p.enabled && p.rules.iter().any(|r| r.enabled))
            .collect();
        if order.is_empty() {
            return None;
        }
        order.sort_by_key(|p| (class(&p.action), p.position));
        let mut table = L7Table {
            source: policies.to_vec(),
            policies: Vec::with_capacity(order.len()),
            invert: Bits([0; WORDS]),
            subjects: Vec::new(),
            host: None,
            path: None,
            file_type: None,
            headers: HashMap::new(),
            cookies: HashMap::new(),
            target_order: Vec::new(),
        };
        let mut next_rule: u16 = 0;
        for p in order {
            let route = match &p.action {
                L7Action::RedirectToPool { pool_id } => {
                    table.target_order.push(pool_id.clone());
                    Route::Pool(target(pool_id))
                }
                L7Action::RedirectToUrl { url, code } => Route::RedirectUrl {
                    url: url.clone(),
                    code: *code,
                },
                L7Action::RedirectPrefix { prefix, code } => Route::RedirectPrefix {
                    prefix: prefix.strip_suffix('/').unwrap_or(prefix).to_owned(),
                    code: *code,
                },
                L7Action::Reject => Route::Reject,
            };
            let mut rules = Vec::new();
            for r in p.rules.iter().filter(|r| r.enabled) {
                // The planner caps a listener at MAX_RULES; past it the
                // policy could not be evaluated, so it never matches.
                if usize::from(next_rule) >= MAX_RULES {
                    rules.clear();
                    break;
                }
                let i = next_rule;
                next_rule += 1;
                if r.invert {
                    table.invert.set(i);
                }
                table.add_rule(r, i);
                rules.push(i);
            }
            if !rules.is_empty() {
                table.policies.push(Policy { route, rules });
            }
        }
        for (i, s) in table.subjects.iter_mut().enumerate() {
            s.finish(Some(i) == table.host);
        }
        Some(table)
    }

    fn subject(&mut self, r: &L7Rule) -> usize {
        let fresh = self.subjects.len();
        let slot = match r.rule_type {
            RuleType::HostName => self.host.get_or_insert(fresh),
            RuleType::Path => self.path.get_or_insert(fresh),
            RuleType::FileType => self.file_type.get_or_insert(fresh),
            RuleType::Header => {
                let key = r.key.as_deref().unwrap_or_default().to_ascii_lowercase();
                self.headers
                    .entry(key.into_bytes().into_boxed_slice())
                    .or_insert(fresh)
            }
            RuleType::Cookie => {
                let key = r.key.as_deref().unwrap_or_default();
                self.cookies.entry(key.as_bytes().into()).or_insert(fresh)
            }
        };
        let slot = *slot;
        if slot == fresh {
            self.subjects.push(Subject::default());
        }
        slot
    }

    fn add_rule(&mut self, r: &L7Rule, i: u16) {
        let s = self.subject(r);
        let host = r.rule_type == RuleType::HostName;
        let subject = &mut self.subjects[s];
        let mut value = if r.compare_type == CompareType::Regex {
            r.value.clone()
        } else {
            plain_value(&r.value).to_owned()
        };
        if host && r.compare_type != CompareType::Regex {
            value.make_ascii_lowercase();
        }
        if r.rule_type == RuleType::FileType && r.compare_type == CompareType::EqualTo {
            // "jpg" and ".jpg" both name the extension.
            value = value.strip_prefix('.').unwrap_or(&value).to_owned();
        }
        match r.compare_type {
            CompareType::EqualTo => subject
                .equal
                .entry(value.into_bytes().into_boxed_slice())
                .or_default()
                .push(i),
            CompareType::StartsWith => {
                Subject::add_affix(&mut subject.prefixes, value.as_bytes(), i)
            }
            CompareType::EndsWith => Subject::add_affix(&mut subject.suffixes, value.as_bytes(), i),
            CompareType::Contains => subject.patterns.push((regex::escape(&value), i)),
            CompareType::Regex => subject.patterns.push((value, i)),
        }
    }

    /// The route of a request: its `Host` field value (if any), its
    /// request target, and its header fields in order. `None`: no policy
    /// matched, the listener's default pool serves.
    pub fn evaluate<'h>(
        &self,
        host: Option<&[u8]>,
        target: &[u8],
        headers: impl Iterator<Item = (&'h str, &'h [u8])>,
    ) -> Option<&Route> {
        let mut bits = Bits([0; WORDS]);
        if let (Some(s), Some(host)) = (self.host, host) {
            let host = host_without_port(host);
            let mut buf = [0u8; 256];
            if host.len() <= buf.len() {
                let lower = &mut buf[..host.len()];
                lower.copy_from_slice(host);
                lower.make_ascii_lowercase();
                self.subjects[s].run(lower, &mut bits);
            } else {
                self.subjects[s].run(&host.to_ascii_lowercase(), &mut bits);
            }
        }
        let path = path_of(target);
        if let Some(s) = self.path {
            self.subjects[s].run(path, &mut bits);
        }
        if let (Some(s), Some(ext)) = (self.file_type, extension_of(path)) {
            self.subjects[s].run(ext, &mut bits);
        }
        if !self.headers.is_empty() || !self.cookies.is_empty() {
            self.run_fields(headers, &mut bits);
        }
        self.policies
            .iter()
            .find(|p| p.rules.iter().all(|&r| bits.get(r) != self.invert.get(r)))
            .map(|p| &p.route)
    }

    /// One pass over the fields: the first field of each wanted header
    /// name and the first cookie of each wanted cookie name.
    fn run_fields<'h>(&self, headers: impl Iterator<Item = (&'h str, &'h [u8])>, bits: &mut Bits) {
        let mut seen = Bits([0; WORDS]);
        let mut buf = [0u8; MAX_VALUE_LEN];
        for (name, value) in headers {
            if !self.cookies.is_empty() && name.eq_ignore_ascii_case("cookie") {
                for (cookie, v) in cookie_pairs(value) {
                    if let Some(&s) = self.cookies.get(cookie) {
                        if !seen.get(s as u16) {
                            seen.set(s as u16);
                            self.subjects[s].run(v, bits);
                        }
                    }
                }
            }
            // Longer names cannot be wanted (keys are at most 255 bytes).
            if self.headers.is_empty() || name.len() > buf.len() {
                continue;
            }
            let lower = &mut buf[..name.len()];
            lower.copy_from_slice(name.as_bytes());
            lower.make_ascii_lowercase();
            if let Some(&s) = self.headers.get(&*lower) {
                if !seen.get(s as u16) {
                    seen.set(s as u16);
                    self.subjects[s].run(value, bits);
                }
            }
        }
    }
}

/// The host of a `Host` value without its port: `example.com:8080` →
/// `example.com`, `[::1]:80` → `[::1]`.
pub fn host_without_port(host: &[u8]) -> &[u8] {
    if host.first() == Some(&b'[') {
        return match host.iter().position(|&b| b == b']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.iter().rposition(|&b| b == b':') {
        Some(colon) => &host[..colon],
        None => host,
    }
}

/// The path of a request target, without its query: origin-form as is,
/// absolute-form (`http://host/p?q`) from the path on, anything else
/// (`*`, authority-form) whole.
pub fn path_of(target: &[u8]) -> &[u8] {
    let from_path = if target.first() == Some(&b'/') {
        target
    } else if let Some(at) = find(target, b"://") {
        let rest = &target[at + 3..];
        match rest.iter().position(|&b| b == b'/' || b == b'?') {
            Some(slash) if rest[slash] == b'/' => &rest[slash..],
            _ => b"/",
        }
    } else {
        target
    };
    match from_path.iter().position(|&b| b == b'?' || b == b'#') {
        Some(q) => &from_path[..q],
        None => from_path,
    }
}

/// Appends a request target's path and query (no fragment) to a
/// `Location` value being built for a prefix redirect, percent-encoding
/// what is not visible ASCII ([`push_location`]).
pub fn push_path_and_query(out: &mut Vec<u8>, target: &[u8]) {
    let from = if target.first() == Some(&b'/') {
        target
    } else if let Some(at) = find(target, b"://") {
        let rest = &target[at + 3..];
        match rest.iter().position(|&b| b == b'/' || b == b'?') {
            Some(i) if rest[i] == b'/' => &rest[i..],
            Some(i) => {
                out.push(b'/');
                &rest[i..]
            }
            None => b"/",
        }
    } else {
        target
    };
    let end = from.iter().position(|&b| b == b'#').unwrap_or(from.len());
    push_location(out, &from[..end]);
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The extension of a path's last segment, without the dot: `/a/b.tar.gz`
/// → `gz`; none for `/a/b` or `/a.d/b`.
pub fn extension_of(path: &[u8]) -> Option<&[u8]> {
    let last = match path.iter().rposition(|&b| b == b'/') {
        Some(slash) => &path[slash + 1..],
        None => path,
    };
    let dot = last.iter().rposition(|&b| b == b'.')?;
    Some(&last[dot + 1..])
}

/// The `name=value` pairs of a `Cookie` field (RFC 6265 §5.4, leniently:
/// pairs without `=` are skipped, whitespace around them trimmed).
pub fn cookie_pairs(value: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    value.split(|&b| b == b';').filter_map(|pair| {
        let pair = trim(pair);
        let eq = pair.iter().position(|&b| b == b'=')?;
        Some((trim(&pair[..eq]), trim(&pair[eq + 1..])))
    })
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Appends `bytes` to a `Location` value, percent-encoding anything that
/// is not visible ASCII, so no request byte can end the field (CR, LF)
/// or break it (space, control, non-ASCII).
pub fn push_location(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_graphic() {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
}
