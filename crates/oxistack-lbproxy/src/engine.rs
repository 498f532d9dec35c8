//! The proxy engine of one load balancer: its listeners, its pools and
//! their health monitors, reconfigured in place.
//!
//! [`Engine::apply`] never drops traffic. Listeners are keyed by
//! (protocol, address, port): one whose key is unchanged keeps its socket
//! and only swaps its configuration; a removed one stops accepting (its
//! accept task ends and closes the socket) while the connections it
//! accepted run on as tasks of their own until they finish. Pools are
//! swapped as one immutable [`Routing`] snapshot behind a lock held only
//! to clone an `Arc`, and each member keeps its live state (health, open
//! connections) across snapshots, so a request in flight keeps the
//! member it chose and new requests see the new pools at once.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use oxistack_lbplane::{Listener, LoadBalancer, MemberHealth, Observation, Protocol};
use socket2::{Domain, Socket, Type};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

use crate::balance::{RuntimePool, lock};
use crate::http::{self, HttpClient};
use crate::l7::{self, CompiledPolicy};
use crate::traffic::ListenerCounters;
use crate::{health, tcp, udp};

/// Pause after a failed accept (e.g. out of descriptors) before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("binding {protocol:?} listener {listener} on {address}: {source}")]
    Bind {
        listener: String,
        protocol: Protocol,
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Every pool of the load balancer, by id: one immutable snapshot.
#[derive(Debug, Default)]
pub struct Routing {
    pub pools: HashMap<String, Arc<RuntimePool>>,
}

/// The current routing snapshot, shared by every listener.
pub type SharedRouting = Arc<RwLock<Arc<Routing>>>;

pub fn current(routing: &SharedRouting) -> Arc<Routing> {
    routing
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}

/// One listener's configuration, ready to serve.
pub struct ListenerConfig {
    pub listener: Listener,
    pub policies: Vec<CompiledPolicy>,
    /// HTTP listeners: the pooled keep-alive client to members, built
    /// with this configuration's timeouts.
    pub client: Option<HttpClient>,
}

impl ListenerConfig {
    fn new(listener: Listener) -> Self {
        let client =
            (listener.protocol == Protocol::Http).then(|| http::client(&listener.timeouts));
        ListenerConfig {
            policies: l7::compile(&listener.l7_policies),
            listener,
            client,
        }
    }

    /// Whether `client` may open one more connection.
    pub fn admits(&self, client: IpAddr, counters: &ListenerCounters) -> bool {
        let allowed = self.listener.allowed_cidrs.is_empty()
            || self
                .listener
                .allowed_cidrs
                .iter()
                .any(|cidr| cidr.contains(&client));
        let below_limit = self
            .listener
            .connection_limit
            .is_none_or(|limit| counters.active() < u64::from(limit));
        allowed && below_limit
    }

    pub fn client_idle(&self) -> Duration {
        Duration::from_millis(self.listener.timeouts.client_data_ms.max(1))
    }

    pub fn member_idle(&self) -> Duration {
        Duration::from_millis(self.listener.timeouts.member_data_ms.max(1))
    }

    pub fn member_connect(&self) -> Duration {
        Duration::from_millis(self.listener.timeouts.member_connect_ms.max(1))
    }

    /// The default pool's current version.
    pub fn default_pool(&self, routing: &Routing) -> Option<Arc<RuntimePool>> {
        let id = self.listener.default_pool_id.as_ref()?;
        routing.pools.get(id).cloned()
    }
}

/// What a listener's tasks share: its counters, its current
/// configuration and the load balancer's routing.
pub struct ListenerShared {
    pub counters: Arc<ListenerCounters>,
    config: RwLock<Arc<ListenerConfig>>,
    pub routing: SharedRouting,
}

impl ListenerShared {
    pub fn config(&self) -> Arc<ListenerConfig> {
        self.config
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn replace(&self, config: ListenerConfig) {
        *self
            .config
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(config);
    }
}

/// Aborts its task when dropped.
struct TaskGuard(JoinHandle<()>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct RunningListener {
    shared: Arc<ListenerShared>,
    _accepting: TaskGuard,
}

/// One load balancer's proxy. Must be used inside a tokio runtime.
#[derive(Default)]
pub struct Engine {
    routing: SharedRouting,
    listeners: Mutex<HashMap<String, RunningListener>>,
    monitors: Mutex<HashMap<String, TaskGuard>>,
}

impl Engine {
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `lb` from now on (see the module comment). Listeners that
    /// cannot bind are reported after everything else is applied; the
    /// next apply tries them again.
    pub fn apply(&self, lb: &LoadBalancer) -> Result<(), EngineError> {
        self.apply_routing(lb);
        self.apply_listeners(lb)
    }

    fn apply_routing(&self, lb: &LoadBalancer) {
        let previous = current(&self.routing);
        let mut routing = Routing::default();
        for pool in &lb.pools {
            let old = previous.pools.get(&pool.id);
            let runtime = RuntimePool::new(pool.clone(), |member| {
                old.and_then(|old| {
                    old.members.iter().find(|m| {
                        m.config.id == member.id
                            && m.config.address == member.address
                            && m.config.protocol_port == member.protocol_port
                    })
                })
                .map(|m| m.state.clone())
                .unwrap_or_default()
            });
            if let Some(old) = old {
                runtime.inherit(old);
            }
            if !runtime.is_monitored() {
                for member in &runtime.members {
                    member.state.set_healthy(true);
                }
            }
            routing.pools.insert(pool.id.clone(), Arc::new(runtime));
        }
        let routing = Arc::new(routing);
        self.apply_monitors(&routing);
        *self
            .routing
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = routing;
    }

    /// One task per monitored member; a task whose pool, member, target
    /// and monitor are unchanged keeps running (and its counts).
    fn apply_monitors(&self, routing: &Routing) {
        let mut monitors = lock(&self.monitors);
        let mut wanted = HashMap::new();
        for pool in routing.pools.values() {
            let Some(monitor) = &pool.config.health_monitor else {
                continue;
            };
            for member in &pool.members {
                let target = member.monitor_target();
                let key = format!(
                    "{}|{}|{target}|{monitor:?}",
                    pool.config.id, member.config.id
                );
                let task = monitors.remove(&key).unwrap_or_else(|| {
                    TaskGuard(tokio::spawn(health::monitor_member(
                        monitor.clone(),
                        target,
                        member.state.clone(),
                    )))
                });
                wanted.insert(key, task);
            }
        }
        // What is left in `monitors` is dropped, which aborts it.
        *monitors = wanted;
    }

    fn apply_listeners(&self, lb: &LoadBalancer) -> Result<(), EngineError> {
        let mut running = lock(&self.listeners);
        let wanted: HashMap<String, &Listener> = lb
            .listeners
            .iter()
            .map(|l| (listener_key(lb.vip_address, l), l))
            .collect();
        // Stop removed listeners first, so a port that changes protocol
        // is free to bind again.
        running.retain(|key, _| wanted.contains_key(key));
        let mut first_error = None;
        for (key, listener) in wanted {
            if let Some(existing) = running.get(&key) {
                if existing.shared.config().listener != *listener {
                    existing
                        .shared
                        .replace(ListenerConfig::new(listener.clone()));
                }
                continue;
            }
            let address = SocketAddr::new(lb.vip_address, listener.protocol_port);
            let shared = Arc::new(ListenerShared {
                counters: Arc::default(),
                config: RwLock::new(Arc::new(ListenerConfig::new(listener.clone()))),
                routing: self.routing.clone(),
            });
            let started = match listener.protocol {
                Protocol::Udp => {
                    bind_udp(address).map(|socket| tokio::spawn(udp::serve(socket, shared.clone())))
                }
                Protocol::Http | Protocol::Tcp => bind_tcp(address).map(|socket| {
                    tokio::spawn(accept_loop(socket, listener.protocol, shared.clone()))
                }),
            };
            match started {
                Ok(task) => {
                    tracing::info!(listener = %listener.id, %address, protocol = ?listener.protocol, "listening");
                    running.insert(
                        key,
                        RunningListener {
                            shared,
                            _accepting: TaskGuard(task),
                        },
                    );
                }
                Err(source) => {
                    tracing::warn!(listener = %listener.id, %address, "cannot bind: {source}");
                    first_error.get_or_insert(EngineError::Bind {
                        listener: listener.id.clone(),
                        protocol: listener.protocol,
                        address,
                        source,
                    });
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Member health (monitored pools only) and listener counters.
    pub fn observe(&self) -> Observation {
        let mut observation = Observation::default();
        for pool in current(&self.routing).pools.values() {
            if !pool.is_monitored() {
                continue;
            }
            for member in &pool.members {
                let health = if member.state.is_healthy() {
                    MemberHealth::Up
                } else {
                    MemberHealth::Down
                };
                observation.members.insert(member.config.id.clone(), health);
            }
        }
        for running in lock(&self.listeners).values() {
            observation.listeners.insert(
                running.shared.config().listener.id.clone(),
                running.shared.counters.snapshot(),
            );
        }
        observation
    }

    /// Stops accepting on every listener and stops the monitors; open
    /// connections run on until they end or the runtime stops.
    pub fn stop(&self) {
        lock(&self.listeners).clear();
        lock(&self.monitors).clear();
    }
}

fn listener_key(vip: IpAddr, listener: &Listener) -> String {
    format!(
        "{:?} {}",
        listener.protocol,
        SocketAddr::new(vip, listener.protocol_port)
    )
}

/// A socket on `address` that may bind before the address is configured
/// (the VIP may reach the namespace after the proxy starts) and rebinds
/// at once after a restart.
fn socket_for(address: SocketAddr, kind: Type) -> std::io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(address), kind, None)?;
    socket.set_reuse_address(true)?;
    if address.is_ipv4() {
        socket.set_freebind_v4(true)?;
    } else {
        socket.set_only_v6(true)?;
        socket.set_freebind_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    Ok(socket)
}

fn bind_tcp(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = socket_for(address, Type::STREAM)?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}

fn bind_udp(address: SocketAddr) -> std::io::Result<UdpSocket> {
    UdpSocket::from_std(socket_for(address, Type::DGRAM)?.into())
}

/// Accepts connections until aborted; each runs as a task of its own so
/// it outlives the listener.
async fn accept_loop(socket: TcpListener, protocol: Protocol, shared: Arc<ListenerShared>) {
    loop {
        let (stream, client) = match socket.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!("accept failed: {error}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let config = shared.config();
        if !config.admits(client.ip(), &shared.counters) {
            // Refused: closed at once, before a byte is read.
            continue;
        }
        let guard = shared.counters.open();
        let _ = stream.set_nodelay(true);
        if protocol == Protocol::Http {
            tokio::spawn(http::serve_connection(
                stream,
                client,
                shared.clone(),
                guard,
            ));
        } else {
            tokio::spawn(tcp::relay(stream, client, shared.clone(), guard));
        }
    }
}
