//! HTTP listeners: HTTP/1.1 with keep-alive to clients (hyper's server)
//! and pooled keep-alive connections to members (hyper-util's client,
//! one per listener configuration, pooled by member address).
//!
//! Each request is routed on its own: L7 policies first (redirect,
//! reject or another pool), then session persistence and the pool's
//! algorithm pick a member. Errors the proxy answers itself count as the
//! listener's request errors: 503 when no member can take the request or
//! none answers, 504 when the member is silent past `member_data`, 403
//! for a REJECT policy.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::{Body, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Uri, Version};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use oxistack_lbplane::{L7Action, SessionPersistence, Timeouts};
use tokio::net::TcpStream;

use crate::engine::{self, ListenerShared};
use crate::l7::{self, RequestHead};
use crate::traffic::{Activity, ConnectionGuard, CountedStream};

/// How many times a request a member refused is tried again, as
/// Octavia configures haproxy (`retries 3`).
pub const RETRIES: usize = 3;

/// The cookie an HTTP_COOKIE pool sets to name the member that served.
pub const SERVER_COOKIE: &str = "SRV";

pub type HttpClient = Client<HttpConnector, ProxyBody>;
type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// Headers that describe one hop, not the message: never forwarded.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The pooled client to members, with the listener's timeouts.
pub fn client(timeouts: &Timeouts) -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(Duration::from_millis(
        timeouts.member_connect_ms.max(1),
    )));
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_millis(timeouts.member_data_ms.max(1)))
        .build(connector)
}

/// Serves one client connection until the client closes it or it idles
/// out.
pub async fn serve_connection(
    stream: TcpStream,
    client: SocketAddr,
    shared: Arc<ListenerShared>,
    _open: ConnectionGuard,
) {
    let config = shared.config();
    let activity = Arc::new(Activity::default());
    activity.touch();
    let io = TokioIo::new(CountedStream::new(
        stream,
        shared.counters.clone(),
        activity.clone(),
    ));
    // A request waiting on a slow member moves no bytes to the client,
    // so the connection idles out only past both timeouts.
    let idle = config.client_idle().max(config.member_idle());
    let service = service_fn(move |request| handle(request, client, shared.clone()));
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(config.client_idle())
        .serve_connection(io, service);
    tokio::select! {
        result = connection => {
            if let Err(error) = result {
                tracing::debug!(%client, "HTTP connection ended: {error}");
            }
        }
        () = activity.idle(idle) => {}
    }
}

