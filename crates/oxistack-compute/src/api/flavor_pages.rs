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

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Bytes;
use oxistack_http::microversion::Microversion;

/// Pages kept at most; all are dropped when full (a burst of distinct
/// queries is rare, tracking recency is not worth it).
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

#[derive(Default)]
pub struct FlavorPages(Mutex<HashMap<PageKey, (u64, Bytes)>>);

impl FlavorPages {
    /// The page for `key` if it was built at `generation`.
    pub fn get(&self, key: &PageKey, generation: u64) -> Option<Bytes> {
        let pages = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match pages.get(key) {
            Some((built, body)) if *built == generation => Some(body.clone()),
            _ => None,
        }
    }

    pub fn put(&self, key: PageKey, generation: u64, body: Bytes) {
        let mut pages = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if pages.len() >= MAX_PAGES {
            pages.clear();
        }
        pages.insert(key, (generation, body));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
