//! The process plane end to end, as root, in a network namespace the test
//! makes (and removes, with every proxy, even when it fails): proxies
//! start, serve, reload without dropping a connection, restart after a
//! crash, stay untouched by a converged apply, and go away with their
//! load balancer.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hyper::StatusCode;
use oxistack_lbplane::{LbPlaneError, LoadBalancerDataPlane, LoadBalancerState, Protocol};
use oxistack_lbproxy::{LOG_FILE, PID_FILE, ProcessPlane};
use support::*;

const VIP: &str = "10.231.0.10";

/// Removes the test's proxies and namespace when dropped.
struct Cleanup {
    namespace: String,
    dir: PathBuf,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = oxistack_lbproxy::stop_all(&self.dir);
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.namespace])
            .status();
    }
}

fn ip(args: &[&str]) {
    let status = Command::new("ip").args(args).status().unwrap();
    assert!(status.success(), "ip {args:?}");
}

/// A keep-alive client connection opened inside `namespace`.
async fn client_in(namespace: &str, address: SocketAddr) -> std::io::Result<Client> {
    let stream = oxistack_netns::run_in(namespace, || std::net::TcpStream::connect(address))
        .map_err(std::io::Error::other)??;
    stream.set_nonblocking(true)?;
    Client::over(tokio::net::TcpStream::from_std(stream)?).await
}

