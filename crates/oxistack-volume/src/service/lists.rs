//! Cinder's lists: its filters are Cinder's own (`metadata` as a JSON
//! dict, `bootable`, `name~` like-filters, unknown ones ignored as before
//! resource filters), applied to the records here; ordering and pages
//! (`sort=key:dir,...`, `sort_key`/`sort_dir`, `limit`, `marker`) come
//! from `oxistack-list` over a small sortable document per record.
//! Cinder's default order is newest first.

use std::collections::HashMap;

use oxistack_list::{AttrType, Attribute, Collection, Item, ListError, ListQuery};
use serde_json::{Map, Value};

use super::VolumeError;

/// A list request as Cinder reads its query.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    /// Filters (`name`, `status`, `metadata`, `name~`...), as given.
    pub filters: Vec<(String, String)>,
    /// `all_tenants`: every project's (administrators only).
    pub all_tenants: bool,
    /// `(key, dir)`, in order.
    pub sort: Vec<(String, String)>,
    pub limit: Option<usize>,
    pub marker: Option<String>,
    /// Items skipped after the marker.
    pub offset: Option<usize>,
    pub with_count: bool,
}

/// A page of a list, with the total count if asked and the marker of a
/// next page if there is one.
#[derive(Debug, Clone)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub count: Option<usize>,
    pub next_marker: Option<String>,
}

/// What a record offers its list: an id and the attributes filters and
/// sort keys compare.
pub(super) trait Listable {
    fn id(&self) -> &str;
    fn attributes(&self) -> Map<String, Value>;
    fn metadata(&self) -> Option<&crate::model::Metadata> {
        None
    }
}

/// The attributes lists sort on; the same table for every collection
/// (an attribute a record lacks sorts as null).
pub(super) static SORTABLE: Collection = Collection {
    singular: "resource",
    plural: "resources",
    attributes: &[
        Attribute::new("id", AttrType::Text),
        Attribute::new("name", AttrType::Text),
        Attribute::new("description", AttrType::Text),
        Attribute::new("status", AttrType::Text),
        Attribute::new("size", AttrType::Int),
        Attribute::new("created_at", AttrType::Text),
        Attribute::new("updated_at", AttrType::Text),
        Attribute::new("availability_zone", AttrType::Text),
        Attribute::new("bootable", AttrType::Text),
        Attribute::new("project_id", AttrType::Text),
        Attribute::new("volume_id", AttrType::Text),
        Attribute::new("volume_type", AttrType::Text),
        Attribute::new("instance_uuid", AttrType::Text),
    ],
    taggable: false,
};

/// Parameters that are not filters.
const NOT_FILTERS: &[&str] = &[
    "all_tenants",
    "sort",
    "sort_key",
    "sort_dir",
    "limit",
    "marker",
    "offset",
    "with_count",
    "is_public",
];

