//! Security group rule semantics: IP protocols by name and number, which
//! of them have ports, and when two rules are the same rule.

use ipnet::IpNet;
use serde_json::Value;

use crate::errors::{NetworkError, bad_request, invalid_input};
use crate::model::{EtherType, Rule};

/// The protocol names Neutron accepts, with their numbers.
const PROTOCOLS: &[(&str, u8)] = &[
    ("ah", 51),
    ("dccp", 33),
    ("egp", 8),
    ("esp", 50),
    ("gre", 47),
    ("hopopt", 0),
    ("icmp", 1),
    ("icmpv6", 58),
    ("igmp", 2),
    ("ip", 0),
    ("ipip", 4),
    ("ipv6-encap", 41),
    ("ipv6-frag", 44),
    ("ipv6-icmp", 58),
    ("ipv6-nonxt", 59),
    ("ipv6-opts", 60),
    ("ipv6-route", 43),
    ("ospf", 89),
    ("pgm", 113),
    ("rsvp", 46),
    ("sctp", 132),
    ("tcp", 6),
    ("udp", 17),
    ("udplite", 136),
    ("vrrp", 112),
];

/// Protocols whose rules may name destination ports.
const PORT_PROTOCOLS: [u8; 5] = [6, 17, 33, 132, 136];
const ICMP: u8 = 1;
const ICMPV6: u8 = 58;

/// What a rule's port fields mean for its protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortSemantics {
    /// TCP and the like: a destination port range.
    Ports,
    /// ICMP: `port_range_min` is the type, `port_range_max` the code.
    Icmp,
    /// Other protocols have no ports.
    None,
}

/// The protocol of a request: a name in any case (`TCP`), a number as a
/// string or JSON number, or null / `any` for every protocol. Returns the
/// stored form: the lower-case name or the decimal number.
pub fn normalize_protocol(
    value: &Value,
    ethertype: EtherType,
) -> Result<Option<String>, NetworkError> {
    let text = match value {
        Value::Null => return Ok(None),
        Value::String(text) => text.trim().to_ascii_lowercase(),
        Value::Number(n) => n.to_string(),
        other => return Err(invalid_protocol(&other.to_string())),
    };
    if text == "any" {
        return Ok(None);
    }
    let protocol = match text.parse::<u8>() {
        Ok(number) => number.to_string(),
        Err(_) if PROTOCOLS.iter().any(|(name, _)| *name == text) => text,
        Err(_) => return Err(invalid_protocol(&text)),
    };
    let ipv6_only = protocol.starts_with("ipv6-") || protocol == "icmpv6";
    if ipv6_only && ethertype == EtherType::Ipv4 {
        return Err(bad_request(
            "SecurityGroupEthertypeConflictWithProtocol",
            format!("Ethertype IPv4 cannot be used with protocol {protocol}, an IPv6 protocol."),
        ));
    }
    // Neutron's canonical name for ICMP over IPv6.
    Ok(Some(if protocol == "icmpv6" {
        "ipv6-icmp".to_owned()
    } else {
        protocol
    }))
}

fn invalid_protocol(text: &str) -> NetworkError {
    bad_request(
        "SecurityGroupRuleInvalidProtocol",
        format!(
            "Security group rule protocol {text} is not supported. Use a name such as tcp, udp or icmp, a number from 0 to 255, or null for any protocol."
        ),
    )
}

/// The IP protocol number a stored protocol matches; ICMP in an IPv6 rule
/// is ICMPv6, as Neutron treats it.
pub fn protocol_number(protocol: &str, ethertype: EtherType) -> u8 {
    let number = protocol.parse::<u8>().ok().unwrap_or_else(|| {
        PROTOCOLS
            .iter()
            .find(|(name, _)| *name == protocol)
            .map(|(_, number)| *number)
            .unwrap_or_default()
    });
    match (ethertype, number) {
        (EtherType::Ipv6, ICMP) => ICMPV6,
        _ => number,
    }
}

pub fn port_semantics(protocol: Option<&str>, ethertype: EtherType) -> PortSemantics {
    match protocol.map(|p| protocol_number(p, ethertype)) {
        Some(ICMP | ICMPV6) => PortSemantics::Icmp,
        Some(n) if PORT_PROTOCOLS.contains(&n) => PortSemantics::Ports,
        _ => PortSemantics::None,
    }
}

