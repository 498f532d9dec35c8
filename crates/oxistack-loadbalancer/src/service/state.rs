//! From the database's trees to what the host should do: the data plane's
//! [`LoadBalancerState`] and, per load balancer, networking's openings and
//! member subnets. Only what is administratively up and not being deleted
//! is served; `HTTPS` (passed through) and `TLS-HELLO` checks are carried
//! as TCP, which is what the proxy does with them.

use std::net::IpAddr;

use oxistack_contracts::ListenerOpening;
use oxistack_lbplane::{
    Algorithm, CompareType, HealthMonitor as PlaneMonitor, InsertHeaders, L7Action,
    L7Policy as PlaneL7Policy, L7Rule as PlaneL7Rule, L7RuleKind, Listener as PlaneListener,
    LoadBalancer as PlaneLb, LoadBalancerState, Member as PlaneMember, MonitorKind,
    Pool as PlanePool, Protocol, SessionPersistence as PlanePersistence, Timeouts,
};

use crate::model::{HealthMonitor, L7Rule, Listener, Member, PENDING_DELETE, Pool, Tree};

fn served(up: bool, status: &str) -> bool {
    up && status != PENDING_DELETE
}

fn protocol(name: &str) -> Protocol {
    match name {
        "HTTP" => Protocol::Http,
        "UDP" => Protocol::Udp,
        _ => Protocol::Tcp,
    }
}

