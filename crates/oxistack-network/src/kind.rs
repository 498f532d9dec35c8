//! The kinds of resource Neutron serves uniformly: how each is named in
//! URLs and documents, its "not found" error, and the attribute table of
//! its documents, which lists filter, sort and select on
//! ([`oxistack_list`]).

use oxistack_list::{AttrType, Attribute, Collection};

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

const fn attr(name: &'static str, ty: AttrType) -> Attribute {
    Attribute::new(name, ty)
}

const fn column(name: &'static str, column: &'static str) -> Attribute {
    Attribute::column(name, column)
}

use AttrType::{Bool, Int, List, Object, Text};

use crate::errors::NetworkError;

/// `fixed_ips`: filtered with `fixed_ips=ip_address=...` and the like.
const FIXED_IPS: AttrType = AttrType::Objects {
    keys: &["ip_address", "subnet_id", "ip_address_substr"],
};

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

static NETWORKS: Collection = Collection {
    singular: "network",
    plural: "networks",
    attributes: standard![
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
    ],
    taggable: true,
};

static SUBNETS: Collection = Collection {
    singular: "subnet",
    plural: "subnets",
    attributes: standard![
        column("name", "name"),
        column("network_id", "network_id"),
        attr("ip_version", Int),
        column("cidr", "cidr"),
        attr("gateway_ip", Text),
        attr("allocation_pools", Object),
        attr("dns_nameservers", List),
        attr("host_routes", Object),
        attr("enable_dhcp", Bool),
        attr("router:external", Bool),
        attr("ipv6_ra_mode", Text),
        attr("ipv6_address_mode", Text),
        attr("subnetpool_id", Text),
        attr("tags", Object),
    ],
    taggable: true,
};

static PORTS: Collection = Collection {
    singular: "port",
    plural: "ports",
    attributes: standard![
        column("name", "name"),
        column("network_id", "network_id"),
        column("mac_address", "mac_address"),
        attr("admin_state_up", Bool),
        attr("status", Text),
        column("device_id", "device_id"),
        column("device_owner", "device_owner"),
        attr("fixed_ips", FIXED_IPS),
        attr("allowed_address_pairs", Object),
        attr("security_groups", List),
        attr("port_security_enabled", Bool),
        column("binding:host_id", "binding_host_id"),
        attr("binding:profile", Object),
        attr("binding:vif_type", Text),
        attr("binding:vif_details", Object),
        attr("binding:vnic_type", Text),
        attr("tags", Object),
    ],
    taggable: true,
};

static ROUTERS: Collection = Collection {
    singular: "router",
    plural: "routers",
    attributes: standard![
        column("name", "name"),
        attr("status", Text),
        attr("admin_state_up", Bool),
        attr("external_gateway_info", Object),
        attr("routes", Object),
        attr("availability_zones", List),
        attr("availability_zone_hints", List),
        attr("tags", Object),
    ],
    taggable: true,
};

static FLOATING_IPS: Collection = Collection {
    singular: "floatingip",
    plural: "floatingips",
    attributes: standard![
        column("floating_network_id", "floating_network_id"),
        column("floating_ip_address", "floating_ip_address"),
        column("fixed_ip_address", "fixed_ip_address"),
        column("port_id", "port_id"),
        column("router_id", "router_id"),
        attr("status", Text),
        attr("tags", Object),
    ],
    taggable: true,
};

static SECURITY_GROUPS: Collection = Collection {
    singular: "security_group",
    plural: "security_groups",
    attributes: standard![
        column("name", "name"),
        attr("stateful", Bool),
        attr("security_group_rules", Object),
        attr("tags", Object),
    ],
    taggable: true,
};

