//! Who is signed in, kept on the server: the browser holds only a random
//! session id in an HttpOnly, SameSite=Strict cookie (Secure when the
//! cloud is served over TLS). The Keystone token stays here, never in a
//! URL or a page, and the session ends with it: at its expiry, at logout
//! (which revokes it) and when an API call answers 401.
//!
//! Every session, a signed-out one included, carries a CSRF token that
//! every form posts back ([`crate::form::CsrfForm`]); login attempts are
//! slowed per user name after repeated failures ([`LoginLimiter`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const COOKIE: &str = "oxistack_session";
/// A signed-out session (the login form's CSRF token) lives this long.
const ANONYMOUS_LIFETIME: Duration = Duration::from_secs(3600);
/// Beyond this many sessions, expired ones are swept on the next write.
const SWEEP_ABOVE: usize = 1000;

/// What a signed-in session acts as.
#[derive(Clone, Debug)]
pub struct Auth {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user_id: String,
    pub user_name: String,
    pub domain_name: String,
    pub project_id: String,
    pub project_name: String,
    pub roles: Vec<String>,
    /// The projects the user may switch to, `(id, name)`.
    pub projects: Vec<(String, String)>,
}

impl Auth {
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|role| role == "admin")
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlashKind {
    Ok,
    Error,
}

