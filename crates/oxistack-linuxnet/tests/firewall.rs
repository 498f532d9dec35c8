//! Security groups and anti-spoofing with real traffic (needs root).
//!
//! A fabric namespace holds one bridge, as the data plane builds it. Three
//! "instances", each a namespace behind a veth whose bridge end is named
//! like the instance's tap, and a trusted "router" namespace hang off it.
//! VM1 and VM2 are in a default-like group; VM3 is in a closed group that
//! lets nothing in and only TCP out.

use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use oxistack_linuxnet::firewall::{apply_ruleset, conntrack_zones, fabric_ruleset};
use oxistack_linuxnet::naming;
use oxistack_netplane::{
    Direction, EtherType, FixedIp, Network, NetworkState, Port, PortMatch, Remote, SecurityGroup,
    SecurityGroupRule, Segment,
};

const NETWORK: &str = "f1f1f1f1-0000-4000-8000-000000000001";
const DEFAULT_GROUP: &str = "sg-default";
const CLOSED_GROUP: &str = "sg-closed";
/// Where every namespace listens for TCP.
const LISTEN_PORT: u16 = 7000;

struct Machine {
    /// Suffix of its namespace's name.
    name: &'static str,
    port_id: &'static str,
    mac: &'static str,
    ip: &'static str,
    device_owner: &'static str,
    groups: &'static [&'static str],
}

const VM1: Machine = Machine {
    name: "vm1",
    port_id: "0b000001-0000-4000-8000-000000000001",
    mac: "fa:16:3e:0b:00:01",
    ip: "10.0.0.11",
    device_owner: "compute:nova",
    groups: &[DEFAULT_GROUP],
};
const VM2: Machine = Machine {
    name: "vm2",
    port_id: "0b000002-0000-4000-8000-000000000002",
    mac: "fa:16:3e:0b:00:02",
    ip: "10.0.0.12",
    device_owner: "compute:nova",
    groups: &[DEFAULT_GROUP],
};
const VM3: Machine = Machine {
    name: "vm3",
    port_id: "0b000003-0000-4000-8000-000000000003",
    mac: "fa:16:3e:0b:00:03",
    ip: "10.0.0.13",
    device_owner: "compute:nova",
    groups: &[CLOSED_GROUP],
};
const ROUTER: Machine = Machine {
    name: "router",
    port_id: "0b000004-0000-4000-8000-000000000004",
    mac: "fa:16:3e:0b:00:04",
    ip: "10.0.0.1",
    device_owner: "network:router_interface",
    groups: &[],
};
const MACHINES: [&Machine; 4] = [&VM1, &VM2, &VM3, &ROUTER];

fn rule(
    id: &str,
    direction: Direction,
    protocol: Option<u8>,
    destination: PortMatch,
    remote: Remote,
) -> SecurityGroupRule {
    SecurityGroupRule {
        id: id.into(),
        direction,
        ethertype: EtherType::Ipv4,
        protocol,
        destination,
        remote,
    }
}

fn state(closed_group_rules: Vec<SecurityGroupRule>) -> NetworkState {
    let ports = MACHINES
        .iter()
        .map(|machine| Port {
            id: machine.port_id.into(),
            network_id: NETWORK.into(),
            mac_address: machine.mac.into(),
            admin_state_up: true,
            fixed_ips: vec![FixedIp {
                subnet_id: "subnet".into(),
                ip_address: machine.ip.parse().unwrap(),
            }],
            device_id: machine.name.into(),
            device_owner: machine.device_owner.into(),
            security_group_ids: machine.groups.iter().map(|g| g.to_string()).collect(),
            port_security_enabled: !machine.groups.is_empty(),
            allowed_address_pairs: Vec::new(),
        })
        .collect();
    NetworkState {
        networks: vec![Network {
            id: NETWORK.into(),
            name: "lab".into(),
            admin_state_up: true,
            mtu: 1500,
            segment: Segment::Vxlan { vni: 42 },
            external: false,
        }],
        ports,
        security_groups: vec![
            SecurityGroup {
                id: CLOSED_GROUP.into(),
                rules: closed_group_rules,
            },
            SecurityGroup {
                id: DEFAULT_GROUP.into(),
                rules: vec![
                    rule(
                        "default-in",
                        Direction::Ingress,
                        None,
                        PortMatch::Any,
                        Remote::Group(DEFAULT_GROUP.into()),
                    ),
                    rule(
                        "default-out",
                        Direction::Egress,
                        None,
                        PortMatch::Any,
                        Remote::Any,
                    ),
                ],
            },
        ],
        ..NetworkState::default()
    }
}

