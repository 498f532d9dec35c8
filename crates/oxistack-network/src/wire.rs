//! The JSON documents of the networking API, shaped as Neutron's clients
//! send and parse them. Request bodies refuse attributes they do not know,
//! as Neutron does, so a typo or an unsupported extension is a 400 naming
//! the attribute rather than silently ignored.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::Ipv4Net;
use oxistack_http::field::{not_null, nullable};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::errors::NetworkError;
use crate::model::{
    AddressPair, FixedIp, FloatingIp, Network, Pool, Port, Route, Router, Rule, SecurityGroup,
    Standard, Subnet, wire_time,
};

/// The availability zone every network and router is in.
pub const AVAILABILITY_ZONE: &str = "nova";

/// A list attribute Neutron converts from `null` to the empty list
/// (`convert_none_to_empty_list`): `"dns_nameservers": null` clears them.
fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<Vec<T>>::deserialize(deserializer).map(|list| Some(list.unwrap_or_default()))
}

// ---------------------------------------------------------------- requests

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkCreate {
    #[serde(default, deserialize_with = "not_null")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub admin_state_up: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    pub shared: Option<bool>,
    #[serde(rename = "router:external", default, deserialize_with = "not_null")]
    pub external: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    pub port_security_enabled: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    pub mtu: Option<u32>,
    #[serde(
        rename = "provider:network_type",
        default,
        deserialize_with = "not_null"
    )]
    pub network_type: Option<String>,
    #[serde(
        rename = "provider:physical_network",
        default,
        deserialize_with = "not_null"
    )]
    pub physical_network: Option<String>,
    #[serde(
        rename = "provider:segmentation_id",
        default,
        deserialize_with = "not_null"
    )]
    pub segmentation_id: Option<u32>,
    #[serde(default, deserialize_with = "not_null")]
    pub availability_zone_hints: Option<Vec<String>>,
    #[serde(default, deserialize_with = "not_null")]
    pub project_id: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub tenant_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkUpdate {
    #[serde(default, deserialize_with = "not_null")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub admin_state_up: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    pub shared: Option<bool>,
    #[serde(rename = "router:external", default, deserialize_with = "not_null")]
    pub external: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    pub port_security_enabled: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    pub mtu: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolRequest {
    pub start: Ipv4Addr,
    pub end: Ipv4Addr,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteRequest {
    pub destination: String,
    pub nexthop: Ipv4Addr,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetCreate {
    pub network_id: String,
    #[serde(default, deserialize_with = "not_null")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub ip_version: Option<u8>,
    pub cidr: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub gateway_ip: Option<Option<Ipv4Addr>>,
    #[serde(default, deserialize_with = "not_null")]
    pub allocation_pools: Option<Vec<PoolRequest>>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub dns_nameservers: Option<Vec<IpAddr>>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub host_routes: Option<Vec<RouteRequest>>,
    #[serde(default, deserialize_with = "not_null")]
    pub enable_dhcp: Option<bool>,
    /// IPv6 modes: refused, since subnets are IPv4.
    #[serde(default, deserialize_with = "not_null")]
    pub ipv6_ra_mode: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub ipv6_address_mode: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub project_id: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub tenant_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetUpdate {
    #[serde(default, deserialize_with = "not_null")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub gateway_ip: Option<Option<Ipv4Addr>>,
    #[serde(default, deserialize_with = "not_null")]
    pub allocation_pools: Option<Vec<PoolRequest>>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub dns_nameservers: Option<Vec<IpAddr>>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub host_routes: Option<Vec<RouteRequest>>,
    #[serde(default, deserialize_with = "not_null")]
    pub enable_dhcp: Option<bool>,
}

/// One entry of a port's `fixed_ips`: a subnet to allocate from, a
/// specific address, or both.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedIpRequest {
    #[serde(default, deserialize_with = "not_null")]
    pub subnet_id: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub ip_address: Option<Ipv4Addr>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressPairRequest {
    pub ip_address: String,
    pub mac_address: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortCreate {
    pub network_id: String,
    #[serde(default, deserialize_with = "not_null")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub admin_state_up: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    pub mac_address: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub fixed_ips: Option<Vec<FixedIpRequest>>,
    #[serde(default, deserialize_with = "not_null")]
    pub device_id: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub device_owner: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub security_groups: Option<Vec<String>>,
    #[serde(default, deserialize_with = "not_null")]
    pub port_security_enabled: Option<bool>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub allowed_address_pairs: Option<Vec<AddressPairRequest>>,
    #[serde(rename = "binding:host_id")]
    pub binding_host_id: Option<String>,
    #[serde(rename = "binding:profile")]
    pub binding_profile: Option<Map<String, Value>>,
    #[serde(rename = "binding:vnic_type", default, deserialize_with = "not_null")]
    pub binding_vnic_type: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub project_id: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub tenant_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortUpdate {
    #[serde(default, deserialize_with = "not_null")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub admin_state_up: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    pub mac_address: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub fixed_ips: Option<Vec<FixedIpRequest>>,
    #[serde(default, deserialize_with = "not_null")]
    pub device_id: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub device_owner: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub security_groups: Option<Vec<String>>,
    #[serde(default, deserialize_with = "not_null")]
    pub port_security_enabled: Option<bool>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub allowed_address_pairs: Option<Vec<AddressPairRequest>>,
    #[serde(rename = "binding:host_id")]
    pub binding_host_id: Option<String>,
    #[serde(rename = "binding:profile")]
    pub binding_profile: Option<Map<String, Value>>,
    #[serde(rename = "binding:vnic_type", default, deserialize_with = "not_null")]
    pub binding_vnic_type: Option<String>,
}

/// A router's `external_gateway_info`; without `network_id` (`{}`, as the
/// CLI's `router unset --external-gateway` sends) it removes the gateway.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayRequest {
    #[serde(default, deserialize_with = "not_null")]
    pub network_id: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub enable_snat: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    pub external_fixed_ips: Option<Vec<FixedIpRequest>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterCreate {
    #[serde(default, deserialize_with = "not_null")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub admin_state_up: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    pub external_gateway_info: Option<Option<GatewayRequest>>,
    /// Distributed and HA routers do not exist here: only `false` is accepted.
    pub distributed: Option<bool>,
    pub ha: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    pub availability_zone_hints: Option<Vec<String>>,
    #[serde(default, deserialize_with = "not_null")]
    pub project_id: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub tenant_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterUpdate {
    #[serde(default, deserialize_with = "not_null")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub admin_state_up: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    pub external_gateway_info: Option<Option<GatewayRequest>>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub routes: Option<Vec<RouteRequest>>,
    pub distributed: Option<bool>,
    pub ha: Option<bool>,
}

/// `PUT /v2.0/routers/{id}/add_router_interface` and `remove_router_interface`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterfaceRequest {
    #[serde(default, deserialize_with = "not_null")]
    pub subnet_id: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub port_id: Option<String>,
}

/// `PUT /v2.0/routers/{id}/add_extraroutes` and `remove_extraroutes`:
/// `{"router": {"routes": [...]}}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraRoutesBody {
    pub router: ExtraRoutes,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraRoutes {
    pub routes: Vec<RouteRequest>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FloatingIpCreate {
    pub floating_network_id: String,
    pub floating_ip_address: Option<Ipv4Addr>,
    pub subnet_id: Option<String>,
    pub port_id: Option<String>,
    pub fixed_ip_address: Option<Ipv4Addr>,
    #[serde(default, deserialize_with = "not_null")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub project_id: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub tenant_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FloatingIpUpdate {
    /// A port to associate with, or null to disassociate; left out, the
    /// association stays as it is.
    #[serde(default, deserialize_with = "nullable")]
    pub port_id: Option<Option<String>>,
    pub fixed_ip_address: Option<Ipv4Addr>,
    #[serde(default, deserialize_with = "not_null")]
    pub description: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroupCreate {
    #[serde(default, deserialize_with = "not_null")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub description: Option<String>,
    /// Groups are stateful; `false` is refused.
    #[serde(default, deserialize_with = "not_null")]
    pub stateful: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    pub project_id: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub tenant_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroupUpdate {
    #[serde(default, deserialize_with = "not_null")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub stateful: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleCreate {
    pub security_group_id: String,
    pub direction: String,
    #[serde(default, deserialize_with = "not_null")]
    pub ethertype: Option<String>,
    /// A name, a number (as text or JSON number) or null.
    #[serde(default)]
    pub protocol: Value,
    pub port_range_min: Option<i64>,
    pub port_range_max: Option<i64>,
    pub remote_ip_prefix: Option<String>,
    pub remote_group_id: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub project_id: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub tenant_id: Option<String>,
}

/// `{"tags": [...]}`, to replace or add to a resource's tags.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tags {
    pub tags: Vec<String>,
}

// ------------------------------------------------------------------- views

/// The attributes every document has. Both `project_id` and `tenant_id`
/// are shown: older clients read the latter.
#[derive(Serialize)]
struct StandardView<'a> {
    id: &'a str,
    project_id: &'a str,
    tenant_id: &'a str,
    description: &'a str,
    created_at: String,
    updated_at: String,
    revision_number: i64,
}

impl<'a> From<&'a Standard> for StandardView<'a> {
    fn from(std: &'a Standard) -> Self {
        StandardView {
            id: &std.id,
            project_id: &std.project_id,
            tenant_id: &std.project_id,
            description: &std.description,
            created_at: wire_time(&std.created_at),
            updated_at: wire_time(&std.updated_at),
            revision_number: std.revision_number,
        }
    }
}

/// Turns a view into the map lists filter and select fields from.
pub fn document<T: Serialize>(view: T) -> Map<String, Value> {
    match serde_json::to_value(view) {
        Ok(Value::Object(map)) => map,
        _ => unreachable!("views are structs"),
    }
}

fn status(up: bool) -> &'static str {
    if up { "ACTIVE" } else { "DOWN" }
}

/// Attributes only administrators see are `Some` for them, `None` (left
/// out of the document) for everyone else.
fn for_admin<T>(admin: bool, value: T) -> Option<T> {
    admin.then_some(value)
}

#[derive(Serialize)]
pub struct NetworkView<'a> {
    #[serde(flatten)]
    std: StandardView<'a>,
    name: &'a str,
    status: &'static str,
    admin_state_up: bool,
    shared: bool,
    #[serde(rename = "router:external")]
    external: bool,
    mtu: u32,
    port_security_enabled: bool,
    #[serde(
        rename = "provider:network_type",
        skip_serializing_if = "Option::is_none"
    )]
    network_type: Option<&'static str>,
    #[serde(
        rename = "provider:physical_network",
        skip_serializing_if = "Option::is_none"
    )]
    physical_network: Option<Option<&'a str>>,
    #[serde(
        rename = "provider:segmentation_id",
        skip_serializing_if = "Option::is_none"
    )]
    segmentation_id: Option<Option<u32>>,
    subnets: &'a [String],
    availability_zones: [&'static str; 1],
    availability_zone_hints: &'a [String],
    tags: &'a [String],
}

