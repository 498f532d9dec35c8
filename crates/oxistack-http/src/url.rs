use axum::http::{HeaderMap, header};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            query_string([("marker", "a b&c"), ("limit", "2")]),
            "marker=a+b%26c&limit=2"
        );
    }
}