fn header(listener: &Listener, name: &str) -> bool {
    listener
        .insert_headers
        .get(name)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// A listener's served policies in order; one redirecting to a pool not
/// served is left out (its requests go on to the next policy).
fn policies(tree: &Tree, l: &Listener, pools: &[PlanePool]) -> Vec<PlaneL7Policy> {
    tree.policies_of(&l.id)
        .into_iter()
        .filter(|p| served(p.admin_state_up, &p.provisioning_status))
        .filter_map(|p| {
            let status = p.redirect_http_code.unwrap_or(302);
            let action = match p.action.as_str() {
                "REDIRECT_TO_URL" => L7Action::RedirectToUrl {
                    url: p.redirect_url.clone()?,
                    status,
                },
                "REDIRECT_PREFIX" => L7Action::RedirectPrefix {
                    prefix: p.redirect_prefix.clone()?,
                    status,
                },
                "REDIRECT_TO_POOL" => {
                    let pool_id = p.redirect_pool_id.clone()?;
                    pools
                        .iter()
                        .any(|served| served.id == pool_id)
                        .then_some(())?;
                    L7Action::RedirectToPool { pool_id }
                }
                _ => L7Action::Reject,
            };
            let rules = tree
                .rules_of(&p.id)
                .filter(|r| served(r.admin_state_up, &r.provisioning_status))
                .map(rule)
                .collect();
            Some(PlaneL7Policy {
                id: p.id.clone(),
                action,
                rules,
            })
        })
        .collect()
}

fn rule(r: &L7Rule) -> PlaneL7Rule {
    let key = r.key.clone().unwrap_or_default();
    PlaneL7Rule {
        kind: match r.kind.as_str() {
            "HOST_NAME" => L7RuleKind::HostName,
            "HEADER" => L7RuleKind::Header { key },
            "COOKIE" => L7RuleKind::Cookie { key },
            "FILE_TYPE" => L7RuleKind::FileType,
            _ => L7RuleKind::Path,
        },
        compare: match r.compare_type.as_str() {
            "REGEX" => CompareType::Regex,
            "STARTS_WITH" => CompareType::StartsWith,
            "ENDS_WITH" => CompareType::EndsWith,
            "CONTAINS" => CompareType::Contains,
            _ => CompareType::EqualTo,
        },
        value: r.value.clone(),
        invert: r.invert,
    }
}

fn listener(tree: &Tree, l: &Listener, pools: &[PlanePool]) -> PlaneListener {
    PlaneListener {
        id: l.id.clone(),
        protocol: protocol(&l.protocol),
        protocol_port: l.protocol_port,
        connection_limit: u32::try_from(l.connection_limit).ok(),
        timeouts: Timeouts {
            client_data_ms: l.timeout_client_data,
            member_connect_ms: l.timeout_member_connect,
            member_data_ms: l.timeout_member_data,
            tcp_inspect_ms: l.timeout_tcp_inspect,
        },
        insert_headers: InsertHeaders {
            forwarded_for: header(l, "X-Forwarded-For"),
            forwarded_port: header(l, "X-Forwarded-Port"),
            forwarded_proto: header(l, "X-Forwarded-Proto"),
        },
        allowed_cidrs: cidrs(l),
        default_pool_id: l
            .default_pool_id
            .clone()
            .filter(|id| pools.iter().any(|p| p.id == *id)),
        l7_policies: policies(tree, l, pools),
    }
}

fn cidrs(l: &Listener) -> Vec<ipnet::IpNet> {
    l.allowed_cidrs
        .iter()
        .flatten()
        .filter_map(|c| c.parse().ok())
        .collect()
}

/// Octavia's `200`, `200,202` or `200-204` as inclusive ranges.
fn code_ranges(codes: &str) -> Vec<(u16, u16)> {
    if let Some((low, high)) = codes.split_once('-') {
        return match (low.trim().parse(), high.trim().parse()) {
            (Ok(low), Ok(high)) => vec![(low, high)],
            _ => Vec::new(),
        };
    }
    codes
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .map(|c| (c, c))
        .collect()
}

fn monitor(m: &HealthMonitor) -> PlaneMonitor {
    let kind = match m.kind.as_str() {
        "HTTP" => MonitorKind::Http {
            http_method: m.http_method.clone().unwrap_or_else(|| "GET".into()),
            url_path: m.url_path.clone().unwrap_or_else(|| "/".into()),
            expected_codes: code_ranges(m.expected_codes.as_deref().unwrap_or("200")),
        },
        "PING" => MonitorKind::Ping,
        "UDP-CONNECT" => MonitorKind::UdpConnect,
        _ => MonitorKind::Tcp,
    };
    PlaneMonitor {
        kind,
        delay_s: m.delay,
        timeout_s: m.timeout,
        max_retries: m.max_retries,
        max_retries_down: m.max_retries_down,
    }
}

fn member(m: &Member) -> Option<PlaneMember> {
    Some(PlaneMember {
        id: m.id.clone(),
        address: m.address.parse().ok()?,
        protocol_port: m.protocol_port,
        weight: m.weight,
        backup: m.backup,
        monitor_address: m.monitor_address.as_deref().and_then(|a| a.parse().ok()),
        monitor_port: m.monitor_port,
    })
}

fn pool(tree: &Tree, p: &Pool) -> PlanePool {
    let mut members: Vec<PlaneMember> = tree
        .members_of(&p.id)
        .filter(|m| served(m.admin_state_up, &m.provisioning_status))
        .filter_map(member)
        .collect();
    members.sort_by(|a, b| a.id.cmp(&b.id));
    PlanePool {
        id: p.id.clone(),
        protocol: protocol(&p.protocol),
        algorithm: match p.lb_algorithm.as_str() {
            "LEAST_CONNECTIONS" => Algorithm::LeastConnections,
            "SOURCE_IP" => Algorithm::SourceIp,
            _ => Algorithm::RoundRobin,
        },
        session_persistence: p
            .session_persistence
            .as_ref()
            .map(|s| match s.kind.as_str() {
                "HTTP_COOKIE" => PlanePersistence::HttpCookie,
                "APP_COOKIE" => PlanePersistence::AppCookie {
                    cookie_name: s.cookie_name.clone().unwrap_or_default(),
                },
                _ => PlanePersistence::SourceIp,
            }),
        members,
        health_monitor: tree
            .monitor_of(&p.id)
            .filter(|m| served(m.admin_state_up, &m.provisioning_status))
            .map(monitor),
    }
}

/// Whether the data plane serves the load balancer of `tree`.
pub fn lb_served(tree: &Tree) -> bool {
    served(tree.lb.admin_state_up, &tree.lb.provisioning_status)
}

/// The whole state the data plane should serve.
pub fn plane_state(trees: &[Tree]) -> LoadBalancerState {
    let mut load_balancers: Vec<PlaneLb> = trees
        .iter()
        .filter(|t| lb_served(t))
        .filter_map(|tree| {
            let vip_address: IpAddr = tree.lb.vip_address.parse().ok()?;
            let mut pools: Vec<PlanePool> = tree
                .pools
                .iter()
                .filter(|p| served(p.admin_state_up, &p.provisioning_status))
                .map(|p| pool(tree, p))
                .collect();
            pools.sort_by(|a, b| a.id.cmp(&b.id));
            let mut listeners: Vec<PlaneListener> = tree
                .listeners
                .iter()
                .filter(|l| served(l.admin_state_up, &l.provisioning_status))
                .map(|l| listener(tree, l, &pools))
                .collect();
            listeners.sort_by(|a, b| a.id.cmp(&b.id));
            Some(PlaneLb {
                id: tree.lb.id.clone(),
                vip_address,
                listeners,
                pools,
            })
        })
        .collect();
    load_balancers.sort_by(|a, b| a.id.cmp(&b.id));
    LoadBalancerState { load_balancers }
}

/// What the load balancer's security group must open: its served
/// listeners' ports.
pub fn openings(tree: &Tree) -> Vec<ListenerOpening> {
    if !lb_served(tree) {
        return Vec::new();
    }
    tree.listeners
        .iter()
        .filter(|l| served(l.admin_state_up, &l.provisioning_status))
        .map(|l| ListenerOpening {
            protocol: if l.protocol == "UDP" { "udp" } else { "tcp" },
            port: l.protocol_port,
            allowed_cidrs: cidrs(l),
        })
        .collect()
}

/// The subnets of its members besides the VIP's, on which the load
/// balancer needs a port.
pub fn member_subnets(tree: &Tree) -> Vec<String> {
    let mut subnets: Vec<String> = tree
        .members
        .iter()
        .filter(|m| m.provisioning_status != PENDING_DELETE)
        .filter_map(|m| m.subnet_id.clone())
        .filter(|s| *s != tree.lb.vip_subnet_id)
        .collect();
    subnets.sort();
    subnets.dedup();
    subnets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_codes_become_ranges() {
        assert_eq!(code_ranges("200"), [(200, 200)]);
        assert_eq!(code_ranges("200, 202"), [(200, 200), (202, 202)]);
        assert_eq!(code_ranges("200-204"), [(200, 204)]);
    }
}