pub fn network(network: &Network, admin: bool) -> NetworkView<'_> {
    NetworkView {
        std: (&network.std).into(),
        name: &network.name,
        status: status(network.admin_state_up),
        admin_state_up: network.admin_state_up,
        shared: network.shared,
        external: network.external,
        mtu: network.mtu,
        port_security_enabled: network.port_security_enabled,
        network_type: for_admin(admin, network.network_type.as_str()),
        physical_network: for_admin(admin, network.physical_network.as_deref()),
        segmentation_id: for_admin(admin, network.segmentation_id),
        subnets: &network.subnet_ids,
        availability_zones: [AVAILABILITY_ZONE],
        availability_zone_hints: &network.availability_zone_hints,
        tags: &network.std.tags,
    }
}

#[derive(Serialize)]
pub struct SubnetView<'a> {
    #[serde(flatten)]
    std: StandardView<'a>,
    name: &'a str,
    network_id: &'a str,
    ip_version: u8,
    cidr: String,
    gateway_ip: Option<Ipv4Addr>,
    allocation_pools: &'a [Pool],
    dns_nameservers: &'a [IpAddr],
    host_routes: &'a [Route],
    enable_dhcp: bool,
    #[serde(rename = "router:external")]
    external: bool,
    ipv6_ra_mode: Option<()>,
    ipv6_address_mode: Option<()>,
    subnetpool_id: Option<()>,
    tags: &'a [String],
}

