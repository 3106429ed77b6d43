//! Limits on sign-in attempts, per username and per client address, so a password cannot be
//! guessed at the speed the node answers. Memory is bounded: at most [`SIGN_IN_KEYS_MAX`]
//! usernames and addresses are tracked at once.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed sign-ins one username, or one client address, may have per [`SIGN_IN_WINDOW`]. Ten
/// leaves room for a person who mistypes a few times (and for several people behind one
/// address), while a guesser gets 40 tries an hour: nowhere near enough against the
/// [`crate::domain::users::PASSWORD_CHARS_MIN`]-character passwords the node requires.
pub const SIGN_IN_FAILURES_MAX: u32 = 10;
/// How long failures count. 15 minutes is the usual lockout: short enough that a person who
/// locked themselves out waits a coffee break, long enough to make guessing slow.
pub const SIGN_IN_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Usernames and addresses tracked at once. An entry is about 100 bytes, so the table stays
/// under a few MiB whatever is sent; when it is full, expired entries go first, then the oldest
/// (an attacker who floods it can at worst make an old entry forget its failures early, and
/// flooding from one address is itself limited).
pub const SIGN_IN_KEYS_MAX: usize = 10_000;

/// What a failure counts against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// A username (its SHA-256 after trimming and lower-casing, as sign-in reads it, so a
    /// long name costs no memory), whether or not such a user exists.
    User([u8; 32]),
    /// A client address (an IPv6 address by its /64: one host usually holds the whole block).
    Addr(IpAddr),
}

impl Key {
    /// The key of `username`.
    pub fn user(username: &str) -> Key {
        Key::User(Sha256::digest(username.trim().to_lowercase().as_bytes()).into())
    }

    /// The key of a client address.
    pub fn addr(ip: IpAddr) -> Key {
        let ip = match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let mut octets = v6.octets();
                    octets[8..].fill(0);
                    IpAddr::from(octets)
                }
            },
            v4 => v4,
        };
        Key::Addr(ip)
    }
}