async fn handle(
    request: Request<Incoming>,
    client: SocketAddr,
    shared: Arc<ListenerShared>,
) -> Result<Response<ProxyBody>, Infallible> {
    let config = shared.config();
    let routing = engine::current(&shared.routing);
    let counters = &shared.counters;
    let path_and_query = request
        .uri()
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();

    let head = RequestHead {
        path: request.uri().path(),
        headers: request.headers(),
    };
    let mut pool = config.default_pool(&routing);
    if let Some(policy) = l7::first_match(&config.policies, &head) {
        match &policy.action {
            L7Action::RedirectToUrl { url, status } => return Ok(redirect(*status, url)),
            L7Action::RedirectPrefix { prefix, status } => {
                let target = format!("{}{path_and_query}", prefix.trim_end_matches('/'));
                return Ok(redirect(*status, &target));
            }
            L7Action::RedirectToPool { pool_id } => pool = routing.pools.get(pool_id).cloned(),
            L7Action::Reject => {
                counters.request_error();
                return Ok(plain(StatusCode::FORBIDDEN));
            }
        }
    }
    let Some(pool) = pool else {
        counters.request_error();
        return Ok(plain(StatusCode::SERVICE_UNAVAILABLE));
    };

    let persistence = pool.config.session_persistence.clone();
    let requested = match &persistence {
        Some(SessionPersistence::HttpCookie) => l7::cookie(request.headers(), SERVER_COOKIE),
        Some(SessionPersistence::AppCookie { cookie_name }) => {
            l7::cookie(request.headers(), cookie_name).and_then(|v| pool.app_cookie_member(&v))
        }
        Some(SessionPersistence::SourceIp) | None => None,
    };
    let Some(mut member) = pool.choose(client.ip(), requested.as_deref()) else {
        counters.request_error();
        return Ok(plain(StatusCode::SERVICE_UNAVAILABLE));
    };
    let Some(http) = &config.client else {
        counters.request_error();
        return Ok(plain(StatusCode::SERVICE_UNAVAILABLE));
    };

    // What goes to every member tried: the request without its hop-by-hop
    // headers, with the inserted ones. Only a request without a body can
    // be sent again (nothing of it is lost when a member refuses).
    let resendable = request.body().is_end_stream();
    let (mut head, body) = request.into_parts();
    strip_hop_by_hop(&mut head.headers);
    l7::insert_forwarded(
        &mut head.headers,
        &config.listener.insert_headers,
        client,
        config.listener.protocol_port,
    );
    let mut body = Some(body.boxed());
    let mut tried = Vec::new();
    let (response, member_id, active) = loop {
        let member_id = member.config.id.clone();
        let address = member.address();
        // Counted open (for LEAST_CONNECTIONS) until the response body is
        // delivered or dropped.
        let active = member.state.open();
        let Ok(uri) = Uri::builder()
            .scheme("http")
            .authority(address.to_string())
            .path_and_query(path_and_query.as_str())
            .build()
        else {
            counters.request_error();
            return Ok(plain(StatusCode::BAD_REQUEST));
        };
        let mut attempt = Request::new(body.take().unwrap_or_else(empty));
        *attempt.method_mut() = head.method.clone();
        *attempt.uri_mut() = uri;
        *attempt.version_mut() = Version::HTTP_11;
        *attempt.headers_mut() = head.headers.clone();
        match tokio::time::timeout(config.member_idle(), http.request(attempt)).await {
            Ok(Ok(response)) => break (response, member_id, active),
            // Octavia's haproxy retries a member that refuses the
            // connection (`retries 3`), on another one (`option
            // redispatch`).
            Ok(Err(error)) if error.is_connect() && resendable && tried.len() < RETRIES => {
                tracing::debug!(member = %member_id, %address, "member refused, trying another: {error}");
                let next = pool.after_refusal(&mut tried, member_id, config.member_connect());
                let Some(next) = next.await else {
                    counters.request_error();
                    return Ok(plain(StatusCode::SERVICE_UNAVAILABLE));
                };
                member = next;
            }
            Ok(Err(error)) => {
                tracing::debug!(member = %member_id, %address, "member failed: {error}");
                counters.request_error();
                return Ok(plain(StatusCode::SERVICE_UNAVAILABLE));
            }
            Err(_) => {
                counters.request_error();
                return Ok(plain(StatusCode::GATEWAY_TIMEOUT));
            }
        }
    };

    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    match &persistence {
        Some(SessionPersistence::HttpCookie) if requested.as_deref() != Some(&member_id) => {
            let cookie = format!("{SERVER_COOKIE}={member_id}; Path=/");
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                parts.headers.append(header::SET_COOKIE, value);
            }
        }
        Some(SessionPersistence::AppCookie { cookie_name }) => {
            for set_cookie in parts.headers.get_all(header::SET_COOKIE) {
                let value = set_cookie.to_str().ok();
                if let Some(value) = value.and_then(|v| l7::set_cookie_value(v, cookie_name)) {
                    pool.remember_app_cookie(value, member_id.clone());
                }
            }
        }
        _ => {}
    }
    let body = body.map_frame(move |frame| {
        let _open = &active;
        frame
    });
    Ok(Response::from_parts(parts, body.boxed()))
}

fn empty() -> ProxyBody {
    http_body_util::Empty::new()
        .map_err(|never| match never {})
        .boxed()
}

/// Removes hop-by-hop headers, including those `Connection` names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| !name.is_empty())
        .collect();
    for name in HOP_BY_HOP
        .iter()
        .copied()
        .chain(named.iter().map(String::as_str))
    {
        headers.remove(name);
    }
}

fn plain(status: StatusCode) -> Response<ProxyBody> {
    let text = format!("{status}\n");
    let mut response = Response::new(full(text));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

fn redirect(status: u16, location: &str) -> Response<ProxyBody> {
    let Ok(location) = HeaderValue::from_str(location) else {
        return plain(StatusCode::INTERNAL_SERVER_ERROR);
    };
    let status = StatusCode::from_u16(status)
        .ok()
        .filter(StatusCode::is_redirection)
        .unwrap_or(StatusCode::FOUND);
    let mut response = Response::new(full(String::new()));
    *response.status_mut() = status;
    response.headers_mut().insert(header::LOCATION, location);
    response
}

fn full(text: String) -> ProxyBody {
    Full::new(Bytes::from(text))
        .map_err(|never| match never {})
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_are_not_forwarded() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-private"),
        );
        headers.insert("x-private", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert(header::HOST, HeaderValue::from_static("example.com"));
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
        assert_eq!(headers[header::HOST], "example.com");
    }

    #[test]
    fn redirects_keep_a_redirection_status() {
        assert_eq!(
            redirect(301, "http://x/").status(),
            StatusCode::MOVED_PERMANENTLY
        );
        assert_eq!(redirect(200, "http://x/").status(), StatusCode::FOUND);
        assert_eq!(
            redirect(302, "http://x/").headers()[header::LOCATION],
            "http://x/"
        );
    }
}
