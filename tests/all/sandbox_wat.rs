//! The sandbox against hostile components written in WAT: each ends in its
//! exact reason, and the same runtime keeps serving afterwards.

use std::time::{Duration, Instant};

use ward::sandbox::{
    BoundsChecks, CodeLimits, Decision, DenyReason, EngineSettings, Limits, LoadError, PluginDeny, PluginOptions, Runtime, RuntimeConfig, WasiMode,
};

use crate::support::{self, cred, load, load_with, runtime, runtime_with};
use crate::wat_guests::{allow_fixed, claims_at, component, componentize, core_module, deny_case};

fn deny(decision: Decision) -> DenyReason {
    match decision {
        Decision::Deny(reason) => reason,
        Decision::Allow(identity) => panic!("expected a deny, got an allow for {}", identity.id),
    }
}

#[test]
fn a_minimal_wat_plugin_allows_with_a_host_built_identity() {
    let rt = runtime();
    let plugin = load(&rt, component(&allow_fixed())).unwrap();
    let Decision::Allow(identity) = plugin.authenticate(cred("anything"), 1) else { panic!("deny") };
    assert!(identity.id.starts_with(&format!("{}:", plugin.id())));
    assert!(!identity.id.contains("wat-user"), "raw subject leaked into the id");
    assert!(!plugin.imports_wasi());
}

#[test]
fn the_plugins_own_deny_reasons_map_to_plugin_codes() {
    let rt = runtime();
    let expected = [
        "plugin:missing-credential",
        "plugin:malformed",
        "plugin:bad-signature",
        "plugin:expired",
        "plugin:not-yet-valid",
        "plugin:wrong-issuer",
        "plugin:wrong-audience",
        "plugin:unknown-key",
        "plugin:revoked",
        "plugin:insufficient-scope",
        "plugin:denied",
    ];
    for (case, code) in expected.iter().enumerate() {
        let plugin = load(&rt, component(&deny_case(case as u32))).unwrap();
        assert_eq!(deny(plugin.authenticate(cred("t"), 1)).code(), *code);
    }
    assert_eq!(DenyReason::Plugin(PluginDeny::Expired).code(), "plugin:expired");
}

#[test]
fn an_out_of_range_deny_enum_is_a_trap_not_a_reason() {
    let rt = runtime();
    let plugin = load(&rt, component(&deny_case(99))).unwrap();
    assert_eq!(deny(plugin.authenticate(cred("t"), 1)), DenyReason::Trap);
}

#[test]
fn infinite_loop_runs_out_of_fuel() {
    let rt = runtime();
    // A generous deadline so that on a loaded machine fuel still ends it first.
    let limits = Limits { timeout: Duration::from_secs(10), ..Limits::default() };
    let plugin = load_with(&rt, component("(loop br 0) unreachable"), PluginOptions { limits, ..Default::default() }).unwrap();
    assert_eq!(deny(plugin.authenticate(cred("t"), 1)), DenyReason::FuelExhausted);
    support::assert_still_serves(&rt);
}

#[test]
fn infinite_loop_with_ample_fuel_hits_the_deadline_on_time() {
    let rt = runtime();
    let limits = Limits { fuel: u64::MAX / 4, timeout: Duration::from_millis(50), ..Limits::default() };
    let plugin = load_with(&rt, component("(loop br 0) unreachable"), PluginOptions { limits, ..Default::default() }).unwrap();
    let started = Instant::now();
    assert_eq!(deny(plugin.authenticate(cred("t"), 1)), DenyReason::Timeout);
    let took = started.elapsed();
    assert!(took < Duration::from_millis(50 + 150), "deadline overshot: {took:?}");
    assert!(took >= Duration::from_millis(45), "deadline fired early: {took:?}");
    support::assert_still_serves(&rt);
}

#[test]
fn a_start_function_that_loops_is_refused_at_load() {
    let rt = runtime();
    let wat = core_module(1, &allow_fixed(), "(func $spin (loop br 0)) (start $spin)");
    let err = load(&rt, componentize(&wat)).unwrap_err();
    // Which budget ends it first depends on machine load; both are bounded.
    assert!(["fuel-exhausted", "timeout"].contains(&err.code()), "{err}");
    support::assert_still_serves(&rt);
}

