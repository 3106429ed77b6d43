//! How much one sync request to a partner carries, and how many may await an answer, from the
//! delivery rate measured on that partner's own answers.
//!
//! Fixed sizes fail on slow links: four requests of 2 MiB in flight take 64 s over a 1 Mbit/s
//! uplink, past the 60 s request timeout, so every request of a first sync timed out, the
//! round failed and started over, and the partner never caught up. Sizes learned per partner
//! keep each request a few seconds' worth of the link and what is in flight a fraction of the
//! timeout, while a fast link still gets full requests (so the link, not the protocol, is the
//! limit). The estimate is a delivery rate in the manner of BBR: for each answered request,
//! the bytes answered since it was sent over the time it took, which stays true with several
//! requests sharing the link. It includes the partner's processing, which is what decides
//! whether a request finishes in time. A request cut short because nothing more was queued
//! (app-limited, as BBR calls it) says how little there was to send, not how slow the link is:
//! its sample may raise the estimate but never lowers it, or a quiet spell of small exchanges
//! would leave a later first sync crawling in tiny requests.

use std::time::{Duration, Instant};

/// The first request to a partner, before any answer measured the link: small enough to
/// finish in 4 s at 512 kbit/s, large enough for a LAN's first answer to open the budget.
pub const FIRST_REQUEST_BYTES: usize = 256 * 1024;
/// Smallest request budget (one document larger than it still goes, alone).
pub const REQUEST_BYTES_MIN: usize = 16 * 1024;
/// A request should take about this share of the request timeout (60 s → 5 s).
const REQUEST_SHARE_OF_TIMEOUT: f64 = 1.0 / 12.0;
/// Everything in flight should take at most this share of the timeout (60 s → 15 s), so a
/// rate that halves mid-request still leaves every request on time.
const IN_FLIGHT_SHARE_OF_TIMEOUT: f64 = 1.0 / 4.0;
/// Weight of a new sample in the smoothed rate.
const SAMPLE_WEIGHT: f64 = 0.5;

/// A sent request, as the budget needs it when its answer comes.
#[derive(Debug, Clone, Copy)]
pub struct Sent {
    at: Instant,
    bytes: usize,
    delivered: u64,
    app_limited: bool,
}

/// One partner's learned request budget.
#[derive(Debug, Clone, Default)]
pub struct LinkBudget {
    /// Bytes a second, smoothed; `None` until the first answer.
    rate: Option<f64>,
    /// Bytes of requests and answers delivered so far.
    delivered: u64,
}

impl LinkBudget {
    /// Notes a request of `bytes` sent at `now`; `app_limited` when it was cut short because
    /// nothing more was waiting, not by the budget.
    pub fn sent(&self, bytes: usize, now: Instant, app_limited: bool) -> Sent {
        Sent {
            at: now,
            bytes,
            delivered: self.delivered,
            app_limited,
        }
    }

    /// The answer (`answer_bytes`) to `sent` arrived at `now`: a rate sample.
    pub fn answered(&mut self, sent: Sent, answer_bytes: usize, now: Instant) {
        self.delivered += (sent.bytes + answer_bytes) as u64;
        let secs = now
            .saturating_duration_since(sent.at)
            .as_secs_f64()
            .max(1e-3);
        let sample = (self.delivered - sent.delivered) as f64 / secs;
        self.rate = Some(match self.rate {
            Some(rate) if sample < rate && sent.app_limited => rate,
            // Rising fast (a LAN after the small first request), falling smoothly.
            Some(rate) if sample < rate => rate + SAMPLE_WEIGHT * (sample - rate),
            _ => sample,
        });
    }

    /// A request timed out or failed: the link is slower than believed; halve the rate (or,
    /// before any answer, assume the first request took the whole timeout).
    pub fn failed(&mut self, timeout: Duration) {
        let floor = FIRST_REQUEST_BYTES as f64 / timeout.as_secs_f64().max(1.0);
        self.rate = Some(match self.rate {
            Some(rate) => (rate / 2.0).max(1.0),
            None => floor,
        });
    }

    /// The bytes the next request may carry (`max` is the protocol's own cap).
    pub fn request_bytes(&self, timeout: Duration, max: usize) -> usize {
        let Some(rate) = self.rate else {
            return FIRST_REQUEST_BYTES.min(max);
        };
        let bytes = rate * timeout.as_secs_f64() * REQUEST_SHARE_OF_TIMEOUT;
        (bytes as usize).clamp(REQUEST_BYTES_MIN.min(max), max)
    }

