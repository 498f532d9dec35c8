//! Deciding what to answer to one request: a pure function of the packet,
//! the server's identity and the lease table, so every protocol rule can
//! be tested without a socket.

use std::net::{Ipv4Addr, SocketAddrV4};

use dhcproto::v4::{
    DecodeError, DhcpOption, DhcpOptions, HType, Message, MessageType, Opcode, OptionCode,
};
use dhcproto::{Decodable, Decoder};
use ipnet::Ipv4Net;

use crate::{CLIENT_PORT, Lease, LeaseTable};

/// Where replies go when the client cannot yet receive unicast.
const BROADCAST_DESTINATION: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::BROADCAST, CLIENT_PORT);

/// Why a packet gets no answer although it came from a client that might
/// deserve one: the server logs these and carries on.
#[derive(Debug, thiserror::Error)]
pub enum PacketError {
    #[error("not a DHCP message: {0}")]
    Decode(#[from] DecodeError),
    #[error("a BOOTREPLY, not a client request")]
    NotARequest,
    #[error("the hardware address is not a 6-byte Ethernet address")]
    NotEthernet,
    #[error("relayed through {0}; this server serves its own segment only")]
    Relayed(Ipv4Addr),
    #[error("no DHCP message type option")]
    MissingMessageType,
    #[error("{0:?} is not a message a client sends to a server")]
    UnexpectedMessageType(MessageType),
    #[error("the lease of {address} has an invalid prefix length {prefix_len}")]
    InvalidLease { address: Ipv4Addr, prefix_len: u8 },
}

/// A reply and where to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub message: Message,
    pub destination: SocketAddrV4,
}

/// The answer to the DHCP packet `packet`, if it deserves one: `Ok(None)`
/// for requests that are rightly left unanswered (a MAC without a lease,
/// a client that chose another server, a RELEASE or DECLINE).
pub fn reply_to(
    packet: &[u8],
    server_id: Ipv4Addr,
    leases: &LeaseTable,
) -> Result<Option<Reply>, PacketError> {
    let request = Message::decode(&mut Decoder::new(packet))?;
    if request.opcode() != Opcode::BootRequest {
        return Err(PacketError::NotARequest);
    }
    // Checked before `chaddr()`, which slices by the untrusted length.
    if request.htype() != HType::Eth || request.hlen() != 6 {
        return Err(PacketError::NotEthernet);
    }
    if !request.giaddr().is_unspecified() {
        return Err(PacketError::Relayed(request.giaddr()));
    }
    let message_type = request
        .opts()
        .msg_type()
        .ok_or(PacketError::MissingMessageType)?;
    let mut mac = [0u8; 6];
    mac.copy_from_slice(request.chaddr());
    let Some(lease) = leases.get(&mac) else {
        return Ok(None);
    };
    match message_type {
        MessageType::Discover => offer_or_ack(&request, lease, server_id, MessageType::Offer),
        MessageType::Request => {
            if let Some(DhcpOption::ServerIdentifier(chosen)) =
                request.opts().get(OptionCode::ServerIdentifier)
                && *chosen != server_id
            {
                // The client took another server's offer.
                return Ok(None);
            }
            let requested = match request.opts().get(OptionCode::RequestedIpAddress) {
                Some(DhcpOption::RequestedIpAddress(address)) => Some(*address),
                _ => Some(request.ciaddr()).filter(|address| !address.is_unspecified()),
            };
            match requested {
                Some(address) if address != lease.address => {
                    tracing::debug!(%address, leased = %lease.address, "NAK for a foreign address");
                    Ok(Some(nak(&request, server_id)))
                }
                _ => offer_or_ack(&request, lease, server_id, MessageType::Ack),
            }
        }
        MessageType::Inform => inform_ack(&request, lease, server_id),
        MessageType::Release => {
            tracing::debug!(address = %lease.address, "client released its lease");
            Ok(None)
        }
        MessageType::Decline => {
            // The client found the address in use: someone else on the
            // segment holds a port's address, which only an operator fixes.
            tracing::warn!(address = %lease.address, "client declined its address as in use");
            Ok(None)
        }
        other => Err(PacketError::UnexpectedMessageType(other)),
    }
}

