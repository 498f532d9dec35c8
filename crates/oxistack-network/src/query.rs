//! List requests, uniform across Neutron's resources: filters on any
//! attribute of the documents (repeated values mean "any of"), tag
//! filters, `fields` selection, `sort_key`/`sort_dir`, and `limit`/`marker`
//! pagination (with `page_reverse`). Everything is checked against the
//! resource's attributes before anything is read.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use oxistack_http::ApiError;
use serde_json::{Map, Value};

use crate::errors::bad_request;
use crate::kind::{AttrType, Attribute, Kind};
use crate::store::Prefilter;

/// A resource's document, with its creation order for sorting ties.
#[derive(Debug, Clone)]
pub struct Item {
    pub seq: i64,
    pub doc: Map<String, Value>,
}

impl Item {
    pub fn id(&self) -> &str {
        self.doc
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
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
    /// Some fixed IP matches every given key (`ip_address`, `subnet_id`,
    /// `ip_address_substr`) with one of its values.
    FixedIp(BTreeMap<String, Vec<String>>),
    Tags(TagMode, Vec<String>),
}

#[derive(Debug, Clone)]
pub struct ListQuery {
    kind: Kind,
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
pub struct Page {
    pub items: Vec<Item>,
    pub more_after: bool,
    pub more_before: bool,
}

impl ListQuery {
    /// Parses the query string's `pairs` for a list of `kind`.
    pub fn parse(kind: Kind, pairs: &[(String, String)]) -> Result<ListQuery, ApiError> {
        let mut query = ListQuery {
            kind,
            filters: Vec::new(),
            fields: None,
            sort: Vec::new(),
            limit: None,
            marker: None,
            page_reverse: false,
        };
        let mut equals: BTreeMap<&str, (&'static Attribute, Vec<String>)> = BTreeMap::new();
        let mut fixed_ips: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut sort_keys = Vec::new();
        let mut sort_dirs = Vec::new();
        for (key, value) in pairs {
            match key.as_str() {
                "fields" => query.fields.get_or_insert_with(Vec::new).extend(
                    value
                        .split(',')
                        .map(|f| f.trim().to_owned())
                        .filter(|f| !f.is_empty()),
                ),
                "sort_key" => sort_keys.push(sort_attribute(kind, value)?),
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
                "tags" | "tags-any" | "not-tags" | "not-tags-any" if kind.taggable() => {
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
                    let Some(attribute) = kind.attribute(key) else {
                        return Err(bad_request(
                            "HTTPBadRequest",
                            format!(
                                "{key} is not an attribute {} can be filtered on.",
                                kind.plural()
                            ),
                        ));
                    };
                    match attribute.ty {
                        AttrType::Object => {
                            return Err(bad_request(
                                "HTTPBadRequest",
                                format!("{key} cannot be used as a filter."),
                            ));
                        }
                        AttrType::FixedIps => {
                            let (subkey, subvalue) = value.split_once('=').unwrap_or(("", value));
                            if !["ip_address", "subnet_id", "ip_address_substr"].contains(&subkey) {
                                return Err(invalid(format!(
                                    "fixed_ips filter '{value}' must be ip_address=..., subnet_id=... or ip_address_substr=..."
                                )));
                            }
                            fixed_ips
                                .entry(subkey.to_owned())
                                .or_default()
                                .push(subvalue.to_owned());
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
                    if !matches!(attribute.ty, AttrType::FixedIps) {
                        equals
                            .entry(attribute.name)
                            .or_insert_with(|| (attribute, Vec::new()))
                            .1
                            .push(value.clone());
                    }
                }
            }
        }
        query.filters.extend(
            equals
                .into_values()
                .map(|(attribute, values)| Filter::Equals(attribute, values)),
        );
        if !fixed_ips.is_empty() {
            query.filters.push(Filter::FixedIp(fixed_ips));
        }
        if sort_keys.len() != sort_dirs.len() {
            return Err(invalid(
                "sort_key and sort_dir must be given the same number of times.",
            ));
        }
        query.sort = sort_keys.into_iter().zip(sort_dirs).collect();
        Ok(query)
    }

    /// The filters the database can answer with its indexes.
    pub fn prefilter(&self) -> Prefilter {
        self.filters
            .iter()
            .fold(Prefilter::new(), |prefilter, filter| match filter {
                Filter::Equals(
                    Attribute {
                        column: Some(column),
                        ..
                    },
                    values,
                ) => prefilter.with(column, values.clone()),
                _ => prefilter,
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
            Filter::FixedIp(wanted) => doc
                .get("fixed_ips")
                .and_then(Value::as_array)
                .is_some_and(|ips| ips.iter().any(|ip| fixed_ip_matches(ip, wanted))),
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
    pub fn page(&self, mut items: Vec<Item>, marker: Option<&Item>) -> Page {
        items.retain(|item| self.matches(&item.doc));
        items.sort_by(|a, b| self.compare(a, b));
        let split = marker.map(|marker| {
            items.partition_point(|item| self.compare(item, marker) != Ordering::Greater)
        });
        let (before, after): (Vec<Item>, Vec<Item>) = match (split, self.page_reverse) {
            // Backwards from the marker: the items before it (not the
            // marker itself) end the page.
            (Some(at), true) => {
                let mut before = items;
                let after = before.split_off(at);
                before.retain(|item| item.id() != marker.map(Item::id).unwrap_or_default());
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
    fn compare(&self, a: &Item, b: &Item) -> Ordering {
        for (attribute, dir) in &self.sort {
            let ordering = compare_values(
                a.doc.get(attribute.name).unwrap_or(&Value::Null),
                b.doc.get(attribute.name).unwrap_or(&Value::Null),
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

    /// The resource kind listed.
    pub fn kind(&self) -> Kind {
        self.kind
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

fn sort_attribute(kind: Kind, key: &str) -> Result<&'static Attribute, ApiError> {
    match kind.attribute(key) {
        Some(attribute)
            if matches!(
                attribute.ty,
                AttrType::Text | AttrType::Bool | AttrType::Int
            ) =>
        {
            Ok(attribute)
        }
        _ => Err(invalid(format!(
            "{key} is not an attribute {} can be sorted on.",
            kind.plural()
        ))),
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    bad_request("HTTPBadRequest", message)
}

/// Neutron's boolean conversion: `true`/`false`/`1`/`0`, any case.
fn parse_bool(key: &str, value: &str) -> Result<bool, ApiError> {
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

fn fixed_ip_matches(ip: &Value, wanted: &BTreeMap<String, Vec<String>>) -> bool {
    wanted.iter().all(|(key, values)| {
        let field = |name: &str| ip.get(name).and_then(Value::as_str).unwrap_or_default();
        values.iter().any(|value| match key.as_str() {
            "ip_address_substr" => field("ip_address").contains(value.as_str()),
            name => field(name) == value,
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
    use super::*;
    use serde_json::json;

    fn pairs(query: &str) -> Vec<(String, String)> {
        query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect()
    }

    fn parse(kind: Kind, query: &str) -> Result<ListQuery, ApiError> {
        ListQuery::parse(kind, &pairs(query))
    }

    fn item(seq: i64, doc: Value) -> Item {
        Item {
            seq,
            doc: doc.as_object().unwrap().clone(),
        }
    }

    fn ids(page: &Page) -> Vec<&str> {
        page.items.iter().map(Item::id).collect()
    }

    #[test]
    fn unknown_and_unfilterable_attributes_are_refused() {
        for bad in [
            "colour=red",
            "external_gateway_info=x",
            "admin_state_up=maybe",
            "mtu=big",
            "limit=-1",
            "sort_key=routes&sort_dir=asc",
            "sort_key=name",
            "sort_dir=up&sort_key=name",
            "page_reverse=perhaps",
        ] {
            let kind = if bad.contains("routes") || bad.contains("gateway") {
                Kind::Router
            } else {
                Kind::Network
            };
            assert_eq!(parse(kind, bad).unwrap_err().status, 400, "{bad}");
        }
        assert!(parse(Kind::Port, "fixed_ips=mac=x").is_err());
        assert!(
            parse(Kind::SecurityGroupRule, "tags=a").is_err(),
            "rules have no tags"
        );
    }

    #[test]
    fn filters_match_by_type_and_push_indexed_columns_down() {
        let query = parse(
            Kind::Port,
            "device_id=lb-1&device_id=lb-2&admin_state_up=True&fixed_ips=ip_address=10.0.0.5&fixed_ips=subnet_id=s1&tags-any=a,b&security_groups=g1",
        )
        .unwrap();
        assert_eq!(
            format!("{:?}", query.prefilter()),
            format!(
                "{:?}",
                Prefilter::new().with("device_id", vec!["lb-1".into(), "lb-2".into()])
            )
        );
        let port = json!({"device_id": "lb-2", "admin_state_up": true, "tags": ["b"], "security_groups": ["g0", "g1"],
                          "fixed_ips": [{"subnet_id": "s0", "ip_address": "10.0.0.5"}, {"subnet_id": "s1", "ip_address": "10.0.0.6"}]});
        assert!(
            !query.matches(port.as_object().unwrap()),
            "no single fixed IP has both"
        );
        let port = json!({"device_id": "lb-2", "admin_state_up": true, "tags": ["b"], "security_groups": ["g1"],
                          "fixed_ips": [{"subnet_id": "s1", "ip_address": "10.0.0.5"}]});
        assert!(query.matches(port.as_object().unwrap()));
        let query = parse(Kind::Network, "router:external=1&not-tags=a,b&mtu=1450").unwrap();
        assert!(
            query.matches(
                json!({"router:external": true, "tags": ["a"], "mtu": 1450})
                    .as_object()
                    .unwrap()
            )
        );
        assert!(
            !query.matches(
                json!({"router:external": true, "tags": ["a", "b"], "mtu": 1450})
                    .as_object()
                    .unwrap()
            )
        );
    }

    #[test]
    fn pages_follow_the_sort_and_the_marker() {
        let items: Vec<Item> = ["d", "b", "a", "c", "e"]
            .iter()
            .enumerate()
            .map(|(seq, name)| {
                item(
                    seq as i64,
                    json!({"id": format!("id-{name}"), "name": name}),
                )
            })
            .collect();
        let query = parse(Kind::Network, "sort_key=name&sort_dir=asc&limit=2").unwrap();
        let page = query.page(items.clone(), None);
        assert_eq!(ids(&page), ["id-a", "id-b"]);
        assert!(page.more_after && !page.more_before);
        let page = query.page(items.clone(), Some(&items[1]));
        assert_eq!(ids(&page), ["id-c", "id-d"]);
        assert!(page.more_after && page.more_before);
        let page = query.page(items.clone(), Some(&items[0]));
        assert_eq!(ids(&page), ["id-e"]);
        assert!(!page.more_after);
        let reverse = parse(
            Kind::Network,
            "sort_key=name&sort_dir=asc&limit=2&page_reverse=true",
        )
        .unwrap();
        let page = reverse.page(items.clone(), Some(&items[3]));
        assert_eq!(ids(&page), ["id-a", "id-b"]);
        assert!(page.more_after && !page.more_before);
        // Without sort keys, creation order.
        let page = parse(Kind::Network, "").unwrap().page(items.clone(), None);
        assert_eq!(ids(&page), ["id-d", "id-b", "id-a", "id-c", "id-e"]);
        let desc = parse(Kind::Network, "sort_key=name&sort_dir=desc")
            .unwrap()
            .page(items, None);
        assert_eq!(ids(&desc)[0], "id-e");
    }

    #[test]
    fn fields_select_what_is_shown() {
        let doc = json!({"id": "1", "name": "n", "mtu": 1450})
            .as_object()
            .unwrap()
            .clone();
        let fields = vec!["id".to_owned(), "mtu".to_owned(), "is_shared".to_owned()];
        assert_eq!(
            Value::Object(select_fields(doc, Some(&fields))),
            json!({"id": "1", "mtu": 1450})
        );
        let query = parse(Kind::Network, "fields=id,name&fields=mtu").unwrap();
        assert_eq!(query.fields.unwrap(), ["id", "name", "mtu"]);
    }
}
