//! Health monitors: one task per monitored member checks it every
//! `delay_s` and flips its [`MemberState`] after `max_retries_down`
//! consecutive failures (down) or `max_retries` consecutive successes
//! (up again). Members start up, so a new member takes traffic at once
//! and the checks take it out if it fails them — as Octavia shows a new
//! member ONLINE before its first check.
//!
//! PING is a TCP connect to the member's port: raw ICMP sockets need
//! privileges the proxy should not depend on.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use oxistack_lbplane::{HealthMonitor, MonitorKind};
use tokio::net::{TcpStream, UdpSocket};

use crate::balance::MemberState;

/// Consecutive results against a member's current health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthCounter {
    up: bool,
    contrary: u32,
}

impl Default for HealthCounter {
    fn default() -> Self {
        HealthCounter {
            up: true,
            contrary: 0,
        }
    }
}

impl HealthCounter {
    /// Records one check; returns whether the member is up afterwards.
    /// `rise` successes in a row bring a down member up, `fall` failures
    /// in a row take an up member down.
    pub fn record(&mut self, passed: bool, rise: u32, fall: u32) -> bool {
        if passed == self.up {
            self.contrary = 0;
            return self.up;
        }
        self.contrary += 1;
        let needed = if self.up { fall } else { rise };
        if self.contrary >= needed.max(1) {
            self.up = passed;
            self.contrary = 0;
        }
        self.up
    }
}

/// Checks `target` per `monitor` until the task is aborted, keeping
/// `state` current.
pub async fn monitor_member(monitor: HealthMonitor, target: SocketAddr, state: Arc<MemberState>) {
    let mut counter = HealthCounter::default();
    if !state.is_healthy() {
        counter.record(false, monitor.max_retries, 1);
    }
    let mut ticks = tokio::time::interval(Duration::from_secs(u64::from(monitor.delay_s.max(1))));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let timeout = Duration::from_secs(u64::from(monitor.timeout_s.max(1)));
    loop {
        ticks.tick().await;
        let passed = matches!(
            tokio::time::timeout(timeout, check(&monitor.kind, target, timeout)).await,
            Ok(true)
        );
        let up = counter.record(passed, monitor.max_retries, monitor.max_retries_down);
        if up != state.is_healthy() {
            tracing::info!(%target, up, "member health changed");
        }
        state.set_healthy(up);
    }
}

/// One check; the caller bounds its time.
async fn check(kind: &MonitorKind, target: SocketAddr, timeout: Duration) -> bool {
    match kind {
        MonitorKind::Tcp | MonitorKind::Ping => TcpStream::connect(target).await.is_ok(),
        MonitorKind::Http {
            http_method,
            url_path,
            expected_codes,
        } => match http_status(target, http_method, url_path).await {
            Some(code) => expected_codes
                .iter()
                .any(|(low, high)| (*low..=*high).contains(&code)),
            None => false,
        },
        MonitorKind::UdpConnect => udp_answers(target, timeout).await,
    }
}

/// The status of `method url_path` on `target`, on a connection of its
/// own that is closed afterwards.
async fn http_status(target: SocketAddr, method: &str, url_path: &str) -> Option<u16> {
    let stream = TcpStream::connect(target).await.ok()?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    let driver = tokio::spawn(connection);
    let request = hyper::Request::builder()
        .method(method)
        .uri(url_path)
        .header(hyper::header::HOST, target.to_string())
        .header(hyper::header::CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .ok()?;
    let status = sender
        .send_request(request)
        .await
        .ok()
        .map(|r| r.status().as_u16());
    driver.abort();
    status
}

/// UDP-CONNECT: up unless the datagram is refused (ICMP port
/// unreachable, seen as ECONNREFUSED on a connected socket). Silence is
/// success, as UDP services need not answer.
async fn udp_answers(target: SocketAddr, timeout: Duration) -> bool {
    let local: SocketAddr = if target.is_ipv4() {
        "0.0.0.0:0".parse().expect("literal address")
    } else {
        "[::]:0".parse().expect("literal address")
    };
    let Ok(socket) = UdpSocket::bind(local).await else {
        return false;
    };
    if socket.connect(target).await.is_err() || socket.send(b"\0").await.is_err() {
        return false;
    }
    // Wait for a refusal a little less than the check's timeout.
    let wait = timeout
        .saturating_sub(Duration::from_millis(100))
        .max(Duration::from_millis(100));
    let mut buffer = [0u8; 512];
    match tokio::time::timeout(wait, socket.recv(&mut buffer)).await {
        Ok(Err(error)) => error.kind() != std::io::ErrorKind::ConnectionRefused,
        Ok(Ok(_)) | Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_fall_after_enough_failures_and_rise_after_enough_successes() {
        let mut counter = HealthCounter::default();
        // fall = 3: two failures keep it up, a success resets the count.
        assert!(counter.record(false, 2, 3));
        assert!(counter.record(false, 2, 3));
        assert!(counter.record(true, 2, 3));
        assert!(counter.record(false, 2, 3));
        assert!(counter.record(false, 2, 3));
        assert!(!counter.record(false, 2, 3));
        // rise = 2.
        assert!(!counter.record(true, 2, 3));
        assert!(!counter.record(false, 2, 3));
        assert!(!counter.record(true, 2, 3));
        assert!(counter.record(true, 2, 3));
    }

    #[tokio::test]
    async fn tcp_and_udp_checks_see_closed_ports() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let open = listener.local_addr().unwrap();
        let timeout = Duration::from_secs(1);
        assert!(check(&MonitorKind::Tcp, open, timeout).await);
        drop(listener);
        assert!(!check(&MonitorKind::Ping, open, timeout).await);

        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let udp_open = udp.local_addr().unwrap();
        assert!(
            check(
                &MonitorKind::UdpConnect,
                udp_open,
                Duration::from_millis(300)
            )
            .await
        );
        drop(udp);
        assert!(!check(&MonitorKind::UdpConnect, udp_open, timeout).await);
    }
}
