//! Rendered image lists, kept until the next change to any image.
//!
//! Listing is by far the most frequent image request (every `openstack
//! image list`, every `find_image` by name, every Horizon page) while
//! images change rarely. A page is a function of the caller's visibility
//! (admin, project), the query and the database; the database part is
//! captured by a generation counter that every image write bumps. A page
//! is stored under the generation read *before* its query ran, so a write
//! that lands while the page is being built makes it stale at once.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

/// Pages kept at most.
const MAX_PAGES: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageKey {
    pub admin: bool,
    pub project: Option<String>,
    pub query: String,
}

/// The shared page cache with the image data's generation beside it.
pub struct PageCache {
    generation: AtomicU64,
    pages: oxistack_http::page_cache::PageCache<PageKey>,
}

impl Default for PageCache {
    fn default() -> Self {
        PageCache {
            generation: AtomicU64::new(0),
            pages: oxistack_http::page_cache::PageCache::new(MAX_PAGES),
        }
    }
}

impl PageCache {
    /// The generation to store a page under; read before querying.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Marks every stored page stale. Called after each image write.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The page under `key`, if no image changed since it was built.
    pub fn get(&self, key: &PageKey) -> Option<Bytes> {
        self.pages.get(key, self.generation())
    }

    pub fn put(&self, key: PageKey, generation: u64, body: Bytes) {
        self.pages.put(key, generation, body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PageKey {
        PageKey {
            admin: false,
            project: Some("p".into()),
            query: "limit=2".into(),
        }
    }

    #[test]
    fn a_write_makes_pages_stale() {
        let cache = PageCache::default();
        let generation = cache.generation();
        cache.put(key(), generation, Bytes::from_static(b"page"));
        assert_eq!(cache.get(&key()).as_deref(), Some(&b"page"[..]));
        cache.invalidate();
        assert_eq!(cache.get(&key()), None);
    }

    #[test]
    fn a_page_built_across_a_write_is_never_served() {
        let cache = PageCache::default();
        let generation = cache.generation();
        cache.invalidate(); // a write lands while the page is built
        cache.put(key(), generation, Bytes::from_static(b"stale"));
        assert_eq!(cache.get(&key()), None);
    }
}
