//! Rendered list pages, kept until what they list next changes.
//!
//! Lists are by far the most frequent requests (every `openstack ... list`,
//! every find-by-name) while what they list changes rarely, so answering
//! one from the database and rendering it anew each time is most of its
//! cost. A service keys a page by what it depends on in the request and
//! the caller's view, and stores it under a generation: a counter of the
//! listed data that the service bumps on every write. A page is stored
//! under the generation read *before* its query ran, so a write landing
//! while it is built makes it stale at once.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

use axum::body::Bytes;

/// Rendered pages by key, each with the generation it was built at.
pub struct PageCache<K> {
    /// Pages kept at most; all are dropped when full (a burst of distinct
    /// queries must not grow memory without bound, and the hot pages come
    /// back at once).
    capacity: usize,
    pages: Mutex<HashMap<K, (u64, Bytes)>>,
}

impl<K: Hash + Eq> PageCache<K> {
    pub fn new(capacity: usize) -> Self {
        PageCache {
            capacity,
            pages: Mutex::new(HashMap::new()),
        }
    }

    /// The page under `key`, if it was built at `generation`.
    pub fn get(&self, key: &K, generation: u64) -> Option<Bytes> {
        let pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
        match pages.get(key) {
            Some((built, body)) if *built == generation => Some(body.clone()),
            _ => None,
        }
    }

    pub fn put(&self, key: K, generation: u64, body: Bytes) {
        let mut pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
        if pages.len() >= self.capacity {
            pages.clear();
        }
        pages.insert(key, (generation, body));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_served_only_for_its_key_and_generation() {
        let pages = PageCache::new(8);
        pages.put("list", 7, Bytes::from_static(b"page"));
        assert_eq!(pages.get(&"list", 7).as_deref(), Some(&b"page"[..]));
        assert_eq!(pages.get(&"list", 8), None, "changed since");
        assert_eq!(pages.get(&"detail", 7), None, "another request");
    }

    #[test]
    fn a_full_cache_starts_over() {
        let pages = PageCache::new(2);
        pages.put(1, 0, Bytes::from_static(b"a"));
        pages.put(2, 0, Bytes::from_static(b"b"));
        pages.put(3, 0, Bytes::from_static(b"c"));
        assert_eq!(pages.get(&1, 0), None);
        assert_eq!(pages.get(&3, 0).as_deref(), Some(&b"c"[..]));
    }
}