/// An OFFER or an ACK that hands out the lease.
fn offer_or_ack(
    request: &Message,
    lease: &Lease,
    server_id: Ipv4Addr,
    message_type: MessageType,
) -> Result<Option<Reply>, PacketError> {
    let client_address = if message_type == MessageType::Ack {
        request.ciaddr()
    } else {
        Ipv4Addr::UNSPECIFIED
    };
    let mut message = reply_header(request, client_address, lease.address);
    let options = message.opts_mut();
    options.insert(DhcpOption::MessageType(message_type));
    insert_lease_options(options, lease, server_id)?;
    insert_lease_times(options, lease);
    Ok(Some(Reply {
        destination: destination(request, message_type),
        message,
    }))
}

/// The ACK to an INFORM: the client configured its address itself and
/// wants only the other settings, so no address and no lease times.
fn inform_ack(
    request: &Message,
    lease: &Lease,
    server_id: Ipv4Addr,
) -> Result<Option<Reply>, PacketError> {
    let mut message = reply_header(request, request.ciaddr(), Ipv4Addr::UNSPECIFIED);
    let options = message.opts_mut();
    options.insert(DhcpOption::MessageType(MessageType::Ack));
    insert_lease_options(options, lease, server_id)?;
    Ok(Some(Reply {
        destination: destination(request, MessageType::Ack),
        message,
    }))
}

fn nak(request: &Message, server_id: Ipv4Addr) -> Reply {
    let mut message = reply_header(request, Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED);
    let options = message.opts_mut();
    options.insert(DhcpOption::MessageType(MessageType::Nak));
    options.insert(DhcpOption::ServerIdentifier(server_id));
    Reply {
        destination: destination(request, MessageType::Nak),
        message,
    }
}

/// A BOOTREPLY to `request` carrying its transaction id, flags and MAC.
fn reply_header(request: &Message, client_address: Ipv4Addr, your_address: Ipv4Addr) -> Message {
    let mut message = Message::new_with_id(
        request.xid(),
        client_address,
        your_address,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        request.chaddr(),
    );
    message
        .set_opcode(Opcode::BootReply)
        .set_htype(HType::Eth)
        .set_flags(request.flags());
    message
}

/// The options describing the address and the subnet, common to every
/// positive answer.
fn insert_lease_options(
    options: &mut DhcpOptions,
    lease: &Lease,
    server_id: Ipv4Addr,
) -> Result<(), PacketError> {
    let subnet =
        Ipv4Net::new(lease.address, lease.prefix_len).map_err(|_| PacketError::InvalidLease {
            address: lease.address,
            prefix_len: lease.prefix_len,
        })?;
    options.insert(DhcpOption::ServerIdentifier(server_id));
    options.insert(DhcpOption::SubnetMask(subnet.netmask()));
    options.insert(DhcpOption::BroadcastAddr(subnet.broadcast()));
    if let Some(router) = lease.router {
        options.insert(DhcpOption::Router(vec![router]));
    }
    if !lease.dns_servers.is_empty() {
        options.insert(DhcpOption::DomainNameServer(lease.dns_servers.clone()));
    }
    if let Some(hostname) = &lease.hostname {
        options.insert(DhcpOption::Hostname(hostname.clone()));
    }
    if let Some(domain_name) = &lease.domain_name {
        options.insert(DhcpOption::DomainName(domain_name.clone()));
    }
    if let Some(mtu) = lease.mtu {
        options.insert(DhcpOption::InterfaceMtu(mtu));
    }
    if !lease.classless_routes.is_empty() {
        options.insert(DhcpOption::ClasslessStaticRoute(classless_routes(lease)));
    }
    Ok(())
}

