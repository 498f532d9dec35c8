//! A list request parsed against a collection's attribute table, and the
//! filtering, ordering and cutting of a page of documents it asks for.

use std::cell::OnceCell;
use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Value};

use crate::{AttrType, Attribute, Collection, ListError};

/// What a list holds: a resource as the service shows it. Serializing it
/// gives its whole document; [`Document::render`] gives the document as a
/// map, which filters, sort keys and `fields` look into.
pub trait Document: Serialize {
    fn id(&self) -> &str;
    fn render(&self) -> Map<String, Value>;
}

/// Documents the service already has as maps (their `id` is a string).
impl Document for Map<String, Value> {
    fn id(&self) -> &str {
        self.get("id").and_then(Value::as_str).unwrap_or_default()
    }

    fn render(&self) -> Map<String, Value> {
        self.clone()
    }
}

/// One resource of a list, with its creation order for sorting ties. Its
/// document is rendered only if a filter, a sort key or `fields` needs it:
/// a plain list is serialized straight from the resources.
#[derive(Debug, Clone)]
pub struct Item<T> {
    pub seq: i64,
    pub resource: T,
    document: OnceCell<Map<String, Value>>,
}

impl<T: Document> Item<T> {
    pub fn new(seq: i64, resource: T) -> Item<T> {
        Item {
            seq,
            resource,
            document: OnceCell::new(),
        }
    }

    pub fn id(&self) -> &str {
        self.resource.id()
    }

