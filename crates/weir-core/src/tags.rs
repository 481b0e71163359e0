//! Tags: free-form labels a tenant puts on load balancers, listeners,
//! pools, members and health monitors (Octavia API 2.5), kept as given
//! and filtered on by listings.
//!
//! Octavia's rules, plus two of Weir's: each tag is at most
//! [`MAX_TAG_LEN`] characters (Octavia's column width); a resource keeps
//! at most [`MAX_TAGS`] distinct tags (Octavia sets no count, but an
//! unbounded list is an unbounded row; tempest sends exactly 100 on a
//! listener) and no tag holds control characters (they would reach logs
//! and terminals as given). Octavia keeps a set, so duplicates collapse
//! to the first occurrence; the order given is otherwise kept, so reads
//! are stable.

use crate::Error;

/// Longest tag, in characters.
pub const MAX_TAG_LEN: usize = 255;

/// Most distinct tags on one resource.
pub const MAX_TAGS: usize = 100;

/// Checks `tags` and answers the list to keep: duplicates collapsed,
/// first occurrence first. `field` names the list in errors
/// (`tags`, `members[2].tags`).
pub fn validate(field: &str, tags: &[String]) -> Result<Vec<String>, Error> {
    let mut kept: Vec<String> = Vec::with_capacity(tags.len().min(MAX_TAGS));
    for (i, tag) in tags.iter().enumerate() {
        if tag.chars().count() > MAX_TAG_LEN {
            return Err(Error::invalid(
                format!("{field}[{i}]"),
                format!("longer than {MAX_TAG_LEN} characters"),
            ));
        }
        if tag.chars().any(char::is_control) {
            return Err(Error::invalid(
                format!("{field}[{i}]"),
                "contains control characters",
            ));
        }
        if !kept.contains(tag) {
            kept.push(tag.clone());
        }
    }
    if kept.len() > MAX_TAGS {
        return Err(Error::invalid(
            field,
            format!("{} tags: at most {MAX_TAGS} are kept", kept.len()),
        ));
    }
    Ok(kept)
}

/// Applies a tag update: `Some` replaces the list (empty clears it),
/// `None` leaves `current` as it is.
pub fn apply(
    field: &str,
    current: &mut Vec<String>,
    update: Option<&[String]>,
) -> Result<(), Error> {
    if let Some(tags) = update {
        *current = validate(field, tags)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_hundred_distinct_tags_pass_and_a_hundred_and_one_do_not() {
        let hundred: Vec<String> = (0..100).map(|i| i.to_string()).collect();
        assert_eq!(validate("tags", &hundred).unwrap(), hundred);
        let more: Vec<String> = (0..101).map(|i| i.to_string()).collect();
        let err = validate("tags", &more).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidField { field, .. } if field == "tags"),
            "{err:?}"
        );
    }

    #[test]
    fn duplicates_collapse_before_counting() {
        let mut many = strings(&["a", "b", "a"]);
        many.extend((0..98).map(|i| i.to_string()));
        many.push("b".to_owned());
        let kept = validate("tags", &many).unwrap();
        assert_eq!(kept.len(), 100);
        assert_eq!(&kept[..2], ["a", "b"]);
    }

    #[test]
    fn length_counts_characters_and_control_characters_are_refused() {
        let longest = "é".repeat(MAX_TAG_LEN);
        assert!(validate("tags", &[longest]).is_ok());
        let err = validate("tags", &strings(&["ok", &"x".repeat(256)])).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidField { field, .. } if field == "tags[1]"),
            "{err:?}"
        );
        let err = validate("members[2].tags", &strings(&["a\nb"])).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidField { field, .. } if field == "members[2].tags[0]"),
            "{err:?}"
        );
        // Octavia refuses neither an empty tag nor one with spaces.
        assert_eq!(validate("tags", &strings(&["", "a b"])).unwrap().len(), 2);
    }

    #[test]
    fn an_update_replaces_clears_or_leaves() {
        let mut tags = strings(&["a"]);
        apply("tags", &mut tags, None).unwrap();
        assert_eq!(tags, ["a"]);
        apply("tags", &mut tags, Some(&strings(&["b", "b", "c"]))).unwrap();
        assert_eq!(tags, ["b", "c"]);
        apply("tags", &mut tags, Some(&[])).unwrap();
        assert!(tags.is_empty());
        assert!(apply("tags", &mut tags, Some(&strings(&["\u{7}"]))).is_err());
    }
}
