//! Idle SSH sessions kept for reuse: a login (TCP, key exchange, host-key check, public-key
//! authentication) costs one to several hundred milliseconds, a channel on an open session a
//! round trip. So the boot poll's session carries the host's start command, and the start's
//! session its command checks.
//!
//! A session is used by one call at a time: a call takes it out of the pool and puts it back
//! only when its command ended cleanly (channel closed, exit status read). A session cut
//! mid-command, or one that failed, is dropped. At most [`PER_HOST`] idle sessions per host
//! and a fleet-wide number bounded by the process's descriptor limit; past it the session
//! idle longest is closed. A session idle past [`IDLE_LIMIT`] is not reused (a firewall or
//! the host may have dropped it silently). A host behind jump hosts is pooled the same way:
//! its idle session keeps its bridges (`ssh_jump.rs`) open, and they close with it. Each
//! such route holds a connection (an sshd process) on its first jump host, which serves the
//! whole fleet behind it, so at most [`PER_JUMP_HOST`] idle routes are kept through one.

use std::collections::HashMap;
use std::os::fd::RawFd;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ssh2::Session;

use crate::topology::{Host, SshLogin};

/// Idle sessions kept per host (two nodes of one host may run commands at once).
const PER_HOST: usize = 2;

/// Idle routes kept through one first jump host: each holds a connection and an sshd
/// process on it, and a bastion serves every host behind it.
const PER_JUMP_HOST: usize = 32;

/// An idle session older than this is closed rather than reused.
const IDLE_LIMIT: Duration = Duration::from_secs(60);

/// Most idle sessions kept in all, whatever the descriptor limit.
const MOST_IDLE: usize = 1024;

/// An authenticated session not running anything.
pub(super) struct IdleSession {
    /// The session (it owns its socket).
    pub session: Session,
    /// The socket's descriptor, for polling.
    pub fd: RawFd,
    /// When it was put back.
    since: Instant,
}

impl IdleSession {
    /// A session ready for reuse, idle from now.
    pub fn new(session: Session, fd: RawFd) -> Self {
        IdleSession {
            session,
            fd,
            since: Instant::now(),
        }
    }

    /// The same session, idle from now (put back after a call).
    pub fn idle_from_now(mut self) -> Self {
        self.since = Instant::now();
        self
    }
}

impl Drop for IdleSession {
    fn drop(&mut self) {
        // Never block in libssh2's free functions on a session the peer may have left.
        self.session.set_blocking(false);
    }
}

/// What identifies a host's login: the same name, address, port, user, key, known_hosts
/// and host-key checking, for the host and for every jump host on its route.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct PoolKey {
    /// Each hop's login: the host's own first, then its jump hosts' in order.
    hops: Vec<String>,
}

impl PoolKey {
    /// The key of `host`'s login along its route.
    pub fn of(host: &Host) -> PoolKey {
        let own = login_key(&host.name, &host.address, &host.ssh.login);
        let jumps = host
            .ssh
            .jumps
            .iter()
            .map(|jump| login_key(&jump.name, &jump.address, &jump.login));
        PoolKey {
            hops: std::iter::once(own).chain(jumps).collect(),
        }
    }

    /// The first jump host's login, for a route through jump hosts.
    fn first_hop(&self) -> Option<&String> {
        self.hops.get(1)
    }
}

/// One hop's part of a [`PoolKey`].
fn login_key(name: &str, address: &str, login: &SshLogin) -> String {
    format!(
        "{name}\0{}\0{address}\0{}\0{:?}\0{:?}\0{}\0{}",
        login.user,
        login.port,
        login.key,
        login.certificate,
        login.known_hosts.display(),
        // A session accepted without checking the host key never serves a strict call.
        login.strict_host_key_checking
    )
}

/// The idle sessions of a fleet. Shared by the clones of one transport.
pub(super) struct SessionPool {
    idle: Mutex<HashMap<PoolKey, Vec<IdleSession>>>,
    most: usize,
}