    /// The document, rendered on first use.
    pub fn document(&self) -> &Map<String, Value> {
        self.document.get_or_init(|| self.resource.render())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortDir {
    Asc,
    Desc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TagMode {
    /// `tags`: has all of them.
    All,
    /// `tags-any`: has at least one.
    Any,
    /// `not-tags`: does not have all of them.
    NotAll,
    /// `not-tags-any`: has none of them.
    NotAny,
}

#[derive(Debug, Clone)]
enum Filter {
    /// The attribute equals one of the values.
    Equals(&'static Attribute, Vec<String>),
    /// Some element of the attribute's list matches every given key with
    /// one of its values.
    Objects(&'static Attribute, BTreeMap<String, Vec<String>>),
    Tags(TagMode, Vec<String>),
}

#[derive(Debug, Clone)]
pub struct ListQuery {
    collection: &'static Collection,
    filters: Vec<Filter>,
    /// Attributes to show; all when `None`.
    pub fields: Option<Vec<String>>,
    sort: Vec<(&'static Attribute, SortDir)>,
    pub limit: Option<usize>,
    pub marker: Option<String>,
    pub page_reverse: bool,
}

/// A page of a list, and whether more lies on either side of it.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<Item<T>>,
    pub more_after: bool,
    pub more_before: bool,
}

impl ListQuery {
    /// Parses the query string's `pairs` for a list of `collection`.
    pub fn parse(
        collection: &'static Collection,
        pairs: &[(String, String)],
    ) -> Result<ListQuery, ListError> {
        let mut query = ListQuery {
            collection,
            filters: Vec::new(),
            fields: None,
            sort: Vec::new(),
            limit: None,
            marker: None,
            page_reverse: false,
        };
        let mut equals: BTreeMap<&str, (&'static Attribute, Vec<String>)> = BTreeMap::new();
        let mut objects: BTreeMap<&str, (&'static Attribute, BTreeMap<String, Vec<String>>)> =
            BTreeMap::new();
        let mut sort_keys = Vec::new();
        let mut sort_dirs = Vec::new();
        for (key, value) in pairs {
            match key.as_str() {
                "fields" => query
                    .fields
                    .get_or_insert_with(Vec::new)
                    .extend(field_names(value)),
                "sort_key" => sort_keys.push(sort_attribute(collection, value)?),
                "sort_dir" => sort_dirs.push(match value.to_ascii_lowercase().as_str() {
                    "asc" => SortDir::Asc,
                    "desc" => SortDir::Desc,
                    _ => return Err(invalid(format!("sort_dir '{value}' must be asc or desc."))),
                }),
                "limit" => {
                    query.limit = match value.parse::<usize>() {
                        Ok(0) => None,
                        Ok(limit) => Some(limit),
                        Err(_) => {
                            return Err(invalid(format!(
                                "limit '{value}' must be a non-negative integer."
                            )));
                        }
                    }
                }
                "marker" => query.marker = Some(value.clone()),
                "page_reverse" => query.page_reverse = parse_bool("page_reverse", value)?,
                "tags" | "tags-any" | "not-tags" | "not-tags-any" if collection.taggable => {
                    let mode = match key.as_str() {
                        "tags" => TagMode::All,
                        "tags-any" => TagMode::Any,
                        "not-tags" => TagMode::NotAll,
                        _ => TagMode::NotAny,
                    };
                    let tags = value.split(',').map(str::to_owned).collect();
                    query.filters.push(Filter::Tags(mode, tags));
                }
                _ => {
                    let Some(attribute) = collection.attribute(key) else {
                        return Err(ListError::UnknownFilter {
                            key: key.clone(),
                            collection: collection.plural,
                        });
                    };
                    match attribute.ty {
                        AttrType::Object => {
                            return Err(ListError::NotFilterable { key: key.clone() });
                        }
                        AttrType::Objects { keys } => {
                            let (subkey, subvalue) = value.split_once('=').unwrap_or(("", value));
                            if !keys.contains(&subkey) {
                                return Err(invalid(format!(
                                    "{key} filter '{value}' must be {}",
                                    keys.iter()
                                        .map(|k| format!("{k}=..."))
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                )));
                            }
                            objects
                                .entry(attribute.name)
                                .or_insert_with(|| (attribute, BTreeMap::new()))
                                .1
                                .entry(subkey.to_owned())
                                .or_default()
                                .push(subvalue.to_owned());
                            continue;
                        }
                        AttrType::Bool => {
                            parse_bool(key, value)?;
                        }
                        AttrType::Int => {
                            value.parse::<i64>().map_err(|_| {
                                invalid(format!("the {key} filter '{value}' is not an integer."))
                            })?;
                        }
                        AttrType::Text | AttrType::List => {}
                    }
                    equals
                        .entry(attribute.name)
                        .or_insert_with(|| (attribute, Vec::new()))
                        .1
                        .push(value.clone());
                }
            }
        }
        query.filters.extend(
            equals
                .into_values()
                .map(|(attribute, values)| Filter::Equals(attribute, values)),
        );
        query.filters.extend(
            objects
                .into_values()
                .map(|(attribute, wanted)| Filter::Objects(attribute, wanted)),
        );
        if sort_keys.len() != sort_dirs.len() {
            return Err(invalid(
                "sort_key and sort_dir must be given the same number of times.",
            ));
        }
        query.sort = sort_keys.into_iter().zip(sort_dirs).collect();
        Ok(query)
    }

    /// The collection listed.
    pub fn collection(&self) -> &'static Collection {
        self.collection
    }

    /// The filters a database can answer with its indexes: each column's
    /// text must be one of the values.
    pub fn indexed(&self) -> impl Iterator<Item = (&'static str, &[String])> {
        self.filters.iter().filter_map(|filter| match filter {
            Filter::Equals(
                Attribute {
                    column: Some(column),
                    ..
                },
                values,
            ) => Some((*column, values.as_slice())),
            _ => None,
        })
    }

    /// Whether a document passes every filter.
    pub fn matches(&self, doc: &Map<String, Value>) -> bool {
        self.filters.iter().all(|filter| match filter {
            Filter::Equals(attribute, values) => {
                let value = doc.get(attribute.name).unwrap_or(&Value::Null);
                values
                    .iter()
                    .any(|wanted| equals(attribute.ty, value, wanted))
            }
            Filter::Objects(attribute, wanted) => doc
                .get(attribute.name)
                .and_then(Value::as_array)
                .is_some_and(|elements| elements.iter().any(|e| object_matches(e, wanted))),
            Filter::Tags(mode, wanted) => {
                let tags: Vec<&str> = doc
                    .get("tags")
                    .and_then(Value::as_array)
                    .map(|tags| tags.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let has = |tag: &String| tags.contains(&tag.as_str());
                match mode {
                    TagMode::All => wanted.iter().all(has),
                    TagMode::Any => wanted.iter().any(has),
                    TagMode::NotAll => !wanted.iter().all(has),
                    TagMode::NotAny => !wanted.iter().any(has),
                }
            }
        })
    }

    /// Sorts the matching `items` and cuts the page after (or, reversed,
    /// before) `marker`.
    pub fn page<T: Document>(&self, mut items: Vec<Item<T>>, marker: Option<&Item<T>>) -> Page<T> {
        if !self.filters.is_empty() {
            items.retain(|item| self.matches(item.document()));
        }
        items.sort_by(|a, b| self.compare(a, b));
        let split = marker.map(|marker| {
            items.partition_point(|item| self.compare(item, marker) != Ordering::Greater)
        });
        let (before, after): (Vec<Item<T>>, Vec<Item<T>>) = match (split, self.page_reverse) {
            // Backwards from the marker: the items before it (not the
            // marker itself) end the page.
            (Some(at), true) => {
                let mut before = items;
                let after = before.split_off(at);
                let marker = marker.map(Item::id).unwrap_or_default();
                before.retain(|item| item.id() != marker);
                (before, after)
            }
            (Some(at), false) => {
                let after = items.split_off(at);
                (items, after)
            }
            (None, _) => {
                if self.page_reverse {
                    (items, Vec::new())
                } else {
                    (Vec::new(), items)
                }
            }
        };
        let limit = self.limit.unwrap_or(usize::MAX);
        if self.page_reverse {
            let start = before.len().saturating_sub(limit);
            let mut before = before;
            let items = before.split_off(start);
            Page {
                items,
                more_before: !before.is_empty(),
                more_after: !after.is_empty(),
            }
        } else {
            let mut after = after;
            let rest = after.split_off(limit.min(after.len()));
            Page {
                items: after,
                more_before: !before.is_empty(),
                more_after: !rest.is_empty(),
            }
        }
    }

    /// The order of the list: the sort keys, then creation order.
    fn compare<T: Document>(&self, a: &Item<T>, b: &Item<T>) -> Ordering {
        for (attribute, dir) in &self.sort {
            let ordering = compare_values(
                a.document().get(attribute.name).unwrap_or(&Value::Null),
                b.document().get(attribute.name).unwrap_or(&Value::Null),
            );
            let ordering = if *dir == SortDir::Desc {
                ordering.reverse()
            } else {
                ordering
            };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        a.seq.cmp(&b.seq)
    }
}

/// The decoded pairs of a raw query string (`name=a%20b&limit=2`), as
/// handlers get them from axum's `Query<Vec<(String, String)>>`: for
/// callers holding the text itself, and for tests.
pub fn query_pairs(raw: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect()
}

/// The attributes a `fields` parameter names (`fields=id,name`; the
/// parameter may repeat). For showing one resource as for lists.
pub fn requested_fields(pairs: &[(String, String)]) -> Option<Vec<String>> {
    let mut fields = pairs
        .iter()
        .filter(|(key, _)| key == "fields")
        .map(|(_, value)| value)
        .peekable();
    fields.peek()?;
    Some(fields.flat_map(|value| field_names(value)).collect())
}

fn field_names(value: &str) -> impl Iterator<Item = String> + '_ {
    value
        .split(',')
        .map(|f| f.trim().to_owned())
        .filter(|f| !f.is_empty())
}

impl<T: Document> Page<T> {
    /// The page's documents, with only the `fields` asked for, ready to
    /// serialize as a list.
    pub fn documents<'a>(&'a self, fields: Option<&'a [String]>) -> Documents<'a, T> {
        Documents {
            items: &self.items,
            fields,
        }
    }
}

/// A page's documents as a JSON array; see [`Page::documents`].
pub struct Documents<'a, T> {
    items: &'a [Item<T>],
    fields: Option<&'a [String]>,
}

impl<T: Document> Serialize for Documents<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.items.len()))?;
        for item in self.items {
            match self.fields {
                None => seq.serialize_element(&item.resource)?,
                Some(fields) => seq.serialize_element(&Selected {
                    document: item.document(),
                    fields,
                })?,
            }
        }
        seq.end()
    }
}

/// A document with only some of its attributes.
struct Selected<'a> {
    document: &'a Map<String, Value>,
    fields: &'a [String],
}

impl Serialize for Selected<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in self.document {
            if self.fields.iter().any(|f| f == key) {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

/// Keeps only the requested `fields` of a document; unknown ones are
/// ignored, as Neutron does.
pub fn select_fields(mut doc: Map<String, Value>, fields: Option<&[String]>) -> Map<String, Value> {
    if let Some(fields) = fields {
        doc.retain(|key, _| fields.iter().any(|f| f == key));
    }
    doc
}

fn sort_attribute(
    collection: &'static Collection,
    key: &str,
) -> Result<&'static Attribute, ListError> {
    match collection.attribute(key) {
        Some(attribute) if attribute.ty.sortable() => Ok(attribute),
        _ => Err(ListError::NotSortable {
            key: key.to_owned(),
            collection: collection.plural,
        }),
    }
}

fn invalid(message: impl Into<String>) -> ListError {
    ListError::Invalid(message.into())
}

/// Neutron's boolean conversion: `true`/`false`/`1`/`0`, any case.
fn parse_bool(key: &str, value: &str) -> Result<bool, ListError> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(invalid(format!(
            "the {key} filter '{value}' is not a boolean."
        ))),
    }
}