/// VM3's group at first: TCP out to anywhere, nothing in.
fn closed_group_rules() -> Vec<SecurityGroupRule> {
    vec![rule(
        "closed-tcp-out",
        Direction::Egress,
        Some(6),
        PortMatch::Any,
        Remote::Any,
    )]
}

/// The lab's namespaces and listeners, all gone when it is dropped.
struct Lab {
    prefix: String,
    namespaces: Vec<String>,
    listeners: Vec<Child>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for listener in &mut self.listeners {
            let _ = listener.kill();
            let _ = listener.wait();
        }
        for namespace in &self.namespaces {
            let _ = oxistack_netns::delete(namespace);
        }
    }
}

impl Lab {
    fn namespace(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }

    fn fabric(&self) -> String {
        self.namespace("fabric")
    }

    fn build() -> Lab {
        let mut lab = Lab {
            prefix: format!("oxfwit{}", std::process::id()),
            namespaces: Vec::new(),
            listeners: Vec::new(),
        };
        let fabric = lab.fabric();
        lab.create_namespace(&fabric);
        let bridge = naming::bridge(NETWORK);
        ip(
            &fabric,
            &[
                "link",
                "add",
                &bridge,
                "type",
                "bridge",
                "nf_call_iptables",
                "1",
            ],
        );
        ip(&fabric, &["link", "set", &bridge, "up"]);
        for machine in MACHINES {
            let namespace = lab.namespace(machine.name);
            lab.create_namespace(&namespace);
            let device = naming::port_device(machine.port_id);
            ip(
                &fabric,
                &[
                    "link", "add", &device, "type", "veth", "peer", "name", "eth0", "netns",
                    &namespace,
                ],
            );
            ip(&fabric, &["link", "set", &device, "master", &bridge, "up"]);
            ip(
                &namespace,
                &["link", "set", "eth0", "address", machine.mac, "up"],
            );
            ip(
                &namespace,
                &["addr", "add", &format!("{}/24", machine.ip), "dev", "eth0"],
            );
            lab.listen(machine, LISTEN_PORT);
        }
        lab.listen(&VM3, 80);
        lab.listen(&VM3, 81);
        lab
    }

    fn create_namespace(&mut self, name: &str) {
        self.namespaces.push(name.to_owned());
        oxistack_netns::create(name).unwrap();
    }

