//! Hostile WAT guests against the deny-all WASI context's edges: no WASI
//! function may wait past a call's deadline (clock subscriptions, `poll`,
//! `block`, in a call or in a start function), and none may make the host
//! allocate in proportion to what the guest asks for (random bytes, held
//! resources). Issue 15, findings 1 and 3.
//!
//! A regression here would hang rather than fail, so each load and call runs
//! on its own thread and the test fails if it has not answered in `GUARD`.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use ward::sandbox::{Decision, DenyReason, Limits, LoadError, Plugin, PluginOptions};

use crate::support::{self, cred, load_with, runtime};
use crate::wat_guests::{allow_fixed, componentize_importing, core_module_versioned, deny_case};

/// Longer than any bounded outcome here takes, far shorter than "forever".
const GUARD: Duration = Duration::from_secs(20);
/// A sleep the guest asks for; a wait this long would show.
const THREE_SECONDS_NS: u64 = 3_000_000_000;

const IMPORTS: &str = r#"
  (import "wasi:clocks/monotonic-clock@0.2.12" "now" (func $now (result i64)))
  (import "wasi:clocks/monotonic-clock@0.2.12" "subscribe-duration" (func $subscribe_duration (param i64) (result i32)))
  (import "wasi:clocks/monotonic-clock@0.2.12" "subscribe-instant" (func $subscribe_instant (param i64) (result i32)))
  (import "wasi:io/poll@0.2.12" "[method]pollable.block" (func $block (param i32)))
  (import "wasi:io/poll@0.2.12" "[method]pollable.ready" (func $ready (param i32) (result i32)))
  (import "wasi:io/poll@0.2.12" "poll" (func $poll (param i32 i32 i32)))
  (import "wasi:io/poll@0.2.12" "[resource-drop]pollable" (func $drop (param i32)))
  (import "wasi:random/random@0.2.12" "get-random-bytes" (func $random (param i64 i32)))
  (import "wasi:random/insecure@0.2.12" "get-insecure-random-bytes" (func $insecure (param i64 i32)))
"#;

/// Where list results and poll arguments go (below the bump allocator's 0x1000).
const SCRATCH: u32 = 0x400;

fn guest(body: &str, extra: &str) -> Vec<u8> {
    componentize_importing(&core_module_versioned("0.1.0", IMPORTS, 2, body, extra), "hostile-wasi")
}

/// A deadline far shorter than the three-second sleep, and long enough
/// that a loaded CI machine does not turn these calls into `timeout`.
const DEADLINE: Duration = Duration::from_secs(1);

fn options() -> PluginOptions {
    PluginOptions { limits: Limits { timeout: DEADLINE, ..Limits::default() }, ..PluginOptions::default() }
}

/// Loads on a thread; `None` if the load did not come back within `GUARD`.
fn load_guarded(bytes: Vec<u8>, options: PluginOptions) -> Option<Result<Plugin, LoadError>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(load_with(&runtime(), bytes, options));
    });
    rx.recv_timeout(GUARD).ok()
}

/// One call on a thread: the decision and how long it took, or a failed test.
fn call_guarded(plugin: &Plugin) -> (Decision, Duration) {
    let (tx, rx) = mpsc::channel();
    let plugin = plugin.clone();
    std::thread::spawn(move || {
        let started = Instant::now();
        let decision = plugin.authenticate(cred("t"), support::NOW_MS);
        let _ = tx.send((decision, started.elapsed()));
    });
    rx.recv_timeout(GUARD).expect("the call waited inside a host function past every deadline")
}

fn loaded(body: &str) -> Plugin {
    let loaded = load_guarded(guest(body, ""), options());
    loaded.expect("load hung").expect("the guest loads")
}

/// Allow if the virtual clock reads at least `ns` past where it started,
/// after `wait` (instructions using `$p`), else deny `malformed`.
fn after_wait_clock_advanced_by(ns: u64, wait: &str) -> String {
    format!(
        "(local $t0 i64) (local $p i32)
    (local.set $t0 (call $now))
    {wait}
    (if (result i32) (i64.ge_u (i64.sub (call $now) (local.get $t0)) (i64.const {ns}))
      (then {allow}) (else {deny}))",
        allow = allow_fixed(),
        deny = deny_case(1),
    )
}

#[test]
fn a_three_second_sleep_returns_at_once_on_the_virtual_clock() {
    let wait = format!("(local.set $p (call $subscribe_duration (i64.const {THREE_SECONDS_NS}))) (call $block (local.get $p)) (call $drop (local.get $p))");
    let plugin = loaded(&after_wait_clock_advanced_by(THREE_SECONDS_NS, &wait));
    let (decision, took) = call_guarded(&plugin);
    assert!(decision.is_allow(), "{decision:?}");
    // wasmtime-wasi's own clock slept the three seconds, past the deadline.
    assert!(took < DEADLINE * 2, "the guest waited on real time: {took:?}");
}

#[test]
fn a_sleep_of_u64_max_nanoseconds_returns() {
    let wait = "(local.set $p (call $subscribe_duration (i64.const -1))) (call $block (local.get $p))";
    let plugin = loaded(&after_wait_clock_advanced_by(0, wait));
    assert!(call_guarded(&plugin).0.is_allow());
}

