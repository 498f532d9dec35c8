//! The Network Topology panel: the project's networks (shared and
//! external ones included), routers, instances and load balancers (the
//! project's own, also for an admin) as one picture, built
//! from live API answers into [`crate::topology::Topology`] and drawn by
//! [`crate::topology::render`]. Every object links to its own page; while
//! anything in it is pending the picture refreshes itself.

use std::collections::HashMap;

use axum::Router;
use axum::routing::get;
use maud::html;
use serde_json::Value;

use crate::Dashboard;
use crate::context::{Ctx, PageResult};
use crate::layout;
use crate::pages::neutron::{
    addresses, instance_href, load_balancer_href, load_balancers, network_href, project_list,
    router_href, servers, subnets_of, usable_networks,
};
use crate::pages::{name_of, text};
use crate::topology::{self, Device, DeviceKind, Link, Net, Topology};

const BASE: &str = "/dashboard/project/network_topology";

/// The least width of the picture per network bar, so that many networks
/// scroll sideways rather than shrink the names out of reading.
const MIN_WIDTH_PER_NETWORK: usize = 150;

pub fn routes() -> Router<Dashboard> {
    Router::new().route("/project/network_topology", get(page))
}

/// What the picture is built from, as the APIs answered.
struct Live {
    networks: Vec<Value>,
    subnets: Vec<Value>,
    routers: Vec<Value>,
    ports: Vec<Value>,
    servers: Vec<Value>,
    floating_ips: Vec<Value>,
    load_balancers: Vec<Value>,
}

async fn page(ctx: Ctx) -> PageResult {
    let networks = usable_networks(&ctx).await?;
    let (subnets, routers, ports, servers, floating_ips, load_balancers) = tokio::join!(
        subnets_of(&ctx, &networks),
        project_list(&ctx, "routers", "routers"),
        project_list(&ctx, "ports", "ports"),
        servers(&ctx),
        project_list(&ctx, "floatingips", "floatingips"),
        load_balancers(&ctx),
    );
    let live = Live {
        networks,
        subnets: subnets?,
        routers: routers?,
        ports: ports?,
        servers: servers?,
        floating_ips: floating_ips?,
        load_balancers: load_balancers?,
    };
    let picture = build(&live);
    let pending = picture
        .devices
        .iter()
        .any(|device| layout::is_pending(&device.status));
    let min_width = picture.networks.len() * MIN_WIDTH_PER_NETWORK;
    let body = html! {
        p.hint {
            "Bars are networks, the external one darker and first; boxes are routers (R), "
            "load balancers (LB) and instances (VM), joined to each network they have a port on, "
            "with that port's fixed IP and, under it, its floating IP. Select any of them to open it."
        }
        div #topology.topology data-refresh[pending] {
            div style={"min-width:" (min_width) "px"} { (topology::render(&picture)) }
        }
    };
    Ok(layout::page(&ctx, "Network Topology", BASE, body))
}