pub fn subnet(subnet: &Subnet) -> SubnetView<'_> {
    SubnetView {
        std: (&subnet.std).into(),
        name: &subnet.name,
        network_id: &subnet.network_id,
        ip_version: 4,
        cidr: subnet.cidr.to_string(),
        gateway_ip: subnet.gateway_ip,
        allocation_pools: &subnet.allocation_pools,
        dns_nameservers: &subnet.dns_nameservers,
        host_routes: &subnet.host_routes,
        enable_dhcp: subnet.enable_dhcp,
        external: subnet.external,
        ipv6_ra_mode: None,
        ipv6_address_mode: None,
        subnetpool_id: None,
        tags: &subnet.std.tags,
    }
}

#[derive(Serialize)]
pub struct PortView<'a> {
    #[serde(flatten)]
    std: StandardView<'a>,
    name: &'a str,
    network_id: &'a str,
    mac_address: &'a str,
    admin_state_up: bool,
    status: &'static str,
    device_id: &'a str,
    device_owner: &'a str,
    fixed_ips: &'a [FixedIp],
    allowed_address_pairs: &'a [AddressPair],
    security_groups: &'a [String],
    port_security_enabled: bool,
    #[serde(rename = "binding:host_id", skip_serializing_if = "Option::is_none")]
    host_id: Option<&'a str>,
    #[serde(rename = "binding:profile", skip_serializing_if = "Option::is_none")]
    profile: Option<&'a Map<String, Value>>,
    #[serde(rename = "binding:vif_type", skip_serializing_if = "Option::is_none")]
    vif_type: Option<&'static str>,
    #[serde(
        rename = "binding:vif_details",
        skip_serializing_if = "Option::is_none"
    )]
    vif_details: Option<Map<String, Value>>,
    #[serde(rename = "binding:vnic_type")]
    vnic_type: &'a str,
    tags: &'a [String],
}

