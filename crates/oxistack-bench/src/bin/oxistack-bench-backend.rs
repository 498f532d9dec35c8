//! `oxistack-bench-backend ADDRESS TEXT`: the member behind the
//! load-balancer benchmark. It answers every HTTP/1.1 request with TEXT,
//! keeping connections alive unless the client closes them, and does as
//! little else as it can, so that the proxies in front of it (oxistack's
//! and haproxy) are what the benchmark measures. One thread: the machine
//! running the benchmark also runs the client and the proxy.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(address), Some(text)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: oxistack-bench-backend ADDRESS:PORT TEXT");
    };
    let address: SocketAddr = address.parse()?;
    let body = Bytes::from(text + "\n");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(serve(address, body))
}

async fn serve(address: SocketAddr, body: Bytes) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let body = body.clone();
        tokio::spawn(async move {
            let answer = service_fn(move |_request: Request<hyper::body::Incoming>| {
                let body = body.clone();
                async move { Ok::<_, Infallible>(Response::new(Full::new(body))) }
            });
            // A client that goes away mid-request is no error of ours.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), answer)
                .await;
        });
    }
}