static SECURITY_GROUP_RULES: Collection = Collection {
    singular: "security_group_rule",
    plural: "security_group_rules",
    attributes: standard![
        column("security_group_id", "security_group_id"),
        attr("direction", Text),
        attr("ethertype", Text),
        attr("protocol", Text),
        attr("port_range_min", Int),
        attr("port_range_max", Int),
        attr("remote_ip_prefix", Text),
        column("remote_group_id", "remote_group_id"),
    ],
    taggable: false,
};

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
        self.collection().singular
    }

    /// The key of a collection in a document, e.g. `security_groups`.
    pub fn plural(self) -> &'static str {
        self.collection().plural
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

    /// What lists know of the kind: its names and attribute table.
    pub fn collection(self) -> &'static Collection {
        match self {
            Kind::Network => &NETWORKS,
            Kind::Subnet => &SUBNETS,
            Kind::Port => &PORTS,
            Kind::Router => &ROUTERS,
            Kind::FloatingIp => &FLOATING_IPS,
            Kind::SecurityGroup => &SECURITY_GROUPS,
            Kind::SecurityGroupRule => &SECURITY_GROUP_RULES,
        }
    }

    /// Whether the resource has tags (`standard-attr-tag`).
    pub fn taggable(self) -> bool {
        self.collection().taggable
    }

    /// The resource `id` does not exist or the caller may not see it.
    pub fn not_found(self, id: &str) -> NetworkError {
        NetworkError::NotFound {
            kind: self,
            id: id.to_owned(),
        }
    }

    /// Neutron's type for the kind's "not found" error.
    pub fn not_found_type(self) -> &'static str {
        match self {
            Kind::Network => "NetworkNotFound",
            Kind::Subnet => "SubnetNotFound",
            Kind::Port => "PortNotFound",
            Kind::Router => "RouterNotFound",
            Kind::FloatingIp => "FloatingIPNotFound",
            Kind::SecurityGroup => "SecurityGroupNotFound",
            Kind::SecurityGroupRule => "SecurityGroupRuleNotFound",
        }
    }
}

#[cfg(test)]
mod tests {
    use oxistack_list::{ListError, ListQuery, query_pairs};
    use serde_json::json;

    use super::*;

    #[test]
    fn attribute_tables_are_consistent() {
        for kind in Kind::ALL {
            kind.collection().check().unwrap();
        }
        assert!(!Kind::SecurityGroupRule.taggable());
    }

    fn parse(kind: Kind, query: &str) -> Result<ListQuery, ListError> {
        ListQuery::parse(kind.collection(), &query_pairs(query))
    }

    /// The tables say what Neutron's lists accept for each kind.
    #[test]
    fn lists_filter_on_what_the_tables_declare() {
        for (kind, bad) in [
            (Kind::Network, "colour=red"),
            (Kind::Router, "external_gateway_info=x"),
            (Kind::Network, "admin_state_up=maybe"),
            (Kind::Network, "mtu=big"),
            (Kind::Router, "sort_key=routes&sort_dir=asc"),
            (Kind::Port, "fixed_ips=mac=x"),
            (Kind::SecurityGroupRule, "tags=a"),
        ] {
            assert!(parse(kind, bad).is_err(), "{kind:?} {bad}");
        }
        let query = parse(
            Kind::Port,
            "device_id=lb-1&device_id=lb-2&admin_state_up=True&fixed_ips=ip_address=10.0.0.5&fixed_ips=subnet_id=s1&tags-any=a,b&security_groups=g1",
        )
        .unwrap();
        let indexed: Vec<(&str, &[String])> = query.indexed().collect();
        assert_eq!(
            indexed,
            [("device_id", &["lb-1".to_owned(), "lb-2".to_owned()][..])]
        );
        let port = json!({"device_id": "lb-2", "admin_state_up": true, "tags": ["b"], "security_groups": ["g0", "g1"],
                          "fixed_ips": [{"subnet_id": "s0", "ip_address": "10.0.0.5"}, {"subnet_id": "s1", "ip_address": "10.0.0.6"}]});
        assert!(
            !query.matches(port.as_object().unwrap()),
            "no single fixed IP has both"
        );
        let port = json!({"device_id": "lb-2", "admin_state_up": true, "tags": ["b"], "security_groups": ["g1"],
                          "fixed_ips": [{"subnet_id": "s1", "ip_address": "10.0.0.5"}]});
        assert!(query.matches(port.as_object().unwrap()));
        let query = parse(Kind::Port, "fixed_ips=ip_address_substr=0.0.5").unwrap();
        assert!(query.matches(port.as_object().unwrap()));
        // tenant_id is project_id's old name, on the same column.
        let query = parse(Kind::Network, "tenant_id=p&router:external=1").unwrap();
        let indexed: Vec<(&str, &[String])> = query.indexed().collect();
        assert_eq!(indexed, [("project_id", &["p".to_owned()][..])]);
    }
}
