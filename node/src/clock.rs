//! The node's one reading of the wall clock. Everything below the command line and HTTP edges
//! takes `now_ms` as a parameter (the pure crates cannot read a clock at all), so tests can pass
//! any time and a reader sees where time enters.

/// Milliseconds since the Unix epoch (0 if the system clock is before 1970).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
