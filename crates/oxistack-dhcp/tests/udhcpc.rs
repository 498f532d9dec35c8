//! Needs root: a real DHCP client (`busybox udhcpc`) gets its lease from
//! the server across a veth pair between two network namespaces made for
//! this test alone. The root namespace is never touched: the veth pair is
//! created inside the server's namespace.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use oxistack_dhcp::{DhcpServer, Lease, LeaseTable, bind_socket};

const SERVER_IF: &str = "dhcp-srv";
const CLIENT_IF: &str = "dhcp-cli";
const SERVER_ADDRESS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const CLIENT_MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0x12, 0x34, 0x56];

/// Deletes the test's namespaces, and with them the veth pair, however
/// the test ends.
struct Namespaces(Vec<String>);

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in &self.0 {
            if let Err(error) = oxistack_netns::delete(name) {
                eprintln!("cleanup: {error}");
            }
        }
    }
}

fn ip(namespace: &str, args: &[&str]) {
    let output = Command::new("ip")
        .arg("-n")
        .arg(namespace)
        .args(args)
        .output()
        .expect("run ip");
    assert!(
        output.status.success(),
        "ip -n {namespace} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn lease() -> Lease {
    Lease {
        mac: CLIENT_MAC,
        address: Ipv4Addr::new(192, 0, 2, 10),
        prefix_len: 24,
        router: Some(Ipv4Addr::new(192, 0, 2, 1)),
        dns_servers: vec![Ipv4Addr::new(192, 0, 2, 53), Ipv4Addr::new(192, 0, 2, 54)],
        classless_routes: vec![(
            "198.51.100.0/24".parse().unwrap(),
            Ipv4Addr::new(192, 0, 2, 254),
        )],
        mtu: Some(1442),
        hostname: Some("vm-one".into()),
        domain_name: Some("example.test".into()),
        lease_time: Duration::from_secs(3600),
    }
}

/// What the client's script saw when it got its lease.
fn parse_dump(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busybox_udhcpc_gets_the_lease() {
    let pid = std::process::id();
    let server_ns = format!("oxtest-dhcps-{pid}");
    let client_ns = format!("oxtest-dhcpc-{pid}");
    let _cleanup = Namespaces(vec![server_ns.clone(), client_ns.clone()]);
    oxistack_netns::create(&server_ns).unwrap();
    oxistack_netns::create(&client_ns).unwrap();

    ip(
        &server_ns,
        &[
            "link", "add", SERVER_IF, "type", "veth", "peer", "name", CLIENT_IF, "netns",
            &client_ns,
        ],
    );
    ip(
        &server_ns,
        &["addr", "add", "192.0.2.2/24", "dev", SERVER_IF],
    );
    ip(&server_ns, &["link", "set", SERVER_IF, "up"]);
    let mac = CLIENT_MAC.map(|byte| format!("{byte:02x}")).join(":");
    ip(&client_ns, &["link", "set", CLIENT_IF, "address", &mac]);
    ip(&client_ns, &["link", "set", CLIENT_IF, "up"]);

    let socket = oxistack_netns::run_in(&server_ns, || bind_socket(SERVER_IF))
        .unwrap()
        .unwrap();
    // The server starts knowing nothing; the lease arrives afterwards, as
    // it does when a port is created on a running network.
    let (leases, watched) = tokio::sync::watch::channel(Arc::new(LeaseTable::new()));
    let server = DhcpServer::new(socket, SERVER_ADDRESS, watched).unwrap();
    let serving = tokio::spawn(server.run());
    let lease = lease();
    leases
        .send(Arc::new(LeaseTable::from([(lease.mac, lease.clone())])))
        .unwrap();

    let scratch = tempfile::tempdir().unwrap();
    let dump = scratch.path().join("lease.env");
    let script = scratch.path().join("udhcpc.script");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n\
             [ \"$1\" = bound ] || exit 0\n\
             for name in ip mask router dns mtu staticroutes hostname domain serverid lease; do\n\
             \teval \"echo $name=\\$$name\"\n\
             done > '{}'\n",
            dump.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();

    let mut client =
        tokio::process::Command::from(oxistack_netns::command_in(&client_ns, "busybox").unwrap());
    client
        .args([
            "udhcpc", "-f", "-q", "-n", "-t", "5", "-T", "1", "-i", CLIENT_IF, "-s",
        ])
        .arg(&script)
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(30), client.output())
        .await
        .expect("udhcpc finished in time")
        .expect("udhcpc ran");
    assert!(!serving.is_finished(), "the server stopped: {serving:?}");
    serving.abort();
    assert!(
        output.status.success(),
        "udhcpc failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let seen = parse_dump(&std::fs::read_to_string(&dump).expect("the script ran on bound"));
    let expect = |key: &str, value: &str| {
        assert_eq!(
            seen.get(key).map(String::as_str),
            Some(value),
            "{key} in {seen:?}"
        );
    };
    expect("ip", "192.0.2.10");
    expect("mask", "24");
    expect("router", "192.0.2.1");
    expect("dns", "192.0.2.53 192.0.2.54");
    expect("mtu", "1442");
    expect(
        "staticroutes",
        "198.51.100.0/24 192.0.2.254 0.0.0.0/0 192.0.2.1",
    );
    expect("hostname", "vm-one");
    expect("domain", "example.test");
    expect("serverid", "192.0.2.2");
    expect("lease", "3600");
}
