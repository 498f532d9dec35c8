//! The desired state of the data plane, built from the database alone.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};
use oxistack_db::rusqlite::Connection;
use oxistack_netplane as plane;
use oxistack_netplane::DEVICE_OWNER_ROUTER_INTERFACE;

use crate::errors::NetworkError;
use crate::model::{self, EtherType, NetworkType};
use crate::rules::{self, PortSemantics};
use crate::store::{self, Prefilter, Scope};

/// Everything the data plane should realise, read in one snapshot.
pub fn desired(conn: &Connection) -> Result<plane::NetworkState, NetworkError> {
    let all = Prefilter::new();
    let networks = store::networks::list(conn, Scope::All, &all)?;
    let subnets = store::subnets::list(conn, Scope::All, &all)?;
    let ports = store::ports::list(conn, Scope::All, &all)?;
    let routers = store::routers::list(conn, Scope::All, &all)?;
    let floating_ips = store::floating_ips::list(conn, Scope::All, &all)?;
    let groups = store::security_groups::list(conn, Scope::All, &all)?;

    let subnet_cidrs: HashMap<&str, (Ipv4Net, Option<IpAddr>)> = subnets
        .iter()
        .map(|s| (s.std.id.as_str(), (s.cidr, s.gateway_ip.map(IpAddr::V4))))
        .collect();
    let with_prefix = |fixed_ip: &model::FixedIp| {
        let prefix = subnet_cidrs
            .get(fixed_ip.subnet_id.as_str())
            .map_or(32, |(cidr, _)| cidr.prefix_len());
        IpNet::new(IpAddr::V4(fixed_ip.ip_address), prefix).expect("an IPv4 prefix is at most 32")
    };
    let ports_by_id: HashMap<&str, &model::Port> =
        ports.iter().map(|p| (p.std.id.as_str(), p)).collect();
    let mut interfaces: HashMap<&str, Vec<plane::RouterInterface>> = HashMap::new();
    for port in ports
        .iter()
        .filter(|p| p.device_owner == DEVICE_OWNER_ROUTER_INTERFACE)
    {
        let router_interfaces = interfaces.entry(port.device_id.as_str()).or_default();
        router_interfaces.extend(port.fixed_ips.iter().map(|ip| plane::RouterInterface {
            port_id: port.std.id.clone(),
            network_id: port.network_id.clone(),
            subnet_id: ip.subnet_id.clone(),
            mac_address: port.mac_address.clone(),
            address: with_prefix(ip),
        }));
    }

    let mut state = plane::NetworkState {
        networks: networks
            .iter()
            .map(|n| plane::Network {
                id: n.std.id.clone(),
                name: n.name.clone(),
                admin_state_up: n.admin_state_up,
                mtu: n.mtu,
                segment: match n.network_type {
                    NetworkType::Flat => plane::Segment::Flat {
                        physical_network: n.physical_network.clone().unwrap_or_default(),
                    },
                    NetworkType::Vxlan => plane::Segment::Vxlan {
                        vni: n.segmentation_id.unwrap_or_default(),
                    },
                },
                external: n.external,
            })
            .collect(),
        subnets: subnets
            .iter()
            .map(|s| plane::Subnet {
                id: s.std.id.clone(),
                network_id: s.network_id.clone(),
                cidr: IpNet::V4(s.cidr),
                gateway_ip: s.gateway_ip.map(IpAddr::V4),
                dns_nameservers: s.dns_nameservers.clone(),
                host_routes: s.host_routes.iter().map(route).collect(),
                enable_dhcp: s.enable_dhcp,
            })
            .collect(),
        ports: ports
            .iter()
            .map(|p| plane::Port {
                id: p.std.id.clone(),
                network_id: p.network_id.clone(),
                mac_address: p.mac_address.clone(),
                admin_state_up: p.admin_state_up,
                fixed_ips: p.fixed_ips.iter().map(fixed_ip).collect(),
                device_id: p.device_id.clone(),
                device_owner: p.device_owner.clone(),
                security_group_ids: if p.port_security_enabled {
                    p.security_groups.clone()
                } else {
                    Vec::new()
                },
                port_security_enabled: p.port_security_enabled,
                allowed_address_pairs: p
                    .allowed_address_pairs
                    .iter()
                    .filter_map(|pair| {
                        Some(plane::AddressPair {
                            ip_address: pair.prefix()?,
                            mac_address: pair.mac_address.clone(),
                        })
                    })
                    .collect(),
            })
            .collect(),
        routers: routers
            .iter()
            .map(|r| plane::Router {
                id: r.std.id.clone(),
                admin_state_up: r.admin_state_up,
                gateway: r.gateway.as_ref().map(|g| plane::RouterGateway {
                    network_id: g.network_id.clone(),
                    port_id: g.port_id.clone(),
                    mac_address: ports_by_id
                        .get(g.port_id.as_str())
                        .map(|p| p.mac_address.clone())
                        .unwrap_or_default(),
                    addresses: g.external_fixed_ips.iter().map(with_prefix).collect(),
                    default_route: g.external_fixed_ips.iter().find_map(|ip| {
                        subnet_cidrs
                            .get(ip.subnet_id.as_str())
                            .and_then(|(_, gw)| *gw)
                    }),
                    enable_snat: g.enable_snat,
                }),
                interfaces: interfaces.remove(r.std.id.as_str()).unwrap_or_default(),
                routes: r.routes.iter().map(route).collect(),
            })
            .collect(),
        load_balancers: Vec::new(),
        floating_ips: floating_ips
            .iter()
            .map(|f| {
                let association = f.association.as_ref();
                plane::FloatingIp {
                    id: f.std.id.clone(),
                    floating_ip_address: IpAddr::V4(f.floating_ip_address),
                    floating_network_id: f.floating_network_id.clone(),
                    port_id: association.map(|a| a.port_id.clone()),
                    fixed_ip_address: association.map(|a| IpAddr::V4(a.fixed_ip_address)),
                    router_id: association.map(|a| a.router_id.clone()),
                }
            })
            .collect(),
        security_groups: groups
            .iter()
            .map(|g| plane::SecurityGroup {
                id: g.std.id.clone(),
                rules: g.rules.iter().map(rule).collect(),
            })
            .collect(),
    };
    // A load balancer's VIP is its port that is not a member-subnet leg.
    for port in &state.ports {
        let is_member = ports_by_id
            .get(port.id.as_str())
            .is_some_and(|p| p.load_balancer_member);
        if let Some(id) = port.load_balancer_id().filter(|_| !is_member) {
            state.load_balancers.push(plane::LoadBalancer {
                id: id.to_owned(),
                vip_port_id: port.id.clone(),
            });
        }
    }
    state.networks.sort_by(|a, b| a.id.cmp(&b.id));
    state.subnets.sort_by(|a, b| a.id.cmp(&b.id));
    state.ports.sort_by(|a, b| a.id.cmp(&b.id));
    state.routers.sort_by(|a, b| a.id.cmp(&b.id));
    state.floating_ips.sort_by(|a, b| a.id.cmp(&b.id));
    state.security_groups.sort_by(|a, b| a.id.cmp(&b.id));
    state.load_balancers.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(state)
}