#[test]
fn waiting_for_the_last_instant_returns() {
    let wait = "(local.set $p (call $subscribe_instant (i64.const -1))) (call $block (local.get $p))";
    let plugin = loaded(&after_wait_clock_advanced_by(0, wait));
    assert!(call_guarded(&plugin).0.is_allow());
    // The clock saturates at its last instant rather than wrapping.
    let wait = "(local.set $p (call $subscribe_instant (i64.const -1))) (call $block (local.get $p))
        (if (i64.ne (call $now) (i64.const -1)) (then unreachable))";
    let plugin = loaded(&after_wait_clock_advanced_by(0, wait));
    assert!(call_guarded(&plugin).0.is_allow());
}

#[test]
fn polling_a_list_of_far_deadlines_returns_them_all_ready() {
    // poll([subscribe-duration(max), subscribe-instant(max)]) -> list<u32> at SCRATCH+16.
    let wait = format!(
        "(i32.store (i32.const {SCRATCH}) (call $subscribe_duration (i64.const -1)))
    (i32.store (i32.const {p1}) (call $subscribe_instant (i64.const -1)))
    (call $poll (i32.const {SCRATCH}) (i32.const 2) (i32.const {ret}))
    (if (i32.ne (i32.load (i32.const {ret_len})) (i32.const 2)) (then unreachable))
    (if (i32.eqz (call $ready (i32.load (i32.const {SCRATCH})))) (then unreachable))",
        p1 = SCRATCH + 4,
        ret = SCRATCH + 16,
        ret_len = SCRATCH + 20,
    );
    let plugin = loaded(&after_wait_clock_advanced_by(0, &wait));
    assert!(call_guarded(&plugin).0.is_allow());
}

#[test]
fn a_start_function_that_sleeps_forever_loads() {
    let start = "(func $sleep (call $block (call $subscribe_duration (i64.const -1)))) (start $sleep)";
    let loaded = load_guarded(guest(&allow_fixed(), start), options());
    let plugin = loaded.expect("the probe instantiation waited forever").expect("the guest loads");
    assert!(call_guarded(&plugin).0.is_allow());
}

#[test]
fn a_start_function_that_waits_for_the_last_instant_loads() {
    let start = "(func $wait (call $block (call $subscribe_instant (i64.const -1)))) (start $wait)";
    let loaded = load_guarded(guest(&allow_fixed(), start), options());
    let plugin = loaded.expect("the probe instantiation waited forever").expect("the guest loads");
    assert!(call_guarded(&plugin).0.is_allow());
}

#[test]
fn a_start_function_that_polls_forever_comes_back() {
    let start = format!(
        "(func $wait (i32.store (i32.const {SCRATCH}) (call $subscribe_instant (i64.const -1)))
      (call $poll (i32.const {SCRATCH}) (i32.const 1) (i32.const {ret}))) (start $wait)",
        ret = SCRATCH + 16,
    );
    let loaded = load_guarded(guest(&allow_fixed(), &start), options());
    // `poll` returns a list, which needs the instance's allocator, which a
    // start function cannot call yet: the component model makes that a
    // trap. What matters here is that the load comes back.
    match loaded.expect("the probe instantiation waited forever") {
        Ok(_) => {}
        Err(err) => assert_eq!(err.code(), "trap", "{err}"),
    }
}

#[test]
fn sleeping_in_a_loop_still_ends_in_fuel_or_deadline() {
    let body = "(loop (call $drop (call $subscribe_duration (i64.const 1000000))) (br 0)) unreachable";
    let (decision, _) = call_guarded(&loaded(body));
    let reason = match decision {
        Decision::Deny(reason) => reason,
        Decision::Allow(_) => panic!("an endless loop allowed"),
    };
    assert!([DenyReason::FuelExhausted, DenyReason::Timeout].contains(&reason), "{reason:?}");
}

#[test]
fn a_guest_holds_at_most_1024_host_resources() {
    // 2 000 subscriptions, none dropped: under the cap the guest would allow.
    let body = format!(
        "(local $n i32)
    (loop (drop (call $subscribe_duration (i64.const 0)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if 0 (i32.lt_u (local.get $n) (i32.const 2000))))
    {}",
        allow_fixed()
    );
    assert_eq!(call_guarded(&loaded(&body)).0, Decision::Deny(DenyReason::Trap));
    // A few hundred, dropped or not, are fine.
    let body = body.replace("2000", "300");
    assert!(call_guarded(&loaded(&body)).0.is_allow());
}

/// Asks `import` (get-random-bytes or get-insecure-random-bytes) for `len`
/// bytes, then allows if it got them.
fn random_bytes(import: &str, len: u64) -> String {
    format!(
        "(call {import} (i64.const {len}) (i32.const {SCRATCH}))
    (if (i32.ne (i32.load (i32.const {ret_len})) (i32.const {low})) (then unreachable))
    {allow}",
        ret_len = SCRATCH + 4,
        low = len as u32,
        allow = allow_fixed(),
    )
}

#[test]
fn random_bytes_beyond_4_kib_are_a_trap_before_the_host_allocates() {
    for import in ["$random", "$insecure"] {
        assert!(call_guarded(&loaded(&random_bytes(import, 4096))).0.is_allow(), "{import}: 4 KiB");
        // 8 MiB fit the guest's 16 MiB memory: without the host's cap the
        // call would succeed after the host built the 8 MiB list.
        for len in [4097, 8 << 20, 64 << 20, u64::MAX >> 1] {
            let (decision, _) = call_guarded(&loaded(&random_bytes(import, len)));
            assert_eq!(decision, Decision::Deny(DenyReason::Trap), "{import}: {len} bytes");
        }
    }
}
