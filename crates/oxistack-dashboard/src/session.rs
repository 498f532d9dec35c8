//! Who is signed in, kept on the server: the browser holds only a random
//! session id in an HttpOnly, SameSite=Strict cookie (Secure when the
//! cloud is served over TLS). The Keystone token stays here, never in a
//! URL or a page, and the session ends with it: at its expiry, at logout
//! (which revokes it) and when an API call answers 401 (the token was
//! revoked, or the user lost their role or was disabled): then
//! [`crate::context::PageError::SignIn`] removes the session and clears
//! its cookie, so the login page starts afresh instead of sending the
//! browser home again.
//!
//! Every session, a signed-out one included, carries a CSRF token that
//! every form posts back ([`crate::form::CsrfForm`]). Signed-out sessions
//! cost a visitor nothing to make (any GET of the login page), so there
//! are at most [`MAX_ANONYMOUS`] of them: a new one evicts the oldest.
//! Login attempts are limited per user name ([`LoginLimiter`]).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const COOKIE: &str = "oxistack_session";
/// A signed-out session (the login form's CSRF token) lives this long.
const ANONYMOUS_LIFETIME: Duration = Duration::from_secs(3600);
/// At most this many signed-out sessions live at once.
pub const MAX_ANONYMOUS: usize = 10_000;
/// Below this many entries, a map is never swept.
const SWEEP_ABOVE: usize = 1000;

/// When a map of expiring entries is swept next: once it has grown to
/// twice the size it had after the last sweep, so that sweeping costs a
/// constant time per insertion on average, however many entries live.
#[derive(Default)]
struct SweepMark(usize);

impl SweepMark {
    fn due(&self, len: usize) -> bool {
        len > self.0.max(SWEEP_ABOVE)
    }

    fn swept(&mut self, len: usize) {
        self.0 = 2 * len;
    }
}

/// What a signed-in session acts as.
#[derive(Clone)]
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

/// Everything but the token, which no log line may hold.
impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("token", &"<hidden>")
            .field("expires_at", &self.expires_at)
            .field("user_id", &self.user_id)
            .field("user_name", &self.user_name)
            .field("domain_name", &self.domain_name)
            .field("project_id", &self.project_id)
            .field("project_name", &self.project_name)
            .field("roles", &self.roles)
            .field("projects", &self.projects)
            .finish()
    }
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
pub struct SessionStore {
    sessions: Mutex<Sessions>,
    anonymous_limit: usize,
}

#[derive(Default)]
struct Sessions {
    by_key: HashMap<String, Session>,
    /// The keys of signed-out sessions, oldest first; some may be gone
    /// already (signed in, expired), which only makes room sooner.
    anonymous: VecDeque<String>,
    sweep: SweepMark,
}

impl Default for SessionStore {
    fn default() -> SessionStore {
        SessionStore::with_anonymous_limit(MAX_ANONYMOUS)
    }
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
    /// A store keeping at most `limit` signed-out sessions.
    pub fn with_anonymous_limit(limit: usize) -> SessionStore {
        SessionStore {
            sessions: Mutex::default(),
            anonymous_limit: limit,
        }
    }

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
        let Sessions {
            by_key,
            anonymous,
            sweep,
        } = &mut *sessions;
        if sweep.due(by_key.len()) {
            by_key.retain(|_, session| !session.expired());
            anonymous.retain(|key| by_key.get(key).is_some_and(|s| s.auth.is_none()));
            sweep.swept(by_key.len());
        }
        if session.auth.is_none() {
            anonymous.push_back(key(&id));
            while anonymous.len() > self.anonymous_limit {
                let Some(oldest) = anonymous.pop_front() else {
                    break;
                };
                if by_key.get(&oldest).is_some_and(|s| s.auth.is_none()) {
                    by_key.remove(&oldest);
                }
            }
        }
        by_key.insert(key(&id), session.clone());
        (id, session)
    }

    /// The live session of `id`; an expired one is removed.
    pub fn get(&self, id: &str) -> Option<Session> {
        let by_key = &mut self.lock().by_key;
        let key = key(id);
        match by_key.get(&key) {
            Some(session) if session.expired() => {
                by_key.remove(&key);
                None
            }
            Some(session) => Some(session.clone()),
            None => None,
        }
    }

    /// Changes the session `id` in place, if it still exists.
    pub fn update(&self, id: &str, change: impl FnOnce(&mut Session)) {
        if let Some(session) = self.lock().by_key.get_mut(&key(id)) {
            change(session);
        }
    }

    /// The session's messages, removed (each is shown once).
    pub fn take_flashes(&self, id: &str) -> Vec<Flash> {
        self.lock()
            .by_key
            .get_mut(&key(id))
            .map(|session| std::mem::take(&mut session.flashes))
            .unwrap_or_default()
    }

    pub fn remove(&self, id: &str) {
        self.lock().by_key.remove(&key(id));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sessions> {
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
///
/// An attempt counts as a failure from the moment it begins
/// ([`LoginLimiter::try_begin`]) until it is known to have succeeded, so
/// attempts made in parallel cannot all pass while Keystone is still
/// answering the first ones.
#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<Failures>,
}

#[derive(Default)]
struct Failures {
    /// Per user: how many failures, and when the last attempt began.
    by_user: HashMap<String, (u32, Instant)>,
    sweep: SweepMark,
}

pub const FREE_FAILURES: u32 = 3;
const MAX_WAIT: Duration = Duration::from_secs(60);
/// A user's failures are forgotten after this long without another.
const FORGET_AFTER: Duration = Duration::from_secs(900);

/// A login attempt under way, already counted as a failure; tell it
/// [`Attempt::succeeded`] when it did.
#[must_use]
pub struct Attempt<'a> {
    limiter: &'a LoginLimiter,
    user: String,
}

