//! TCP listeners: each accepted connection is relayed byte for byte to
//! one member, chosen once at accept. The relay ends when either side
//! closes or nothing has moved for the longer of the client and member
//! idle timeouts.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;

use crate::engine::{self, ListenerShared};
use crate::http::RETRIES;
use crate::traffic::{ActiveStream, Activity, ConnectionGuard, CountedStream};

pub async fn relay(
    stream: TcpStream,
    client: SocketAddr,
    shared: Arc<ListenerShared>,
    _open: ConnectionGuard,
) {
    let config = shared.config();
    let routing = engine::current(&shared.routing);
    let Some(pool) = config.default_pool(&routing) else {
        shared.counters.request_error();
        return;
    };
    let Some(mut member) = pool.choose(client.ip(), None) else {
        shared.counters.request_error();
        return;
    };
    // A member that refuses is retried on another, as for HTTP (Octavia's
    // `retries 3` and `option redispatch`): nothing was relayed yet.
    let mut tried = Vec::new();
    let (upstream, address, _active) = loop {
        let address = member.address();
        let active = member.state.open();
        match tokio::time::timeout(config.member_connect(), TcpStream::connect(address)).await {
            Ok(Ok(upstream)) => break (upstream, address, active),
            Ok(Err(error)) if tried.len() < RETRIES => {
                tracing::debug!(%address, "member refused, trying another: {error}");
            }
            Ok(Err(error)) => {
                tracing::debug!(%address, "member refused: {error}");
                shared.counters.request_error();
                return;
            }
            Err(_) => {
                tracing::debug!(%address, "member connect timed out");
                shared.counters.request_error();
                return;
            }
        }
        let refused = member.config.id.clone();
        let next = pool.after_refusal(&mut tried, refused, config.member_connect());
        let Some(next) = next.await else {
            shared.counters.request_error();
            return;
        };
        member = next;
    };
    let _ = upstream.set_nodelay(true);
    let activity = Arc::new(Activity::default());
    activity.touch();
    let mut client_side = CountedStream::new(stream, shared.counters.clone(), activity.clone());
    let mut member_side = ActiveStream::new(upstream, activity.clone());
    let idle = config.client_idle().max(config.member_idle());
    tokio::select! {
        result = tokio::io::copy_bidirectional(&mut client_side, &mut member_side) => {
            if let Err(error) = result {
                tracing::debug!(%client, %address, "relay ended: {error}");
            }
        }
        () = activity.idle(idle) => {}
    }
}
