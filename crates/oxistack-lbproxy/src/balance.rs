//! Choosing a member for a new connection or request.
//!
//! A pool's configuration is immutable once built ([`RuntimePool`]); what
//! changes while it serves — each member's health and open connections —
//! lives in a [`MemberState`] shared by every version of the pool, so a
//! reconfiguration keeps what the health monitor learnt and what
//! LEAST_CONNECTIONS counts. Members with weight 0 and members that are
//! down are never chosen for new work (draining); backup members only
//! when no other member can be.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oxistack_lbplane::{Algorithm, Member, Pool, SessionPersistence};

/// The longest pause before a member that refused is tried again.
const TURN_AROUND: Duration = Duration::from_secs(1);

/// The sticky tables are cleared when they grow past this many entries,
/// so a flood of client addresses cannot exhaust memory.
const MAX_STICKY_ENTRIES: usize = 65_536;

/// What a member's health monitor and its open connections say about it.
#[derive(Debug)]
pub struct MemberState {
    healthy: AtomicBool,
    active: AtomicU64,
}

impl Default for MemberState {
    /// New members start up, as Octavia shows them ONLINE until their
    /// first checks fail.
    fn default() -> Self {
        MemberState {
            healthy: AtomicBool::new(true),
            active: AtomicU64::new(0),
        }
    }
}

impl MemberState {
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    pub fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::Relaxed);
    }

    pub fn active(&self) -> u64 {
        self.active.load(Ordering::Relaxed)
    }

    /// Counts one open connection or request until the guard drops.
    pub fn open(self: &Arc<Self>) -> ActiveGuard {
        self.active.fetch_add(1, Ordering::Relaxed);
        ActiveGuard(self.clone())
    }
}

/// One open connection or request to a member.
#[derive(Debug)]
pub struct ActiveGuard(Arc<MemberState>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Debug)]
pub struct PoolMember {
    pub config: Member,
    pub state: Arc<MemberState>,
}

impl PoolMember {
    pub fn address(&self) -> SocketAddr {
        SocketAddr::new(self.config.address, self.config.protocol_port)
    }

    /// Where the health monitor checks it.
    pub fn monitor_target(&self) -> SocketAddr {
        SocketAddr::new(
            self.config.monitor_address.unwrap_or(self.config.address),
            self.config
                .monitor_port
                .unwrap_or(self.config.protocol_port),
        )
    }
}

/// A pool as it serves: its members with their live state, the round
/// robin position and the session-persistence tables.
#[derive(Debug)]
pub struct RuntimePool {
    pub config: Pool,
    pub members: Vec<PoolMember>,
    next: AtomicUsize,
    /// SOURCE_IP persistence: client address → member id.
    by_source: Mutex<HashMap<IpAddr, String>>,
    /// APP_COOKIE persistence: the application cookie's value → member id.
    by_app_cookie: Mutex<HashMap<String, String>>,
}

impl RuntimePool {
    /// Builds the pool, taking each member's state from `state_of`
    /// (the previous version's, or a fresh one).
    pub fn new(config: Pool, mut state_of: impl FnMut(&Member) -> Arc<MemberState>) -> Self {
        let members = config
            .members
            .iter()
            .map(|member| PoolMember {
                config: member.clone(),
                state: state_of(member),
            })
            .collect();
        RuntimePool {
            config,
            members,
            next: AtomicUsize::new(0),
            by_source: Mutex::new(HashMap::new()),
            by_app_cookie: Mutex::new(HashMap::new()),
        }
    }

    /// Keeps the previous version's round-robin position and sticky
    /// tables, so a reconfiguration does not move established sessions.
    pub fn inherit(&self, previous: &RuntimePool) {
        self.next
            .store(previous.next.load(Ordering::Relaxed), Ordering::Relaxed);
        *lock(&self.by_source) = lock(&previous.by_source).clone();
        *lock(&self.by_app_cookie) = lock(&previous.by_app_cookie).clone();
    }

    pub fn is_monitored(&self) -> bool {
        self.config.health_monitor.is_some()
    }

    /// Members that may take new work now: up (when monitored) with a
    /// positive weight; backups only when no other member qualifies.
    fn candidates(&self) -> Vec<&PoolMember> {
        let usable =
            |m: &&PoolMember| m.config.weight > 0 && (!self.is_monitored() || m.state.is_healthy());
        let primary: Vec<&PoolMember> = self
            .members
            .iter()
            .filter(|m| !m.config.backup)
            .filter(usable)
            .collect();
        if !primary.is_empty() {
            return primary;
        }
        self.members
            .iter()
            .filter(|m| m.config.backup)
            .filter(usable)
            .collect()
    }