    fn listen(&mut self, machine: &Machine, port: u16) {
        let child = oxistack_netns::command_in(&self.namespace(machine.name), "nc")
            .unwrap()
            .args(["-l", "-k", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.listeners.push(child);
    }

    fn apply(&self, state: &NetworkState) {
        let script = fabric_ruleset(state);
        if let Err(e) = apply_ruleset(&self.fabric(), &script) {
            panic!("{e}\n{script}");
        }
    }

    fn ruleset(&self) -> String {
        output(&self.fabric(), "nft", &["list", "ruleset"])
    }

    /// Whether a TCP connection from `from` to `to`:`port` succeeds
    /// within `seconds`.
    fn connects(&self, from: &Machine, to: &Machine, port: u16, seconds: u32) -> bool {
        let timeout = seconds.to_string();
        succeeds(
            &self.namespace(from.name),
            "nc",
            &["-z", "-w", &timeout, to.ip, &port.to_string()],
        )
    }

    /// Whether `from` gets an answer to one ping of `to` within `seconds`.
    fn pings(&self, from: &Machine, to: &Machine, seconds: u32) -> bool {
        let timeout = seconds.to_string();
        succeeds(
            &self.namespace(from.name),
            "ping",
            &["-c", "1", "-W", &timeout, to.ip],
        )
    }

    /// Asserts, in one go, which of `expected` (description, result) held.
    fn expect(&self, cases: &[(&str, bool, bool)]) {
        let wrong: Vec<String> = cases
            .iter()
            .filter(|(_, expected, actual)| expected != actual)
            .map(|(what, expected, _)| format!("{what}: expected {expected}"))
            .collect();
        assert!(wrong.is_empty(), "{wrong:#?}\n{}", self.ruleset());
    }
}

fn ip(namespace: &str, args: &[&str]) {
    let mut full = vec!["-n", namespace];
    full.extend_from_slice(args);
    let status = Command::new("ip").args(&full).status().unwrap();
    assert!(status.success(), "ip {}", full.join(" "));
}

fn succeeds(namespace: &str, program: &str, args: &[&str]) -> bool {
    oxistack_netns::command_in(namespace, program)
        .unwrap()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

fn output(namespace: &str, program: &str, args: &[&str]) -> String {
    let output = oxistack_netns::command_in(namespace, program)
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{program} {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn security_groups_and_anti_spoofing_filter_real_traffic() {
    let lab = Lab::build();
    let initial = state(closed_group_rules());

    // (e) Loading the same script twice leaves the same ruleset.
    lab.apply(&initial);
    let first = lab.ruleset();
    lab.apply(&initial);
    assert_eq!(lab.ruleset(), first);
    println!("{}", fabric_ruleset(&initial));
    // Give the listeners a moment to bind.
    sleep(Duration::from_millis(200));

    // (a) The default group's members reach each other, any protocol.
    lab.expect(&[
        ("VM1 pings VM2", true, lab.pings(&VM1, &VM2, 2)),
        ("VM2 pings VM1", true, lab.pings(&VM2, &VM1, 2)),
        (
            "VM1 connects to VM2",
            true,
            lab.connects(&VM1, &VM2, LISTEN_PORT, 2),
        ),
        (
            "VM2 connects to VM1",
            true,
            lab.connects(&VM2, &VM1, LISTEN_PORT, 2),
        ),
        ("VM1 pings the router", true, lab.pings(&VM1, &ROUTER, 2)),
    ]);
    // Their connections are tracked in the network's own zone.
    let zone = conntrack_zones(&initial)[NETWORK].to_string();
    let tracked = output(
        &lab.fabric(),
        "conntrack",
        &["-L", "-w", &zone, "-s", VM1.ip, "-d", VM2.ip],
    );
    assert!(tracked.contains(&format!("zone={zone}")), "{tracked}");

    // (b) Nothing gets into VM3, but replies to what it may send do; VM3
    // may send TCP only, and VM1 admits only its group.
    lab.expect(&[
        (
            "VM3 connects to the router",
            true,
            lab.connects(&VM3, &ROUTER, LISTEN_PORT, 2),
        ),
        ("VM3 pings the router", false, lab.pings(&VM3, &ROUTER, 1)),
        (
            "the router connects to VM3",
            false,
            lab.connects(&ROUTER, &VM3, LISTEN_PORT, 1),
        ),
        (
            "VM1 connects to VM3",
            false,
            lab.connects(&VM1, &VM3, LISTEN_PORT, 1),
        ),
        ("VM1 pings VM3", false, lab.pings(&VM1, &VM3, 1)),
        (
            "VM3 connects to VM1",
            false,
            lab.connects(&VM3, &VM1, LISTEN_PORT, 1),
        ),
        (
            "the router connects to VM1",
            false,
            lab.connects(&ROUTER, &VM1, LISTEN_PORT, 1),
        ),
    ]);

    // (c) A new rule takes effect at once, and only for what it allows.
    let mut with_http = closed_group_rules();
    with_http.push(rule(
        "closed-http-in",
        Direction::Ingress,
        Some(6),
        PortMatch::Ports { min: 80, max: 80 },
        Remote::Prefix("0.0.0.0/0".parse().unwrap()),
    ));
    let start = Instant::now();
    lab.apply(&state(with_http));
    let loaded = start.elapsed();
    let connected = (0..3).any(|_| lab.connects(&ROUTER, &VM3, 80, 1));
    let latency = start.elapsed();
    println!("rule change: loaded in {loaded:?}, first connection after {latency:?}");
    assert!(connected, "{}", lab.ruleset());
    assert!(latency < Duration::from_millis(500), "{latency:?}");
    lab.expect(&[
        (
            "the router connects to VM3:81",
            false,
            lab.connects(&ROUTER, &VM3, 81, 1),
        ),
        (
            "VM1 connects to VM3:80",
            true,
            lab.connects(&VM1, &VM3, 80, 2),
        ),
    ]);

    // (d) A changed address or MAC gets an instance nowhere.
    let vm1 = lab.namespace(VM1.name);
    ip(&vm1, &["addr", "flush", "dev", "eth0"]);
    ip(&vm1, &["addr", "add", "10.0.0.99/24", "dev", "eth0"]);
    let spoofed_ip = lab.pings(&VM1, &ROUTER, 1);
    let vm2 = lab.namespace(VM2.name);
    ip(
        &vm2,
        &["link", "set", "eth0", "address", "fa:16:3e:0b:00:99"],
    );
    lab.expect(&[
        ("VM1 pings the router from 10.0.0.99", false, spoofed_ip),
        (
            "VM2 pings the router with another MAC",
            false,
            lab.pings(&VM2, &ROUTER, 1),
        ),
    ]);
    // The instance's own address works again: the drop was the spoofing.
    ip(&vm1, &["addr", "flush", "dev", "eth0"]);
    ip(
        &vm1,
        &["addr", "add", &format!("{}/24", VM1.ip), "dev", "eth0"],
    );
    lab.expect(&[(
        "VM1 pings the router again",
        true,
        lab.pings(&VM1, &ROUTER, 2),
    )]);
}
