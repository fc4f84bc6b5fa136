//! The wall clock the lifecycle reads: for trust windows at load, and for
//! each request's `now_ms` when the server does not give one.

/// Unix milliseconds; a clock before 1970 reads as 0 (the trust window then fails closed).
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
