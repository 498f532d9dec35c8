//! The Linux data plane with real traffic (needs root). Each test builds
//! its own instance (prefix `oxt` + 5 digits): an external flat network
//! 172.24.4.0/24 whose LAN is the outside namespace (172.24.4.1), a
//! tenant network 10.0.0.0/24 with DHCP (10.0.0.2), a router (gateway
//! 172.24.4.10, interface 10.0.0.1, SNAT on) and two "VMs": namespaces
//! behind a veth whose fabric end carries the port's tap name. The load
//! balancer test adds a VIP port (10.0.0.20) and a member-subnet port on
//! a third network.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use oxistack_linuxnet::{ExternalMode, LinuxDataPlane, LinuxNetConfig, naming, teardown};
use oxistack_metadata::{InstanceMetadata, MetadataSource};
use oxistack_netplane::{
    Direction, EtherType, FixedIp, FloatingIp, LoadBalancer, Network, NetworkDataPlane,
    NetworkState, Port, PortMatch, Remote, Router, RouterGateway, RouterInterface, SecurityGroup,
    SecurityGroupRule, Segment, Subnet,
};

const PUBLIC: &str = "net-public-0001";
const PRIVATE: &str = "net-private-001";
const PUBLIC_SUBNET: &str = "subnet-public-1";
const PRIVATE_SUBNET: &str = "subnet-private1";
const ROUTER: &str = "router-00000001";
const DHCP_PORT: &str = "port-dhcp-00001";
const ROUTER_IF_PORT: &str = "port-rif-000001";
const ROUTER_GW_PORT: &str = "port-rgw-000001";
const FLOATING_IP: &str = "fip-00000000001";
const FLOATING_ADDRESS: Ipv4Addr = Ipv4Addr::new(172, 24, 4, 20);
const ROUTER_EXTERNAL: Ipv4Addr = Ipv4Addr::new(172, 24, 4, 10);
const LAN_ADDRESS: Ipv4Addr = Ipv4Addr::new(172, 24, 4, 1);
const TENANT_MTU: u32 = 1450;
/// How long a connection that should work may take (SYN retransmits
/// after 1 s, 3 s).
const EXPECTED: Duration = Duration::from_secs(5);

struct Vm {
    name: &'static str,
    port_id: &'static str,
    mac: &'static str,
    ip: Ipv4Addr,
    instance: &'static str,
}

const VM1: Vm = Vm {
    name: "vm1",
    port_id: "port-vm1-000001",
    mac: "fa:16:3e:00:00:05",
    ip: Ipv4Addr::new(10, 0, 0, 5),
    instance: "11111111-1111-4111-8111-111111111111",
};
const VM2: Vm = Vm {
    name: "vm2",
    port_id: "port-vm2-000001",
    mac: "fa:16:3e:00:00:06",
    ip: Ipv4Addr::new(10, 0, 0, 6),
    instance: "22222222-2222-4222-8222-222222222222",
};

fn sandbox() -> ExternalMode {
    ExternalMode::Sandbox {
        lan_address: format!("{LAN_ADDRESS}/24").parse().unwrap(),
    }
}

/// Instances' metadata by id; VM2 is unknown to it.
struct TestMetadata(HashMap<String, InstanceMetadata>);

impl MetadataSource for TestMetadata {
    fn instance_metadata<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Option<InstanceMetadata>> {
        Box::pin(async move { self.0.get(id).cloned() })
    }
}

fn metadata_source() -> Arc<TestMetadata> {
    let vm1 = InstanceMetadata {
        uuid: VM1.instance.into(),
        name: "test-vm-one".into(),
        hostname: "test-vm-one".into(),
        ..InstanceMetadata::default()
    };
    Arc::new(TestMetadata(HashMap::from([(
        VM1.instance.to_owned(),
        vm1,
    )])))
}

/// One data plane instance and everything it made; torn down on drop,
/// whether the test passed or not.
struct Instance {
    prefix: String,
    plane: Option<Arc<LinuxDataPlane>>,
}

