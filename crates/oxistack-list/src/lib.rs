//! Lists as Neutron serves them, for every service whose API lists that
//! way (networking; next the load balancer and volumes): a service
//! declares each resource's [`Collection`], its attribute table, and gets
//! from the query string
//!
//! - filters on any filterable attribute (`name=a&name=b` means either),
//!   nested ones such as `fixed_ips=ip_address=10.0.0.5`, and the tag
//!   filters `tags`, `tags-any`, `not-tags`, `not-tags-any`;
//! - `sort_key`/`sort_dir`, ties broken by creation order;
//! - `limit`/`marker`/`page_reverse`, with `next`/`previous` links that
//!   repeat the client's query;
//! - `fields`, the attributes to show.
//!
//! Everything is checked against the table before anything is read, and
//! refusals are a [`ListError`] the service renders in its own format.
//! The service renders its resources ([`Document`]); this crate filters,
//! orders, cuts and trims them, and looks into a resource's document only
//! when the query needs to. Filters on attributes the
//! table maps to a column ([`ListQuery::indexed`]) can be answered by the
//! service's database first.

mod error;
mod links;
mod query;
mod table;

pub use error::ListError;
pub use links::{Link, links};
pub use query::{
    Document, Documents, Item, ListQuery, Page, SortDir, query_pairs, requested_fields,
    select_fields,
};
pub use table::{AttrType, Attribute, Collection};

/// A small table for the tests: widgets with a name, a size, a switch,
/// labels, parts with serial numbers, a structured spec, and tags.
#[cfg(test)]
pub(crate) mod example {
    use serde_json::{Map, Value};

    use crate::{AttrType, Attribute, Collection, Item, ListError, ListQuery};

    pub static WIDGETS: Collection = Collection {
        singular: "widget",
        plural: "widgets",
        attributes: &[
            Attribute::column("id", "id"),
            Attribute::column("name", "name"),
            Attribute::new("size", AttrType::Int),
            Attribute::new("enabled", AttrType::Bool),
            Attribute::new("labels", AttrType::List),
            Attribute::new(
                "parts",
                AttrType::Objects {
                    keys: &["serial", "kind", "serial_substr"],
                },
            ),
            Attribute::new("spec", AttrType::Object),
            Attribute::new("tags", AttrType::Object),
        ],
        taggable: true,
    };

    /// Untagged, so the tag filters are unknown parameters.
    pub static GADGETS: Collection = Collection {
        singular: "gadget",
        plural: "gadgets",
        attributes: &[Attribute::column("id", "id")],
        taggable: false,
    };

    pub fn pairs(query: &str) -> Vec<(String, String)> {
        crate::query_pairs(query)
    }

    pub fn parse(query: &str) -> Result<ListQuery, ListError> {
        ListQuery::parse(&WIDGETS, &pairs(query))
    }

    pub fn item(seq: i64, doc: Value) -> Item<Map<String, Value>> {
        Item::new(seq, doc.as_object().unwrap().clone())
    }

    /// Widgets `d b a c e` in that creation order, named by their letter.
    pub fn widgets() -> Vec<Item<Map<String, Value>>> {
        ["d", "b", "a", "c", "e"]
            .iter()
            .enumerate()
            .map(|(seq, name)| {
                item(
                    seq as i64,
                    serde_json::json!({"id": format!("id-{name}"), "name": name}),
                )
            })
            .collect()
    }

    #[test]
    fn the_example_tables_are_consistent() {
        WIDGETS.check().unwrap();
        GADGETS.check().unwrap();
    }
}
