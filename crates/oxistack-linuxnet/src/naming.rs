//! The names of everything the data plane creates. Namespaces carry the
//! instance prefix, so several oxistack instances share a host without
//! clashing; devices live inside those namespaces and take Neutron's
//! names (`brq`, `tap`, `qr-`, `qg-`, `ns-` + the first 11 characters of
//! the id; `o-` for a load balancer's legs), all within the kernel's
//! 15-character limit.

/// Characters of an id a device name keeps, as Neutron's agents do.
const ID_CHARS: usize = 11;

fn short(id: &str) -> &str {
    match id.char_indices().nth(ID_CHARS) {
        Some((end, _)) => &id[..end],
        None => id,
    }
}

/// The namespaces of one oxistack instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespaces {
    prefix: String,
}

impl Namespaces {
    pub fn new(prefix: &str) -> Namespaces {
        Namespaces {
            prefix: prefix.to_owned(),
        }
    }

    /// What every namespace of this instance starts with.
    pub fn common_prefix(&self) -> String {
        format!("{}-", self.prefix)
    }

    /// Holds the networks' bridges and the instances' taps.
    pub fn fabric(&self) -> String {
        format!("{}-fabric", self.prefix)
    }

    /// In sandbox mode, the machine on the external network's LAN.
    pub fn outside(&self) -> String {
        format!("{}-outside", self.prefix)
    }

    pub fn router(&self, router_id: &str) -> String {
        format!("{}-qrouter-{router_id}", self.prefix)
    }

    /// A network's DHCP server and metadata service.
    pub fn dhcp(&self, network_id: &str) -> String {
        format!("{}-qdhcp-{network_id}", self.prefix)
    }

    /// A load balancer's ports (VIP and member-subnet legs), where the
    /// load-balancer proxy serves it.
    pub fn load_balancer(&self, load_balancer_id: &str) -> String {
        format!("{}-lb-{load_balancer_id}", self.prefix)
    }
}

/// A network's bridge, in the fabric namespace.
pub fn bridge(network_id: &str) -> String {
    format!("brq{}", short(network_id))
}

/// A port's device on its network's bridge, in the fabric namespace: the
/// instance's tap, or the bridge end of a router's or DHCP server's veth.
pub fn port_device(port_id: &str) -> String {
    format!("tap{}", short(port_id))
}

/// A router's leg on an internal subnet, inside the router's namespace.
pub fn router_interface_device(port_id: &str) -> String {
    format!("qr-{}", short(port_id))
}

/// A router's leg on the external network, inside its namespace.
pub fn router_gateway_device(port_id: &str) -> String {
    format!("qg-{}", short(port_id))
}

/// The DHCP server's leg, inside the network's DHCP namespace.
pub fn dhcp_device(port_id: &str) -> String {
    format!("ns-{}", short(port_id))
}

/// A load balancer's leg (its VIP or a member-subnet port), inside the
/// load balancer's namespace.
pub fn load_balancer_device(port_id: &str) -> String {
    format!("{LOAD_BALANCER_DEVICE_PREFIX}{}", short(port_id))
}

/// How [`load_balancer_device`] names start.
pub(crate) const LOAD_BALANCER_DEVICE_PREFIX: &str = "o-";

/// In sandbox mode, the outside namespace's leg on the external network.
pub const OUTSIDE_LAN_DEVICE: &str = "lan0";

/// In sandbox mode, the fabric end of the outside namespace's leg.
pub const SANDBOX_UPLINK_DEVICE: &str = "lan-uplink";

/// In bridged mode, the fabric end of the veth to the host's interface.
/// Its name differs from the sandbox one so switching modes replaces it.
pub const BRIDGED_UPLINK_DEVICE: &str = "ex-uplink";

/// In bridged mode, the host (root namespace) end of the uplink veth.
pub fn host_uplink_device(prefix: &str) -> String {
    format!("{prefix}-ex")
}

/// In bridged mode, the host bridge made to hold a NIC that is not a
/// bridge itself, together with the uplink veth.
pub fn host_bridge(prefix: &str) -> String {
    format!("{prefix}-brex")
}

impl Namespaces {
    /// The instance prefix the namespaces were made with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether `name` is a router namespace of this instance.
    pub fn is_router(&self, name: &str) -> bool {
        name.starts_with(&self.router(""))
    }

    /// Whether `name` is a DHCP namespace of this instance.
    pub fn is_dhcp(&self, name: &str) -> bool {
        name.starts_with(&self.dhcp(""))
    }

    /// Whether `name` is a load balancer's namespace of this instance.
    pub fn is_load_balancer(&self, name: &str) -> bool {
        name.starts_with(&self.load_balancer(""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_fit_the_kernel_limit() {
        let id = "3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6b";
        for name in [
            bridge(id),
            port_device(id),
            router_interface_device(id),
            router_gateway_device(id),
            dhcp_device(id),
        ] {
            assert_eq!(name.len(), 14, "{name}");
        }
        assert_eq!(port_device(id), "tap3f2a9c1e-7b");
        assert_eq!(load_balancer_device(id), "o-3f2a9c1e-7b");
        let names = Namespaces::new("ox1234ab");
        assert_eq!(names.router(id), format!("ox1234ab-qrouter-{id}"));
        assert!(names.fabric().starts_with(&names.common_prefix()));
        assert_eq!(names.load_balancer(id), format!("ox1234ab-lb-{id}"));
        assert!(names.is_load_balancer(&names.load_balancer(id)));
        assert!(!names.is_router(&names.load_balancer(id)));
    }
}