fn equals(ty: AttrType, value: &Value, wanted: &str) -> bool {
    match (ty, value) {
        (AttrType::Bool, Value::Bool(b)) => parse_bool("", wanted).is_ok_and(|w| w == *b),
        (AttrType::Int, Value::Number(n)) => wanted.parse::<i64>().ok() == n.as_i64(),
        (AttrType::List, Value::Array(items)) => {
            items.iter().any(|item| item.as_str() == Some(wanted))
        }
        (_, Value::String(s)) => s == wanted,
        _ => false,
    }
}

fn object_matches(element: &Value, wanted: &BTreeMap<String, Vec<String>>) -> bool {
    wanted.iter().all(|(key, values)| {
        let field = |name: &str| {
            element
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        values
            .iter()
            .any(|value| match key.strip_suffix("_substr") {
                Some(name) => field(name).contains(value.as_str()),
                None => field(key) == value,
            })
    })
}

/// Total order on JSON scalars: null, then booleans, numbers, strings.
fn compare_values(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            Value::Array(_) | Value::Object(_) => 4,
        }
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or_default()
            .total_cmp(&y.as_f64().unwrap_or_default()),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::example::{GADGETS, item, pairs, parse, widgets};

    fn ids(page: &Page<Map<String, Value>>) -> Vec<&str> {
        page.items.iter().map(Item::id).collect()
    }

    #[test]
    fn unknown_unfilterable_and_malformed_parameters_are_refused() {
        let refused = |query: &str| parse(query).unwrap_err();
        assert_eq!(
            refused("colour=red"),
            ListError::UnknownFilter {
                key: "colour".into(),
                collection: "widgets"
            }
        );
        assert_eq!(
            refused("spec=x"),
            ListError::NotFilterable { key: "spec".into() }
        );
        assert_eq!(
            refused("sort_key=spec&sort_dir=asc"),
            ListError::NotSortable {
                key: "spec".into(),
                collection: "widgets"
            }
        );
        for bad in [
            "enabled=maybe",
            "size=big",
            "limit=-1",
            "sort_key=name",
            "sort_dir=up&sort_key=name",
            "page_reverse=perhaps",
            "parts=colour=red",
            "parts=serial",
        ] {
            assert!(matches!(refused(bad), ListError::Invalid(_)), "{bad}");
        }
        assert_eq!(
            refused("sort_key=labels&sort_dir=asc").to_string(),
            "labels is not an attribute widgets can be sorted on."
        );
        assert!(
            ListQuery::parse(&GADGETS, &pairs("tags=a")).is_err(),
            "gadgets have no tags"
        );
    }

    #[test]
    fn filters_match_by_type_and_indexed_columns_are_offered() {
        let query = parse(
            "name=w1&name=w2&enabled=True&parts=serial=s5&parts=kind=bolt&tags-any=a,b&labels=blue",
        )
        .unwrap();
        let indexed: Vec<(&str, &[String])> = query.indexed().collect();
        assert_eq!(indexed, [("name", &["w1".to_owned(), "w2".to_owned()][..])]);
        let split = json!({"name": "w2", "enabled": true, "tags": ["b"], "labels": ["red", "blue"],
                           "parts": [{"kind": "nut", "serial": "s5"}, {"kind": "bolt", "serial": "s6"}]});
        assert!(
            !query.matches(split.as_object().unwrap()),
            "no single part has both"
        );
        let widget = json!({"name": "w2", "enabled": true, "tags": ["b"], "labels": ["blue"],
                            "parts": [{"kind": "bolt", "serial": "s5"}]});
        assert!(query.matches(widget.as_object().unwrap()));
        let query = parse("enabled=1&not-tags=a,b&size=3&parts=serial_substr=7").unwrap();
        let doc = |tags: Value| json!({"enabled": true, "tags": tags, "size": 3, "parts": [{"serial": "x-178"}]});
        assert!(query.matches(doc(json!(["a"])).as_object().unwrap()));
        assert!(!query.matches(doc(json!(["a", "b"])).as_object().unwrap()));
        assert_eq!(query.indexed().count(), 0, "nothing indexed asked for");
    }

    #[test]
    fn pages_follow_the_sort_and_the_marker() {
        let items = widgets();
        let query = parse("sort_key=name&sort_dir=asc&limit=2").unwrap();
        let page = query.page(items.clone(), None);
        assert_eq!(ids(&page), ["id-a", "id-b"]);
        assert!(page.more_after && !page.more_before);
        let page = query.page(items.clone(), Some(&items[1]));
        assert_eq!(ids(&page), ["id-c", "id-d"]);
        assert!(page.more_after && page.more_before);
        let page = query.page(items.clone(), Some(&items[0]));
        assert_eq!(ids(&page), ["id-e"]);
        assert!(!page.more_after);
        let reverse = parse("sort_key=name&sort_dir=asc&limit=2&page_reverse=true").unwrap();
        let page = reverse.page(items.clone(), Some(&items[3]));
        assert_eq!(ids(&page), ["id-a", "id-b"]);
        assert!(page.more_after && !page.more_before);
        // Without sort keys, creation order.
        let page = parse("").unwrap().page(items.clone(), None);
        assert_eq!(ids(&page), ["id-d", "id-b", "id-a", "id-c", "id-e"]);
        let desc = parse("sort_key=name&sort_dir=desc")
            .unwrap()
            .page(items, None);
        assert_eq!(ids(&desc)[0], "id-e");
        // Ties in the sort keys fall back to creation order.
        let tied = vec![
            item(2, json!({"id": "late", "size": 1})),
            item(1, json!({"id": "early", "size": 1})),
        ];
        let page = parse("sort_key=size&sort_dir=asc")
            .unwrap()
            .page(tied, None);
        assert_eq!(ids(&page), ["early", "late"]);
    }

    #[test]
    fn fields_select_what_is_shown() {
        let doc = json!({"id": "1", "name": "n", "size": 3})
            .as_object()
            .unwrap()
            .clone();
        let fields = vec!["id".to_owned(), "size".to_owned(), "is_shared".to_owned()];
        assert_eq!(
            Value::Object(select_fields(doc.clone(), Some(&fields))),
            json!({"id": "1", "size": 3})
        );
        assert_eq!(select_fields(doc.clone(), None), doc);
        let query = parse("fields=id,name&fields=size").unwrap();
        assert_eq!(query.fields.unwrap(), ["id", "name", "size"]);
        assert_eq!(
            requested_fields(&pairs("fields=id,,name&size=3&fields= size")).unwrap(),
            ["id", "name", "size"]
        );
        assert_eq!(requested_fields(&pairs("name=x")), None);
        assert_eq!(
            query_pairs("name=a%20b+c&fields"),
            [
                ("name".to_owned(), "a b c".to_owned()),
                ("fields".to_owned(), String::new())
            ]
        );
        let page = Page {
            items: widgets(),
            more_after: false,
            more_before: false,
        };
        let documents = |fields| serde_json::to_value(page.documents(fields)).unwrap();
        assert_eq!(
            documents(Some(&fields))[0],
            json!({"id": "id-d"}),
            "only the fields asked for"
        );
        assert_eq!(documents(None)[0], json!({"id": "id-d", "name": "d"}));
    }
}