impl Instance {
    fn new() -> Instance {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let prefix = format!("oxt{:05}", (std::process::id() * 10 + n) % 100_000);
        // A previous run killed half way may have left this prefix behind.
        teardown(&prefix, &sandbox()).unwrap();
        let mut instance = Instance {
            prefix,
            plane: None,
        };
        instance.start();
        instance
    }

    /// (Re)creates the data plane, as a restart of oxistack does.
    fn start(&mut self) {
        self.plane = None;
        self.plane = Some(
            LinuxDataPlane::new(LinuxNetConfig {
                prefix: self.prefix.clone(),
                external: sandbox(),
                metadata: metadata_source(),
            })
            .unwrap(),
        );
    }

    fn plane(&self) -> &LinuxDataPlane {
        self.plane.as_ref().unwrap()
    }

    async fn apply(&self, state: &NetworkState) {
        if let Err(error) = self.plane().apply(state).await {
            panic!("apply failed: {error}");
        }
    }

    fn names(&self) -> naming::Namespaces {
        naming::Namespaces::new(&self.prefix)
    }

    fn vm_namespace(&self, vm: &Vm) -> String {
        format!("{}-{}", self.prefix, vm.name)
    }

    /// A "VM": a namespace whose `eth0` is a veth into the fabric under
    /// the port's tap name, made before the data plane ever ran (so the
    /// fabric namespace exists already, as it will for QEMU).
    async fn add_vm(&self, vm: &Vm) {
        let fabric = self.names().fabric();
        oxistack_netns::create(&fabric).unwrap();
        let namespace = self.vm_namespace(vm);
        oxistack_netns::create(&namespace).unwrap();
        let mtu = TENANT_MTU.to_string();
        ip(&[
            "-n",
            &namespace,
            "link",
            "add",
            "eth0",
            "address",
            vm.mac,
            "mtu",
            &mtu,
            "type",
            "veth",
            "peer",
            "name",
            &naming::port_device(vm.port_id),
            "netns",
            &fabric,
        ])
        .await;
        ip(&["-n", &namespace, "link", "set", "eth0", "up"]).await;
    }

    /// Configures the VM's address and routes as DHCP would.
    async fn configure_vm(&self, vm: &Vm) {
        let namespace = self.vm_namespace(vm);
        ip(&[
            "-n",
            &namespace,
            "addr",
            "add",
            &format!("{}/24", vm.ip),
            "dev",
            "eth0",
        ])
        .await;
        ip(&[
            "-n", &namespace, "route", "add", "default", "via", "10.0.0.1",
        ])
        .await;
        ip(&[
            "-n",
            &namespace,
            "route",
            "add",
            "169.254.169.254/32",
            "via",
            "10.0.0.2",
        ])
        .await;
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // The data plane first: its tasks hold sockets in the namespaces.
        self.plane = None;
        if let Err(error) = teardown(&self.prefix, &sandbox()) {
            eprintln!("teardown of {} failed: {error}", self.prefix);
        }
    }
}

async fn ip(args: &[&str]) -> String {
    run(tokio::process::Command::new("ip").args(args)).await
}