/// Option 121's routes: the lease's, with their host bits cleared (the
/// encoding carries only the prefix's significant octets), plus the
/// default route through the router unless one is already there, since a
/// client that gets option 121 ignores option 3 (RFC 3442).
fn classless_routes(lease: &Lease) -> Vec<(Ipv4Net, Ipv4Addr)> {
    let mut routes: Vec<(Ipv4Net, Ipv4Addr)> = lease
        .classless_routes
        .iter()
        .map(|(destination, next_hop)| (destination.trunc(), *next_hop))
        .collect();
    if let Some(router) = lease.router
        && !routes
            .iter()
            .any(|(destination, _)| destination.prefix_len() == 0)
    {
        routes.push((Ipv4Net::default(), router));
    }
    routes
}

/// Lease time with renewal at 50% and rebinding at 87.5% of it, the
/// defaults RFC 2131 recommends.
fn insert_lease_times(options: &mut DhcpOptions, lease: &Lease) {
    let seconds = u32::try_from(lease.lease_time.as_secs()).unwrap_or(u32::MAX);
    options.insert(DhcpOption::AddressLeaseTime(seconds));
    options.insert(DhcpOption::Renewal(seconds / 2));
    options.insert(DhcpOption::Rebinding(
        u32::try_from(u64::from(seconds) * 7 / 8).unwrap_or(u32::MAX),
    ));
}