    /// How many requests of `request_bytes` (from [`LinkBudget::request_bytes`]) may await an
    /// answer at once (`max` is the protocol's own cap).
    pub fn window(&self, timeout: Duration, request_bytes: usize, max: usize) -> usize {
        let Some(rate) = self.rate else {
            return 1;
        };
        let request = request_bytes.max(1) as f64;
        let fits = rate * timeout.as_secs_f64() * IN_FLIGHT_SHARE_OF_TIMEOUT / request;
        (fits as usize).clamp(1, max.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(60);
    const MAX: usize = 2 * 1024 * 1024;

    /// A link of `rate` bytes a second answering requests one after another.
    fn learn(rate: f64, requests: usize) -> LinkBudget {
        let mut budget = LinkBudget::default();
        let mut now = Instant::now();
        for _ in 0..requests {
            let bytes = budget.request_bytes(TIMEOUT, MAX);
            let sent = budget.sent(bytes, now, false);
            now += Duration::from_secs_f64(bytes as f64 / rate);
            budget.answered(sent, 0, now);
        }
        budget
    }

    #[test]
    fn what_is_in_flight_on_a_slow_link_finishes_well_within_the_timeout() {
        // 1 Mbit/s, and 256 kbit/s: the fixed 4 × 2 MiB took 64 s and 256 s.
        for rate in [125_000.0, 32_000.0] {
            let b = learn(rate, 4);
            let request = b.request_bytes(TIMEOUT, MAX);
            let in_flight = request * b.window(TIMEOUT, request, 4);
            let secs = in_flight as f64 / rate;
            assert!(
                secs <= TIMEOUT.as_secs_f64() / 3.0,
                "{rate}: {secs} s in flight"
            );
            assert!(
                b.window(TIMEOUT, request, 4) >= 2,
                "the link stays busy between answers"
            );
        }
    }

    #[test]
    fn a_fast_link_gets_full_requests_and_the_full_window_after_the_first_answer() {
        let b = learn(50_000_000.0, 1);
        assert_eq!(b.request_bytes(TIMEOUT, MAX), MAX);
        assert_eq!(b.window(TIMEOUT, MAX, 4), 4);
        // Before any answer: one small request.
        let fresh = LinkBudget::default();
        assert_eq!(fresh.request_bytes(TIMEOUT, MAX), FIRST_REQUEST_BYTES);
        assert_eq!(fresh.window(TIMEOUT, FIRST_REQUEST_BYTES, 4), 1);
    }

    #[test]
    fn concurrent_requests_measure_the_shared_link_not_each_one_alone() {
        // Two requests of 100 kB sent together over a 100 kB/s link: the first answer after
        // 1 s, the second after 2 s. The second's sample counts both: 100 kB/s, not 50.
        let mut b = LinkBudget::default();
        let t0 = Instant::now();
        let first = b.sent(100_000, t0, false);
        let second = b.sent(100_000, t0, false);
        b.answered(first, 0, t0 + Duration::from_secs(1));
        b.answered(second, 0, t0 + Duration::from_secs(2));
        let rate = b.rate.unwrap_or(0.0);
        assert!((rate - 100_000.0).abs() < 1.0, "{rate}");
    }

    #[test]
    fn small_exchanges_with_nothing_more_to_send_do_not_shrink_the_budget() {
        let mut b = learn(100_000.0, 3);
        let before = b.request_bytes(TIMEOUT, MAX);
        // A 1 KB request answered after 2 s (the partner busy): app-limited, ignored...
        let t0 = Instant::now();
        let small = b.sent(1_000, t0, true);
        b.answered(small, 0, t0 + Duration::from_secs(2));
        assert_eq!(b.request_bytes(TIMEOUT, MAX), before);
        // ...while a full request as slow lowers it.
        let full = b.sent(before, t0, false);
        b.answered(full, 0, t0 + Duration::from_secs(60));
        assert!(b.request_bytes(TIMEOUT, MAX) < before);
    }

    #[test]
    fn a_timeout_halves_the_budget_and_a_first_timeout_assumes_the_slowest_link() {
        let mut b = learn(100_000.0, 3);
        let before = b.request_bytes(TIMEOUT, MAX);
        b.failed(TIMEOUT);
        let after = b.request_bytes(TIMEOUT, MAX);
        assert!(after.abs_diff(before / 2) <= 1, "{before} → {after}");
        // Before any answer: as if the first request had taken the whole timeout.
        let mut fresh = LinkBudget::default();
        fresh.failed(TIMEOUT);
        let first = fresh.request_bytes(TIMEOUT, MAX);
        assert!(first < FIRST_REQUEST_BYTES / 10, "{first}");
        assert_eq!(fresh.window(TIMEOUT, first, 4), 3);
    }
}