/// A message for the next page: what an action did or why it failed,
/// shown next to the object it concerns (`about`: its id) when that page
/// shows it, else at the top.
#[derive(Clone, Debug)]
pub struct Flash {
    pub kind: FlashKind,
    pub text: String,
    pub about: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Session {
    pub csrf: String,
    pub auth: Option<Auth>,
    pub flashes: Vec<Flash>,
    anonymous_until: Instant,
}

impl Session {
    fn expired(&self) -> bool {
        match &self.auth {
            Some(auth) => auth.expires_at <= Utc::now(),
            None => self.anonymous_until <= Instant::now(),
        }
    }
}

/// The sessions, by the SHA-256 of their id (a leaked memory dump or log
/// line of the map never holds a usable cookie).
#[derive(Default)]
pub struct SessionStore {
    sessions: Mutex<HashMap<String, Session>>,
}

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn key(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

impl SessionStore {
    /// A new session; returns its id (the cookie's value).
    pub fn create(&self, auth: Option<Auth>) -> (String, Session) {
        let id = random_hex();
        let session = Session {
            csrf: random_hex(),
            auth,
            flashes: Vec::new(),
            anonymous_until: Instant::now() + ANONYMOUS_LIFETIME,
        };
        let mut sessions = self.lock();
        if sessions.len() > SWEEP_ABOVE {
            sessions.retain(|_, session| !session.expired());
        }
        sessions.insert(key(&id), session.clone());
        (id, session)
    }

    /// The live session of `id`; an expired one is removed.
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut sessions = self.lock();
        let key = key(id);
        match sessions.get(&key) {
            Some(session) if session.expired() => {
                sessions.remove(&key);
                None
            }
            Some(session) => Some(session.clone()),
            None => None,
        }
    }

    /// Changes the session `id` in place, if it still exists.
    pub fn update(&self, id: &str, change: impl FnOnce(&mut Session)) {
        if let Some(session) = self.lock().get_mut(&key(id)) {
            change(session);
        }
    }

    /// The session's messages, removed (each is shown once).
    pub fn take_flashes(&self, id: &str) -> Vec<Flash> {
        self.lock()
            .get_mut(&key(id))
            .map(|session| std::mem::take(&mut session.flashes))
            .unwrap_or_default()
    }

    pub fn remove(&self, id: &str) {
        self.lock().remove(&key(id));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Failed logins per user name: after [`FREE_FAILURES`] failures, each
/// further attempt must wait twice as long as the one before (1 s, 2 s,
/// 4 s ... up to [`MAX_WAIT`]) since the last failure; a success forgets
/// the user's failures. Keyed by the name as typed (lowercased), so a
/// guessed password costs the same for every spelling of the user.
#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

pub const FREE_FAILURES: u32 = 3;
const MAX_WAIT: Duration = Duration::from_secs(60);
/// A user's failures are forgotten after this long without another.
const FORGET_AFTER: Duration = Duration::from_secs(900);

impl LoginLimiter {
    /// How long `user` must still wait before trying again, if at all.
    pub fn wait(&self, user: &str) -> Option<Duration> {
        let failures = self.lock();
        let (count, last) = failures.get(&user.to_lowercase())?;
        if *count < FREE_FAILURES || last.elapsed() > FORGET_AFTER {
            return None;
        }
        let wait = Duration::from_secs(1u64 << (count - FREE_FAILURES).min(6)).min(MAX_WAIT);
        wait.checked_sub(last.elapsed())
            .filter(|left| !left.is_zero())
    }

    pub fn failed(&self, user: &str) {
        let mut failures = self.lock();
        if failures.len() > SWEEP_ABOVE {
            failures.retain(|_, (_, last)| last.elapsed() < FORGET_AFTER);
        }
        let entry = failures
            .entry(user.to_lowercase())
            .or_insert((0, Instant::now()));
        if entry.1.elapsed() > FORGET_AFTER {
            entry.0 = 0;
        }
        entry.0 += 1;
        entry.1 = Instant::now();
    }

    pub fn succeeded(&self, user: &str) {
        self.lock().remove(&user.to_lowercase());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, Instant)>> {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The `Set-Cookie` value for session `id` (`None`: clear it).
pub fn cookie(id: Option<&str>, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match id {
        Some(id) => format!("{COOKIE}={id}; Path=/dashboard; HttpOnly; SameSite=Strict{secure}"),
        None => format!("{COOKIE}=; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

/// The session id in a `Cookie` header, if any.
pub fn cookie_value(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_failures_make_the_user_wait_longer() {
        let limiter = LoginLimiter::default();
        for _ in 0..FREE_FAILURES - 1 {
            limiter.failed("Kube");
        }
        assert_eq!(limiter.wait("kube"), None);
        limiter.failed("kube");
        let first = limiter
            .wait("KUBE")
            .expect("a wait after the free failures");
        assert!(first <= Duration::from_secs(1));
        limiter.failed("kube");
        let second = limiter.wait("kube").expect("a longer wait");
        assert!(second > Duration::from_millis(1500), "{second:?}");
        assert_eq!(limiter.wait("demo"), None);
        limiter.succeeded("kube");
        assert_eq!(limiter.wait("kube"), None);
    }

    #[test]
    fn sessions_are_found_by_id_and_expire_with_the_token() {
        let store = SessionStore::default();
        let (id, session) = store.create(None);
        assert_eq!(store.get(&id).map(|s| s.csrf), Some(session.csrf));
        assert!(store.get("other").is_none());
        store.update(&id, |session| {
            session.auth = Some(Auth {
                token: "t".into(),
                expires_at: Utc::now() - chrono::Duration::seconds(1),
                user_id: "u".into(),
                user_name: "kube".into(),
                domain_name: "Default".into(),
                project_id: "p".into(),
                project_name: "kube".into(),
                roles: vec![],
                projects: vec![],
            })
        });
        assert!(
            store.get(&id).is_none(),
            "the token expired, so did the session"
        );
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_over_tls() {
        assert_eq!(
            cookie(Some("abc"), false),
            "oxistack_session=abc; Path=/dashboard; HttpOnly; SameSite=Strict"
        );
        assert!(cookie(Some("abc"), true).ends_with("; Secure"));
        assert!(cookie(None, false).contains("Max-Age=0"));
        assert_eq!(cookie_value("a=b; oxistack_session=xyz"), Some("xyz"));
        assert_eq!(cookie_value("oxistack_session="), None);
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd") && !same_secret("a", "ab"));
    }
}
