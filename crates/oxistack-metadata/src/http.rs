//! The metadata service over HTTP: what a guest reaches at
//! `http://169.254.169.254/`. The guest is known only by the address its
//! request comes from, so every request first asks an
//! [`InstanceResolver`] whose address that is.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use tokio::net::TcpListener;

use crate::InstanceMetadata;

/// Finds the instance behind a request's source address. The data plane
/// opens one listener per tenant network, so an address is unambiguous
/// for the resolver it passes with that listener.
pub trait InstanceResolver: Send + Sync + 'static {
    /// The metadata of the instance that holds `peer`, or `None` if no
    /// instance does.
    fn resolve(&self, peer: IpAddr) -> BoxFuture<'_, Option<InstanceMetadata>>;
}

/// The service as an axum router, for callers that serve it themselves.
/// It needs the peer address: serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()`.
pub fn router(resolver: Arc<dyn InstanceResolver>) -> Router {
    Router::new().fallback(answer).with_state(resolver)
}

/// Serves the metadata service on `listener` until it fails.
pub async fn serve_http(
    listener: TcpListener,
    resolver: Arc<dyn InstanceResolver>,
) -> io::Result<()> {
    axum::serve(
        listener,
        router(resolver).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

async fn answer(
    State(resolver): State<Arc<dyn InstanceResolver>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
            "Method Not Allowed\n",
        )
            .into_response();
    }
    // A dual-stack listener reports IPv4 peers as IPv4-mapped IPv6.
    let peer = peer.ip().to_canonical();
    let path = uri.path();
    let Some(instance) = resolver.resolve(peer).await else {
        tracing::debug!(%peer, path, "metadata request from an unknown address");
        return not_found();
    };
    // Only the path is logged: bodies may hold user data.
    match instance.serve(path) {
        Some(document) => {
            tracing::debug!(%peer, path, instance = %instance.uuid, "metadata served");
            (
                [(header::CONTENT_TYPE, document.content_type.mime())],
                document.body,
            )
                .into_response()
        }
        None => {
            tracing::debug!(%peer, path, instance = %instance.uuid, "no such metadata path");
            not_found()
        }
    }
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "Not Found\n").into_response()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::net::Ipv4Addr;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpSocket;

    use super::*;
    use crate::tests::fixture;

    /// Knows instances by their exact address.
    struct KnownPeers(HashMap<IpAddr, InstanceMetadata>);

    impl InstanceResolver for KnownPeers {
        fn resolve(&self, peer: IpAddr) -> BoxFuture<'_, Option<InstanceMetadata>> {
            Box::pin(async move { self.0.get(&peer).cloned() })
        }
    }

    struct HttpAnswer {
        status: u16,
        headers: HashMap<String, String>,
        body: Vec<u8>,
    }

    /// Starts the service on a loopback port with one instance at
    /// 127.0.0.1.
    async fn start() -> SocketAddr {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let address = listener.local_addr().unwrap();
        let resolver = KnownPeers(HashMap::from([(
            IpAddr::from(Ipv4Addr::LOCALHOST),
            fixture(),
        )]));
        tokio::spawn(serve_http(listener, Arc::new(resolver)));
        address
    }

    /// One HTTP/1.0 exchange from source address `from`.
    async fn exchange(server: SocketAddr, from: Ipv4Addr, method: &str, path: &str) -> HttpAnswer {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::from((from, 0))).unwrap();
        let mut stream = socket.connect(server).await.unwrap();
        stream
            .write_all(
                format!("{method} {path} HTTP/1.0\r\nHost: 169.254.169.254\r\n\r\n").as_bytes(),
            )
            .await
            .unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        let split = raw
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .expect("a complete response head");
        let head = String::from_utf8(raw[..split].to_vec()).unwrap();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .filter_map(|line| line.split_once(": "))
            .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
            .collect();
        HttpAnswer {
            status,
            headers,
            body: raw[split + 4..].to_vec(),
        }
    }

    #[tokio::test]
    async fn known_peer_gets_its_documents() {
        let server = start().await;
        let get = |path: &'static str| exchange(server, Ipv4Addr::LOCALHOST, "GET", path);

        let answer = get("/latest/meta-data/instance-id").await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.headers["content-type"], "text/plain; charset=utf-8");
        assert_eq!(answer.body, b"i-0000002a");

        let answer = get("/openstack/latest/meta_data.json").await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.headers["content-type"], "application/json");
        let document: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(document["uuid"], "8f1c54a6-3e1f-4c55-9b1a-0d3c1f4b2a77");
        assert!(document.get("admin_pass").is_none(), "{document}");
        assert!(!String::from_utf8_lossy(&answer.body).contains("s3cret-pass"));

        let answer = get("/openstack/").await;
        assert_eq!(answer.status, 200);
        assert!(answer.body.ends_with(b"\nlatest"));

        let answer = get("/latest/meta-data/nothing-here").await;
        assert_eq!(answer.status, 404);

        let answer = exchange(
            server,
            Ipv4Addr::LOCALHOST,
            "HEAD",
            "/latest/meta-data/hostname",
        )
        .await;
        assert_eq!(answer.status, 200);
        assert!(answer.body.is_empty());

        let answer = exchange(
            server,
            Ipv4Addr::LOCALHOST,
            "POST",
            "/openstack/latest/password",
        )
        .await;
        assert_eq!(answer.status, 405);
        assert_eq!(answer.headers["allow"], "GET, HEAD");
    }

    #[tokio::test]
    async fn unknown_peer_gets_not_found() {
        let server = start().await;
        let stranger = Ipv4Addr::new(127, 0, 0, 2);
        for path in [
            "/latest/meta-data/instance-id",
            "/openstack/latest/meta_data.json",
            "/",
        ] {
            let answer = exchange(server, stranger, "GET", path).await;
            assert_eq!(answer.status, 404, "{path}");
            assert!(!answer.body.starts_with(b"i-"), "{path}");
        }
        // The same paths work for the known address, so the 404 is the peer's.
        let answer = exchange(server, Ipv4Addr::LOCALHOST, "GET", "/").await;
        assert_eq!(answer.status, 200);
    }
}