/// Checks a rule's port fields against its protocol, as Neutron does, in
/// its order and with its words (clients match on them): first that each
/// is a port number at all, then what the protocol makes of them.
pub fn validate_ports(
    protocol: Option<&str>,
    ethertype: EtherType,
    min: Option<i64>,
    max: Option<i64>,
) -> Result<(Option<u16>, Option<u16>), NetworkError> {
    let invalid_port = |port: i64| {
        bad_request(
            "SecurityGroupInvalidPortValue",
            format!("Invalid value for port {port}."),
        )
    };
    let port = |value: Option<i64>| {
        value
            .map(|port| u16::try_from(port).map_err(|_| invalid_port(port)))
            .transpose()
    };
    let (min, max) = (port(min)?, port(max)?);
    if min.is_none() && max.is_none() {
        return Ok((None, None));
    }
    if protocol.is_none() {
        return Err(bad_request(
            "SecurityGroupProtocolRequiredWithPorts",
            "A protocol (such as tcp or udp) must be given with a port range.",
        ));
    }
    match port_semantics(protocol, ethertype) {
        PortSemantics::Ports => match (min, max) {
            (Some(0), _) | (_, Some(0)) => Err(invalid_port(0)),
            (Some(min), Some(max)) if min <= max => Ok((Some(min), Some(max))),
            _ => Err(bad_request(
                "SecurityGroupInvalidPortRange",
                format!(
                    "For TCP/UDP protocols, port_range_min must be <= port_range_max (given {} and {}).",
                    shown(min),
                    shown(max)
                ),
            )),
        },
        PortSemantics::Icmp => {
            for (value, field, attribute) in [
                (min, "type", "port-range-min"),
                (max, "code", "port-range-max"),
            ] {
                if let Some(value) = value.filter(|v| *v > 255) {
                    return Err(bad_request(
                        "SecurityGroupInvalidIcmpValue",
                        format!(
                            "Invalid value for ICMP {field} ({attribute}): {value}. It must be 0 to 255."
                        ),
                    ));
                }
            }
            if let (None, Some(code)) = (min, max) {
                return Err(bad_request(
                    "SecurityGroupMissingIcmpType",
                    format!(
                        "ICMP type (port-range-min) is missing for ICMP code (port-range-max) {code}."
                    ),
                ));
            }
            Ok((min, max))
        }
        PortSemantics::None => Err(bad_request(
            "SecurityGroupInvalidProtocolForPortRange",
            format!(
                "Ports can only be given for tcp, udp, udplite, sctp and dccp (or ICMP type and code), not for protocol {}.",
                protocol.unwrap_or_default()
            ),
        )),
    }
}

fn shown(port: Option<u16>) -> String {
    port.map_or_else(|| "none".to_owned(), |port| port.to_string())
}

/// A remote prefix, a bare address meaning a host, normalised to its
/// network address (`10.1.2.3/8` becomes `10.0.0.0/8`).
pub fn parse_remote_prefix(text: &str, ethertype: EtherType) -> Result<IpNet, NetworkError> {
    let net = text
        .parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| invalid_input("remote_ip_prefix", format!("'{text}' is not an IP prefix")))?
        .trunc();
    if !ethertype.matches(&net) {
        return Err(bad_request(
            "SecurityGroupRuleParameterConflict",
            format!(
                "Conflicting value ethertype {} for CIDR {net}.",
                ethertype.as_str()
            ),
        ));
    }
    Ok(net)
}

