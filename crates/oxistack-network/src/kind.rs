//! The kinds of resource Neutron serves uniformly: how each is named in
//! URLs and documents, its "not found" error, and the attributes of its
//! documents, which lists can filter, sort and select on.

use oxistack_http::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Network,
    Subnet,
    Port,
    Router,
    FloatingIp,
    SecurityGroup,
    SecurityGroupRule,
}

/// How an attribute's values compare with a filter's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    /// A string (or null): equality.
    Text,
    /// `true`/`false` (also `1`/`0`, any case, as Neutron converts them).
    Bool,
    Int,
    /// A list of strings: matches when any element equals the filter.
    List,
    /// `fixed_ips`: filtered with `fixed_ips=ip_address=...` and the like.
    FixedIps,
    /// Structured values (and `tags`, filtered by the tag parameters):
    /// neither filterable nor sortable.
    Object,
}

/// One attribute of a resource's document.
#[derive(Debug, PartialEq, Eq)]
pub struct Attribute {
    pub name: &'static str,
    pub ty: AttrType,
    /// The column of the resource's table holding exactly this text, so
    /// that a filter on it can be answered by the database's indexes.
    pub column: Option<&'static str>,
}

const fn attr(name: &'static str, ty: AttrType) -> Attribute {
    Attribute {
        name,
        ty,
        column: None,
    }
}

const fn column(name: &'static str, column: &'static str) -> Attribute {
    Attribute {
        name,
        ty: AttrType::Text,
        column: Some(column),
    }
}

use AttrType::{Bool, FixedIps, Int, List, Object, Text};

/// The attributes every resource has: its id, owner and standard
/// attributes (description, timestamps, revision).
macro_rules! standard {
    ($($rest:expr),* $(,)?) => {
        &[
            column("id", "id"),
            column("project_id", "project_id"),
            column("tenant_id", "project_id"),
            attr("description", Text),
            attr("created_at", Text),
            attr("updated_at", Text),
            attr("revision_number", Int),
            $($rest),*
        ]
    };
}

const NETWORK: &[Attribute] = standard![
    column("name", "name"),
    attr("status", Text),
    attr("admin_state_up", Bool),
    attr("shared", Bool),
    attr("router:external", Bool),
    attr("mtu", Int),
    attr("port_security_enabled", Bool),
    attr("provider:network_type", Text),
    attr("provider:physical_network", Text),
    attr("provider:segmentation_id", Int),
    attr("subnets", List),
    attr("availability_zones", List),
    attr("availability_zone_hints", List),
    attr("tags", Object),
];

const SUBNET: &[Attribute] = standard![
    column("name", "name"),
    column("network_id", "network_id"),
    attr("ip_version", Int),
    column("cidr", "cidr"),
    attr("gateway_ip", Text),
    attr("allocation_pools", Object),
    attr("dns_nameservers", List),
    attr("host_routes", Object),
    attr("enable_dhcp", Bool),
    attr("ipv6_ra_mode", Text),
    attr("ipv6_address_mode", Text),
    attr("subnetpool_id", Text),
    attr("tags", Object),
];

const PORT: &[Attribute] = standard![
    column("name", "name"),
    column("network_id", "network_id"),
    column("mac_address", "mac_address"),
    attr("admin_state_up", Bool),
    attr("status", Text),
    column("device_id", "device_id"),
    column("device_owner", "device_owner"),
    attr("fixed_ips", FixedIps),
    attr("allowed_address_pairs", Object),
    attr("security_groups", List),
    attr("port_security_enabled", Bool),
    column("binding:host_id", "binding_host_id"),
    attr("binding:profile", Object),
    attr("binding:vif_type", Text),
    attr("binding:vif_details", Object),
    attr("binding:vnic_type", Text),
    attr("tags", Object),
];

const ROUTER: &[Attribute] = standard![
    column("name", "name"),
    attr("status", Text),
    attr("admin_state_up", Bool),
    attr("external_gateway_info", Object),
    attr("routes", Object),
    attr("availability_zones", List),
    attr("availability_zone_hints", List),
    attr("tags", Object),
];

const FLOATING_IP: &[Attribute] = standard![
    column("floating_network_id", "floating_network_id"),
    column("floating_ip_address", "floating_ip_address"),
    column("fixed_ip_address", "fixed_ip_address"),
    column("port_id", "port_id"),
    column("router_id", "router_id"),
    attr("status", Text),
    attr("tags", Object),
];

const SECURITY_GROUP: &[Attribute] = standard![
    column("name", "name"),
    attr("stateful", Bool),
    attr("security_group_rules", Object),
    attr("tags", Object),
];