impl std::fmt::Debug for SessionPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionPool")
            .field("idle", &self.idle_count())
            .field("most", &self.most)
            .finish()
    }
}

impl SessionPool {
    /// A pool keeping at most a quarter of the process's descriptor limit (between 8 and
    /// [`MOST_IDLE`]), so idle sessions never starve new connections of descriptors.
    pub fn new() -> Self {
        SessionPool::with_most(descriptor_limit().map_or(64, |limit| limit / 4))
    }

    /// A pool keeping at most `most` idle sessions (clamped to 8..=[`MOST_IDLE`]).
    pub fn with_most(most: usize) -> Self {
        SessionPool {
            idle: Mutex::new(HashMap::new()),
            most: most.clamp(8, MOST_IDLE),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Idle> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The most recently used idle session of `key`, if one is fresh enough.
    pub fn take(&self, key: &PoolKey) -> Option<IdleSession> {
        self.take_at(key, Instant::now())
    }

    /// [`SessionPool::take`] as of `now`.
    fn take_at(&self, key: &PoolKey, now: Instant) -> Option<IdleSession> {
        let mut idle = self.lock();
        let sessions = idle.get_mut(key)?;
        let mut found = None;
        while let Some(session) = sessions.pop() {
            if now.saturating_duration_since(session.since) < IDLE_LIMIT {
                found = Some(session);
                break;
            }
        }
        if sessions.is_empty() {
            idle.remove(key);
        }
        found
    }

    /// Keeps `session` for `key`; closes the one idle longest when a cap is reached.
    pub fn put(&self, key: PoolKey, session: IdleSession) {
        let mut evicted = Vec::new();
        {
            let mut idle = self.lock();
            let first_hop = key.first_hop().cloned();
            let sessions = idle.entry(key).or_default();
            sessions.push(session);
            if sessions.len() > PER_HOST {
                evicted.push(sessions.remove(0));
            }
            if first_hop.is_some() {
                let same_hop = |key: &PoolKey| key.first_hop() == first_hop.as_ref();
                if count(&idle, same_hop) > PER_JUMP_HOST {
                    evicted.extend(take_oldest(&mut idle, same_hop));
                }
            }
            if count(&idle, |_| true) > self.most {
                evicted.extend(take_oldest(&mut idle, |_| true));
            }
        }
        // Closed outside the lock: a goodbye may wait on the network.
        for session in evicted {
            goodbye(session);
        }
    }

    /// Closes every idle session of `key` (the host was powered off or on: its sessions are
    /// gone or about to be).
    pub fn forget(&self, key: &PoolKey) {
        let gone = self.lock().remove(key);
        drop(gone);
    }

    /// Idle sessions held now.
    pub fn idle_count(&self) -> usize {
        count(&self.lock(), |_| true)
    }
}

type Idle = HashMap<PoolKey, Vec<IdleSession>>;

/// Idle sessions under the keys `which` picks.
fn count(idle: &Idle, which: impl Fn(&PoolKey) -> bool) -> usize {
    idle.iter()
        .filter(|(key, _)| which(key))
        .map(|(_, sessions)| sessions.len())
        .sum()
}

/// Takes out the session idle longest under the keys `which` picks.
fn take_oldest(idle: &mut Idle, which: impl Fn(&PoolKey) -> bool) -> Option<IdleSession> {
    let oldest = idle
        .iter()
        .filter(|(key, _)| which(key))
        .filter_map(|(key, list)| list.first().map(|s| (s.since, key.clone())))
        .min_by_key(|(since, _)| *since)
        .map(|(_, key)| key)?;
    let list = idle.get_mut(&oldest).expect("just found");
    let session = list.remove(0);
    if list.is_empty() {
        idle.remove(&oldest);
    }
    Some(session)
}

/// Says goodbye on an idle session, briefly; failures ignored.
fn goodbye(idle: IdleSession) {
    idle.session.set_blocking(true);
    idle.session.set_timeout(200);
    let _ = idle.session.disconnect(None, "idle", None);
}

/// The soft limit on open descriptors.
fn descriptor_limit() -> Option<usize> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit struct we own.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    ok.then(|| usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idle() -> IdleSession {
        IdleSession::new(Session::new().unwrap(), -1)
    }

    fn key(name: &str) -> PoolKey {
        PoolKey {
            hops: vec![name.to_string()],
        }
    }

    fn via(name: &str, first_hop: &str) -> PoolKey {
        PoolKey {
            hops: vec![name.to_string(), first_hop.to_string()],
        }
    }

    #[test]
    fn keeps_a_bounded_number_of_idle_routes_through_one_jump_host() {
        let pool = SessionPool::with_most(MOST_IDLE);
        pool.put(key("direct"), idle());
        pool.put(via("other", "bastion2"), idle());
        for host in 0..PER_JUMP_HOST + 3 {
            pool.put(via(&format!("h{host}"), "bastion"), idle());
        }
        assert_eq!(
            pool.idle_count(),
            PER_JUMP_HOST + 2,
            "the bastion's cap, and the others"
        );
        for host in 0..3 {
            assert!(
                pool.take(&via(&format!("h{host}"), "bastion")).is_none(),
                "the routes idle longest through the bastion went first"
            );
        }
        assert!(pool.take(&via("h3", "bastion")).is_some());
        assert!(
            pool.take(&key("direct")).is_some(),
            "direct hosts are not counted"
        );
        assert!(
            pool.take(&via("other", "bastion2")).is_some(),
            "nor other bastions"
        );
    }

    #[test]
    fn keeps_two_per_host_and_closes_the_one_idle_longest_past_the_cap() {
        let pool = SessionPool::with_most(8);
        for _ in 0..3 {
            pool.put(key("a"), idle());
        }
        assert_eq!(pool.idle_count(), 2, "two per host");
        for host in 0..8 {
            pool.put(key(&format!("h{host}")), idle());
        }
        assert_eq!(pool.idle_count(), 8, "the fleet-wide cap");
        assert!(pool.take(&key("a")).is_none(), "the oldest went first");
        assert!(pool.take(&key("h7")).is_some());
        assert!(
            pool.take(&key("h7")).is_none(),
            "taken means out of the pool"
        );
        pool.forget(&key("h6"));
        assert!(pool.take(&key("h6")).is_none());
        assert_eq!(pool.idle_count(), 6);
    }

    #[test]
    fn a_session_idle_too_long_is_not_reused_and_each_route_has_its_own_key() {
        let pool = SessionPool::with_most(8);
        let stale = idle();
        let later = stale.since + IDLE_LIMIT;
        pool.put(key("a"), stale);
        assert!(pool.take_at(&key("a"), later).is_none());
        assert_eq!(pool.idle_count(), 0, "the stale session was dropped");

        let mut host = Host::for_test("web1");
        let ssh = host.ssh.clone();
        let strict = PoolKey::of(&host);
        host.ssh.login.strict_host_key_checking = false;
        assert_ne!(
            PoolKey::of(&host),
            strict,
            "an unchecked login never serves a strict call"
        );
        host.ssh.login.strict_host_key_checking = true;
        host.ssh.jumps.push(crate::topology::JumpHost {
            name: "bastion".into(),
            address: "127.0.0.2".into(),
            login: crate::topology::SshLogin {
                port: 22,
                key: None,
                strict_host_key_checking: true,
                ..ssh.login
            },
        });
        let via_bastion = PoolKey::of(&host);
        assert_ne!(
            via_bastion, strict,
            "a route through a jump host is another login"
        );
        host.ssh.jumps[0].login.strict_host_key_checking = false;
        assert_ne!(
            PoolKey::of(&host),
            via_bastion,
            "nor does a route with an unchecked jump host serve a strict one"
        );
    }
}
