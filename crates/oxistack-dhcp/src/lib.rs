//! An in-process DHCPv4 server that hands every Neutron port exactly the
//! address it holds, as Neutron's dnsmasq does with a hosts file: leases
//! are static and keyed by MAC, and a MAC without a lease gets no answer
//! at all (another server on the segment may own it).
//!
//! One [`DhcpServer`] serves one segment through a socket bound to that
//! segment's interface ([`bind_socket`]), which may live in a network
//! namespace. The lease table arrives through a `watch` channel so the
//! network service can change it at any time without restarting the
//! server; every packet is answered from the newest table.

mod reply;

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::Arc;
use std::time::Duration;

use dhcproto::{Encodable, Encoder};
use ipnet::Ipv4Net;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::watch;

pub use reply::{PacketError, Reply, reply_to};

/// The port DHCP servers listen on.
pub const SERVER_PORT: u16 = 67;
/// The port DHCP clients listen on.
pub const CLIENT_PORT: u16 = 68;

/// What one port is told about itself: its fixed address and the
/// subnet's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub mac: [u8; 6],
    pub address: Ipv4Addr,
    pub prefix_len: u8,
    pub router: Option<Ipv4Addr>,
    pub dns_servers: Vec<Ipv4Addr>,
    /// Option 121 routes (destination, next hop). When non-empty and
    /// `router` is set, the server also puts 0.0.0.0/0 via router into
    /// option 121, because RFC 3442 clients ignore option 3 when 121 is
    /// present.
    pub classless_routes: Vec<(Ipv4Net, Ipv4Addr)>,
    pub mtu: Option<u16>,
    pub hostname: Option<String>,
    pub domain_name: Option<String>,
    pub lease_time: Duration,
}

/// The leases of one segment, by MAC address.
pub type LeaseTable = HashMap<[u8; 6], Lease>;

/// Opens the server's socket on `interface`: UDP 0.0.0.0:67, SO_REUSEADDR,
/// SO_BROADCAST, SO_BINDTODEVICE(interface), non-blocking. Call it on a
/// thread that is inside the right network namespace (the socket stays
/// there).
///
/// Binding to the wildcard address is what lets the socket see requests
/// from clients that have no address yet (sent from 0.0.0.0 to the
/// broadcast address); binding to the device keeps several servers, one
/// per segment, from seeing each other's clients.
pub fn bind_socket(interface: &str) -> io::Result<StdUdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_broadcast(true)?;
    socket.bind_device(Some(interface.as_bytes()))?;
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, SERVER_PORT)).into())?;
    Ok(socket.into())
}

/// A DHCP server for one segment.
pub struct DhcpServer {
    socket: StdUdpSocket,
    server_id: Ipv4Addr,
    leases: watch::Receiver<Arc<LeaseTable>>,
}

/// Requests are at most a few hundred bytes; this leaves room for clients
/// that pad or add many options, and anything longer is not DHCP.
const RECEIVE_BUFFER_LEN: usize = 4096;

impl DhcpServer {
    /// `server_id` is the server's own address on the segment (option 54
    /// and the source of replies: the kernel sends them from the bound
    /// interface's address, which should be this one).
    pub fn new(
        socket: StdUdpSocket,
        server_id: Ipv4Addr,
        leases: watch::Receiver<Arc<LeaseTable>>,
    ) -> io::Result<DhcpServer> {
        // Tokio needs a non-blocking socket; a caller that made its own
        // socket may have forgotten.
        socket.set_nonblocking(true)?;
        Ok(DhcpServer {
            socket,
            server_id,
            leases,
        })
    }

    /// Serves until the task is dropped/aborted. Malformed packets are
    /// logged at debug and ignored; an error receiving ends the server,
    /// while an error sending one reply only loses that reply (the client
    /// retries).
    pub async fn run(self) -> io::Result<()> {
        let socket = UdpSocket::from_std(self.socket)?;
        // Both buffers live as long as the server, so a packet costs no
        // buffer allocation.
        let mut received = vec![0u8; RECEIVE_BUFFER_LEN];
        let mut encoded = Vec::with_capacity(RECEIVE_BUFFER_LEN);
        loop {
            let (len, from) = socket.recv_from(&mut received).await?;
            // Clone the Arc, not the table, and release the watch lock
            // before anything else happens.
            let leases = Arc::clone(&self.leases.borrow());
            let reply = match reply_to(&received[..len], self.server_id, &leases) {
                Ok(Some(reply)) => reply,
                Ok(None) => continue,
                Err(error) => {
                    tracing::debug!(%from, %error, "ignoring DHCP packet");
                    continue;
                }
            };
            encoded.clear();
            if let Err(error) = reply.message.encode(&mut Encoder::new(&mut encoded)) {
                tracing::warn!(%error, "could not encode a DHCP reply");
                continue;
            }
            if let Err(error) = socket.send_to(&encoded, reply.destination).await {
                tracing::warn!(destination = %reply.destination, %error, "could not send a DHCP reply");
            }
        }
    }
}
