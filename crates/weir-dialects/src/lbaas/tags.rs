//! Octavia's `tags` (API 2.5) on every resource: the body field read in
//! Octavia's words, the rules left to [`weir_core::tags`], and the four
//! list filters (`tags`, `tags-any`, `not-tags`, `not-tags-any`).

use super::*;

/// A body's `tags`: absent (`None`) leaves them; `null` or `[]` clears
/// them; a list of strings replaces them. `field` prefixes the name in
/// errors (`members[2].`), as every other member field does.
pub(super) fn tags_field(
    field: &str,
    value: &Option<Option<Value>>,
) -> Result<Option<Vec<String>>, LbaasError> {
    let value = match value {
        None => return Ok(None),
        Some(None) => return Ok(Some(Vec::new())),
        Some(Some(v)) => v,
    };
    let invalid = |reason: &str| {
        LbaasError::bad_request(format!(
            "Invalid input for field/attribute {field}tags. Value: '{value}'. {reason}"
        ))
    };
    let list = value
        .as_array()
        .and_then(|items| {
            items
                .iter()
                .map(|t| t.as_str().map(str::to_owned))
                .collect::<Option<Vec<String>>>()
        })
        .ok_or_else(|| invalid("Value should be a list of strings"))?;
    weir_core::tags::validate("tags", &list)
        .map(Some)
        .map_err(|e| invalid(&e.to_string()))
}

/// The tag filter parameters of a listing.
pub(super) const TAG_FILTERS: &[&str] = &["tags", "tags-any", "not-tags", "not-tags-any"];

/// Whether an item (its rendered `tags`) passes every tag filter of the
/// query. Each parameter is a comma-separated list and may repeat (its
/// lists are joined); as in Octavia and Neutron, `tags` asks for all of
/// them, `tags-any` for at least one, `not-tags` refuses items carrying
/// all of them and `not-tags-any` items carrying any.
pub(super) fn tags_match(item: &Value, query: &[(String, String)]) -> bool {
    let has = |tag: &str| {
        item.get("tags")
            .and_then(Value::as_array)
            .is_some_and(|tags| tags.iter().any(|t| t.as_str() == Some(tag)))
    };
    TAG_FILTERS.iter().all(|filter| {
        let mut wanted = query
            .iter()
            .filter(|(k, _)| k == filter)
            .flat_map(|(_, v)| v.split(','))
            .peekable();
        if wanted.peek().is_none() {
            return true;
        }
        match *filter {
            "tags" => wanted.all(has),
            "tags-any" => wanted.any(has),
            "not-tags" => !wanted.all(has),
            _ => !wanted.any(has),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_four_filters_follow_octavia() {
        let item = json!({"tags": ["a", "b"]});
        let none = json!({"tags": []});
        for (query, on_item, on_none) in [
            (q(&[("tags", "a,b")]), true, false),
            (q(&[("tags", "a"), ("tags", "b")]), true, false),
            (q(&[("tags", "a,c")]), false, false),
            (q(&[("tags-any", "c,b")]), true, false),
            (q(&[("tags-any", "c")]), false, false),
            (q(&[("not-tags", "a,c")]), true, true),
            (q(&[("not-tags", "a,b")]), false, true),
            (q(&[("not-tags-any", "c,b")]), false, true),
            (q(&[("not-tags-any", "c")]), true, true),
            (q(&[("tags", "")]), false, false),
            (q(&[("tags", "a"), ("not-tags-any", "b")]), false, false),
        ] {
            assert_eq!(tags_match(&item, &query), on_item, "{query:?}");
            assert_eq!(tags_match(&none, &query), on_none, "{query:?} on none");
        }
    }

    #[test]
    fn the_body_field_is_a_list_of_strings() {
        assert_eq!(tags_field("", &None).unwrap(), None);
        assert_eq!(tags_field("", &Some(None)).unwrap(), Some(Vec::new()));
        assert_eq!(
            tags_field("", &Some(Some(json!(["x", "x", "y"])))).unwrap(),
            Some(vec!["x".to_owned(), "y".to_owned()])
        );
        for bad in [json!("x"), json!([1]), json!({"a": 1})] {
            let e = tags_field("members[1].", &Some(Some(bad))).unwrap_err();
            assert!(
                e.message
                    .starts_with("Invalid input for field/attribute members[1].tags."),
                "{}",
                e.message
            );
        }
        let e = tags_field("", &Some(Some(json!(["y".repeat(256)])))).unwrap_err();
        assert!(e.message.contains("longer than 255"), "{}", e.message);
    }
}