#[test]
fn memory_bomb_hits_the_memory_limit() {
    let rt = runtime();
    let body = "(loop (br_if 0 (i32.ne (memory.grow (i32.const 16)) (i32.const -1)))) unreachable";
    let plugin = load(&rt, component(body)).unwrap();
    assert_eq!(deny(plugin.authenticate(cred("t"), 1)), DenyReason::MemoryLimit);
    support::assert_still_serves(&rt);
}

#[test]
fn initial_memory_above_the_limit_is_refused_at_load() {
    let rt = runtime();
    let err = load(&rt, componentize(&core_module(1000, &allow_fixed(), ""))).unwrap_err();
    assert!(matches!(err, LoadError::InitialMemoryTooLarge { .. }), "{err:?}");
    assert_eq!(err.code(), "memory-limit");
}

#[test]
fn unbounded_recursion_overflows_the_stack() {
    let rt = runtime();
    let wat = core_module(1, "(call $deep (i32.const 0))", "(func $deep (param i32) (result i32) (call $deep (i32.add (local.get 0) (i32.const 1))))");
    let plugin = load(&rt, componentize(&wat)).unwrap();
    assert_eq!(deny(plugin.authenticate(cred("t"), 1)), DenyReason::StackOverflow);
    support::assert_still_serves(&rt);
}

#[test]
fn unreachable_is_a_trap() {
    let rt = runtime();
    let plugin = load(&rt, component("unreachable")).unwrap();
    assert_eq!(deny(plugin.authenticate(cred("t"), 1)), DenyReason::Trap);
}

#[test]
fn a_forged_ten_mib_subject_is_refused_without_copying_it() {
    let rt = runtime();
    // 200 pages = 12.5 MiB: the subject claims 10 MiB of zeroes at 64 KiB.
    let wat = core_module(200, &claims_at(0x10000, 10 << 20, 0, 0), "");
    let limits = Limits { memory_bytes: 16 << 20, ..Limits::default() };
    let plugin = load_with(&rt, componentize(&wat), PluginOptions { limits, ..Default::default() }).unwrap();
    assert_eq!(deny(plugin.authenticate(cred("t"), 1)), DenyReason::InvalidClaims);
}

#[test]
fn a_forged_million_scope_list_is_refused_by_count() {
    let rt = runtime();
    // 1,000,000 list entries of 8 bytes fit in 130 pages; none is ever read.
    let wat = core_module(130, &claims_at(0x200, 8, 0x10000, 1_000_000), "");
    let plugin = load(&rt, componentize(&wat)).unwrap();
    assert_eq!(deny(plugin.authenticate(cred("t"), 1)), DenyReason::InvalidClaims);
}

#[test]
fn an_out_of_bounds_subject_pointer_is_a_trap() {
    let rt = runtime();
    let plugin = load(&rt, component(&claims_at(0xffff_0000, 100, 0, 0))).unwrap();
    assert_eq!(deny(plugin.authenticate(cred("t"), 1)), DenyReason::Trap);
}

#[test]
fn a_bad_result_discriminant_is_a_trap() {
    let rt = runtime();
    let plugin = load(&rt, component("(i32.store8 (i32.const 0x100) (i32.const 7)) (i32.const 0x100)")).unwrap();
    assert_eq!(deny(plugin.authenticate(cred("t"), 1)), DenyReason::Trap);
}

#[test]
fn a_global_counter_sees_a_fresh_instance_every_call() {
    let rt = runtime();
    // Allow only while the counter is 1: a reused instance would deny on call two.
    let body = format!(
        "(global.set $calls (i32.add (global.get $calls) (i32.const 1)))
         (if (result i32) (i32.eq (global.get $calls) (i32.const 1)) (then {}) (else {}))",
        allow_fixed(),
        deny_case(10)
    );
    let plugin = load(&rt, component(&body)).unwrap();
    for _ in 0..50 {
        assert!(plugin.authenticate(cred("t"), 1).is_allow());
    }
}

#[test]
fn oversized_credentials_are_refused_before_guest_code_runs() {
    let rt = runtime();
    // The guest would trap if it ran; `oversized` proves it did not.
    let limits = Limits { max_credential_bytes: 64, ..Limits::default() };
    let plugin = load_with(&rt, component("unreachable"), PluginOptions { limits, ..Default::default() }).unwrap();
    assert_eq!(deny(plugin.authenticate(cred(&"x".repeat(100)), 1)), DenyReason::Oversized);
    assert_eq!(deny(plugin.authenticate(cred("short"), 1)), DenyReason::Trap);
}