impl Attempt<'_> {
    /// The attempt signed in: the user's failures are forgotten.
    pub fn succeeded(self) {
        self.limiter.lock().by_user.remove(&self.user);
    }
}

impl LoginLimiter {
    /// Begins an attempt to sign in as `user`, or says how long they must
    /// still wait.
    pub fn try_begin(&self, user: &str) -> Result<Attempt<'_>, Duration> {
        let user = user.to_lowercase();
        let mut failures = self.lock();
        let Failures { by_user, sweep } = &mut *failures;
        if sweep.due(by_user.len()) {
            by_user.retain(|_, (_, last)| last.elapsed() < FORGET_AFTER);
            sweep.swept(by_user.len());
        }
        let (count, last) = by_user.entry(user.clone()).or_insert((0, Instant::now()));
        if last.elapsed() > FORGET_AFTER {
            *count = 0;
        }
        if *count >= FREE_FAILURES {
            let wait = Duration::from_secs(1u64 << (*count - FREE_FAILURES).min(6)).min(MAX_WAIT);
            if let Some(left) = wait
                .checked_sub(last.elapsed())
                .filter(|left| !left.is_zero())
            {
                return Err(left);
            }
        }
        *count += 1;
        *last = Instant::now();
        Ok(Attempt {
            limiter: self,
            user,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Failures> {
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

    fn auth() -> Auth {
        Auth {
            token: "secret-token".into(),
            expires_at: Utc::now() + chrono::Duration::hours(1),
            user_id: "u".into(),
            user_name: "kube".into(),
            domain_name: "Default".into(),
            project_id: "p".into(),
            project_name: "kube".into(),
            roles: vec![],
            projects: vec![],
        }
    }

    fn failed(limiter: &LoginLimiter, user: &str) {
        drop(limiter.try_begin(user).expect("an attempt"));
    }

    #[test]
    fn repeated_failures_make_the_user_wait_longer() {
        let limiter = LoginLimiter::default();
        for _ in 0..FREE_FAILURES {
            failed(&limiter, "Kube");
        }
        let first = limiter
            .try_begin("KUBE")
            .err()
            .expect("a wait after the free failures");
        assert!(first <= Duration::from_secs(1));
        assert!(
            limiter.try_begin("demo").is_ok(),
            "another user is not slowed"
        );
        std::thread::sleep(first);
        failed(&limiter, "kube");
        let second = limiter.try_begin("kube").err().expect("a longer wait");
        assert!(second > Duration::from_millis(1500), "{second:?}");
    }

    #[test]
    fn a_success_forgets_the_failures() {
        let limiter = LoginLimiter::default();
        for _ in 0..FREE_FAILURES - 1 {
            failed(&limiter, "kube");
        }
        limiter
            .try_begin("kube")
            .expect("a free attempt")
            .succeeded();
        for _ in 0..FREE_FAILURES {
            failed(&limiter, "kube");
        }
        assert!(limiter.try_begin("kube").is_err());
    }

    #[test]
    fn parallel_attempts_beyond_the_free_ones_are_refused() {
        let limiter = LoginLimiter::default();
        let tries = 16;
        let start = std::sync::Barrier::new(tries);
        // Every attempt is still under way (its guard held) when the
        // others begin, as when Keystone has not answered yet.
        let begun = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..tries)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        let attempt = limiter.try_begin("kube");
                        start.wait();
                        attempt.is_ok()
                    })
                })
                .collect();
            threads
                .into_iter()
                .map(|thread| thread.join().expect("no panic"))
                .filter(|began| *began)
                .count()
        });
        assert_eq!(begun, FREE_FAILURES as usize);
    }

    #[test]
    fn sessions_are_found_by_id_and_expire_with_the_token() {
        let store = SessionStore::default();
        let (id, session) = store.create(None);
        assert_eq!(store.get(&id).map(|s| s.csrf), Some(session.csrf));
        assert!(store.get("other").is_none());
        store.update(&id, |session| {
            session.auth = Some(Auth {
                expires_at: Utc::now() - chrono::Duration::seconds(1),
                ..auth()
            })
        });
        assert!(
            store.get(&id).is_none(),
            "the token expired, so did the session"
        );
    }

    #[test]
    fn signed_out_sessions_are_capped_oldest_first() {
        let store = SessionStore::with_anonymous_limit(3);
        let (signed_in, _) = store.create(Some(auth()));
        let ids: Vec<String> = (0..5).map(|_| store.create(None).0).collect();
        assert!(store.get(&ids[0]).is_none() && store.get(&ids[1]).is_none());
        assert!(ids[2..].iter().all(|id| store.get(id).is_some()));
        assert!(store.get(&signed_in).is_some(), "signed-in sessions stay");
        assert_eq!(store.lock().by_key.len(), 4);
        // A removed one makes room sooner, never evicts a signed-in one.
        store.remove(&ids[2]);
        store.create(None);
        assert!(store.get(&ids[3]).is_some() && store.get(&signed_in).is_some());
    }

    #[test]
    fn the_debug_form_of_a_session_hides_the_token() {
        let shown = format!("{:?}", auth());
        assert!(
            shown.contains("kube") && !shown.contains("secret-token"),
            "{shown}"
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
