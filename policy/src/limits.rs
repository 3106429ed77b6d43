//! Every limit the policy library enforces, each with why it exists.

/// Largest policy text accepted, in bytes. A policy is a few dozen lines; the cap bounds parser
/// memory for text that arrives over the HTTP API.
pub const POLICY_BYTES_MAX: usize = 64 * 1024;
/// Most entries in one list (`stages`, `countries`, `owners`, tags...). Filters are matched by a
/// linear scan per row, so long lists would slow every projection.
pub const LIST_ENTRIES_MAX: usize = 1000;
/// Most bounds in `amount = { buckets = [...] }`. More would be rounding, not bucketing.
pub const BUCKETS_MAX: usize = 32;
/// Largest `round_to` step and bucket bound, in whole currency units (10^12). Keeps
/// `step × 10^4` (amounts are stored in ten-thousandths) far inside `i64`.
pub const ROUND_TO_UNITS_MAX: i64 = 1_000_000_000_000;