#[test]
fn calls_beyond_max_concurrent_are_refused_at_once() {
    let rt = runtime();
    let limits = Limits { max_concurrent: 1, fuel: u64::MAX / 4, timeout: Duration::from_millis(300), ..Limits::default() };
    let plugin = load_with(&rt, component("(loop br 0) unreachable"), PluginOptions { limits, ..Default::default() }).unwrap();
    let slow = {
        let plugin = plugin.clone();
        std::thread::spawn(move || plugin.authenticate(cred("t"), 1))
    };
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    assert_eq!(deny(plugin.authenticate(cred("t"), 1)), DenyReason::OverCapacity);
    assert!(started.elapsed() < Duration::from_millis(50), "over-capacity must not queue");
    assert_eq!(deny(slow.join().unwrap()), DenyReason::Timeout);
}

#[test]
fn core_modules_random_bytes_and_empty_files_are_invalid_components() {
    let rt = runtime();
    let mut random = vec![0u8; 4096];
    for (i, byte) in random.iter_mut().enumerate() {
        *byte = (i.wrapping_mul(2654435761) >> 7) as u8;
    }
    let core = wat::parse_str("(module (func (export \"f\")))").unwrap();
    let header_only = b"\0asm\x0d\x00\x01\x00".to_vec();
    for bytes in [core, random, Vec::new(), header_only] {
        let err = load(&rt, bytes).unwrap_err();
        assert_eq!(err.code(), "invalid-component", "{err}");
    }
}

#[test]
fn a_component_exporting_something_else_is_invalid() {
    let rt = runtime();
    let other = wat::parse_str("(component (core module $m (func (export \"f\"))) (core instance (instantiate $m)))").unwrap();
    assert_eq!(load(&rt, other).unwrap_err().code(), "invalid-component");
}

#[test]
fn unknown_socket_and_http_imports_are_forbidden_in_every_mode() {
    for mode in [WasiMode::DenyAll, WasiMode::Refuse] {
        let rt = runtime_with(mode);
        for name in ["evil:host/steal", "wasi:sockets/tcp@0.2.0", "wasi:http/outgoing-handler@0.2.0", "wasi:cli/environment@0.3.0"] {
            let bytes = wat::parse_str(format!("(component (import \"{name}\" (instance)))")).unwrap();
            let err = load(&rt, bytes).unwrap_err();
            assert_eq!(err, LoadError::ForbiddenImport { name: name.to_string() }, "{mode:?}");
        }
    }
}

#[test]
fn refuse_mode_refuses_even_served_wasi_imports() {
    let rt = runtime_with(WasiMode::Refuse);
    let bytes = wat::parse_str("(component (import \"wasi:cli/environment@0.2.0\" (instance)))").unwrap();
    assert_eq!(load(&rt, bytes).unwrap_err().code(), "forbidden-import");
}

#[test]
fn runtime_and_plugin_are_send_and_sync() {
    fn shared_across_threads<T: Send + Sync + Clone>() {}
    shared_across_threads::<ward::sandbox::Runtime>();
    shared_across_threads::<ward::sandbox::Plugin>();
}

/// A runtime whose engine keeps memory accesses in bounds with `checks`.
fn runtime_checking(checks: BoundsChecks) -> Runtime {
    let engine = EngineSettings { bounds_checks: checks, ..EngineSettings::default() };
    Runtime::new(RuntimeConfig { engine, ..RuntimeConfig::default() }, support::identity_key()).unwrap()
}

#[test]
fn accesses_outside_the_memory_trap_in_both_bounds_modes() {
    for checks in [BoundsChecks::GuardRegions, BoundsChecks::Explicit] {
        let rt = runtime_checking(checks);
        // Just past the one page, and near the top of the 32-bit space
        // (inside the guard region's reservation, never mapped).
        for address in ["65536", "65533", "0xfffffff0"] {
            let plugin = load(&rt, component(&format!("(drop (i32.load (i32.const {address}))) {}", allow_fixed()))).unwrap();
            assert_eq!(deny(plugin.authenticate(cred("t"), 1)), DenyReason::Trap, "{checks:?} at {address}");
        }
        support::assert_still_serves(&rt);
    }
}

