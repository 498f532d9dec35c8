//! Version discovery: what clients read before anything else to learn the
//! microversion range. Nova lists its legacy v2.0 first (Tempest checks
//! that it does) and v2.1, the API served here; v2.0 has only its
//! version document.

use axum::Json;
use serde_json::{Value, json};

use crate::versions::{MAX, MIN};
use crate::wire::Urls;

struct Version {
    id: &'static str,
    status: &'static str,
    /// The microversion range; empty for v2.0, which has none.
    range: Option<(String, String)>,
    /// When it was released, as Nova dates it.
    updated: &'static str,
    media_type: &'static str,
}

fn v2_0() -> Version {
    Version {
        id: "v2.0",
        status: "DEPRECATED",
        range: None,
        updated: "2025-07-04T12:00:00Z",
        media_type: "application/vnd.openstack.compute+json;version=2",
    }
}

fn v2_1() -> Version {
    Version {
        id: "v2.1",
        status: "CURRENT",
        range: Some((MIN.to_string(), MAX.to_string())),
        updated: "2013-07-23T11:33:21Z",
        media_type: "application/vnd.openstack.compute+json;version=2.1",
    }
}

impl Version {
    /// Where its version document is.
    fn href(&self, urls: &Urls) -> String {
        match self.range {
            Some(_) => format!("{}/", urls.api),
            None => format!("{}/v2/", urls.bookmark),
        }
    }

    fn summary(&self, urls: &Urls, mut links: Vec<Value>) -> Value {
        links.insert(0, json!({"rel": "self", "href": self.href(urls)}));
        let (min, max) = self.range.clone().unwrap_or_default();
        json!({
            "id": self.id,
            "status": self.status,
            "version": max,
            "min_version": min,
            "updated": self.updated,
            "links": links,
        })
    }

    /// The version document, with its media types.
    fn document(&self, urls: &Urls) -> Json<Value> {
        let described_by = json!({"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"});
        let mut version = self.summary(urls, vec![described_by]);
        version["media-types"] = json!([{"base": "application/json", "type": self.media_type}]);
        Json(json!({ "version": version }))
    }
}

/// `GET /`: the API versions.
pub async fn versions(urls: Urls) -> Json<Value> {
    let versions: Vec<Value> = [v2_0(), v2_1()]
        .iter()
        .map(|v| v.summary(&urls, Vec::new()))
        .collect();
    Json(json!({ "versions": versions }))
}

/// `GET /v2.1`.
pub async fn version(urls: Urls) -> Json<Value> {
    v2_1().document(&urls)
}

/// `GET /v2`: the legacy version's document.
pub async fn legacy_version(urls: Urls) -> Json<Value> {
    v2_0().document(&urls)
}
