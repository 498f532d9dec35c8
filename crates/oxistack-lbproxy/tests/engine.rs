//! The engine on loopback addresses (no namespace): each test uses a VIP
//! of its own in 127.0.0.0/8 so they run in parallel.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use hyper::StatusCode;
use oxistack_lbplane::{
    Algorithm, CompareType, HealthMonitor, L7Action, L7Policy, L7Rule, L7RuleKind, MemberHealth,
    MonitorKind, Protocol,
};
use oxistack_lbproxy::Engine;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_round_robin_reuses_member_connections_and_forwards_the_client() {
    let (a, b) = (
        Backend::start("127.0.0.1", "a").await,
        Backend::start("127.0.0.1", "b").await,
    );
    let vip = "127.0.0.21";
    let port = free_port(vip);
    let engine = Engine::new();
    let lb = load_balancer(
        "lb",
        vip,
        vec![http_listener("l1", Protocol::Http, port, "p1")],
        vec![pool("p1", Protocol::Http, vec![a.member(), b.member()])],
    );
    engine.apply(&lb).unwrap();
    let address: SocketAddr = format!("{vip}:{port}").parse().unwrap();
    let mut client = Client::connect(address).await.unwrap();
    let mut names = Vec::new();
    for _ in 0..6 {
        let reply = client.get("/", &[]).await.unwrap();
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.headers["echo-forwarded-for"],
            client.local.ip().to_string().as_str()
        );
        names.push(reply.body);
    }
    assert_eq!(names, ["a", "b", "a", "b", "a", "b"]);
    // Keep-alive to members: one connection each served all six.
    assert_eq!(a.connections.load(Ordering::SeqCst), 1);
    assert_eq!(b.connections.load(Ordering::SeqCst), 1);

    let stats = engine.observe().listeners["l1"];
    assert_eq!(stats.total_connections, 1);
    assert_eq!(stats.active_connections, 1);
    assert!(stats.bytes_in > 0 && stats.bytes_out > 0);
    drop(client);
    engine.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l7_policies_allowed_cidrs_and_an_empty_pool() {
    let (a, b) = (
        Backend::start("127.0.0.1", "a").await,
        Backend::start("127.0.0.1", "b").await,
    );
    let vip = "127.0.0.22";
    let port = free_port(vip);
    let mut listener = http_listener("l1", Protocol::Http, port, "p1");
    let path = |compare, value: &str| L7Rule {
        kind: L7RuleKind::Path,
        compare,
        value: value.into(),
        invert: false,
    };
    listener.l7_policies = vec![
        L7Policy {
            id: "reject".into(),
            action: L7Action::Reject,
            rules: vec![path(CompareType::StartsWith, "/admin")],
        },
        L7Policy {
            id: "to-b".into(),
            action: L7Action::RedirectToPool {
                pool_id: "p2".into(),
            },
            rules: vec![path(CompareType::EqualTo, "/b")],
        },
        L7Policy {
            id: "moved".into(),
            action: L7Action::RedirectPrefix {
                prefix: "https://example.com".into(),
                status: 301,
            },
            rules: vec![path(CompareType::Regex, "^/old")],
        },
    ];
    let mut lb = load_balancer(
        "lb",
        vip,
        vec![listener],
        vec![
            pool("p1", Protocol::Http, vec![a.member()]),
            pool("p2", Protocol::Http, vec![b.member()]),
        ],
    );
    let engine = Engine::new();
    engine.apply(&lb).unwrap();
    let address: SocketAddr = format!("{vip}:{port}").parse().unwrap();
    assert_eq!(get_once(address, "/").await.unwrap().body, "a");
    assert_eq!(get_once(address, "/b").await.unwrap().body, "b");
    assert_eq!(
        get_once(address, "/admin/x").await.unwrap().status,
        StatusCode::FORBIDDEN
    );
    let moved = get_once(address, "/old/page?q=1").await.unwrap();
    assert_eq!(moved.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        moved.headers["location"],
        "https://example.com/old/page?q=1"
    );

    // No member: 503, counted as a request error.
    lb.pools[0].members.clear();
    engine.apply(&lb).unwrap();
    assert_eq!(
        get_once(address, "/").await.unwrap().status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(engine.observe().listeners["l1"].request_errors, 2);

    // A client outside allowed_cidrs is closed at once.
    lb.listeners[0].allowed_cidrs = vec!["10.0.0.0/8".parse().unwrap()];
    engine.apply(&lb).unwrap();
    let mut client = Client::connect(address).await.unwrap();
    assert!(client.get("/", &[]).await.is_err());
    engine.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_listener_relays_and_respects_the_connection_limit() {
    let (member, _echo) = echo_backend("127.0.0.1").await;
    let vip = "127.0.0.23";
    let port = free_port(vip);
    let mut listener = http_listener("t1", Protocol::Tcp, port, "p1");
    listener.connection_limit = Some(1);
    let mut backend = pool("p1", Protocol::Tcp, vec![]);
    backend.members.push(oxistack_lbplane::Member {
        id: "echo".into(),
        address: member.ip(),
        protocol_port: member.port(),
        weight: 1,
        backup: false,
        monitor_address: None,
        monitor_port: None,
    });
    let engine = Engine::new();
    engine
        .apply(&load_balancer("lb", vip, vec![listener], vec![backend]))
        .unwrap();
    let address: SocketAddr = format!("{vip}:{port}").parse().unwrap();
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(b"hello").await.unwrap();
    let mut reply = [0u8; 5];
    stream.read_exact(&mut reply).await.unwrap();
    assert_eq!(&reply, b"hello");

    // A second connection beyond the limit is closed without a byte.
    let mut second = TcpStream::connect(address).await.unwrap();
    let _ = second.write_all(b"x").await;
    let mut buffer = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(2), second.read(&mut buffer)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");

    let stats = engine.observe().listeners["t1"];
    assert_eq!((stats.bytes_in, stats.bytes_out), (5, 5));
    assert_eq!(stats.active_connections, 1);
    engine.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_monitor_takes_a_failing_member_out_and_brings_it_back() {
    let (a, b) = (
        Backend::start("127.0.0.1", "a").await,
        Backend::start("127.0.0.1", "b").await,
    );
    let vip = "127.0.0.24";
    let port = free_port(vip);
    let mut backend = pool("p1", Protocol::Http, vec![a.member(), b.member()]);
    backend.health_monitor = Some(HealthMonitor {
        kind: MonitorKind::Http {
            http_method: "GET".into(),
            url_path: "/health".into(),
            expected_codes: vec![(200, 204)],
        },
        delay_s: 1,
        timeout_s: 1,
        max_retries: 1,
        max_retries_down: 1,
    });
    let engine = Engine::new();
    engine
        .apply(&load_balancer(
            "lb",
            vip,
            vec![http_listener("l1", Protocol::Http, port, "p1")],
            vec![backend],
        ))
        .unwrap();
    let address: SocketAddr = format!("{vip}:{port}").parse().unwrap();
    let health = |id: &str| engine.observe().members.get(id).copied();
    assert_eq!(health("b"), Some(MemberHealth::Up));

    b.healthy.store(false, Ordering::SeqCst);
    assert!(
        eventually(Duration::from_secs(5), || health("b")
            == Some(MemberHealth::Down))
        .await
    );
    for _ in 0..4 {
        assert_eq!(get_once(address, "/").await.unwrap().body, "a");
    }
    b.healthy.store(true, Ordering::SeqCst);
    assert!(
        eventually(Duration::from_secs(5), || health("b")
            == Some(MemberHealth::Up))
        .await
    );
    let mut names: Vec<String> = Vec::new();
    for _ in 0..4 {
        names.push(get_once(address, "/").await.unwrap().body);
    }
    assert!(names.contains(&"b".to_owned()), "{names:?}");
    engine.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconfiguring_under_load_drops_no_request() {
    let backends = [
        Backend::start("127.0.0.1", "a").await,
        Backend::start("127.0.0.1", "b").await,
        Backend::start("127.0.0.1", "c").await,
    ];
    let vip = "127.0.0.25";
    let port = free_port(vip);
    let address: SocketAddr = format!("{vip}:{port}").parse().unwrap();
    let listener = http_listener("l1", Protocol::Http, port, "p1");
    let configuration = |members: Vec<oxistack_lbplane::Member>| {
        load_balancer(
            "lb",
            vip,
            vec![listener.clone()],
            vec![pool("p1", Protocol::Http, members)],
        )
    };
    let engine = Engine::new();
    engine
        .apply(&configuration(vec![
            backends[0].member(),
            backends[1].member(),
        ]))
        .unwrap();

    // A slow request in flight on the member about to be removed.
    let mut slow_client = Client::connect(address).await.unwrap();
    let slow = tokio::spawn(async move {
        slow_client
            .get("/slow", &[])
            .await
            .map(|r| (r.status, r.body))
    });
    // Let it reach member a (the first in round robin) before the load.
    tokio::time::sleep(Duration::from_millis(100)).await;

    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (stop, served) = (stop.clone(), served.clone());
        clients.push(tokio::spawn(async move {
            let mut client = Client::connect(address).await.unwrap();
            while !stop.load(Ordering::SeqCst) {
                let reply = client.get("/", &[]).await.expect("request dropped");
                assert_eq!(reply.status, StatusCode::OK, "body {}", reply.body);
                served.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    // a removed, c added; then b drained with weight 0.
    engine
        .apply(&configuration(vec![
            backends[1].member(),
            backends[2].member(),
        ]))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut drained = backends[1].member();
    drained.weight = 0;
    engine
        .apply(&configuration(vec![drained, backends[2].member()]))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = backends[1].connections.load(Ordering::SeqCst);
    let mut probe = Client::connect(address).await.unwrap();
    for _ in 0..4 {
        assert_eq!(probe.get("/", &[]).await.unwrap().body, "c");
    }
    assert_eq!(backends[1].connections.load(Ordering::SeqCst), before);
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.await.unwrap();
    }
    let (status, body) = slow.await.unwrap().unwrap();
    assert_eq!((status, body.as_str()), (StatusCode::OK, "a"));
    assert!(served.load(Ordering::SeqCst) > 20);
    engine.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_ip_keeps_each_client_on_one_member() {
    let backends = [
        Backend::start("127.0.0.1", "a").await,
        Backend::start("127.0.0.1", "b").await,
        Backend::start("127.0.0.1", "c").await,
    ];
    let vip = "127.0.0.26";
    let port = free_port(vip);
    let mut backend = pool(
        "p1",
        Protocol::Http,
        backends.iter().map(Backend::member).collect(),
    );
    backend.algorithm = Algorithm::SourceIp;
    let engine = Engine::new();
    engine
        .apply(&load_balancer(
            "lb",
            vip,
            vec![http_listener("l1", Protocol::Http, port, "p1")],
            vec![backend],
        ))
        .unwrap();
    let address: SocketAddr = format!("{vip}:{port}").parse().unwrap();
    for source in ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"] {
        let mut first = None;
        for _ in 0..4 {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
            let stream = socket.connect(address).await.unwrap();
            let mut client = Client::over(stream).await.unwrap();
            let body = client.get("/", &[]).await.unwrap().body;
            assert_eq!(first.get_or_insert(body.clone()), &body, "source {source}");
        }
    }
    engine.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_cookie_persistence_pins_the_member_it_names() {
    let (a, b) = (
        Backend::start("127.0.0.1", "a").await,
        Backend::start("127.0.0.1", "b").await,
    );
    let vip = "127.0.0.27";
    let port = free_port(vip);
    let mut backend = pool("p1", Protocol::Http, vec![a.member(), b.member()]);
    backend.session_persistence = Some(oxistack_lbplane::SessionPersistence::HttpCookie);
    let engine = Engine::new();
    engine
        .apply(&load_balancer(
            "lb",
            vip,
            vec![http_listener("l1", Protocol::Http, port, "p1")],
            vec![backend],
        ))
        .unwrap();
    let address: SocketAddr = format!("{vip}:{port}").parse().unwrap();
    let mut client = Client::connect(address).await.unwrap();
    let first = client.get("/", &[]).await.unwrap();
    let cookie = first.headers["set-cookie"].to_str().unwrap().to_owned();
    assert_eq!(cookie, format!("SRV={}; Path=/", first.body));
    let pinned = format!("SRV={}", first.body);
    for _ in 0..4 {
        let reply = client.get("/", &[("cookie", &pinned)]).await.unwrap();
        assert_eq!(reply.body, first.body);
        assert!(!reply.headers.contains_key("set-cookie"));
    }
    engine.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_listener_relays_each_client_through_a_flow_of_its_own() {
    // A UDP backend that answers each datagram with "<name>:<datagram>".
    let mut members = Vec::new();
    let mut tasks = Vec::new();
    for name in ["a", "b"] {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let address = socket.local_addr().unwrap();
        tasks.push(tokio::spawn(async move {
            let mut buffer = [0u8; 512];
            while let Ok((n, from)) = socket.recv_from(&mut buffer).await {
                let reply = [name.as_bytes(), b":", &buffer[..n]].concat();
                let _ = socket.send_to(&reply, from).await;
            }
        }));
        members.push(oxistack_lbplane::Member {
            id: name.into(),
            address: address.ip(),
            protocol_port: address.port(),
            weight: 1,
            backup: false,
            monitor_address: None,
            monitor_port: None,
        });
    }
    let vip = "127.0.0.28";
    let port = free_port(vip);
    let engine = Engine::new();
    engine
        .apply(&load_balancer(
            "lb",
            vip,
            vec![http_listener("u1", Protocol::Udp, port, "p1")],
            vec![pool("p1", Protocol::Udp, members)],
        ))
        .unwrap();
    let address: SocketAddr = format!("{vip}:{port}").parse().unwrap();
    let mut replies = Vec::new();
    for _ in 0..2 {
        let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut first = None;
        for datagram in ["one", "two"] {
            client.send_to(datagram.as_bytes(), address).await.unwrap();
            let mut buffer = [0u8; 512];
            let (n, _) =
                tokio::time::timeout(Duration::from_secs(2), client.recv_from(&mut buffer))
                    .await
                    .unwrap()
                    .unwrap();
            let reply = String::from_utf8_lossy(&buffer[..n]).into_owned();
            let (member, echoed) = reply.split_once(':').unwrap();
            assert_eq!(echoed, datagram);
            // One client stays on one member.
            assert_eq!(*first.get_or_insert(member.to_owned()), member);
        }
        replies.push(first.unwrap());
    }
    assert_eq!(replies, ["a", "b"]);
    let stats = engine.observe().listeners["u1"];
    assert_eq!(stats.total_connections, 2);
    assert_eq!(stats.bytes_in, 12);
    engine.stop();
    for task in tasks {
        task.abort();
    }
}

/// A member that refuses connections (its server between two restarts,
/// or gone before its monitor noticed) costs no request: it is tried on
/// another member, as Octavia's haproxy does (`retries 3`, `option
/// redispatch`), for HTTP and TCP listeners alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_refusing_connections_is_retried_on_another() {
    let a = Backend::start("127.0.0.1", "a").await;
    let refusing = oxistack_lbplane::Member {
        id: "refusing".into(),
        address: "127.0.0.1".parse().unwrap(),
        protocol_port: free_port("127.0.0.1"),
        weight: 1,
        backup: false,
        monitor_address: None,
        monitor_port: None,
    };
    let vip = "127.0.0.29";
    let (http_port, tcp_port) = (free_port(vip), free_port(vip));
    let lb = load_balancer(
        "lb",
        vip,
        vec![
            http_listener("h", Protocol::Http, http_port, "hp"),
            http_listener("t", Protocol::Tcp, tcp_port, "tp"),
        ],
        vec![
            pool("hp", Protocol::Http, vec![refusing.clone(), a.member()]),
            pool("tp", Protocol::Tcp, vec![refusing, a.member()]),
        ],
    );
    let engine = Engine::new();
    engine.apply(&lb).unwrap();
    for port in [http_port, tcp_port] {
        let address: SocketAddr = format!("{vip}:{port}").parse().unwrap();
        for _ in 0..4 {
            // A new connection each time, so the TCP listener chooses too.
            let reply = get_once(address, "/").await.unwrap();
            assert_eq!(reply.status, StatusCode::OK);
            assert_eq!(reply.body, "a");
        }
    }
    assert_eq!(engine.observe().listeners["h"].request_errors, 0);
    engine.stop();
}

/// A pool's only member refusing for a moment (its server restarting)
/// costs no request either: it is tried again after a turn-around, as
/// haproxy does, and answers then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarting_member_is_tried_again_after_a_turn_around() {
    let port = free_port("127.0.0.1");
    let restarting = oxistack_lbplane::Member {
        id: "restarting".into(),
        address: "127.0.0.1".parse().unwrap(),
        protocol_port: port,
        weight: 1,
        backup: false,
        monitor_address: None,
        monitor_port: None,
    };
    let vip = "127.0.0.30";
    let listen_port = free_port(vip);
    let mut listener = http_listener("h", Protocol::Http, listen_port, "hp");
    listener.timeouts.member_connect_ms = 400;
    let lb = load_balancer(
        "lb",
        vip,
        vec![listener],
        vec![pool("hp", Protocol::Http, vec![restarting])],
    );
    let engine = Engine::new();
    engine.apply(&lb).unwrap();
    let server = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 1024];
        let _ = stream.read(&mut request).await.unwrap();
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
            .await
            .unwrap();
    });
    let address: SocketAddr = format!("{vip}:{listen_port}").parse().unwrap();
    let reply = get_once(address, "/").await.unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "ok");
    server.await.unwrap();
    engine.stop();
}