async fn backend_in(namespace: &str, name: &str) -> Backend {
    let listener = oxistack_netns::run_in(namespace, || std::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap()
        .unwrap();
    listener.set_nonblocking(true).unwrap();
    Backend::serve(tokio::net::TcpListener::from_std(listener).unwrap(), name)
}

/// The body of one request on a new connection, once the proxy answers.
async fn first_answer(namespace: &str, address: SocketAddr) -> String {
    for _ in 0..100 {
        if let Ok(mut client) = client_in(namespace, address).await
            && let Ok(reply) = client.get("/", &[]).await
        {
            assert_eq!(reply.status, StatusCode::OK);
            return reply.body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the proxy never answered on {address}");
}

fn pid(dir: &Path) -> i32 {
    std::fs::read_to_string(dir.join(PID_FILE))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn reloads(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join(LOG_FILE))
        .unwrap_or_default()
        .matches("reloading the configuration")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxies_start_reload_restart_and_stop_with_their_load_balancers() {
    let suffix = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
            % 100_000
    );
    let namespace = format!("oxlbtest-{suffix}");
    let state_dir = tempfile::tempdir().unwrap();
    let dir = state_dir.path().join("loadbalancers");
    let _cleanup = Cleanup {
        namespace: namespace.clone(),
        dir: dir.clone(),
    };
    ip(&["netns", "add", &namespace]);
    ip(&["-n", &namespace, "link", "set", "lo", "up"]);
    ip(&[
        "-n",
        &namespace,
        "addr",
        "add",
        &format!("{VIP}/32"),
        "dev",
        "lo",
    ]);

    let (a, b) = (
        backend_in(&namespace, "a").await,
        backend_in(&namespace, "b").await,
    );
    let port = 8080;
    let address: SocketAddr = format!("{VIP}:{port}").parse().unwrap();
    let listener = http_listener("l1", Protocol::Http, port, "p1");
    let state = |members| LoadBalancerState {
        load_balancers: vec![load_balancer(
            "lb1",
            VIP,
            vec![listener.clone()],
            vec![pool("p1", Protocol::Http, members)],
        )],
    };
    let named = namespace.clone();
    let plane = ProcessPlane::new(
        &dir,
        env!("CARGO_BIN_EXE_oxistack-lbproxy"),
        vec![],
        move |id| {
            if id == "lb1" {
                named.clone()
            } else {
                format!("oxlbtest-missing-{id}")
            }
        },
    );
    let lb_dir = dir.join("lb1");

    // Start: traffic flows from inside the namespace.
    plane.apply(&state(vec![a.member()])).await.unwrap();
    assert_eq!(first_answer(&namespace, address).await, "a");
    let first_pid = pid(&lb_dir);

    // Converged: nothing written, nothing signalled.
    let config = lb_dir.join(oxistack_lbproxy::CONFIG_FILE);
    let written = std::fs::metadata(&config).unwrap().modified().unwrap();
    plane.apply(&state(vec![a.member()])).await.unwrap();
    assert_eq!(
        std::fs::metadata(&config).unwrap().modified().unwrap(),
        written
    );
    assert_eq!(pid(&lb_dir), first_pid);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(reloads(&lb_dir), 0);

    // A change reloads the running proxy; an open connection lives on.
    let mut open = client_in(&namespace, address).await.unwrap();
    assert_eq!(open.get("/", &[]).await.unwrap().body, "a");
    plane
        .apply(&state(vec![a.member(), b.member()]))
        .await
        .unwrap();
    assert!(eventually(Duration::from_secs(5), || reloads(&lb_dir) == 1).await);
    assert_eq!(pid(&lb_dir), first_pid);
    let mut seen = Vec::new();
    for _ in 0..4 {
        let reply = open
            .get("/", &[])
            .await
            .expect("the open connection survived the reload");
        seen.push(reply.body);
    }
    assert!(seen.contains(&"b".to_owned()), "{seen:?}");

    // The status file reports the listener.
    assert!(
        eventually(Duration::from_secs(3), || {
            futures_util::FutureExt::now_or_never(plane.observe())
                .and_then(Result::ok)
                .is_some_and(|o| {
                    o.listeners
                        .get("l1")
                        .is_some_and(|s| s.total_connections >= 2)
                })
        })
        .await
    );

    // `stop_all` (teardown) stops the proxy and keeps its directory;
    // the next apply starts it again.
    drop(open);
    oxistack_lbproxy::stop_all(&dir).unwrap();
    assert!(lb_dir.join(oxistack_lbproxy::CONFIG_FILE).exists());
    assert!(client_in(&namespace, address).await.is_err());
    plane
        .apply(&state(vec![a.member(), b.member()]))
        .await
        .unwrap();
    let first_pid = pid(&lb_dir);
    first_answer(&namespace, address).await;

    // A crashed proxy is started again by the next apply.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first_pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(
        eventually(Duration::from_secs(3), || {
            std::fs::read(format!("/proc/{first_pid}/cmdline")).map_or(true, |c| c.is_empty())
        })
        .await
    );
    // Its death shows in what the plane observes, with no stale status.
    let observed = plane.observe().await.unwrap();
    assert_eq!(observed.stopped, ["lb1"]);
    assert!(observed.listeners.is_empty(), "{observed:?}");
    plane
        .apply(&state(vec![a.member(), b.member()]))
        .await
        .unwrap();
    assert_ne!(pid(&lb_dir), first_pid);
    first_answer(&namespace, address).await;

    // Its namespace deleted and made again behind its back (as
    // `oxistack reconcile` makes it again): the proxy left in the old one
    // is replaced by one in the new.
    let before = pid(&lb_dir);
    ip(&["netns", "delete", &namespace]);
    ip(&["netns", "add", &namespace]);
    ip(&["-n", &namespace, "link", "set", "lo", "up"]);
    ip(&[
        "-n",
        &namespace,
        "addr",
        "add",
        &format!("{VIP}/32"),
        "dev",
        "lo",
    ]);
    let (a, b) = (
        backend_in(&namespace, "a").await,
        backend_in(&namespace, "b").await,
    );
    plane
        .apply(&state(vec![a.member(), b.member()]))
        .await
        .unwrap();
    assert_ne!(pid(&lb_dir), before);
    first_answer(&namespace, address).await;

    // A load balancer whose namespace is missing is reported, the others
    // still served.
    let mut with_missing = state(vec![a.member(), b.member()]);
    let mut missing = with_missing.load_balancers[0].clone();
    missing.id = "lb2".into();
    with_missing.load_balancers.push(missing);
    let result = plane.apply(&with_missing).await;
    assert!(
        matches!(result, Err(LbPlaneError::Unavailable(_))),
        "{result:?}"
    );
    first_answer(&namespace, address).await;

    // Removed from the state: the proxy stops and its directory goes.
    let last_pid = pid(&lb_dir);
    plane.apply(&LoadBalancerState::default()).await.unwrap();
    assert!(!lb_dir.exists());
    assert!(!dir.join("lb2").exists());
    assert!(std::fs::read(format!("/proc/{last_pid}/cmdline")).map_or(true, |c| c.is_empty()));
    assert!(client_in(&namespace, address).await.is_err());
}