/// Whether a record passes Cinder's filters.
fn matches<R: Listable>(
    record: &R,
    attrs: &Map<String, Value>,
    filters: &[(String, String)],
) -> Result<bool, VolumeError> {
    for (key, wanted) in filters {
        if NOT_FILTERS.contains(&key.as_str()) {
            continue;
        }
        if key == "metadata" {
            // Cinder reads it with `ast.literal_eval`: JSON or a Python dict.
            let wanted: HashMap<String, Value> = serde_json::from_str(wanted)
                .or_else(|_| serde_json::from_str(&python_literal_as_json(wanted)))
                .map_err(|_| {
                    VolumeError::InvalidInput(format!("Invalid metadata filter: {wanted}"))
                })?;
            let Some(metadata) = record.metadata() else {
                continue;
            };
            let all = wanted.iter().all(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                metadata.get(k) == Some(&v)
            });
            if !all {
                return Ok(false);
            }
            continue;
        }
        let (name, like) = match key.strip_suffix('~') {
            Some(name) => (name, true),
            None => (key.as_str(), false),
        };
        let name = if name == "display_name" { "name" } else { name };
        let Some(value) = attrs.get(name) else {
            // Cinder (before resource filters) ignores what it does not know.
            continue;
        };
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        let ok = if like {
            text.contains(wanted.as_str())
        } else if name == "bootable" {
            let truthy = |s: &str| {
                matches!(
                    s.to_ascii_lowercase().as_str(),
                    "true" | "1" | "t" | "yes" | "y" | "on"
                )
            };
            truthy(&text) == truthy(wanted)
        } else {
            text == *wanted
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Filters, orders and cuts `records` (with their creation order) as
/// `request` asks.
pub(super) fn page<R: Listable>(
    records: Vec<(i64, R)>,
    request: &ListRequest,
) -> Result<Listed<R>, VolumeError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut sort = request.sort.clone();
    if sort.is_empty() {
        sort = vec![
            ("created_at".into(), "desc".into()),
            ("id".into(), "desc".into()),
        ];
    }
    for (key, dir) in sort {
        let key = if key == "display_name" {
            "name".to_owned()
        } else {
            key
        };
        pairs.push(("sort_key".into(), key));
        pairs.push(("sort_dir".into(), dir));
    }
    let query = ListQuery::parse(&SORTABLE, &pairs).map_err(|e| match e {
        ListError::NotSortable { key, .. } => {
            VolumeError::InvalidInput(format!("Invalid sort key {key}"))
        }
        ListError::Invalid(_) => VolumeError::InvalidInput("Invalid sort direction".into()),
        other => VolumeError::List(other),
    })?;
    let mut kept: HashMap<String, R> = HashMap::new();
    let mut items = Vec::new();
    for (seq, record) in records {
        let attrs = record.attributes();
        if !matches(&record, &attrs, &request.filters)? {
            continue;
        }
        items.push(Item::new(seq, attrs));
        kept.insert(record.id().to_owned(), record);
    }
    let count = request.with_count.then_some(items.len());
    let mut all = query.page(items, None).items;
    if let Some(marker) = &request.marker {
        let at = all
            .iter()
            .position(|i| i.id() == marker)
            .ok_or_else(|| VolumeError::Missing(format!("Marker {marker} could not be found.")))?;
        all.drain(..=at);
    }
    all.drain(..request.offset.unwrap_or(0).min(all.len()));
    // As Cinder's collection links: a full page links to the next one.
    if let Some(limit) = request.limit {
        all.truncate(limit);
    }
    let more = request
        .limit
        .is_some_and(|limit| limit > 0 && all.len() == limit);
    let next_marker = more
        .then(|| all.last().map(|i| i.id().to_owned()))
        .flatten();
    let items = all.iter().filter_map(|i| kept.remove(i.id())).collect();
    Ok(Listed {
        items,
        count,
        next_marker,
    })
}

/// A Python literal (`{'k': 'v', 'n': True}`) spelled as JSON: single
/// quoted strings double quoted, `True`/`False`/`None` in JSON's words.
/// What is not such a literal comes out as invalid JSON.
fn python_literal_as_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                let quote = c;
                out.push('"');
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => match chars.next() {
                            Some('\'') => out.push('\''),
                            Some(other) => {
                                out.push('\\');
                                out.push(other);
                            }
                            None => break,
                        },
                        c if c == quote => break,
                        '"' => out.push_str("\\\""),
                        c => out.push(c),
                    }
                }
                out.push('"');
            }
            c if c.is_ascii_alphabetic() => {
                let mut word = String::from(c);
                while let Some(&n) = chars.peek().filter(|n| n.is_ascii_alphanumeric()) {
                    word.push(n);
                    chars.next();
                }
                out.push_str(match word.as_str() {
                    "True" => "true",
                    "False" => "false",
                    "None" => "null",
                    other => other,
                });
            }
            c => out.push(c),
        }
    }
    out
}

/// `"a", json!(x)` pairs as a document.
pub(super) fn attrs<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct R(&'static str, &'static str, i64);

    impl Listable for R {
        fn id(&self) -> &str {
            self.0
        }
        fn attributes(&self) -> Map<String, Value> {
            attrs([
                ("id", json!(self.0)),
                ("name", json!(self.1)),
                ("size", json!(self.2)),
            ])
        }
    }

    fn ids(listed: &Listed<R>) -> Vec<&str> {
        listed.items.iter().map(|r| r.0).collect()
    }

    #[test]
    fn python_literals_read_as_json() {
        let json = python_literal_as_json("{'Type': 'work', \"it's\": True, 'n': None}");
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"Type": "work", "it's": true, "n": null})
        );
    }

    #[test]
    fn sorts_filters_and_pages() {
        let records = || {
            vec![
                (1, R("a", "x", 3)),
                (2, R("b", "y", 1)),
                (3, R("c", "x", 2)),
            ]
        };
        let request = ListRequest {
            sort: vec![("size".into(), "asc".into())],
            limit: Some(2),
            with_count: true,
            ..Default::default()
        };
        let listed = page(records(), &request).unwrap();
        assert_eq!(ids(&listed), ["b", "c"]);
        assert_eq!(listed.count, Some(3));
        assert_eq!(listed.next_marker.as_deref(), Some("c"));
        let next = ListRequest {
            marker: Some("c".into()),
            ..request.clone()
        };
        let listed = page(records(), &next).unwrap();
        assert_eq!(ids(&listed), ["a"]);
        assert_eq!(listed.next_marker, None);
        let skipped = ListRequest {
            offset: Some(1),
            limit: Some(1),
            ..request.clone()
        };
        let listed = page(records(), &skipped).unwrap();
        assert_eq!(ids(&listed), ["c"]);
        assert_eq!(
            listed.next_marker.as_deref(),
            Some("c"),
            "a full page links on"
        );
        let named = ListRequest {
            filters: vec![("name".into(), "x".into())],
            sort: vec![("name".into(), "desc".into()), ("id".into(), "asc".into())],
            ..Default::default()
        };
        assert_eq!(ids(&page(records(), &named).unwrap()), ["a", "c"]);
        let bad = ListRequest {
            sort: vec![("nope".into(), "asc".into())],
            ..Default::default()
        };
        assert!(matches!(
            page(records(), &bad),
            Err(VolumeError::InvalidInput(_))
        ));
    }
}