/// The picture of `live`.
fn build(live: &Live) -> Topology {
    let mut cidrs: HashMap<String, Vec<String>> = HashMap::new();
    for subnet in &live.subnets {
        cidrs
            .entry(text(&subnet["network_id"]))
            .or_default()
            .push(text(&subnet["cidr"]));
    }
    let networks = live
        .networks
        .iter()
        .map(|network| {
            let id = text(&network["id"]);
            Net {
                cidrs: cidrs.remove(&id).unwrap_or_default(),
                name: name_of(network),
                external: network["router:external"].as_bool() == Some(true),
                href: network_href(&id),
                id,
            }
        })
        .collect();
    let mut floating: HashMap<String, Vec<String>> = HashMap::new();
    for floating_ip in &live.floating_ips {
        floating
            .entry(text(&floating_ip["port_id"]))
            .or_default()
            .push(text(&floating_ip["floating_ip_address"]));
    }
    let floating_of = |port_id: &str| floating.get(port_id).cloned().unwrap_or_default();
    let mut ports_of: HashMap<String, Vec<&Value>> = HashMap::new();
    for port in &live.ports {
        ports_of
            .entry(text(&port["device_id"]))
            .or_default()
            .push(port);
    }
    let port_links = |device_id: &str, owner: &dyn Fn(&str) -> bool| -> Vec<Link> {
        ports_of
            .get(device_id)
            .into_iter()
            .flatten()
            .filter(|port| owner(&text(&port["device_owner"])))
            .map(|port| Link {
                network_id: text(&port["network_id"]),
                addresses: addresses(&port["fixed_ips"]),
                floating: floating_of(&text(&port["id"])),
            })
            .collect()
    };
    let routers = live.routers.iter().map(|router| {
        let id = text(&router["id"]);
        let gateway = &router["external_gateway_info"];
        let mut links: Vec<Link> = Some(text(&gateway["network_id"]))
            .filter(|network_id| !network_id.is_empty())
            .map(|network_id| Link {
                network_id,
                addresses: addresses(&gateway["external_fixed_ips"]),
                floating: Vec::new(),
            })
            .into_iter()
            .collect();
        links.extend(port_links(&id, &|owner| {
            owner == "network:router_interface"
        }));
        Device {
            name: name_of(router),
            kind: DeviceKind::Router,
            status: text(&router["status"]),
            href: router_href(&id),
            links,
            id,
        }
    });
    let instances = live.servers.iter().map(|server| {
        let id = text(&server["id"]);
        Device {
            name: name_of(server),
            kind: DeviceKind::Instance,
            status: text(&server["status"]),
            href: instance_href(&id),
            links: port_links(&id, &|owner| owner.starts_with("compute:")),
            id,
        }
    });
    let balancers = live.load_balancers.iter().map(|lb| {
        let id = text(&lb["id"]);
        let provisioning = text(&lb["provisioning_status"]);
        Device {
            name: name_of(lb),
            kind: DeviceKind::LoadBalancer,
            status: match provisioning.as_str() {
                "ACTIVE" => text(&lb["operating_status"]),
                _ => provisioning,
            },
            href: load_balancer_href(&id),
            links: vec![Link {
                network_id: text(&lb["vip_network_id"]),
                addresses: vec![text(&lb["vip_address"])],
                floating: floating_of(&text(&lb["vip_port_id"])),
            }],
            id,
        }
    });
    Topology {
        networks,
        devices: routers.chain(instances).chain(balancers).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn devices_link_to_the_networks_of_their_ports() {
        let live = Live {
            networks: vec![
                json!({"id": "pub", "name": "public", "router:external": true}),
                json!({"id": "net", "name": "kubenet", "router:external": false}),
            ],
            subnets: vec![json!({"id": "s", "network_id": "net", "cidr": "172.16.0.0/24"})],
            routers: vec![json!({"id": "r", "name": "kuberouter", "status": "ACTIVE",
                "external_gateway_info": {"network_id": "pub",
                    "external_fixed_ips": [{"subnet_id": "ps", "ip_address": "203.0.113.2"}]}})],
            ports: vec![
                json!({"id": "rp", "device_id": "r", "device_owner": "network:router_interface",
                    "network_id": "net", "fixed_ips": [{"ip_address": "172.16.0.1"}]}),
                json!({"id": "vp", "device_id": "vm", "device_owner": "compute:nova",
                    "network_id": "net", "fixed_ips": [{"ip_address": "172.16.0.5"}]}),
                json!({"id": "dhcp", "device_id": "d", "device_owner": "network:dhcp",
                    "network_id": "net", "fixed_ips": [{"ip_address": "172.16.0.2"}]}),
            ],
            servers: vec![json!({"id": "vm", "name": "master1", "status": "BUILD"})],
            floating_ips: vec![json!({"port_id": "vp", "floating_ip_address": "203.0.113.9"})],
            load_balancers: vec![
                json!({"id": "lb", "name": "web", "provisioning_status": "ACTIVE",
                "operating_status": "ONLINE", "vip_network_id": "net", "vip_address": "172.16.0.9",
                "vip_port_id": "lbp"}),
            ],
        };
        let picture = build(&live);
        assert_eq!(picture.networks[1].cidrs, ["172.16.0.0/24"]);
        assert!(picture.networks[0].external);
        let router = &picture.devices[0];
        assert_eq!(router.links.len(), 2);
        assert_eq!(
            (
                router.links[0].network_id.as_str(),
                router.links[0].addresses.as_slice()
            ),
            ("pub", &["203.0.113.2".to_owned()][..])
        );
        let instance = &picture.devices[1];
        assert_eq!(
            (instance.href.as_str(), instance.status.as_str()),
            ("/dashboard/project/instances/vm", "BUILD")
        );
        assert_eq!(instance.links[0].floating, ["203.0.113.9"]);
        let balancer = &picture.devices[2];
        assert_eq!(
            (
                balancer.status.as_str(),
                balancer.links[0].addresses.as_slice()
            ),
            ("ONLINE", &["172.16.0.9".to_owned()][..])
        );
    }
}
