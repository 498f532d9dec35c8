//! A resource's attribute table: the names its documents use and how each
//! attribute filters and sorts.

/// How an attribute's values compare with a filter's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    /// A string (or null): equality.
    Text,
    /// `true`/`false` (also `1`/`0`, any case, as Neutron converts them).
    Bool,
    Int,
    /// A list of strings: matches when any element equals the filter.
    List,
    /// A list of objects, filtered as `attribute=key=value` on one of the
    /// `keys` (Neutron's `fixed_ips=ip_address=10.0.0.5`): some element
    /// must match every key filtered on. A key `x_substr` matches when the
    /// element's `x` contains the value.
    Objects {
        keys: &'static [&'static str],
    },
    /// Structured values (and `tags`, filtered by the tag parameters):
    /// neither filterable nor sortable.
    Object,
}

impl AttrType {
    /// Whether `sort_key` may name an attribute of this type.
    pub fn sortable(self) -> bool {
        matches!(self, AttrType::Text | AttrType::Bool | AttrType::Int)
    }
}

/// One attribute of a resource's documents.
#[derive(Debug, PartialEq, Eq)]
pub struct Attribute {
    pub name: &'static str,
    pub ty: AttrType,
    /// The column of the resource's table holding exactly this text, so
    /// that a filter on it can be answered by the database's indexes.
    pub column: Option<&'static str>,
}

impl Attribute {
    /// An attribute compared on the documents only.
    pub const fn new(name: &'static str, ty: AttrType) -> Attribute {
        Attribute {
            name,
            ty,
            column: None,
        }
    }

    /// A text attribute stored as is in `column`.
    pub const fn column(name: &'static str, column: &'static str) -> Attribute {
        Attribute {
            name,
            ty: AttrType::Text,
            column: Some(column),
        }
    }
}

/// What a list needs to know of a kind of resource: its names and its
/// attribute table.
#[derive(Debug, PartialEq, Eq)]
pub struct Collection {
    /// The key of one resource in a document (`security_group`).
    pub singular: &'static str,
    /// The key of a list of them (`security_groups`).
    pub plural: &'static str,
    pub attributes: &'static [Attribute],
    /// Whether the resources have tags, which the tag filters (`tags`,
    /// `tags-any`, `not-tags`, `not-tags-any`) select on; the table then
    /// has a `tags` attribute.
    pub taggable: bool,
}

impl Collection {
    pub fn attribute(&self, name: &str) -> Option<&'static Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// The table's own consistency: every name once, columns only for
    /// text, and a `tags` attribute exactly when taggable. For the
    /// services' unit tests over their tables.
    pub fn check(&self) -> Result<(), String> {
        for (i, a) in self.attributes.iter().enumerate() {
            if self.attributes[i + 1..].iter().any(|b| b.name == a.name) {
                return Err(format!("{}.{} is declared twice", self.plural, a.name));
            }
            if a.column.is_some() && a.ty != AttrType::Text {
                return Err(format!(
                    "{}.{} has a column but is not text",
                    self.plural, a.name
                ));
            }
        }
        if self.attribute("tags").is_some() != self.taggable {
            return Err(format!(
                "{}: a tags attribute exactly when taggable",
                self.plural
            ));
        }
        Ok(())
    }
}
