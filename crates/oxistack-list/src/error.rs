//! Why a list request was refused: always the client's mistake, which each
//! service answers with a 400 in its own error format.

/// A list request that cannot be answered as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    /// A query parameter that is no attribute of the resource.
    #[error("{key} is not an attribute {collection} can be filtered on.")]
    UnknownFilter {
        key: String,
        collection: &'static str,
    },
    /// An attribute with structured values, which no filter compares.
    #[error("{key} cannot be used as a filter.")]
    NotFilterable { key: String },
    /// A `sort_key` that is not a sortable attribute.
    #[error("{key} is not an attribute {collection} can be sorted on.")]
    NotSortable {
        key: String,
        collection: &'static str,
    },
    /// A marker naming nothing the caller can list.
    #[error("marker {marker} is not a {resource} you can see.")]
    UnknownMarker {
        marker: String,
        resource: &'static str,
    },
    /// A parameter with a value of the wrong form.
    #[error("{0}")]
    Invalid(String),
}