async fn run(command: &mut tokio::process::Command) -> String {
    let output = command.output().await.unwrap();
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn in_namespace(namespace: &str, program: &str) -> tokio::process::Command {
    tokio::process::Command::from(oxistack_netns::command_in(namespace, program).unwrap())
}

fn port(
    id: &str,
    network: &str,
    owner: &str,
    device: &str,
    mac: &str,
    subnet: &str,
    ip: Ipv4Addr,
) -> Port {
    Port {
        id: id.into(),
        network_id: network.into(),
        mac_address: mac.into(),
        admin_state_up: true,
        fixed_ips: vec![FixedIp {
            subnet_id: subnet.into(),
            ip_address: IpAddr::V4(ip),
        }],
        device_id: device.into(),
        device_owner: owner.into(),
        security_group_ids: vec![],
        // With port security off the fabric's firewall lets everything
        // through: these tests are about the plumbing.
        port_security_enabled: false,
        allowed_address_pairs: vec![],
    }
}

fn vm_port(vm: &Vm) -> Port {
    port(
        vm.port_id,
        PRIVATE,
        "compute:nova",
        vm.instance,
        vm.mac,
        PRIVATE_SUBNET,
        vm.ip,
    )
}

/// The fixture; `floating` associates 172.24.4.20 with VM1.
fn state(floating: bool) -> NetworkState {
    let mut ports = vec![
        port(
            DHCP_PORT,
            PRIVATE,
            "network:dhcp",
            "dhcp-private",
            "fa:16:3e:00:00:02",
            PRIVATE_SUBNET,
            Ipv4Addr::new(10, 0, 0, 2),
        ),
        port(
            ROUTER_GW_PORT,
            PUBLIC,
            "network:router_gateway",
            ROUTER,
            "fa:16:3e:00:00:0a",
            PUBLIC_SUBNET,
            ROUTER_EXTERNAL,
        ),
        port(
            ROUTER_IF_PORT,
            PRIVATE,
            "network:router_interface",
            ROUTER,
            "fa:16:3e:00:00:01",
            PRIVATE_SUBNET,
            Ipv4Addr::new(10, 0, 0, 1),
        ),
        vm_port(&VM1),
        vm_port(&VM2),
    ];
    ports.sort_by(|a, b| a.id.cmp(&b.id));
    NetworkState {
        networks: vec![
            Network {
                id: PRIVATE.into(),
                name: "private".into(),
                admin_state_up: true,
                mtu: TENANT_MTU,
                segment: Segment::Vxlan { vni: 101 },
                external: false,
            },
            Network {
                id: PUBLIC.into(),
                name: "public".into(),
                admin_state_up: true,
                mtu: 1500,
                segment: Segment::Flat {
                    physical_network: "public".into(),
                },
                external: true,
            },
        ],
        subnets: vec![
            Subnet {
                id: PRIVATE_SUBNET.into(),
                network_id: PRIVATE.into(),
                cidr: "10.0.0.0/24".parse().unwrap(),
                gateway_ip: Some("10.0.0.1".parse().unwrap()),
                dns_nameservers: vec!["192.0.2.53".parse().unwrap()],
                host_routes: vec![],
                enable_dhcp: true,
            },
            Subnet {
                id: PUBLIC_SUBNET.into(),
                network_id: PUBLIC.into(),
                cidr: "172.24.4.0/24".parse().unwrap(),
                gateway_ip: Some(IpAddr::V4(LAN_ADDRESS)),
                dns_nameservers: vec![],
                host_routes: vec![],
                enable_dhcp: false,
            },
        ],
        ports,
        routers: vec![Router {
            id: ROUTER.into(),
            admin_state_up: true,
            gateway: Some(RouterGateway {
                network_id: PUBLIC.into(),
                port_id: ROUTER_GW_PORT.into(),
                mac_address: "fa:16:3e:00:00:0a".into(),
                addresses: vec![format!("{ROUTER_EXTERNAL}/24").parse().unwrap()],
                default_route: Some(IpAddr::V4(LAN_ADDRESS)),
                enable_snat: true,
            }),
            interfaces: vec![RouterInterface {
                port_id: ROUTER_IF_PORT.into(),
                network_id: PRIVATE.into(),
                subnet_id: PRIVATE_SUBNET.into(),
                mac_address: "fa:16:3e:00:00:01".into(),
                address: "10.0.0.1/24".parse().unwrap(),
            }],
            routes: vec![],
        }],
        floating_ips: vec![FloatingIp {
            id: FLOATING_IP.into(),
            floating_ip_address: IpAddr::V4(FLOATING_ADDRESS),
            floating_network_id: PUBLIC.into(),
            port_id: floating.then(|| VM1.port_id.to_owned()),
            fixed_ip_address: floating.then_some(IpAddr::V4(VM1.ip)),
            router_id: floating.then(|| ROUTER.to_owned()),
        }],
        security_groups: vec![],
        load_balancers: vec![],
    }
}

/// `meta_data.json` as VM1's guest fetches it. (No `-T`: busybox-static
/// 1.35's wget segfaults with it; the timeout is ours.)
async fn fetch_metadata(namespace: &str) -> String {
    let mut wget = in_namespace(namespace, "busybox");
    wget.args([
        "wget",
        "-q",
        "-O",
        "-",
        "http://169.254.169.254/openstack/latest/meta_data.json",
    ])
    .kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(10), run(&mut wget))
        .await
        .expect("wget timed out")
}

