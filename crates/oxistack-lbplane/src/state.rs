//! The desired state of the load-balancer proxies, and what they report
//! back. Collections are sorted by id so equal states compare equal; the
//! whole state is serialized to the proxy process, so every type here is
//! plain serde data with no behaviour.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Every load balancer the proxies should serve. Only load balancers,
/// listeners, pools and members that are administratively up appear;
/// the service leaves the rest out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadBalancerState {
    pub load_balancers: Vec<LoadBalancer>,
}

/// One load balancer: its listeners all bind the VIP address inside the
/// load balancer's own network namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadBalancer {
    pub id: String,
    pub vip_address: IpAddr,
    pub listeners: Vec<Listener>,
    /// Every pool of the load balancer, referenced by id from listeners
    /// and L7 policies.
    pub pools: Vec<Pool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Protocol {
    /// Layer 7: the proxy parses HTTP/1.1 and applies L7 policies and
    /// inserted headers.
    Http,
    /// Layer 4: bytes relayed as they come.
    Tcp,
    /// Datagrams relayed per client address.
    Udp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listener {
    pub id: String,
    pub protocol: Protocol,
    pub protocol_port: u16,
    /// Concurrent connections accepted; `None` is unlimited (Octavia's -1).
    pub connection_limit: Option<u32>,
    pub timeouts: Timeouts,
    /// HTTP listeners only.
    pub insert_headers: InsertHeaders,
    /// Clients allowed to connect; empty allows every address.
    pub allowed_cidrs: Vec<IpNet>,
    /// Where requests go that no L7 policy redirects; none: 503 for HTTP,
    /// connection refused for TCP, dropped for UDP.
    pub default_pool_id: Option<String>,
    /// Evaluated in order (by Octavia's `position`); the first policy whose
    /// rules all match decides. HTTP listeners only.
    pub l7_policies: Vec<L7Policy>,
}

/// Octavia's four listener timeouts, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeouts {
    /// Idle time allowed on a client connection (default 50000).
    pub client_data_ms: u64,
    /// Time to connect to a member (default 5000).
    pub member_connect_ms: u64,
    /// Idle time allowed on a member connection (default 50000).
    pub member_data_ms: u64,
    /// Time to wait for more of a TCP stream's first bytes to inspect
    /// (default 0: none).
    pub tcp_inspect_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            client_data_ms: 50_000,
            member_connect_ms: 5_000,
            member_data_ms: 50_000,
            tcp_inspect_ms: 0,
        }
    }
}

/// Headers an HTTP listener adds to each request it forwards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InsertHeaders {
    /// `X-Forwarded-For: <client address>`.
    pub forwarded_for: bool,
    /// `X-Forwarded-Port: <listener port>`.
    pub forwarded_port: bool,
    /// `X-Forwarded-Proto: http`.
    pub forwarded_proto: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct L7Policy {
    pub id: String,
    pub action: L7Action,
    /// All must match (Octavia ANDs a policy's rules); a policy without
    /// rules never matches, as in Octavia.
    pub rules: Vec<L7Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", tag = "type")]
pub enum L7Action {
    /// Answer with a redirect to `url` (status code `redirect_http_code`,
    /// default 302).
    RedirectToUrl { url: String, status: u16 },
    /// Replace the scheme and host of the request's URL with `prefix`.
    RedirectPrefix { prefix: String, status: u16 },
    /// Send the request to this pool instead of the default one.
    RedirectToPool { pool_id: String },
    /// Answer 403.
    Reject,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct L7Rule {
    pub kind: L7RuleKind,
    pub compare: CompareType,
    pub value: String,
    /// When true the rule matches when the comparison does not.
    pub invert: bool,
}

/// What of the request a rule compares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", tag = "type")]
pub enum L7RuleKind {
    /// The path of the request's URL.
    Path,
    /// The `Host` header, without a port.
    HostName,
    /// The value of header `key`.
    Header { key: String },
    /// The value of cookie `key`.
    Cookie { key: String },
    /// The extension of the path's last segment (after the last `.`).
    FileType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CompareType {
    Regex,
    StartsWith,
    EndsWith,
    Contains,
    EqualTo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Algorithm {
    /// Weighted round robin.
    RoundRobin,
    /// The member with the fewest open connections (relative to weight).
    LeastConnections,
    /// A hash of the client address picks the member.
    SourceIp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", tag = "type")]
pub enum SessionPersistence {
    /// One client address stays on one member.
    SourceIp,
    /// The proxy sets a cookie naming the member and honours it.
    HttpCookie,
    /// The application's cookie `cookie_name` is remembered with the
    /// member that set it, and requests carrying it return there.
    AppCookie { cookie_name: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    pub id: String,
    pub protocol: Protocol,
    pub algorithm: Algorithm,
    pub session_persistence: Option<SessionPersistence>,
    pub members: Vec<Member>,
    /// When present, members are checked and those down get no traffic;
    /// without one every member is assumed up.
    pub health_monitor: Option<HealthMonitor>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub id: String,
    pub address: IpAddr,
    pub protocol_port: u16,
    /// 0..=256. Weight 0 takes no new connections (draining); open ones
    /// finish.
    pub weight: u16,
    /// Used only when no non-backup member is up.
    pub backup: bool,
    /// Where the health monitor checks, if not the member's own address
    /// and port.
    pub monitor_address: Option<IpAddr>,
    pub monitor_port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthMonitor {
    pub kind: MonitorKind,
    /// Seconds between checks.
    pub delay_s: u32,
    /// Seconds a check may take.
    pub timeout_s: u32,
    /// Consecutive successes that bring a down member up (1..=10).
    pub max_retries: u32,
    /// Consecutive failures that take an up member down (1..=10).
    pub max_retries_down: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", tag = "type")]
pub enum MonitorKind {
    /// A request; up when the status is in `expected_codes`.
    Http {
        http_method: String,
        url_path: String,
        /// Inclusive ranges, from Octavia's `200`, `200,202` or `200-204`.
        expected_codes: Vec<(u16, u16)>,
    },
    /// Up when a TCP connection opens.
    Tcp,
    /// Up when the member answers an ICMP echo (a TCP connect to the
    /// member's port where raw sockets are unavailable).
    Ping,
    /// Up unless the member's port answers a datagram with ICMP
    /// port-unreachable.
    UdpConnect,
}

/// What the proxies report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// Health of each member of a pool with a health monitor, by member
    /// id. Members of unmonitored pools are absent.
    pub members: BTreeMap<String, MemberHealth>,
    /// Counters by listener id.
    pub listeners: BTreeMap<String, ListenerStats>,
    /// Load balancers whose proxy should run but does not (it died): the
    /// next application starts them again.
    #[serde(default)]
    pub stopped: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MemberHealth {
    /// Passed its last `max_retries` checks (or not yet failed enough).
    Up,
    /// Failed `max_retries_down` checks in a row.
    Down,
}

/// Octavia's listener statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerStats {
    pub active_connections: u64,
    pub total_connections: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Requests answered with an error by the proxy itself (no member,
    /// member unreachable, rejected).
    pub request_errors: u64,
}