fn route(route: &model::Route) -> plane::Route {
    plane::Route {
        destination: IpNet::V4(route.destination),
        nexthop: IpAddr::V4(route.nexthop),
    }
}

fn fixed_ip(ip: &model::FixedIp) -> plane::FixedIp {
    plane::FixedIp {
        subnet_id: ip.subnet_id.clone(),
        ip_address: IpAddr::V4(ip.ip_address),
    }
}

fn rule(rule: &model::Rule) -> plane::SecurityGroupRule {
    let protocol = rule.protocol.as_deref();
    plane::SecurityGroupRule {
        id: rule.std.id.clone(),
        direction: match rule.direction {
            model::Direction::Ingress => plane::Direction::Ingress,
            model::Direction::Egress => plane::Direction::Egress,
        },
        ethertype: match rule.ethertype {
            EtherType::Ipv4 => plane::EtherType::Ipv4,
            EtherType::Ipv6 => plane::EtherType::Ipv6,
        },
        protocol: protocol.map(|p| rules::protocol_number(p, rule.ethertype)),
        destination: match (
            rules::port_semantics(protocol, rule.ethertype),
            rule.port_range_min,
        ) {
            (PortSemantics::Ports, Some(min)) => plane::PortMatch::Ports {
                min,
                max: rule.port_range_max.unwrap_or(min),
            },
            (PortSemantics::Icmp, Some(icmp_type)) => plane::PortMatch::Icmp {
                icmp_type: icmp_type as u8,
                code: rule.port_range_max.map(|code| code as u8),
            },
            _ => plane::PortMatch::Any,
        },
        remote: match (&rule.remote_group_id, rule.remote_ip_prefix) {
            (Some(group), _) => plane::Remote::Group(group.clone()),
            (None, Some(prefix)) if prefix.prefix_len() > 0 => plane::Remote::Prefix(prefix),
            _ => plane::Remote::Any,
        },
    }
}
