//! The records the service keeps: each is Octavia's document of the
//! object, minus what is computed from relations (`listeners`, `pools`,
//! `members`, `healthmonitor_id`, `loadbalancers`, `rules`, `tenant_id`),
//! plus the id of its parent (`loadbalancer_id`, `pool_id`,
//! `l7policy_id`), which the documents drop (a policy's `listener_id` is
//! part of Octavia's document and stays). Keeping the record in Octavia's own shape is what makes every
//! object read back exactly as it was created.
//!
//! A load balancer and everything under it is one [`Tree`]: it is locked,
//! changed and provisioned as a unit, as Octavia does.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

pub const ACTIVE: &str = "ACTIVE";
pub const PENDING_CREATE: &str = "PENDING_CREATE";
pub const PENDING_UPDATE: &str = "PENDING_UPDATE";
pub const PENDING_DELETE: &str = "PENDING_DELETE";
pub const ERROR: &str = "ERROR";

pub const ONLINE: &str = "ONLINE";
pub const OFFLINE: &str = "OFFLINE";
pub const DEGRADED: &str = "DEGRADED";
pub const NO_MONITOR: &str = "NO_MONITOR";

/// Whether a provisioning status is one of the `PENDING_*` ones.
pub fn is_pending(status: &str) -> bool {
    status.starts_with("PENDING_")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadBalancer {
    pub id: String,
    pub name: String,
    pub description: String,
    pub provisioning_status: String,
    pub operating_status: String,
    pub admin_state_up: bool,
    pub project_id: String,
    pub created_at: String,
    pub updated_at: Option<String>,
    pub vip_address: String,
    pub vip_port_id: String,
    pub vip_subnet_id: String,
    pub vip_network_id: String,
    pub vip_qos_policy_id: Option<String>,
    pub provider: String,
    pub flavor_id: Option<String>,
    pub availability_zone: Option<String>,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listener {
    pub id: String,
    pub loadbalancer_id: String,
    pub name: String,
    pub description: String,
    pub provisioning_status: String,
    pub operating_status: String,
    pub admin_state_up: bool,
    pub project_id: String,
    pub created_at: String,
    pub updated_at: Option<String>,
    pub protocol: String,
    pub protocol_port: u16,
    pub connection_limit: i64,
    pub default_tls_container_ref: Option<String>,
    pub sni_container_refs: Vec<String>,
    pub default_pool_id: Option<String>,
    pub insert_headers: BTreeMap<String, String>,
    pub timeout_client_data: u64,
    pub timeout_member_connect: u64,
    pub timeout_member_data: u64,
    pub timeout_tcp_inspect: u64,
    pub tags: Vec<String>,
    pub client_ca_tls_container_ref: Option<String>,
    pub client_authentication: String,
    pub client_crl_container_ref: Option<String>,
    pub allowed_cidrs: Option<Vec<String>>,
    pub tls_ciphers: Option<String>,
    pub tls_versions: Option<Vec<String>>,
    pub alpn_protocols: Option<Vec<String>>,
    pub hsts_max_age: Option<u64>,
    pub hsts_include_subdomains: bool,
    pub hsts_preload: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionPersistence {
    #[serde(rename = "type")]
    pub kind: String,
    pub cookie_name: Option<String>,
    pub persistence_timeout: Option<i64>,
    pub persistence_granularity: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pool {
    pub id: String,
    pub loadbalancer_id: String,
    pub name: String,
    pub description: String,
    pub provisioning_status: String,
    pub operating_status: String,
    pub admin_state_up: bool,
    pub project_id: String,
    pub created_at: String,
    pub updated_at: Option<String>,
    pub protocol: String,
    pub lb_algorithm: String,
    pub session_persistence: Option<SessionPersistence>,
    pub tags: Vec<String>,
    pub tls_container_ref: Option<String>,
    pub ca_tls_container_ref: Option<String>,
    pub crl_container_ref: Option<String>,
    pub tls_enabled: bool,
    pub tls_ciphers: Option<String>,
    pub tls_versions: Option<Vec<String>>,
    pub alpn_protocols: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub id: String,
    pub pool_id: String,
    pub name: String,
    pub provisioning_status: String,
    pub operating_status: String,
    pub admin_state_up: bool,
    pub project_id: String,
    pub created_at: String,
    pub updated_at: Option<String>,
    pub address: String,
    pub protocol_port: u16,
    pub weight: u16,
    pub backup: bool,
    pub subnet_id: Option<String>,
    pub monitor_address: Option<String>,
    pub monitor_port: Option<u16>,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthMonitor {
    pub id: String,
    pub pool_id: String,
    pub name: String,
    pub provisioning_status: String,
    pub operating_status: String,
    pub admin_state_up: bool,
    pub project_id: String,
    pub created_at: String,
    pub updated_at: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub delay: u32,
    pub timeout: u32,
    pub max_retries: u32,
    pub max_retries_down: u32,
    pub http_method: Option<String>,
    pub url_path: Option<String>,
    pub expected_codes: Option<String>,
    pub http_version: Option<f64>,
    pub domain_name: Option<String>,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct L7Policy {
    pub id: String,
    pub listener_id: String,
    pub name: String,
    pub description: String,
    pub provisioning_status: String,
    pub operating_status: String,
    pub admin_state_up: bool,
    pub project_id: String,
    pub created_at: String,
    pub updated_at: Option<String>,
    pub action: String,
    pub redirect_pool_id: Option<String>,
    pub redirect_url: Option<String>,
    pub redirect_prefix: Option<String>,
    pub redirect_http_code: Option<u16>,
    /// 1-based, contiguous among the listener's policies.
    pub position: u32,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct L7Rule {
    pub id: String,
    pub l7policy_id: String,
    pub provisioning_status: String,
    pub operating_status: String,
    pub admin_state_up: bool,
    pub project_id: String,
    pub created_at: String,
    pub updated_at: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub compare_type: String,
    pub key: Option<String>,
    pub value: String,
    pub invert: bool,
    pub tags: Vec<String>,
}

/// Any object of a tree, for the code that treats them alike: its
/// provisioning status and its last change.
pub trait Record {
    fn provisioning_status(&self) -> &str;
    fn set_provisioning_status(&mut self, status: &str);
    fn touch(&mut self, now: &str);
}

macro_rules! record {
    ($type:ty) => {
        impl Record for $type {
            fn provisioning_status(&self) -> &str {
                &self.provisioning_status
            }
            fn set_provisioning_status(&mut self, status: &str) {
                self.provisioning_status = status.to_owned();
            }
            fn touch(&mut self, now: &str) {
                self.updated_at = Some(now.to_owned());
            }
        }
    };
}

record!(LoadBalancer);
record!(Listener);
record!(Pool);
record!(Member);
record!(HealthMonitor);
record!(L7Policy);
record!(L7Rule);

/// The kinds of object, as the store names them and Octavia's messages
/// do (`Load Balancer 1234 not found.`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    LoadBalancer,
    Listener,
    Pool,
    Member,
    HealthMonitor,
    L7Policy,
    L7Rule,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::LoadBalancer => "loadbalancer",
            Kind::Listener => "listener",
            Kind::Pool => "pool",
            Kind::Member => "member",
            Kind::HealthMonitor => "healthmonitor",
            Kind::L7Policy => "l7policy",
            Kind::L7Rule => "rule",
        }
    }

    /// The name Octavia's messages give the kind.
    pub fn title(self) -> &'static str {
        match self {
            Kind::LoadBalancer => "Load Balancer",
            Kind::Listener => "Listener",
            Kind::Pool => "Pool",
            Kind::Member => "Member",
            Kind::HealthMonitor => "Health Monitor",
            Kind::L7Policy => "L7 Policy",
            Kind::L7Rule => "L7 Rule",
        }
    }
}

/// A load balancer and every object under it, each list in creation
/// order; `seq` holds each object's creation order for lists.
#[derive(Debug, Clone, PartialEq)]
pub struct Tree {
    pub lb: LoadBalancer,
    pub listeners: Vec<Listener>,
    pub pools: Vec<Pool>,
    pub members: Vec<Member>,
    pub monitors: Vec<HealthMonitor>,
    pub policies: Vec<L7Policy>,
    pub rules: Vec<L7Rule>,
    pub seq: HashMap<String, i64>,
}

impl Tree {
    pub fn new(lb: LoadBalancer) -> Tree {
        Tree {
            lb,
            listeners: Vec::new(),
            pools: Vec::new(),
            members: Vec::new(),
            monitors: Vec::new(),
            policies: Vec::new(),
            rules: Vec::new(),
            seq: HashMap::new(),
        }
    }

    pub fn listener(&self, id: &str) -> Option<&Listener> {
        self.listeners.iter().find(|l| l.id == id)
    }

    pub fn pool(&self, id: &str) -> Option<&Pool> {
        self.pools.iter().find(|p| p.id == id)
    }

    pub fn members_of<'a>(&'a self, pool_id: &'a str) -> impl Iterator<Item = &'a Member> + 'a {
        self.members.iter().filter(move |m| m.pool_id == pool_id)
    }

    pub fn monitor_of(&self, pool_id: &str) -> Option<&HealthMonitor> {
        self.monitors.iter().find(|m| m.pool_id == pool_id)
    }

    /// The listeners whose default pool is `pool_id`.
    pub fn listeners_of<'a>(&'a self, pool_id: &'a str) -> impl Iterator<Item = &'a Listener> + 'a {
        self.listeners
            .iter()
            .filter(move |l| l.default_pool_id.as_deref() == Some(pool_id))
    }

    /// A listener's policies in their order.
    pub fn policies_of<'a>(&'a self, listener_id: &'a str) -> Vec<&'a L7Policy> {
        let mut policies: Vec<&L7Policy> = self
            .policies
            .iter()
            .filter(|p| p.listener_id == listener_id)
            .collect();
        policies.sort_by_key(|p| p.position);
        policies
    }

    pub fn rules_of<'a>(&'a self, policy_id: &'a str) -> impl Iterator<Item = &'a L7Rule> + 'a {
        self.rules
            .iter()
            .filter(move |r| r.l7policy_id == policy_id)
    }

    /// Whether anything in the tree waits for the data plane.
    pub fn is_pending(&self) -> bool {
        is_pending(&self.lb.provisioning_status)
            || self
                .listeners
                .iter()
                .any(|o| is_pending(&o.provisioning_status))
            || self
                .pools
                .iter()
                .any(|o| is_pending(&o.provisioning_status))
            || self
                .members
                .iter()
                .any(|o| is_pending(&o.provisioning_status))
            || self
                .monitors
                .iter()
                .any(|o| is_pending(&o.provisioning_status))
    }

    /// Applies `f` to every object's provisioning status.
    pub fn for_each_status(&mut self, mut f: impl FnMut(&mut dyn Record)) {
        f(&mut self.lb);
        self.listeners.iter_mut().for_each(|o| f(o));
        self.pools.iter_mut().for_each(|o| f(o));
        self.members.iter_mut().for_each(|o| f(o));
        self.monitors.iter_mut().for_each(|o| f(o));
        self.policies.iter_mut().for_each(|o| f(o));
        self.rules.iter_mut().for_each(|o| f(o));
    }

    /// Removes the objects marked `PENDING_DELETE` (and the members and
    /// monitor of a pool removed so), as a pass does once the data plane
    /// no longer serves them.
    pub fn drop_deleted(&mut self) {
        let gone = |status: &str| status == PENDING_DELETE;
        self.listeners.retain(|o| !gone(&o.provisioning_status));
        self.pools.retain(|o| !gone(&o.provisioning_status));
        let pools: Vec<String> = self.pools.iter().map(|p| p.id.clone()).collect();
        self.members
            .retain(|o| !gone(&o.provisioning_status) && pools.contains(&o.pool_id));
        self.monitors
            .retain(|o| !gone(&o.provisioning_status) && pools.contains(&o.pool_id));
        let listeners: Vec<String> = self.listeners.iter().map(|l| l.id.clone()).collect();
        self.policies
            .retain(|o| !gone(&o.provisioning_status) && listeners.contains(&o.listener_id));
        let policies: Vec<String> = self.policies.iter().map(|p| p.id.clone()).collect();
        self.rules
            .retain(|o| !gone(&o.provisioning_status) && policies.contains(&o.l7policy_id));
        renumber(&mut self.policies);
        for listener in &mut self.listeners {
            if listener
                .default_pool_id
                .as_ref()
                .is_some_and(|id| !pools.contains(id))
            {
                listener.default_pool_id = None;
            }
        }
    }
}

/// Numbers each listener's policies 1, 2, 3... in their current order,
/// as Octavia keeps positions contiguous.
pub fn renumber(policies: &mut [L7Policy]) {
    policies.sort_by(|a, b| (&a.listener_id, a.position).cmp(&(&b.listener_id, b.position)));
    let mut last: Option<String> = None;
    let mut position = 0;
    for policy in policies.iter_mut() {
        if last.as_deref() != Some(policy.listener_id.as_str()) {
            last = Some(policy.listener_id.clone());
            position = 0;
        }
        position += 1;
        policy.position = position;
    }
}