/// A page one call grows is gone, and zero again, for the next call: the
/// slot's reset must take it back (with guard regions, make it inaccessible
/// again), whatever the mode.
#[test]
fn memory_grown_in_one_call_is_gone_in_the_next() {
    // Token "grow": grow a page, check it is zero, write to it. Any other
    // token: read that page, which a fresh one-page instance does not have.
    let body = format!(
        "(if (i32.eq (i32.load8_u (local.get 2)) (i32.const 103))
           (then
             (drop (memory.grow (i32.const 1)))
             (if (i32.ne (i32.load (i32.const 70000)) (i32.const 0)) (then unreachable))
             (i32.store (i32.const 70000) (i32.const 42))))
         (drop (i32.load (i32.const 70000)))
         {}",
        allow_fixed()
    );
    for checks in [BoundsChecks::GuardRegions, BoundsChecks::Explicit] {
        let rt = runtime_checking(checks);
        let plugin = load(&rt, component(&body)).unwrap();
        for _ in 0..3 {
            assert!(plugin.authenticate(cred("grow"), 1).is_allow(), "{checks:?}");
            assert_eq!(deny(plugin.authenticate(cred("read"), 1)), DenyReason::Trap, "{checks:?}");
        }
    }
}

/// A function with `locals` i64 locals and `blocks` blocks, nested or one
/// after another, each touching three locals: the shape whose compile time
/// grows with locals × blocks (a signed 1.2 MB one took a minute and
/// gigabytes).
fn function_with(locals: u32, blocks: u32, nested: bool) -> String {
    let mut f = format!("(func $bomb (local{})", " i64".repeat(locals as usize));
    for d in 0..blocks {
        let (a, b, c) = (d % locals, (d * 7) % locals, (d * 13) % locals);
        f.push_str(&format!(" (block (local.set {a} (i64.add (local.get {b}) (local.get {c})))"));
        if !nested {
            f.push(')');
        }
    }
    if nested {
        f.push_str(&")".repeat(blocks as usize));
    }
    f.push(')');
    f
}

fn deep_function(locals: u32, depth: u32) -> String {
    function_with(locals, depth, true)
}

#[test]
fn code_bombs_are_refused_before_compiling() {
    let rt = runtime();
    let refused = |extra: &str, limits: Limits| {
        let bytes = componentize(&core_module(1, &allow_fixed(), extra));
        match load_with(&rt, bytes, PluginOptions { limits, ..Default::default() }) {
            Err(LoadError::CodeLimit { what, .. }) => what,
            other => panic!("expected code-limit, got {:?}", other.map(|p| p.id().to_owned())),
        }
    };
    let defaults = Limits::default();
    // The review's bomb: 50 000 locals (wasm's own maximum) in deep blocks.
    assert_eq!(refused(&deep_function(50_000, 5_000), defaults), "locals");
    assert_eq!(refused(&deep_function(10, 1_001), defaults), "nesting");
    assert_eq!(refused(&function_with(2_000, 2_001, false), defaults), "localsByBlocks");
    // Copies of a function just inside that bound add up: twenty of them
    // compiled for 11 s of CPU before the sum was bounded.
    let copies: String = (0..5).map(|i| function_with(2_000, 2_000, false).replacen("$bomb", &format!("$bomb{i}"), 1)).collect();
    assert_eq!(refused(&copies, defaults), "localsByBlocksTotal");
    // Each remaining bound, lowered so the test stays small.
    let code = |c: CodeLimits| Limits { code: c, ..defaults };
    let base = CodeLimits::default();
    let many = "(func $a) (func $b) (func $c)";
    assert_eq!(refused(many, code(CodeLimits { functions: 3, ..base })), "functions");
    assert_eq!(refused(&deep_function(10, 100), code(CodeLimits { function_bytes: 512, ..base })), "functionBytes");
    assert_eq!(refused(&deep_function(10, 100), code(CodeLimits { code_bytes: 1024, ..base })), "codeBytes");
    let data = format!("(data (i32.const 4096) \"{}\")", "x".repeat(2048));
    assert_eq!(refused(&data, code(CodeLimits { data_bytes: 2047, ..base })), "dataBytes");
    // Within the bounds the same shapes load.
    assert!(load(&rt, componentize(&core_module(1, &allow_fixed(), &deep_function(100, 900)))).is_ok());
    assert!(
        load_with(
            &rt,
            componentize(&core_module(1, &allow_fixed(), &data)),
            PluginOptions { limits: code(CodeLimits { data_bytes: 4096, ..base }), ..Default::default() }
        )
        .is_ok()
    );
    assert_eq!(LoadError::CodeLimit { what: "locals", limit: 2_000 }.code(), "code-limit");
}