/// A client that is renewing (or informing) has its address configured
/// and can take unicast; everyone else, and every NAK (the client's
/// address is wrong by definition), gets a broadcast on the segment.
/// Only REQUESTs and INFORMs get an ACK, so an ACK is what tells them
/// apart from DISCOVERs.
fn destination(request: &Message, message_type: MessageType) -> SocketAddrV4 {
    let client_address = request.ciaddr();
    let usable = !client_address.is_unspecified()
        && !client_address.is_broadcast()
        && !client_address.is_multicast();
    if message_type == MessageType::Ack && usable {
        SocketAddrV4::new(client_address, CLIENT_PORT)
    } else {
        BROADCAST_DESTINATION
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use dhcproto::{Encodable, Encoder};

    use super::*;

    const SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
    const CLIENT_MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0x01, 0x02, 0x03];

    fn lease() -> Lease {
        Lease {
            mac: CLIENT_MAC,
            address: Ipv4Addr::new(192, 0, 2, 10),
            prefix_len: 24,
            router: Some(Ipv4Addr::new(192, 0, 2, 1)),
            dns_servers: vec![
                Ipv4Addr::new(192, 0, 2, 53),
                Ipv4Addr::new(198, 51, 100, 53),
            ],
            classless_routes: vec![(
                "10.20.0.0/16".parse().unwrap(),
                Ipv4Addr::new(192, 0, 2, 254),
            )],
            mtu: Some(1450),
            hostname: Some("vm-1".into()),
            domain_name: Some("openstacklocal".into()),
            lease_time: Duration::from_secs(86400),
        }
    }

    fn table(leases: impl IntoIterator<Item = Lease>) -> Arc<LeaseTable> {
        Arc::new(leases.into_iter().map(|lease| (lease.mac, lease)).collect())
    }

    fn request(message_type: MessageType, mac: [u8; 6]) -> Message {
        let mut message = Message::new_with_id(
            0x1234_5678,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            &mac,
        );
        message
            .opts_mut()
            .insert(DhcpOption::MessageType(message_type));
        message
    }

    fn encode(message: &Message) -> Vec<u8> {
        let mut bytes = Vec::new();
        message.encode(&mut Encoder::new(&mut bytes)).unwrap();
        bytes
    }

    fn answer(message: &Message, leases: &LeaseTable) -> Option<Reply> {
        reply_to(&encode(message), SERVER, leases).unwrap()
    }

    /// The raw bytes of option `code` in an encoded message.
    fn raw_option(packet: &[u8], code: u8) -> Option<Vec<u8>> {
        // Fixed header (236 bytes) and magic cookie (4) precede the options.
        let mut rest = &packet[240..];
        while let [option, tail @ ..] = rest {
            match *option {
                0 => rest = tail,
                255 => return None,
                _ => {
                    let len = usize::from(tail[0]);
                    if *option == code {
                        return Some(tail[1..1 + len].to_vec());
                    }
                    rest = &tail[1 + len..];
                }
            }
        }
        None
    }

    fn option(reply: &Reply, code: OptionCode) -> Option<&DhcpOption> {
        reply.message.opts().get(code)
    }

    #[test]
    fn discover_gets_an_offer_with_every_option() {
        let leases = table([lease()]);
        let reply = answer(&request(MessageType::Discover, CLIENT_MAC), &leases)
            .expect("a known MAC gets an offer");

        let message = &reply.message;
        assert_eq!(message.opcode(), Opcode::BootReply);
        assert_eq!(message.xid(), 0x1234_5678);
        assert_eq!(message.chaddr(), CLIENT_MAC);
        assert_eq!(message.yiaddr(), Ipv4Addr::new(192, 0, 2, 10));
        assert_eq!(message.ciaddr(), Ipv4Addr::UNSPECIFIED);
        assert_eq!(message.opts().msg_type(), Some(MessageType::Offer));
        assert_eq!(
            reply.destination,
            SocketAddrV4::new(Ipv4Addr::BROADCAST, CLIENT_PORT)
        );

        let expected = [
            DhcpOption::SubnetMask(Ipv4Addr::new(255, 255, 255, 0)),
            DhcpOption::Router(vec![Ipv4Addr::new(192, 0, 2, 1)]),
            DhcpOption::DomainNameServer(vec![
                Ipv4Addr::new(192, 0, 2, 53),
                Ipv4Addr::new(198, 51, 100, 53),
            ]),
            DhcpOption::Hostname("vm-1".into()),
            DhcpOption::DomainName("openstacklocal".into()),
            DhcpOption::InterfaceMtu(1450),
            DhcpOption::BroadcastAddr(Ipv4Addr::new(192, 0, 2, 255)),
            DhcpOption::AddressLeaseTime(86400),
            DhcpOption::ServerIdentifier(SERVER),
            DhcpOption::Renewal(43200),
            DhcpOption::Rebinding(75600),
        ];
        for want in &expected {
            assert_eq!(option(&reply, want.into()), Some(want), "option {want:?}");
        }
    }

    #[test]
    fn classless_routes_carry_the_default_route_on_the_wire() {
        let leases = table([lease()]);
        let reply = answer(&request(MessageType::Discover, CLIENT_MAC), &leases).unwrap();
        let wire = raw_option(&encode(&reply.message), 121).expect("option 121 present");
        assert_eq!(
            wire,
            [
                16, 10, 20, 192, 0, 2, 254, // 10.20.0.0/16 via 192.0.2.254
                0, 192, 0, 2, 1, // 0.0.0.0/0 via the router
            ]
        );
    }

    #[test]
    fn classless_routes_are_truncated_and_keep_an_explicit_default() {
        let mut with_default = lease();
        with_default.classless_routes = vec![
            (
                "10.20.30.40/24".parse().unwrap(),
                Ipv4Addr::new(192, 0, 2, 254),
            ),
            ("0.0.0.0/0".parse().unwrap(), Ipv4Addr::new(192, 0, 2, 253)),
        ];
        assert_eq!(
            classless_routes(&with_default),
            vec![
                (
                    "10.20.30.0/24".parse().unwrap(),
                    Ipv4Addr::new(192, 0, 2, 254)
                ),
                ("0.0.0.0/0".parse().unwrap(), Ipv4Addr::new(192, 0, 2, 253)),
            ]
        );
    }

    #[test]
    fn options_without_values_are_left_out() {
        let mut bare = lease();
        bare.router = None;
        bare.dns_servers.clear();
        bare.classless_routes.clear();
        bare.mtu = None;
        bare.hostname = None;
        bare.domain_name = None;
        let reply = answer(&request(MessageType::Discover, CLIENT_MAC), &table([bare])).unwrap();
        for absent in [
            OptionCode::Router,
            OptionCode::DomainNameServer,
            OptionCode::ClasslessStaticRoute,
            OptionCode::InterfaceMtu,
            OptionCode::Hostname,
            OptionCode::DomainName,
        ] {
            assert_eq!(option(&reply, absent), None, "{absent:?}");
        }
        assert!(option(&reply, OptionCode::SubnetMask).is_some());
    }

    #[test]
    fn request_for_the_leased_address_is_acked() {
        let leases = table([lease()]);
        let mut selecting = request(MessageType::Request, CLIENT_MAC);
        selecting
            .opts_mut()
            .insert(DhcpOption::RequestedIpAddress(Ipv4Addr::new(192, 0, 2, 10)));
        selecting
            .opts_mut()
            .insert(DhcpOption::ServerIdentifier(SERVER));
        let reply = answer(&selecting, &leases).expect("ACK");
        assert_eq!(reply.message.opts().msg_type(), Some(MessageType::Ack));
        assert_eq!(reply.message.yiaddr(), Ipv4Addr::new(192, 0, 2, 10));
        assert_eq!(
            option(&reply, OptionCode::AddressLeaseTime),
            Some(&DhcpOption::AddressLeaseTime(86400))
        );
        assert_eq!(reply.destination.ip(), &Ipv4Addr::BROADCAST);

        // Without any requested address the lease is confirmed too.
        let bare = request(MessageType::Request, CLIENT_MAC);
        let reply = answer(&bare, &leases).expect("ACK");
        assert_eq!(reply.message.opts().msg_type(), Some(MessageType::Ack));
    }

    #[test]
    fn renewal_is_acked_by_unicast_to_the_client() {
        let leases = table([lease()]);
        let mut renewing = request(MessageType::Request, CLIENT_MAC);
        renewing.set_ciaddr(Ipv4Addr::new(192, 0, 2, 10));
        let reply = answer(&renewing, &leases).expect("ACK");
        assert_eq!(reply.message.opts().msg_type(), Some(MessageType::Ack));
        assert_eq!(reply.message.ciaddr(), Ipv4Addr::new(192, 0, 2, 10));
        assert_eq!(
            reply.destination,
            SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 10), CLIENT_PORT)
        );
    }

    #[test]
    fn request_for_another_address_is_naked_by_broadcast() {
        let leases = table([lease()]);
        let mut wrong = request(MessageType::Request, CLIENT_MAC);
        wrong
            .opts_mut()
            .insert(DhcpOption::RequestedIpAddress(Ipv4Addr::new(192, 0, 2, 99)));
        let reply = answer(&wrong, &leases).expect("NAK");
        assert_eq!(reply.message.opts().msg_type(), Some(MessageType::Nak));
        assert_eq!(reply.message.yiaddr(), Ipv4Addr::UNSPECIFIED);
        assert_eq!(
            option(&reply, OptionCode::ServerIdentifier),
            Some(&DhcpOption::ServerIdentifier(SERVER))
        );
        assert_eq!(option(&reply, OptionCode::AddressLeaseTime), None);
        assert_eq!(reply.destination, BROADCAST_DESTINATION);

        // A renewing client whose address is no longer its lease's.
        let mut stale = request(MessageType::Request, CLIENT_MAC);
        stale.set_ciaddr(Ipv4Addr::new(192, 0, 2, 98));
        let reply = answer(&stale, &leases).expect("NAK");
        assert_eq!(reply.message.opts().msg_type(), Some(MessageType::Nak));
        assert_eq!(reply.destination, BROADCAST_DESTINATION);
    }

    #[test]
    fn request_for_another_server_is_not_answered() {
        let mut elsewhere = request(MessageType::Request, CLIENT_MAC);
        elsewhere
            .opts_mut()
            .insert(DhcpOption::ServerIdentifier(Ipv4Addr::new(192, 0, 2, 3)));
        assert_eq!(answer(&elsewhere, &table([lease()])), None);
    }

    #[test]
    fn inform_is_acked_without_address_or_lease_time() {
        let mut inform = request(MessageType::Inform, CLIENT_MAC);
        inform.set_ciaddr(Ipv4Addr::new(192, 0, 2, 10));
        let reply = answer(&inform, &table([lease()])).expect("ACK");
        assert_eq!(reply.message.opts().msg_type(), Some(MessageType::Ack));
        assert_eq!(reply.message.yiaddr(), Ipv4Addr::UNSPECIFIED);
        for absent in [
            OptionCode::AddressLeaseTime,
            OptionCode::Renewal,
            OptionCode::Rebinding,
        ] {
            assert_eq!(option(&reply, absent), None, "{absent:?}");
        }
        assert!(option(&reply, OptionCode::DomainNameServer).is_some());
        assert_eq!(
            reply.destination,
            SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 10), CLIENT_PORT)
        );
    }

    #[test]
    fn unknown_macs_release_and_decline_get_silence() {
        let leases = table([lease()]);
        let stranger = [0x02, 0, 0, 0, 0, 0x99];
        for message_type in [
            MessageType::Discover,
            MessageType::Request,
            MessageType::Inform,
        ] {
            assert_eq!(answer(&request(message_type, stranger), &leases), None);
        }
        for message_type in [MessageType::Release, MessageType::Decline] {
            assert_eq!(answer(&request(message_type, CLIENT_MAC), &leases), None);
        }
        assert_eq!(
            answer(&request(MessageType::Discover, CLIENT_MAC), &table([])),
            None
        );
    }

    #[test]
    fn malformed_and_foreign_packets_are_errors() {
        let leases = table([lease()]);
        assert!(matches!(
            reply_to(&[1, 2, 3], SERVER, &leases),
            Err(PacketError::Decode(_))
        ));

        let mut server_reply = request(MessageType::Offer, CLIENT_MAC);
        server_reply.set_opcode(Opcode::BootReply);
        assert!(matches!(
            reply_to(&encode(&server_reply), SERVER, &leases),
            Err(PacketError::NotARequest)
        ));

        let mut relayed = request(MessageType::Discover, CLIENT_MAC);
        relayed.set_giaddr(Ipv4Addr::new(10, 0, 0, 1));
        assert!(matches!(
            reply_to(&encode(&relayed), SERVER, &leases),
            Err(PacketError::Relayed(_))
        ));

        let mut untyped = request(MessageType::Discover, CLIENT_MAC);
        untyped.opts_mut().remove(OptionCode::MessageType);
        assert!(matches!(
            reply_to(&encode(&untyped), SERVER, &leases),
            Err(PacketError::MissingMessageType)
        ));

        // An hlen larger than chaddr must not make the parser slice past it.
        let mut long_hlen = encode(&request(MessageType::Discover, CLIENT_MAC));
        long_hlen[2] = 200;
        assert!(matches!(
            reply_to(&long_hlen, SERVER, &leases),
            Err(PacketError::NotEthernet)
        ));
    }

    #[test]
    fn invalid_prefix_length_is_reported_not_served() {
        let mut broken = lease();
        broken.prefix_len = 33;
        assert!(matches!(
            reply_to(
                &encode(&request(MessageType::Discover, CLIENT_MAC)),
                SERVER,
                &table([broken])
            ),
            Err(PacketError::InvalidLease { prefix_len: 33, .. })
        ));
    }
}
