//! UDP listeners: datagrams from each client address go out through an
//! upstream socket of their own, connected to the member chosen for that
//! client's first datagram, so replies find their way back. A flow ends
//! after `client_data` without a datagram either way.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::UdpSocket;

use crate::balance::lock;
use crate::engine::{self, ListenerShared};
use crate::traffic::{Activity, ConnectionGuard};

/// Largest datagram relayed.
const MAX_DATAGRAM: usize = 65_535;

struct Flow {
    upstream: Arc<UdpSocket>,
    activity: Arc<Activity>,
}

type Flows = Arc<Mutex<HashMap<SocketAddr, Flow>>>;

pub async fn serve(socket: UdpSocket, shared: Arc<ListenerShared>) {
    let socket = Arc::new(socket);
    let flows: Flows = Arc::default();
    let mut buffer = vec![0u8; MAX_DATAGRAM];
    loop {
        let (length, client) = match socket.recv_from(&mut buffer).await {
            Ok(received) => received,
            Err(error) => {
                tracing::debug!("UDP receive failed: {error}");
                continue;
            }
        };
        let existing = lock(&flows)
            .get(&client)
            .map(|flow| (flow.upstream.clone(), flow.activity.clone()));
        let (upstream, activity) = match existing {
            Some(flow) => flow,
            None => match open_flow(&socket, client, &shared, &flows).await {
                Some(flow) => flow,
                None => continue,
            },
        };
        activity.touch();
        if upstream.send(&buffer[..length]).await.is_ok() {
            shared.counters.add_in(length);
        }
    }
}

/// Starts a flow for `client`: picks a member, connects a socket to it
/// and relays its replies until the flow idles out.
async fn open_flow(
    socket: &Arc<UdpSocket>,
    client: SocketAddr,
    shared: &Arc<ListenerShared>,
    flows: &Flows,
) -> Option<(Arc<UdpSocket>, Arc<Activity>)> {
    let config = shared.config();
    if !config.admits(client.ip(), &shared.counters) {
        return None;
    }
    let routing = engine::current(&shared.routing);
    let pool = config.default_pool(&routing)?;
    let Some(member) = pool.choose(client.ip(), None) else {
        shared.counters.request_error();
        return None;
    };
    let address = member.address();
    let local: SocketAddr = if address.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let upstream = UdpSocket::bind(local).await.ok()?;
    upstream.connect(address).await.ok()?;
    let upstream = Arc::new(upstream);
    let activity = Arc::new(Activity::default());
    lock(flows).insert(
        client,
        Flow {
            upstream: upstream.clone(),
            activity: activity.clone(),
        },
    );
    let open = shared.counters.open();
    let member_active = member.state.open();
    tokio::spawn(relay_replies(
        socket.clone(),
        upstream.clone(),
        client,
        activity.clone(),
        shared.clone(),
        flows.clone(),
        (open, member_active),
    ));
    Some((upstream, activity))
}

async fn relay_replies(
    socket: Arc<UdpSocket>,
    upstream: Arc<UdpSocket>,
    client: SocketAddr,
    activity: Arc<Activity>,
    shared: Arc<ListenerShared>,
    flows: Flows,
    _open: (ConnectionGuard, crate::balance::ActiveGuard),
) {
    let idle = shared.config().client_idle();
    let mut buffer = vec![0u8; MAX_DATAGRAM];
    loop {
        tokio::select! {
            received = upstream.recv(&mut buffer) => match received {
                Ok(length) => {
                    activity.touch();
                    if socket.send_to(&buffer[..length], client).await.is_ok() {
                        shared.counters.add_out(length);
                    }
                }
                // ICMP errors from the member surface here; the flow
                // stays until it idles out.
                Err(_) => tokio::task::yield_now().await,
            },
            () = activity.idle(idle) => break,
        }
    }
    lock(&flows).remove(&client);
}