/// The address sign-in limits count against: the connection's peer, or, when the peer is on
/// this host (a reverse proxy beside the node, as SECURITY.md advises for exposing it), the
/// last address of its `X-Forwarded-For` (the client that proxy saw). `None` when the server
/// did not record peers: then only the per-username limit applies.
pub fn client_addr(peer: Option<SocketAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
    let peer = peer?.ip();
    if peer.is_loopback() {
        if let Some(ip) = forwarded_for
            .and_then(|v| v.rsplit(',').next())
            .and_then(|last| last.trim().parse::<IpAddr>().ok())
        {
            return Some(ip);
        }
    }
    Some(peer)
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

/// Failed sign-ins by key, each counted in a fixed window.
#[derive(Debug, Default)]
pub struct SignInLimiter {
    windows: Mutex<HashMap<Key, Window>>,
}

impl SignInLimiter {
    /// Counts an attempt against every key before the password is checked (so parallel
    /// attempts cannot slip past the limit); `Err(wait)` when one of them has no attempt left,
    /// with how long until it has. A successful sign-in gives the attempt back
    /// ([`SignInLimiter::succeeded`]).
    pub fn attempt(&self, keys: &[Key], now: Instant) -> Result<(), Duration> {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let mut wait = Duration::ZERO;
        for key in keys {
            if let Some(w) = windows.get(key) {
                let ends = w.started + SIGN_IN_WINDOW;
                if ends > now && w.failures >= SIGN_IN_FAILURES_MAX {
                    wait = wait.max(ends - now);
                }
            }
        }
        if wait > Duration::ZERO {
            return Err(wait);
        }
        for key in keys {
            if !windows.contains_key(key) && windows.len() >= SIGN_IN_KEYS_MAX {
                make_room(&mut windows, now);
            }
            let w = windows.entry(key.clone()).or_insert(Window {
                started: now,
                failures: 0,
            });
            if w.started + SIGN_IN_WINDOW <= now {
                *w = Window {
                    started: now,
                    failures: 0,
                };
            }
            w.failures += 1;
        }
        Ok(())
    }

    /// A sign-in with `keys` succeeded: the username starts afresh, and the address gets its
    /// attempt back (people behind one proxy who sign in correctly do not use up its limit).
    pub fn succeeded(&self, keys: &[Key]) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        for key in keys {
            match key {
                Key::User(_) => {
                    windows.remove(key);
                }
                Key::Addr(_) => {
                    if let Some(w) = windows.get_mut(key) {
                        w.failures = w.failures.saturating_sub(1);
                    }
                }
            }
        }
    }

    /// Keys tracked now.
    #[cfg(test)]
    pub fn tracked(&self) -> usize {
        self.windows.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// Drops expired windows; if none had expired, the oldest one.
fn make_room(windows: &mut HashMap<Key, Window>, now: Instant) {
    windows.retain(|_, w| w.started + SIGN_IN_WINDOW > now);
    if windows.len() >= SIGN_IN_KEYS_MAX {
        if let Some(oldest) = windows
            .iter()
            .min_by_key(|(_, w)| w.started)
            .map(|(k, _)| k.clone())
        {
            windows.remove(&oldest);
        }
    }
}

/// "15 minutes", "1 minute": how long to wait, in whole minutes rounded up.
pub fn minutes(wait: Duration) -> String {
    let minutes = wait.as_secs().div_ceil(60).max(1);
    if minutes == 1 {
        "1 minute".to_string()
    } else {
        format!("{minutes} minutes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eleventh_attempt_in_a_window_waits_until_the_window_ends() {
        let limiter = SignInLimiter::default();
        let start = Instant::now();
        let keys = [
            Key::user(" Vera "),
            Key::addr("203.0.113.7".parse().expect("ip")),
        ];
        for _ in 0..SIGN_IN_FAILURES_MAX {
            assert_eq!(limiter.attempt(&keys, start), Ok(()));
        }
        let later = start + Duration::from_secs(60);
        assert_eq!(
            limiter.attempt(&[Key::user("vera")], later),
            Err(SIGN_IN_WINDOW - Duration::from_secs(60)),
            "the username is limited, however it is written"
        );
        let elsewhere = [
            Key::user("mark"),
            Key::addr("203.0.113.8".parse().expect("ip")),
        ];
        assert_eq!(limiter.attempt(&elsewhere, later), Ok(()));
        assert!(limiter.attempt(&keys, later).is_err());
        assert_eq!(limiter.attempt(&keys, start + SIGN_IN_WINDOW), Ok(()));
        assert_eq!(minutes(Duration::from_secs(1)), "1 minute");
        assert_eq!(minutes(Duration::from_secs(14 * 60 + 1)), "15 minutes");
    }

    #[test]
    fn a_successful_sign_in_clears_the_username_and_returns_the_address_its_attempt() {
        let limiter = SignInLimiter::default();
        let now = Instant::now();
        let proxy = Key::addr("192.0.2.1".parse().expect("ip"));
        for i in 0..SIGN_IN_FAILURES_MAX - 1 {
            let keys = [Key::user(&format!("u{i}")), proxy.clone()];
            limiter.attempt(&keys, now).expect("room");
        }
        let vera = [Key::user("vera"), proxy.clone()];
        limiter.attempt(&vera, now).expect("room");
        limiter.succeeded(&vera);
        limiter
            .attempt(&[Key::user("mark"), proxy.clone()], now)
            .expect("the success gave the address its attempt back");
        assert!(limiter.attempt(&[Key::user("ann"), proxy], now).is_err());
    }

    #[test]
    fn the_limiter_tracks_a_bounded_number_of_keys() {
        let limiter = SignInLimiter::default();
        let start = Instant::now();
        for i in 0..SIGN_IN_KEYS_MAX + 500 {
            let at = start + Duration::from_millis(i as u64);
            limiter
                .attempt(&[Key::user(&format!("name{i}"))], at)
                .expect("room");
        }
        assert_eq!(limiter.tracked(), SIGN_IN_KEYS_MAX);
    }

    #[test]
    fn the_client_address_is_the_peer_or_what_a_proxy_on_this_host_forwarded() {
        let peer = |s: &str| Some(s.parse::<SocketAddr>().expect("addr"));
        let ip = |s: &str| Some(s.parse::<IpAddr>().expect("ip"));
        assert_eq!(
            client_addr(peer("198.51.100.4:5000"), None),
            ip("198.51.100.4")
        );
        assert_eq!(
            client_addr(peer("198.51.100.4:5000"), Some("203.0.113.9")),
            ip("198.51.100.4"),
            "a remote client cannot choose its address"
        );
        assert_eq!(
            client_addr(peer("127.0.0.1:5000"), Some("10.0.0.1, 203.0.113.9")),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_addr(peer("127.0.0.1:5000"), Some("junk")),
            ip("127.0.0.1")
        );
        assert_eq!(client_addr(None, Some("203.0.113.9")), None);
        assert_eq!(
            Key::addr("2001:db8::1".parse().expect("ip")),
            Key::addr("2001:db8::ffff".parse().expect("ip")),
            "one /64"
        );
    }
}
