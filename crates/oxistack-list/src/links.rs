//! The links of a paginated list: Neutron's repeat the client's query with
//! the marker (and direction) replaced, as absolute URLs.

use serde::Serialize;

use crate::{Document, ListQuery, Page};

/// `{"rel": "next", "href": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    pub rel: &'static str,
    pub href: String,
}

/// The `next` and `previous` links of `page`, a page of `query` made from
/// the query string's `pairs` at `url` (scheme, authority and path, as the
/// client reached the list). None unless the client paginates (`limit`).
pub fn links<T: Document>(
    query: &ListQuery,
    page: &Page<T>,
    url: &str,
    pairs: &[(String, String)],
) -> Vec<Link> {
    if query.limit.is_none() {
        return Vec::new();
    }
    let kept: Vec<(&str, &str)> = pairs
        .iter()
        .filter(|(key, _)| key != "marker" && key != "page_reverse")
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    let href = |marker: &str, reverse: bool| {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.extend_pairs(&kept).append_pair("marker", marker);
        if reverse {
            query.append_pair("page_reverse", "True");
        }
        format!("{url}?{}", query.finish())
    };
    let mut links = Vec::new();
    if let (true, Some(last)) = (page.more_after, page.items.last()) {
        links.push(Link {
            rel: "next",
            href: href(last.id(), false),
        });
    }
    if let (true, Some(first)) = (page.more_before, page.items.first()) {
        links.push(Link {
            rel: "previous",
            href: href(first.id(), true),
        });
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::example::{pairs, parse, widgets};

    #[test]
    fn links_repeat_the_query_with_the_marker_replaced() {
        let url = "http://192.0.2.1:8080/networking/v2.0/widgets";
        let raw = "fields=id,name&sort_key=name&sort_dir=asc&limit=1&marker=id-a";
        let query = parse(raw).unwrap();
        let items = widgets();
        let page = query.page(items.clone(), Some(&items[2]));
        let links = links(&query, &page, url, &pairs(raw));
        assert_eq!(
            links,
            [
                Link {
                    rel: "next",
                    href: format!(
                        "{url}?fields=id%2Cname&sort_key=name&sort_dir=asc&limit=1&marker=id-b"
                    ),
                },
                Link {
                    rel: "previous",
                    href: format!(
                        "{url}?fields=id%2Cname&sort_key=name&sort_dir=asc&limit=1&marker=id-b&page_reverse=True"
                    ),
                },
            ]
        );
        let unpaginated = parse("sort_key=name&sort_dir=asc").unwrap();
        let page = unpaginated.page(items, None);
        assert!(super::links(&unpaginated, &page, url, &[]).is_empty());
    }
}