const SECURITY_GROUP_RULE: &[Attribute] = standard![
    column("security_group_id", "security_group_id"),
    attr("direction", Text),
    attr("ethertype", Text),
    attr("protocol", Text),
    attr("port_range_min", Int),
    attr("port_range_max", Int),
    attr("remote_ip_prefix", Text),
    column("remote_group_id", "remote_group_id"),
];

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Network,
        Kind::Subnet,
        Kind::Port,
        Kind::Router,
        Kind::FloatingIp,
        Kind::SecurityGroup,
        Kind::SecurityGroupRule,
    ];

    /// The collection's URL segment, e.g. `security-groups`.
    pub fn path(self) -> &'static str {
        match self {
            Kind::Network => "networks",
            Kind::Subnet => "subnets",
            Kind::Port => "ports",
            Kind::Router => "routers",
            Kind::FloatingIp => "floatingips",
            Kind::SecurityGroup => "security-groups",
            Kind::SecurityGroupRule => "security-group-rules",
        }
    }

    /// The key of one resource in a document, e.g. `security_group`; also
    /// its quota's resource name.
    pub fn singular(self) -> &'static str {
        match self {
            Kind::Network => "network",
            Kind::Subnet => "subnet",
            Kind::Port => "port",
            Kind::Router => "router",
            Kind::FloatingIp => "floatingip",
            Kind::SecurityGroup => "security_group",
            Kind::SecurityGroupRule => "security_group_rule",
        }
    }

    /// The key of a collection in a document, e.g. `security_groups`.
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Network => "networks",
            Kind::Subnet => "subnets",
            Kind::Port => "ports",
            Kind::Router => "routers",
            Kind::FloatingIp => "floatingips",
            Kind::SecurityGroup => "security_groups",
            Kind::SecurityGroupRule => "security_group_rules",
        }
    }

    /// The name messages use, e.g. `Security group`.
    pub fn title(self) -> &'static str {
        match self {
            Kind::Network => "Network",
            Kind::Subnet => "Subnet",
            Kind::Port => "Port",
            Kind::Router => "Router",
            Kind::FloatingIp => "Floating IP",
            Kind::SecurityGroup => "Security group",
            Kind::SecurityGroupRule => "Security group rule",
        }
    }

    /// The table the resources are stored in.
    pub fn table(self) -> &'static str {
        match self {
            Kind::Network => "networks",
            Kind::Subnet => "subnets",
            Kind::Port => "ports",
            Kind::Router => "routers",
            Kind::FloatingIp => "floating_ips",
            Kind::SecurityGroup => "security_groups",
            Kind::SecurityGroupRule => "security_group_rules",
        }
    }

    pub fn attributes(self) -> &'static [Attribute] {
        match self {
            Kind::Network => NETWORK,
            Kind::Subnet => SUBNET,
            Kind::Port => PORT,
            Kind::Router => ROUTER,
            Kind::FloatingIp => FLOATING_IP,
            Kind::SecurityGroup => SECURITY_GROUP,
            Kind::SecurityGroupRule => SECURITY_GROUP_RULE,
        }
    }

    pub fn attribute(self, name: &str) -> Option<&'static Attribute> {
        self.attributes().iter().find(|a| a.name == name)
    }

    /// Whether the resource has tags (`standard-attr-tag`).
    pub fn taggable(self) -> bool {
        self != Kind::SecurityGroupRule
    }

    /// The resource `id` does not exist or the caller may not see it.
    pub fn not_found(self, id: &str) -> ApiError {
        let kind = match self {
            Kind::Network => "NetworkNotFound",
            Kind::Subnet => "SubnetNotFound",
            Kind::Port => "PortNotFound",
            Kind::Router => "RouterNotFound",
            Kind::FloatingIp => "FloatingIPNotFound",
            Kind::SecurityGroup => "SecurityGroupNotFound",
            Kind::SecurityGroupRule => "SecurityGroupRuleNotFound",
        };
        ApiError::not_found(format!("{} {id} could not be found.", self.title())).with_kind(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_names_are_unique_and_columns_are_text() {
        for kind in Kind::ALL {
            let attributes = kind.attributes();
            for (i, a) in attributes.iter().enumerate() {
                assert!(
                    attributes[i + 1..].iter().all(|b| b.name != a.name),
                    "{kind:?}.{} twice",
                    a.name
                );
                assert!(a.column.is_none() || a.ty == AttrType::Text);
            }
            assert_eq!(kind.attribute("tags").is_some(), kind.taggable());
        }
    }
}