    /// The member for new work from `client`; `requested` is the member a
    /// persistence cookie names, honoured while it may take work.
    pub fn choose(&self, client: IpAddr, requested: Option<&str>) -> Option<&PoolMember> {
        let candidates = self.candidates();
        if candidates.is_empty() {
            return None;
        }
        let by_id = |id: &str| candidates.iter().copied().find(|m| m.config.id == id);
        if let Some(member) = requested.and_then(by_id) {
            return Some(member);
        }
        let source_sticky = self.config.session_persistence == Some(SessionPersistence::SourceIp);
        if source_sticky {
            let remembered = lock(&self.by_source).get(&client).cloned();
            if let Some(member) = remembered.as_deref().and_then(by_id) {
                return Some(member);
            }
        }
        let chosen = match self.config.algorithm {
            Algorithm::RoundRobin => {
                let ticket = self.next.fetch_add(1, Ordering::Relaxed);
                weighted_pick(&candidates, ticket as u64)
            }
            Algorithm::LeastConnections => self.least_connections(&candidates),
            Algorithm::SourceIp => {
                let mut hasher = DefaultHasher::new();
                client.hash(&mut hasher);
                weighted_pick(&candidates, hasher.finish())
            }
        };
        if source_sticky {
            remember(&self.by_source, client, chosen.config.id.clone());
        }
        Some(chosen)
    }

    /// The member to try after the members in `tried` refused a
    /// connection, as haproxy's `option redispatch` does: the next in turn
    /// among those that may take work and were not tried, else among all
    /// that may (a member between two restarts of its server refuses for
    /// a moment only).
    pub fn redispatch(&self, tried: &[String]) -> Option<&PoolMember> {
        let candidates = self.candidates();
        let untried: Vec<&PoolMember> = candidates
            .iter()
            .copied()
            .filter(|m| !tried.contains(&m.config.id))
            .collect();
        let choices = if untried.is_empty() {
            candidates
        } else {
            untried
        };
        if choices.is_empty() {
            return None;
        }
        let ticket = self.next.fetch_add(1, Ordering::Relaxed);
        Some(weighted_pick(&choices, ticket as u64))
    }

    /// After member `refused` refused a connection: the member to try next
    /// ([`Self::redispatch`]). A member tried already is tried again only
    /// after haproxy's turn-around, the connect timeout but at most a
    /// second, so a server that is restarting gets the time to listen.
    pub async fn after_refusal(
        &self,
        tried: &mut Vec<String>,
        refused: String,
        connect_timeout: Duration,
    ) -> Option<&PoolMember> {
        tried.push(refused);
        let next = self.redispatch(tried)?;
        if tried.contains(&next.config.id) {
            tokio::time::sleep(connect_timeout.min(TURN_AROUND)).await;
        }
        Some(next)
    }

    /// Fewest open connections relative to weight; ties rotate.
    fn least_connections<'a>(&self, candidates: &[&'a PoolMember]) -> &'a PoolMember {
        let start = self.next.fetch_add(1, Ordering::Relaxed) % candidates.len();
        let mut best = candidates[start];
        for offset in 1..candidates.len() {
            let member = candidates[(start + offset) % candidates.len()];
            // a.active / a.weight < b.active / b.weight, without division.
            let load = member.state.active() * u64::from(best.config.weight);
            let best_load = best.state.active() * u64::from(member.config.weight);
            if load < best_load {
                best = member;
            }
        }
        best
    }

    /// The member an application cookie value was last set by.
    pub fn app_cookie_member(&self, value: &str) -> Option<String> {
        lock(&self.by_app_cookie).get(value).cloned()
    }

    /// Remembers that `member_id` set the application cookie to `value`.
    pub fn remember_app_cookie(&self, value: String, member_id: String) {
        remember(&self.by_app_cookie, value, member_id);
    }
}

/// Weighted choice by `ticket`: each member owns `weight` consecutive
/// tickets, so consecutive tickets walk the members in proportion.
fn weighted_pick<'a>(candidates: &[&'a PoolMember], ticket: u64) -> &'a PoolMember {
    let total: u64 = candidates.iter().map(|m| u64::from(m.config.weight)).sum();
    let mut position = ticket % total.max(1);
    for member in candidates {
        let weight = u64::from(member.config.weight);
        if position < weight {
            return member;
        }
        position -= weight;
    }
    candidates[0]
}

fn remember<K: Eq + Hash>(table: &Mutex<HashMap<K, String>>, key: K, member_id: String) {
    let mut table = lock(table);
    if table.len() >= MAX_STICKY_ENTRIES {
        table.clear();
    }
    table.insert(key, member_id);
}

