use axum::http::{HeaderMap, Request, header};

/// The scheme and authority the client used to reach us, e.g.
/// `http://192.0.2.1:8080`. Version documents and pagination links are built
/// on it so they work whether the cloud is reached by loopback or from the LAN.
pub fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty())
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

/// Encodes `pairs` as a URL query string (without the leading `?`).
pub fn query_string<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Marks a request whose path ends in `/` (other than the root). The
/// binary trims trailing slashes before routing, since clients differ on
/// `/identity/` versus `/identity`; a service for which the slash means
/// something (Glance's `/v2/images/` names an image with an empty id)
/// finds this mark on the trimmed request.
#[derive(Clone, Copy, Debug)]
pub struct TrailingSlash;

/// Puts the [`TrailingSlash`] mark on `request` if its path has one;
/// applied before the trailing slash is trimmed.
pub fn mark_trailing_slash<B>(mut request: Request<B>) -> Request<B> {
    let path = request.uri().path();
    if path.len() > 1 && path.ends_with('/') {
        request.extensions_mut().insert(TrailingSlash);
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(uri: &str) -> bool {
        let request = Request::builder().uri(uri).body(()).unwrap();
        mark_trailing_slash(request)
            .extensions()
            .get::<TrailingSlash>()
            .is_some()
    }

    #[test]
    fn only_a_path_ending_in_a_slash_is_marked() {
        assert!(marked("/image/v2/images/"));
        assert!(marked("/image/v2/images/?limit=1"));
        assert!(!marked("/image/v2/images"));
        assert!(!marked("/image/v2/images?marker=a/"));
        assert!(!marked("/"));
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            query_string([("marker", "a b&c"), ("limit", "2")]),
            "marker=a+b%26c&limit=2"
        );
    }
}
