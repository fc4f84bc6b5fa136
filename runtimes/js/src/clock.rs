//! The one clock QuickJS reads (`Date.now()`, `new Date()`, `performance.now()`):
//! the request time the host passes in the context, nothing ambient.
//!
//! rquickjs's wasm shim declares `__rquickjs_host_now_us` as a host import;
//! defining it here resolves it inside the module at link time, so the
//! engine imports nothing and the component nothing but the ward world.

use std::cell::Cell;

thread_local! {
    static NOW_US: Cell<f64> = const { Cell::new(0.0) };
}

/// Sets the clock for the call about to run (milliseconds since the epoch).
pub(crate) fn set_request_time(now_ms: u64) {
    // u64 ms -> f64 us is exact below 2^53 us (the year 2255).
    NOW_US.with(|now| now.set(now_ms as f64 * 1000.0));
}

// The symbol QuickJS's C code links against; its name is fixed by rquickjs.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
extern "C" fn __rquickjs_host_now_us() -> f64 {
    NOW_US.with(Cell::get)
}
