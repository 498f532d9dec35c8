//! What the engine and process tests share: tiny HTTP and TCP backends,
//! a plain HTTP client, and load-balancer configurations.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use oxistack_lbplane::{
    Algorithm, InsertHeaders, Listener, LoadBalancer, Member, Pool, Protocol, Timeouts,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// An HTTP backend answering its name; `/health` answers 500 while it is
/// marked unhealthy; `/slow` waits 500 ms first. It echoes the
/// X-Forwarded-For it receives.
pub struct Backend {
    pub name: String,
    pub address: SocketAddr,
    pub connections: Arc<AtomicUsize>,
    pub healthy: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Backend {
    pub async fn start(ip: &str, name: &str) -> Backend {
        let listener = TcpListener::bind((ip.parse::<IpAddr>().unwrap(), 0))
            .await
            .unwrap();
        Backend::serve(listener, name)
    }

    /// Serves an already bound listener (e.g. one opened in a namespace).
    pub fn serve(listener: TcpListener, name: &str) -> Backend {
        let address = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let healthy = Arc::new(AtomicBool::new(true));
        let (count, health, label) = (connections.clone(), healthy.clone(), name.to_owned());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                count.fetch_add(1, Ordering::SeqCst);
                let (health, label) = (health.clone(), label.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        let (health, label) = (health.clone(), label.clone());
                        async move {
                            let path = request.uri().path().to_owned();
                            if path == "/slow" {
                                tokio::time::sleep(Duration::from_millis(500)).await;
                            }
                            let status = if path == "/health" && !health.load(Ordering::SeqCst) {
                                StatusCode::INTERNAL_SERVER_ERROR
                            } else {
                                StatusCode::OK
                            };
                            let forwarded = request.headers().get("x-forwarded-for").cloned();
                            let mut response = Response::new(Full::new(Bytes::from(label)));
                            *response.status_mut() = status;
                            if let Some(value) = forwarded {
                                response.headers_mut().insert("echo-forwarded-for", value);
                            }
                            Ok::<_, std::convert::Infallible>(response)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Backend {
            name: name.to_owned(),
            address,
            connections,
            healthy,
            task,
        }
    }

    pub fn member(&self) -> Member {
        Member {
            id: self.name.clone(),
            address: self.address.ip(),
            protocol_port: self.address.port(),
            weight: 1,
            backup: false,
            monitor_address: None,
            monitor_port: None,
        }
    }
}

/// A TCP backend that echoes what it reads.
pub async fn echo_backend(ip: &str) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind((ip.parse::<IpAddr>().unwrap(), 0))
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut buffer = [0u8; 1024];
                while let Ok(n) = stream.read(&mut buffer).await {
                    if n == 0 || stream.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (address, task)
}

/// A port free on `ip` now.
pub fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip.parse::<IpAddr>().unwrap(), 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One keep-alive client connection.
pub struct Client {
    sender: hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    pub local: SocketAddr,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: hyper::HeaderMap,
    pub body: String,
}

impl Client {
    pub async fn connect(address: SocketAddr) -> std::io::Result<Client> {
        Client::over(TcpStream::connect(address).await?).await
    }

    pub async fn over(stream: TcpStream) -> std::io::Result<Client> {
        let local = stream.local_addr()?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
        tokio::spawn(connection);
        Ok(Client { sender, local })
    }

    pub async fn get(&mut self, path: &str, headers: &[(&str, &str)]) -> hyper::Result<Reply> {
        let mut request = Request::get(path).header("host", "lb.test");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.sender.ready().await?;
        let response = self
            .sender
            .send_request(request.body(Empty::new()).unwrap())
            .await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

/// One request on a connection of its own.
pub async fn get_once(address: SocketAddr, path: &str) -> hyper::Result<Reply> {
    let mut client = Client::connect(address).await.expect("connect");
    client.get(path, &[]).await
}

pub fn http_listener(id: &str, protocol: Protocol, port: u16, pool: &str) -> Listener {
    Listener {
        id: id.into(),
        protocol,
        protocol_port: port,
        connection_limit: None,
        timeouts: Timeouts::default(),
        insert_headers: InsertHeaders {
            forwarded_for: true,
            forwarded_port: true,
            forwarded_proto: true,
        },
        allowed_cidrs: vec![],
        default_pool_id: Some(pool.into()),
        l7_policies: vec![],
    }
}

pub fn pool(id: &str, protocol: Protocol, members: Vec<Member>) -> Pool {
    Pool {
        id: id.into(),
        protocol,
        algorithm: Algorithm::RoundRobin,
        session_persistence: None,
        members,
        health_monitor: None,
    }
}

pub fn load_balancer(
    id: &str,
    vip: &str,
    listeners: Vec<Listener>,
    pools: Vec<Pool>,
) -> LoadBalancer {
    LoadBalancer {
        id: id.into(),
        vip_address: vip.parse().unwrap(),
        listeners,
        pools,
    }
}

/// Polls `condition` every 50 ms for up to `limit`.
pub async fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    condition()
}
