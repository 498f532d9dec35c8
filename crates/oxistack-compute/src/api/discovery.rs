//! Version discovery: what clients read before anything else to learn the
//! microversion range.

use axum::Json;
use serde_json::{Value, json};

use crate::versions::{MAX, MIN};
use crate::wire::Urls;

/// When v2.1 was released, as Nova dates it.
const UPDATED: &str = "2013-07-23T11:33:21Z";

fn v2_1(urls: &Urls, mut links: Vec<Value>) -> Value {
    links.insert(0, json!({"rel": "self", "href": format!("{}/", urls.api)}));
    json!({
        "id": "v2.1",
        "status": "CURRENT",
        "version": MAX.to_string(),
        "min_version": MIN.to_string(),
        "updated": UPDATED,
        "links": links,
    })
}

/// `GET /`: the API versions served. Only v2.1 is: Nova's legacy v2.0
/// endpoint does not exist here, so it is not offered.
pub async fn versions(urls: Urls) -> Json<Value> {
    Json(json!({"versions": [v2_1(&urls, Vec::new())]}))
}

/// `GET /v2.1`: the version document with its media types.
pub async fn version(urls: Urls) -> Json<Value> {
    let described_by =
        json!({"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"});
    let mut version = v2_1(&urls, vec![described_by]);
    version["media-types"] = json!([{
        "base": "application/json",
        "type": "application/vnd.openstack.compute+json;version=2.1",
    }]);
    Json(json!({"version": version}))
}