/// The VIF type of a port bound to this host: a tap on a Linux bridge.
const VIF_TYPE_BRIDGE: &str = "bridge";

pub fn port(port: &Port, admin: bool) -> PortView<'_> {
    let bound = !port.binding.host_id.is_empty();
    PortView {
        std: (&port.std).into(),
        name: &port.name,
        network_id: &port.network_id,
        mac_address: &port.mac_address,
        admin_state_up: port.admin_state_up,
        status: port.status(),
        device_id: &port.device_id,
        device_owner: &port.device_owner,
        fixed_ips: &port.fixed_ips,
        allowed_address_pairs: &port.allowed_address_pairs,
        security_groups: &port.security_groups,
        port_security_enabled: port.port_security_enabled,
        host_id: for_admin(admin, &port.binding.host_id),
        profile: for_admin(admin, &port.binding.profile),
        vif_type: for_admin(admin, if bound { VIF_TYPE_BRIDGE } else { "unbound" }),
        vif_details: for_admin(admin, Map::new()),
        vnic_type: &port.binding.vnic_type,
        tags: &port.std.tags,
    }
}

#[derive(Serialize)]
struct GatewayView<'a> {
    network_id: &'a str,
    enable_snat: bool,
    external_fixed_ips: &'a [FixedIp],
}

#[derive(Serialize)]
pub struct RouterView<'a> {
    #[serde(flatten)]
    std: StandardView<'a>,
    name: &'a str,
    status: &'static str,
    admin_state_up: bool,
    external_gateway_info: Option<GatewayView<'a>>,
    routes: &'a [Route],
    availability_zones: [&'static str; 1],
    availability_zone_hints: &'a [String],
    tags: &'a [String],
}