/// Locks `mutex`, carrying on after a panic elsewhere: the tables hold
/// hints only, never invariants.
pub fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxistack_lbplane::{HealthMonitor, MonitorKind, Protocol};

    fn member(id: &str, weight: u16, backup: bool) -> Member {
        Member {
            id: id.into(),
            address: "10.0.0.1".parse().unwrap(),
            protocol_port: 80,
            weight,
            backup,
            monitor_address: None,
            monitor_port: None,
        }
    }

    fn pool(algorithm: Algorithm, members: Vec<Member>) -> RuntimePool {
        let config = Pool {
            id: "p".into(),
            protocol: Protocol::Http,
            algorithm,
            session_persistence: None,
            members,
            health_monitor: None,
        };
        RuntimePool::new(config, |_| Arc::new(MemberState::default()))
    }

    fn picks(pool: &RuntimePool, n: usize) -> Vec<String> {
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        (0..n)
            .map(|_| pool.choose(client, None).unwrap().config.id.clone())
            .collect()
    }

    #[test]
    fn redispatch_prefers_members_not_tried_yet() {
        let p = pool(
            Algorithm::SourceIp,
            vec![
                member("a", 1, false),
                member("b", 1, false),
                member("c", 0, false),
            ],
        );
        for _ in 0..4 {
            assert_eq!(p.redispatch(&["a".into()]).unwrap().config.id, "b");
        }
        // Every member that may take work refused: one of them again.
        let again = p.redispatch(&["a".into(), "b".into()]).unwrap();
        assert!(["a", "b"].contains(&again.config.id.as_str()));
        assert!(
            pool(Algorithm::RoundRobin, vec![member("c", 0, false)])
                .redispatch(&[])
                .is_none()
        );
    }

    #[test]
    fn round_robin_follows_weights_and_skips_weight_zero() {
        let p = pool(
            Algorithm::RoundRobin,
            vec![
                member("a", 1, false),
                member("b", 1, false),
                member("c", 0, false),
            ],
        );
        assert_eq!(picks(&p, 4), ["a", "b", "a", "b"]);
        let p = pool(
            Algorithm::RoundRobin,
            vec![member("a", 3, false), member("b", 1, false)],
        );
        let chosen = picks(&p, 8);
        assert_eq!(chosen.iter().filter(|id| *id == "a").count(), 6);
    }

    #[test]
    fn backups_serve_only_when_no_primary_can() {
        let p = pool(
            Algorithm::RoundRobin,
            vec![member("a", 1, false), member("backup", 1, true)],
        );
        assert_eq!(picks(&p, 3), ["a", "a", "a"]);
        // Down counts only when a monitor watches the pool.
        p.members[0].state.set_healthy(false);
        assert_eq!(picks(&p, 1), ["a"]);
        let mut monitored = p.config.clone();
        monitored.health_monitor = Some(HealthMonitor {
            kind: MonitorKind::Tcp,
            delay_s: 1,
            timeout_s: 1,
            max_retries: 1,
            max_retries_down: 1,
        });
        let states: Vec<_> = p.members.iter().map(|m| m.state.clone()).collect();
        let mut states = states.into_iter();
        let p = RuntimePool::new(monitored, |_| states.next().unwrap());
        assert_eq!(picks(&p, 2), ["backup", "backup"]);
        p.members[1].state.set_healthy(false);
        assert!(p.choose("192.0.2.1".parse().unwrap(), None).is_none());
    }

    #[test]
    fn least_connections_prefers_the_idle_member() {
        let p = pool(
            Algorithm::LeastConnections,
            vec![member("a", 1, false), member("b", 1, false)],
        );
        let _busy = p.members[0].state.open();
        assert_eq!(picks(&p, 3), ["b", "b", "b"]);
    }

    #[test]
    fn source_ip_hash_and_persistence_stick() {
        let p = pool(
            Algorithm::SourceIp,
            vec![
                member("a", 1, false),
                member("b", 1, false),
                member("c", 1, false),
            ],
        );
        for client in ["192.0.2.1", "192.0.2.2", "198.51.100.7"] {
            let client: IpAddr = client.parse().unwrap();
            let first = p.choose(client, None).unwrap().config.id.clone();
            for _ in 0..5 {
                assert_eq!(p.choose(client, None).unwrap().config.id, first);
            }
        }
        let mut config = p.config.clone();
        config.algorithm = Algorithm::RoundRobin;
        config.session_persistence = Some(SessionPersistence::SourceIp);
        let p = RuntimePool::new(config, |_| Arc::new(MemberState::default()));
        assert_eq!(picks(&p, 3), ["a", "a", "a"]);
        let other: IpAddr = "192.0.2.9".parse().unwrap();
        assert_eq!(p.choose(other, None).unwrap().config.id, "b");
    }

    #[test]
    fn a_requested_member_is_honoured_while_it_may_take_work() {
        let p = pool(
            Algorithm::RoundRobin,
            vec![member("a", 1, false), member("b", 0, false)],
        );
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(p.choose(client, Some("a")).unwrap().config.id, "a");
        // Draining (weight 0): the cookie no longer pins new requests.
        assert_eq!(p.choose(client, Some("b")).unwrap().config.id, "a");
        assert_eq!(p.choose(client, Some("gone")).unwrap().config.id, "a");
    }
}