/// What makes two rules of a group the same rule: the protocol by number,
/// and a remote prefix of everything the same as no prefix.
pub fn fingerprint(rule: &Rule) -> String {
    let protocol = rule
        .protocol
        .as_deref()
        .map(|p| protocol_number(p, rule.ethertype).to_string());
    let remote = match (&rule.remote_ip_prefix, &rule.remote_group_id) {
        (_, Some(group)) => format!("group:{group}"),
        (Some(prefix), None) if prefix.prefix_len() > 0 => prefix.to_string(),
        _ => "any".to_owned(),
    };
    let port = |p: Option<u16>| p.map(|p| p.to_string()).unwrap_or_else(|| "*".into());
    format!(
        "{}|{}|{}|{}|{}|{remote}",
        rule.direction.as_str(),
        rule.ethertype.as_str(),
        protocol.as_deref().unwrap_or("*"),
        port(rule.port_range_min),
        port(rule.port_range_max),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn protocols_are_normalised() {
        let v4 = EtherType::Ipv4;
        assert_eq!(
            normalize_protocol(&json!("TCP"), v4).unwrap().as_deref(),
            Some("tcp")
        );
        assert_eq!(
            normalize_protocol(&json!(6), v4).unwrap().as_deref(),
            Some("6")
        );
        assert_eq!(normalize_protocol(&json!("any"), v4).unwrap(), None);
        assert_eq!(normalize_protocol(&Value::Null, v4).unwrap(), None);
        assert_eq!(
            normalize_protocol(&json!("icmpv6"), EtherType::Ipv6)
                .unwrap()
                .as_deref(),
            Some("ipv6-icmp")
        );
        for bad in [json!("tcpp"), json!(256), json!(true)] {
            assert_eq!(
                normalize_protocol(&bad, v4).unwrap_err().neutron_type(),
                Some("SecurityGroupRuleInvalidProtocol")
            );
        }
        assert_eq!(
            normalize_protocol(&json!("ipv6-icmp"), v4)
                .unwrap_err()
                .neutron_type(),
            Some("SecurityGroupEthertypeConflictWithProtocol")
        );
        assert_eq!(protocol_number("icmp", EtherType::Ipv6), 58);
        assert_eq!(protocol_number("17", v4), 17);
    }

    #[test]
    fn ports_follow_the_protocol() {
        let v4 = EtherType::Ipv4;
        assert_eq!(
            validate_ports(Some("tcp"), v4, Some(2379), Some(2380)).unwrap(),
            (Some(2379), Some(2380))
        );
        assert_eq!(
            validate_ports(Some("tcp"), v4, None, None).unwrap(),
            (None, None)
        );
        assert_eq!(
            validate_ports(Some("icmp"), v4, Some(8), None).unwrap(),
            (Some(8), None)
        );
        let kind =
            |p: Option<&str>, min, max| validate_ports(p, v4, min, max).unwrap_err().neutron_type();
        assert_eq!(
            kind(Some("tcp"), Some(80), Some(22)),
            Some("SecurityGroupInvalidPortRange")
        );
        assert_eq!(
            kind(Some("udp"), Some(80), None),
            Some("SecurityGroupInvalidPortRange")
        );
        assert_eq!(
            kind(Some("tcp"), Some(0), Some(22)),
            Some("SecurityGroupInvalidPortValue")
        );
        assert_eq!(
            kind(Some("tcp"), Some(1), Some(65536)),
            Some("SecurityGroupInvalidPortValue")
        );
        assert_eq!(
            kind(Some("icmp"), Some(300), None),
            Some("SecurityGroupInvalidIcmpValue")
        );
        assert_eq!(
            kind(Some("icmp"), None, Some(0)),
            Some("SecurityGroupMissingIcmpType")
        );
        assert_eq!(
            kind(None, Some(22), Some(22)),
            Some("SecurityGroupProtocolRequiredWithPorts")
        );
        assert_eq!(
            kind(Some("gre"), Some(22), Some(22)),
            Some("SecurityGroupInvalidProtocolForPortRange")
        );
        // Tempest matches Neutron's words.
        let message = |p: &str, min, max| {
            validate_ports(Some(p), v4, min, max)
                .unwrap_err()
                .to_string()
        };
        for (protocol, min, max, words) in [
            ("tcp", Some(-16), Some(80), "Invalid value for port -16"),
            (
                "tcp",
                Some(80),
                Some(79),
                "port_range_min must be <= port_range_max",
            ),
            ("tcp", Some(80), Some(65536), "Invalid value for port 65536"),
            (
                "tcp",
                None,
                Some(6),
                "port_range_min must be <= port_range_max",
            ),
            ("icmp", Some(1), Some(256), "Invalid value for ICMP code"),
            ("icmp", Some(-1), Some(25), "Invalid value"),
            (
                "icmp",
                None,
                Some(6),
                "ICMP type (port-range-min) is missing",
            ),
            ("icmp", Some(300), Some(1), "Invalid value for ICMP type"),
        ] {
            let message = message(protocol, min, max);
            assert!(
                message.contains(words),
                "{protocol} {min:?} {max:?}: {message}"
            );
        }
    }

    #[test]
    fn remote_prefixes_are_normalised_and_match_the_ethertype() {
        let v4 = EtherType::Ipv4;
        assert_eq!(
            parse_remote_prefix("10.1.2.3/8", v4).unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(
            parse_remote_prefix("10.1.2.3", v4).unwrap().to_string(),
            "10.1.2.3/32"
        );
        assert_eq!(
            parse_remote_prefix("::/0", v4).unwrap_err().neutron_type(),
            Some("SecurityGroupRuleParameterConflict")
        );
        assert_eq!(
            parse_remote_prefix("nope", v4).unwrap_err().neutron_type(),
            Some("InvalidInput")
        );
    }
}