/// A TCP listener opened inside `namespace`.
async fn listen(namespace: &str, address: SocketAddr) -> tokio::net::TcpListener {
    let namespace = namespace.to_owned();
    let listener = tokio::task::spawn_blocking(move || {
        oxistack_netns::run_in(&namespace, || TcpListener::bind(address)).unwrap()
    })
    .await
    .unwrap()
    .unwrap();
    listener.set_nonblocking(true).unwrap();
    tokio::net::TcpListener::from_std(listener).unwrap()
}

/// A TCP connection from inside `namespace`, if one is made within
/// `wait`. Devices just made pass traffic only once the kernel's link
/// watcher has run (up to a second), hence the generous waits where a
/// connection is expected to succeed.
async fn connect(
    namespace: &str,
    address: SocketAddr,
    wait: Duration,
) -> std::io::Result<TcpStream> {
    let namespace = namespace.to_owned();
    tokio::task::spawn_blocking(move || {
        oxistack_netns::run_in(&namespace, || TcpStream::connect_timeout(&address, wait)).unwrap()
    })
    .await
    .unwrap()
}

/// Accepts one connection within `wait`; returns the peer address.
async fn accept(
    listener: &tokio::net::TcpListener,
    wait: Duration,
) -> Option<(tokio::net::TcpStream, SocketAddr)> {
    tokio::time::timeout(wait, listener.accept())
        .await
        .ok()
        .map(|r| r.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dhcp_snat_and_metadata_serve_instances() {
    let mut instance = Instance::new();
    instance.add_vm(&VM1).await;
    instance.add_vm(&VM2).await;
    instance.apply(&state(false)).await;
    let vm1 = instance.vm_namespace(&VM1);
    let vm2 = instance.vm_namespace(&VM2);

    // 1. DHCP: VM1 learns its address, router, MTU and the metadata route.
    let scripts = tempfile::tempdir().unwrap();
    let script = scripts.path().join("udhcpc.sh");
    let env_file = scripts.path().join("bound.env");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n[ \"$1\" = bound ] && env > {}\nexit 0\n",
            env_file.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    run(in_namespace(&vm1, "busybox")
        .args([
            "udhcpc",
            "-f",
            "-q",
            "-n",
            "-T",
            "1",
            "-t",
            "5",
            "-i",
            "eth0",
            "-O",
            "mtu",
            "-O",
            "staticroutes",
            "-s",
        ])
        .arg(&script))
    .await;
    let bound = std::fs::read_to_string(&env_file).unwrap();
    let variables: HashMap<&str, &str> = bound.lines().filter_map(|l| l.split_once('=')).collect();
    assert_eq!(variables.get("ip"), Some(&"10.0.0.5"), "{bound}");
    assert_eq!(variables.get("router"), Some(&"10.0.0.1"), "{bound}");
    assert_eq!(variables.get("mtu"), Some(&"1450"), "{bound}");
    assert_eq!(variables.get("hostname"), Some(&"host-10-0-0-5"), "{bound}");
    assert!(
        variables
            .get("staticroutes")
            .is_some_and(|r| r.contains("169.254.169.254/32 10.0.0.2")),
        "{bound}"
    );

    instance.configure_vm(&VM1).await;
    instance.configure_vm(&VM2).await;

    // 2. Routing and SNAT: the outside sees VM1 as the router's address.
    let outside = instance.names().outside();
    let listener = listen(&outside, SocketAddr::from((LAN_ADDRESS, 8001))).await;
    let _client = connect(&vm1, SocketAddr::from((LAN_ADDRESS, 8001)), EXPECTED)
        .await
        .unwrap();
    let (_, peer) = accept(&listener, Duration::from_secs(2))
        .await
        .expect("no connection from VM1");
    assert_eq!(peer.ip(), IpAddr::V4(ROUTER_EXTERNAL));

    // 4. Metadata: VM1 gets its own document, an unknown address a 404.
    let document = fetch_metadata(&vm1).await;
    assert!(document.contains(VM1.instance), "{document}");
    ip(&["-n", &vm2, "addr", "add", "10.0.0.99/24", "dev", "eth0"]).await;
    let status = run(in_namespace(&vm2, "curl").args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "5",
        "--interface",
        "10.0.0.99",
        "http://169.254.169.254/openstack/latest/meta_data.json",
    ]))
    .await;
    assert_eq!(status, "404");

    // After a restart, apply starts the services again in the namespaces
    // that outlived the process.
    instance.start();
    instance.apply(&state(false)).await;
    let document = fetch_metadata(&vm1).await;
    assert!(document.contains(VM1.instance), "{document}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floating_ip_reaches_an_instance_until_disassociated() {
    let instance = Instance::new();
    instance.add_vm(&VM1).await;
    instance.add_vm(&VM2).await;
    instance.apply(&state(true)).await;
    instance.configure_vm(&VM1).await;
    instance.configure_vm(&VM2).await;
    let vm1 = instance.vm_namespace(&VM1);
    let outside = instance.names().outside();
    let listener = listen(&vm1, SocketAddr::from((Ipv4Addr::UNSPECIFIED, 8002))).await;
    let floating = SocketAddr::from((FLOATING_ADDRESS, 8002));

    // From the LAN through the floating IP: the instance sees the client.
    let mut held = connect(&outside, floating, EXPECTED)
        .await
        .expect("floating IP unreachable");
    let (mut accepted, peer) = accept(&listener, Duration::from_secs(2))
        .await
        .expect("no connection");
    assert_eq!(peer.ip(), IpAddr::V4(LAN_ADDRESS));
    held.write_all(b"before").unwrap();
    let mut buffer = [0u8; 16];
    let read = tokio::io::AsyncReadExt::read(&mut accepted, &mut buffer)
        .await
        .unwrap();
    assert_eq!(&buffer[..read], b"before");

    // From VM2 too (hairpin through the router), and VM1 leaves as its
    // floating IP.
    let vm2 = instance.vm_namespace(&VM2);
    connect(&vm2, floating, EXPECTED)
        .await
        .expect("floating IP unreachable from VM2");
    accept(&listener, Duration::from_secs(2))
        .await
        .expect("no hairpin connection");
    let lan = listen(&outside, SocketAddr::from((LAN_ADDRESS, 8003))).await;
    let _out = connect(&vm1, SocketAddr::from((LAN_ADDRESS, 8003)), EXPECTED)
        .await
        .unwrap();
    let (_, peer) = accept(&lan, Duration::from_secs(2))
        .await
        .expect("no connection from VM1");
    assert_eq!(peer.ip(), IpAddr::V4(FLOATING_ADDRESS));

    // Disassociated: new connections fail and the held one goes dead.
    instance.apply(&state(false)).await;
    assert!(
        connect(&outside, floating, Duration::from_secs(1))
            .await
            .is_err(),
        "floating IP still reachable"
    );
    held.write_all(b"after").unwrap();
    let late = tokio::time::timeout(
        Duration::from_millis(1500),
        tokio::io::AsyncReadExt::read(&mut accepted, &mut buffer),
    )
    .await;
    assert!(
        late.is_err(),
        "the held connection still carries data: {late:?}"
    );
    let mut nothing = Vec::new();
    held.set_nonblocking(true).unwrap();
    let _ = held.read_to_end(&mut nothing);
}

/// The stable facts of the instance's namespaces, a line each: every
/// device (index, name, MTU, master, MAC, admin state, addresses other
/// than link-local), the main routing tables and the nftables rulesets.
/// Timers, carrier and DAD flags are left out: they change by themselves.
async fn snapshot(instance: &Instance) -> Vec<String> {
    let mut lines = Vec::new();
    for namespace in oxistack_netns::list(&instance.names().common_prefix()) {
        let json = ip(&["-n", &namespace, "-j", "addr", "show"]).await;
        let links: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
        for link in links {
            let up = link["flags"].as_array().unwrap().iter().any(|f| f == "UP");
            let addresses: Vec<String> = link["addr_info"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| a["scope"] != "link")
                .map(|a| format!("{}/{}", a["local"], a["prefixlen"]))
                .collect();
            lines.push(format!(
                "{namespace}: {} {} mtu {} master {} mac {} up {up} {addresses:?}",
                link["ifindex"], link["ifname"], link["mtu"], link["master"], link["address"]
            ));
        }
        for route in ip(&["-n", &namespace, "route", "show"]).await.lines() {
            lines.push(format!("{namespace}: route {route}"));
        }
        let nft = run(in_namespace(&namespace, "nft").args(["list", "ruleset"])).await;
        lines.push(format!("{namespace}: nft {nft}"));
    }
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applying_again_changes_nothing_and_empty_state_removes_everything() {
    let instance = Instance::new();
    let mut state = state(true);
    // Fifty instance ports whose taps the data plane creates itself.
    for n in 0..50u8 {
        // Device names keep 11 characters of the id: make those differ.
        let id = format!("port{n:03}-many-0");
        let mac = format!("fa:16:3e:00:01:{n:02x}");
        let device = format!("33333333-3333-4333-8333-0000000000{n:02}");
        state.ports.push(port(
            &id,
            PRIVATE,
            "compute:nova",
            &device,
            &mac,
            PRIVATE_SUBNET,
            Ipv4Addr::new(10, 0, 0, 100 + n),
        ));
    }
    state.ports.sort_by(|a, b| a.id.cmp(&b.id));
    instance.apply(&state).await;
    let fabric = instance.names().fabric();
    let links = ip(&["-n", &fabric, "-o", "link", "show"]).await;
    assert_eq!(links.matches("-man:").count(), 50, "{links}");

    let before = snapshot(&instance).await;
    let changes = instance.plane().kernel_changes();
    let started = Instant::now();
    instance.apply(&state).await;
    let converged = started.elapsed();
    println!("converged apply of 50 instance ports, 1 router, 1 DHCP: {converged:?}");
    assert_eq!(
        instance.plane().kernel_changes(),
        changes,
        "a converged apply changed something"
    );
    let after = snapshot(&instance).await;
    let differences: Vec<&String> = after
        .iter()
        .filter(|line| !before.contains(line))
        .chain(before.iter().filter(|line| !after.contains(line)))
        .collect();
    assert!(
        differences.is_empty(),
        "a converged apply changed {differences:#?}"
    );
    assert!(
        converged < Duration::from_millis(200),
        "converged apply took {converged:?}"
    );

    // A device gone behind the data plane's back comes back.
    ip(&[
        "-n",
        &fabric,
        "link",
        "del",
        &naming::port_device("port007-many-0"),
    ])
    .await;
    instance.apply(&state).await;
    ip(&[
        "-n",
        &fabric,
        "link",
        "show",
        &naming::port_device("port007-many-0"),
    ])
    .await;

    // The empty state: no router, DHCP or outside namespace, no bridge or
    // port device remains.
    instance.apply(&NetworkState::default()).await;
    let names = instance.names();
    let left: Vec<String> = oxistack_netns::list(&names.common_prefix());
    assert_eq!(
        left,
        std::slice::from_ref(&fabric),
        "namespaces left: {left:?}"
    );
    let links = ip(&["-n", &fabric, "-o", "link", "show"]).await;
    assert!(!links.contains("brq") && !links.contains("tap"), "{links}");

    teardown(&instance.prefix, &sandbox()).unwrap();
    assert!(oxistack_netns::list(&names.common_prefix()).is_empty());
    teardown(&instance.prefix, &sandbox()).unwrap();
}

const LB: &str = "5b0c3f1e-9d2a-4c7b-8e6f-1a2b3c4d5e6f";
const LB_VIP_PORT: &str = "port-lbvip-0001";
const LB_MEMBER_PORT: &str = "port-lbmem-0001";
const LB_VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 20);
const LB_GROUP: &str = "sg-lb";
const BACKENDS: &str = "net-backend-001";
const BACKENDS_SUBNET: &str = "subnet-backend1";

/// The fixture with a load balancer: its VIP on the private network, in
/// a group opening TCP `open_port` to everyone (and everything out), and
/// with `member_leg` a port on a backend network; with `floating`, the
/// floating IP on the VIP.
fn lb_state(open_port: u16, member_leg: bool, floating: bool) -> NetworkState {
    let mut state = state(false);
    let owner = oxistack_netplane::DEVICE_OWNER_LOADBALANCER;
    let device = format!("lb-{LB}");
    let mut vip = port(
        LB_VIP_PORT,
        PRIVATE,
        owner,
        &device,
        "fa:16:3e:00:00:20",
        PRIVATE_SUBNET,
        LB_VIP,
    );
    vip.port_security_enabled = true;
    vip.security_group_ids = vec![LB_GROUP.into()];
    state.ports.push(vip);
    state.networks.push(Network {
        id: BACKENDS.into(),
        name: "backends".into(),
        admin_state_up: true,
        mtu: TENANT_MTU,
        segment: Segment::Vxlan { vni: 102 },
        external: false,
    });
    state.subnets.push(Subnet {
        id: BACKENDS_SUBNET.into(),
        network_id: BACKENDS.into(),
        cidr: "10.9.0.0/24".parse().unwrap(),
        gateway_ip: Some("10.9.0.1".parse().unwrap()),
        dns_nameservers: vec![],
        host_routes: vec![],
        enable_dhcp: false,
    });
    if member_leg {
        state.ports.push(port(
            LB_MEMBER_PORT,
            BACKENDS,
            owner,
            &device,
            "fa:16:3e:00:00:21",
            BACKENDS_SUBNET,
            Ipv4Addr::new(10, 9, 0, 5),
        ));
    }
    state.ports.sort_by(|a, b| a.id.cmp(&b.id));
    state.networks.sort_by(|a, b| a.id.cmp(&b.id));
    state.subnets.sort_by(|a, b| a.id.cmp(&b.id));
    state.load_balancers = vec![LoadBalancer {
        id: LB.into(),
        vip_port_id: LB_VIP_PORT.into(),
    }];
    let rule = |id: &str, direction, protocol, destination| SecurityGroupRule {
        id: id.into(),
        direction,
        ethertype: EtherType::Ipv4,
        protocol,
        destination,
        remote: Remote::Any,
    };
    state.security_groups = vec![SecurityGroup {
        id: LB_GROUP.into(),
        rules: vec![
            rule("lb-out", Direction::Egress, None, PortMatch::Any),
            rule(
                "lb-listener",
                Direction::Ingress,
                Some(6),
                PortMatch::Ports {
                    min: open_port,
                    max: open_port,
                },
            ),
        ],
    }];
    if floating {
        state.floating_ips[0].port_id = Some(LB_VIP_PORT.into());
        state.floating_ips[0].fixed_ip_address = Some(IpAddr::V4(LB_VIP));
        state.floating_ips[0].router_id = Some(ROUTER.into());
    }
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_balancer_serves_from_its_namespace_behind_its_group() {
    let instance = Instance::new();
    instance.add_vm(&VM1).await;
    let served = lb_state(8080, true, true);
    instance.apply(&served).await;
    instance.configure_vm(&VM1).await;
    let namespace = instance.names().load_balancer(LB);
    let vip_device = naming::load_balancer_device(LB_VIP_PORT);
    let member_device = naming::load_balancer_device(LB_MEMBER_PORT);

    // The namespace holds both legs with the ports' MACs and addresses,
    // lo up, and the default route via the VIP subnet's gateway only.
    let links = ip(&["-n", &namespace, "-o", "addr", "show"]).await;
    assert!(
        links.contains(&format!("{vip_device}    inet 10.0.0.20/24")),
        "{links}"
    );
    assert!(
        links.contains(&format!("{member_device}    inet 10.9.0.5/24")),
        "{links}"
    );
    assert!(links.contains("lo    inet 127.0.0.1/8"), "{links}");
    let vip_link = ip(&["-n", &namespace, "link", "show", &vip_device]).await;
    assert!(vip_link.contains("fa:16:3e:00:00:20"), "{vip_link}");
    let routes = ip(&["-n", &namespace, "route", "show", "default"]).await;
    assert_eq!(
        routes.trim(),
        format!("default via 10.0.0.1 dev {vip_device} proto static")
    );

    // What the proxy will do: listen inside the namespace. The group
    // lets VM1 reach the open port and not another.
    let open = listen(&namespace, SocketAddr::from((Ipv4Addr::UNSPECIFIED, 8080))).await;
    let closed = listen(&namespace, SocketAddr::from((Ipv4Addr::UNSPECIFIED, 8081))).await;
    let vm1 = instance.vm_namespace(&VM1);
    connect(&vm1, SocketAddr::from((LB_VIP, 8080)), EXPECTED)
        .await
        .expect("the listener's port is closed");
    let (_, peer) = accept(&open, Duration::from_secs(2))
        .await
        .expect("no connection from VM1");
    assert_eq!(peer.ip(), IpAddr::V4(VM1.ip));
    assert!(
        connect(
            &vm1,
            SocketAddr::from((LB_VIP, 8081)),
            Duration::from_secs(1)
        )
        .await
        .is_err(),
        "a port the group does not open is reachable"
    );

    // From the LAN through the floating IP, which the router translates
    // to the VIP as to an instance's address.
    let outside = instance.names().outside();
    connect(
        &outside,
        SocketAddr::from((FLOATING_ADDRESS, 8080)),
        EXPECTED,
    )
    .await
    .expect("the floating IP does not reach the load balancer");
    let (_, peer) = accept(&open, Duration::from_secs(2))
        .await
        .expect("no connection through the floating IP");
    assert_eq!(peer.ip(), IpAddr::V4(LAN_ADDRESS));

    // Converged: applying again changes nothing.
    let changes = instance.plane().kernel_changes();
    instance.apply(&served).await;
    assert_eq!(
        instance.plane().kernel_changes(),
        changes,
        "a converged apply changed something"
    );

    // The opening moves to 8081: the other listener answers now.
    instance.apply(&lb_state(8081, true, true)).await;
    connect(&vm1, SocketAddr::from((LB_VIP, 8081)), EXPECTED)
        .await
        .expect("the new opening is closed");
    accept(&closed, Duration::from_secs(2))
        .await
        .expect("no connection on the new opening");
    assert!(
        connect(
            &vm1,
            SocketAddr::from((LB_VIP, 8080)),
            Duration::from_secs(1)
        )
        .await
        .is_err(),
        "the old opening is still open"
    );

    // A leg deleted behind the data plane's back comes back; a member
    // leg no longer in the state goes.
    ip(&["-n", &namespace, "link", "del", &vip_device]).await;
    instance.apply(&lb_state(8081, false, true)).await;
    let links = ip(&["-n", &namespace, "-o", "addr", "show"]).await;
    assert!(
        links.contains(&format!("{vip_device}    inet 10.0.0.20/24")),
        "{links}"
    );
    assert!(!links.contains(&member_device), "{links}");
    let routes = ip(&["-n", &namespace, "route", "show", "default"]).await;
    assert!(routes.contains("via 10.0.0.1"), "{routes}");

    // No ports left: no namespace, no fabric device.
    drop((open, closed));
    instance.apply(&state(false)).await;
    assert!(!oxistack_netns::exists(&namespace));
    let fabric = ip(&["-n", &instance.names().fabric(), "-o", "link", "show"]).await;
    assert!(
        !fabric.contains(&naming::port_device(LB_VIP_PORT)),
        "{fabric}"
    );
}
