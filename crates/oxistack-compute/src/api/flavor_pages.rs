//! Rendered flavor lists, kept until flavors next change.
//!
//! Every client lists flavors (to find one by name, to show sizes) and
//! administrators rarely change them, so answering a list from the
//! database and rendering it anew each time is most of its cost. A page is
//! a function of the request (detail or not, its query, microversion and
//! the URL the client reached) and of the caller's view (admin or project,
//! whether extra specs show), and of the flavors, whose state the service's
//! [`flavor_generation`](crate::ComputeService::flavor_generation) names
//! (asking for it checks that the caller may list flavors).
//! A page is stored under the generation read before it was listed, so a
//! change landing while it is built makes it stale at once.

use oxistack_http::microversion::Microversion;
use oxistack_http::page_cache::PageCache;

/// Pages kept at most.
const MAX_PAGES: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageKey {
    pub detail: bool,
    pub admin: bool,
    pub project: Option<String>,
    pub extra_specs: bool,
    pub version: Microversion,
    /// The API root the links point into.
    pub api: String,
    pub query: Vec<(String, String)>,
}

pub struct FlavorPages(PageCache<PageKey>);

impl Default for FlavorPages {
    fn default() -> Self {
        FlavorPages(PageCache::new(MAX_PAGES))
    }
}

impl std::ops::Deref for FlavorPages {
    type Target = PageCache<PageKey>;

    fn deref(&self) -> &PageCache<PageKey> {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Bytes;

    fn key(detail: bool) -> PageKey {
        PageKey {
            detail,
            admin: false,
            project: Some("p".into()),
            extra_specs: true,
            version: Microversion::new(2, 1),
            api: "http://localhost/compute/v2.1".into(),
            query: Vec::new(),
        }
    }

    #[test]
    fn a_page_is_served_only_for_the_generation_it_was_built_at() {
        let pages = FlavorPages::default();
        pages.put(key(false), 7, Bytes::from_static(b"list"));
        assert_eq!(pages.get(&key(false), 7).as_deref(), Some(&b"list"[..]));
        assert_eq!(pages.get(&key(false), 8), None, "flavors changed since");
        assert_eq!(pages.get(&key(true), 7), None, "another request");
    }
}