pub fn router(router: &Router) -> RouterView<'_> {
    RouterView {
        std: (&router.std).into(),
        name: &router.name,
        status: status(router.admin_state_up),
        admin_state_up: router.admin_state_up,
        external_gateway_info: router.gateway.as_ref().map(|gateway| GatewayView {
            network_id: &gateway.network_id,
            enable_snat: gateway.enable_snat,
            external_fixed_ips: &gateway.external_fixed_ips,
        }),
        routes: &router.routes,
        availability_zones: [AVAILABILITY_ZONE],
        availability_zone_hints: &router.availability_zone_hints,
        tags: &router.std.tags,
    }
}

#[derive(Serialize)]
pub struct FloatingIpView<'a> {
    #[serde(flatten)]
    std: StandardView<'a>,
    floating_network_id: &'a str,
    floating_ip_address: Ipv4Addr,
    fixed_ip_address: Option<Ipv4Addr>,
    port_id: Option<&'a str>,
    router_id: Option<&'a str>,
    status: &'static str,
    tags: &'a [String],
}

pub fn floating_ip(floating_ip: &FloatingIp) -> FloatingIpView<'_> {
    let association = floating_ip.association.as_ref();
    FloatingIpView {
        std: (&floating_ip.std).into(),
        floating_network_id: &floating_ip.floating_network_id,
        floating_ip_address: floating_ip.floating_ip_address,
        fixed_ip_address: association.map(|a| a.fixed_ip_address),
        port_id: association.map(|a| a.port_id.as_str()),
        router_id: association.map(|a| a.router_id.as_str()),
        status: status(association.is_some()),
        tags: &floating_ip.std.tags,
    }
}

#[derive(Serialize)]
pub struct SecurityGroupView<'a> {
    #[serde(flatten)]
    std: StandardView<'a>,
    name: &'a str,
    stateful: bool,
    security_group_rules: Vec<RuleView<'a>>,
    tags: &'a [String],
}

pub fn security_group(group: &SecurityGroup) -> SecurityGroupView<'_> {
    SecurityGroupView {
        std: (&group.std).into(),
        name: &group.name,
        stateful: true,
        security_group_rules: group.rules.iter().map(rule).collect(),
        tags: &group.std.tags,
    }
}

#[derive(Serialize)]
pub struct RuleView<'a> {
    #[serde(flatten)]
    std: StandardView<'a>,
    security_group_id: &'a str,
    direction: &'static str,
    ethertype: &'static str,
    protocol: Option<&'a str>,
    port_range_min: Option<u16>,
    port_range_max: Option<u16>,
    remote_ip_prefix: Option<String>,
    remote_group_id: Option<&'a str>,
}

pub fn rule(rule: &Rule) -> RuleView<'_> {
    RuleView {
        std: (&rule.std).into(),
        security_group_id: &rule.security_group_id,
        direction: rule.direction.as_str(),
        ethertype: rule.ethertype.as_str(),
        protocol: rule.protocol.as_deref(),
        port_range_min: rule.port_range_min,
        port_range_max: rule.port_range_max,
        remote_ip_prefix: rule.remote_ip_prefix.map(|p| p.to_string()),
        remote_group_id: rule.remote_group_id.as_deref(),
    }
}

/// The answer to adding or removing a router interface.
#[derive(Debug, Serialize)]
pub struct InterfaceInfo {
    pub id: String,
    pub project_id: String,
    pub tenant_id: String,
    pub port_id: String,
    pub network_id: String,
    pub subnet_id: String,
    pub subnet_ids: Vec<String>,
}

/// Parses a route, refusing a destination with host bits.
pub fn route(request: &RouteRequest, field: &str) -> Result<Route, NetworkError> {
    let destination: Ipv4Net = request.destination.parse().map_err(|_| {
        crate::errors::invalid_input(
            field,
            format!("'{}' is not an IPv4 CIDR", request.destination),
        )
    })?;
    if destination.trunc() != destination {
        return Err(crate::errors::invalid_input(
            field,
            format!(
                "'{destination}' has host bits set; use '{}'",
                destination.trunc()
            ),
        ));
    }
    Ok(Route {
        destination,
        nexthop: request.nexthop,
    })
}
