//! The sandbox against real Rust guests built from source by `tests/build.rs`:
//! the example plugin, the hostile suite, a stateful guest, and guests that
//! import WASI. Every guest has a test here (`foreach_guest!` enforces it).

use std::time::{Duration, Instant};

use ward::identity::{ClaimsPolicy, Identity, PrincipalType};
use ward::sandbox::{Decision, DenyReason, Limits, Plugin, PluginOptions, Runtime, WasiMode};

use crate::support::{NOW_MS, cred, identity_key, load_with, runtime, runtime_with};
// Plugins tested in their own modules, named here for `foreach_guest!`.
#[allow(unused_imports)]
use crate::api_key::api_key;
#[allow(unused_imports)]
use crate::host_crypto::jwt_host_crypto;
#[allow(unused_imports)]
use crate::jwt::jwt;

macro_rules! assert_test_exists {
    ($name:ident) => {
        #[allow(unused_imports)]
        use self::$name as _;
    };
}
ward_tests::foreach_guest!(assert_test_exists);

fn guest(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|err| panic!("guest {path} was not built: {err}"))
}

fn load_guest(runtime: &Runtime, path: &str, options: PluginOptions) -> Plugin {
    load_with(runtime, guest(path), options).unwrap()
}

/// The id the host must derive for `subject` (issuer none) from the test plugin.
fn expected_id(subject: &str) -> String {
    let policy = ClaimsPolicy::default();
    let mut sanitizer = policy.sanitizer();
    sanitizer.subject(subject).unwrap();
    Identity::derive(&identity_key(), "test-plugin", sanitizer.finish(PrincipalType::User).unwrap()).id
}

fn deny(decision: Decision) -> DenyReason {
    match decision {
        Decision::Deny(reason) => reason,
        Decision::Allow(identity) => panic!("expected a deny, got an allow for {}", identity.id),
    }
}

fn allow(decision: Decision) -> Identity {
    match decision {
        Decision::Allow(identity) => identity,
        Decision::Deny(reason) => panic!("expected an allow, got {}", reason.code()),
    }
}

#[test]
fn example_token() {
    let rt = runtime();
    let settings = vec![
        ("secret".to_owned(), "s3cret".to_owned()),
        ("scopes".to_owned(), "orders:read orders:write".to_owned()),
        ("team".to_owned(), "payments".to_owned()),
    ];
    let plugin = load_guest(&rt, ward_tests::EXAMPLE_TOKEN, PluginOptions { settings, ..Default::default() });
    let token = mint("s3cret", "alice");
    let identity = allow(plugin.authenticate(cred(&token), NOW_MS));
    assert_eq!(identity.id, expected_id_with("alice", &["orders:read", "orders:write"], Some("payments")));
    assert_eq!(identity.scopes, ["orders:read", "orders:write"]);
    assert_eq!(identity.labels, [("team".to_owned(), "payments".to_owned())]);
    let forged = mint("other-secret", "alice");
    assert_eq!(deny(plugin.authenticate(cred(&forged), NOW_MS)).code(), "plugin:bad-signature");
    assert_eq!(deny(plugin.authenticate(cred("demo.alice"), NOW_MS)).code(), "plugin:malformed");
    assert_eq!(deny(plugin.authenticate(cred(""), NOW_MS)).code(), "plugin:malformed");
}

fn expected_id_with(subject: &str, _scopes: &[&str], _team: Option<&str>) -> String {
    // Scopes and labels ride along; only plugin, issuer and subject key the id.
    expected_id(subject)
}

/// `demo.<user>.<base64url(HMAC-SHA256(secret, user))>`, computed here
/// independently of the plugin's code.
fn mint(secret: &str, user: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(user.as_bytes());
    let tag = mac.finalize().into_bytes();
    format!("demo.{user}.{}", base64_url(&tag))
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[test]
fn hostile() {
    let rt = runtime();
    let slow = Limits { fuel: u64::MAX / 4, timeout: Duration::from_millis(100), ..Limits::default() };
    // Deadlines far from the work each case needs, so a loaded CI machine
    // cannot turn "builds a huge result" into a timeout; one plugin below
    // checks the deadline itself.
    let patient = Limits { timeout: Duration::from_secs(10), ..Limits::default() };
    let plugin = load_guest(&rt, ward_tests::HOSTILE, PluginOptions { limits: patient, ..Default::default() });
    let deadline_plugin = load_guest(&rt, ward_tests::HOSTILE, PluginOptions { limits: slow, ..Default::default() });
    let cases: &[(&str, &[&str])] = &[
        ("loop", &["fuel-exhausted", "timeout"]),
        ("alloc-bomb", &["memory-limit"]),
        ("recurse", &["stack-overflow"]),
        ("panic", &["trap"]),
        ("unreachable", &["trap"]),
        ("huge-subject", &["invalid-claims", "memory-limit"]),
        ("many-scopes", &["invalid-claims", "memory-limit"]),
        ("too-many-scopes", &["invalid-claims"]),
        ("long-scope", &["invalid-claims"]),
        ("too-many-labels", &["invalid-claims"]),
        ("empty-subject", &["invalid-claims"]),
        ("subject-crlf", &["invalid-claims"]),
        ("label-crlf", &["invalid-claims"]),
        ("label-nul", &["invalid-claims"]),
        ("label-unknown-key", &["invalid-claims"]),
        ("deny:expired", &["plugin:expired"]),
        ("deny:insufficient-scope", &["plugin:insufficient-scope"]),
        ("something-else", &["plugin:malformed"]),
    ];
    for (token, expected) in cases {
        let reason = deny(plugin.authenticate(cred(token), NOW_MS));
        assert!(expected.contains(&reason.code()), "{token}: got {}", reason.code());
        // The runtime and even the same plugin serve correctly right after.
        assert_eq!(allow(plugin.authenticate(cred("ok:after"), NOW_MS)).id, expected_id("after"), "after {token}");
    }
    let started = Instant::now();
    assert_eq!(deny(deadline_plugin.authenticate(cred("loop"), NOW_MS)), DenyReason::Timeout);
    let took = started.elapsed();
    assert!(took < Duration::from_millis(100 + 150), "deadline overshot: {took:?}");
    assert_eq!(allow(plugin.authenticate(cred("echo-now"), 12345)).id, expected_id("12345"), "now-ms is the host's");
}

#[test]
fn stateful() {
    let rt = runtime();
    let plugin = load_guest(&rt, ward_tests::STATEFUL, PluginOptions::default());
    let first = expected_id("call-1");
    for _ in 0..100 {
        assert_eq!(allow(plugin.authenticate(cred("t"), NOW_MS)).id, first, "state survived between calls");
    }
}

/// The SDK's bump allocator keeps every block aligned, disjoint and intact
/// through the patterns plugins produce (the guest's table names each check).
#[test]
fn allocator() {
    let rt = runtime();
    let plugin = load_guest(&rt, ward_tests::ALLOCATOR, PluginOptions::default());
    let identity = allow(plugin.authenticate(cred("t"), NOW_MS));
    let expected = ["foreign-grow", "aligned", "disjoint", "grow-last", "grow-moved", "reuse-last", "zeroed", "big"];
    assert_eq!(identity.scopes, expected, "a check the allocator failed is missing");
}

#[test]
fn wasi_snoop() {
    let rt = runtime();
    let plugin = load_guest(&rt, ward_tests::WASI_SNOOP, PluginOptions::default());
    assert!(plugin.imports_wasi());
    let identity = allow(plugin.authenticate(cred("t"), NOW_MS));
    let mut scopes = identity.scopes.clone();
    scopes.sort();
    let expected_clock = format!("clock:{NOW_MS}");
    for finding in ["preopens:0", "passwd:none", "dot:none", "env:0", "args:0", "random:16", expected_clock.as_str()] {
        assert!(scopes.iter().any(|s| s == finding), "missing {finding} in {scopes:?}");
    }
    assert!(scopes.iter().any(|s| s == "stdout:ok" || s == "stdout:err"), "{scopes:?}");

    let refusing = runtime_with(WasiMode::Refuse);
    let err = load_with(&refusing, guest(ward_tests::WASI_SNOOP), PluginOptions::default()).unwrap_err();
    assert_eq!(err.code(), "forbidden-import");
}

#[test]
fn forbidden_sockets() {
    for mode in [WasiMode::DenyAll, WasiMode::Refuse] {
        let rt = runtime_with(mode);
        let err = load_with(&rt, guest(ward_tests::FORBIDDEN_SOCKETS), PluginOptions::default()).unwrap_err();
        assert_eq!(err.code(), "forbidden-import", "{mode:?}: {err}");
    }
}

#[test]
fn eight_threads_ten_thousand_distinct_credentials_each_get_their_own_answer() {
    let rt = runtime();
    // 8 threads on 2 cores: a generous deadline, since this test is about mix-ups, not time.
    let limits = Limits { timeout: Duration::from_secs(10), ..Limits::default() };
    let plugin = load_guest(&rt, ward_tests::HOSTILE, PluginOptions { limits, ..Default::default() });
    std::thread::scope(|scope| {
        for thread in 0..8 {
            let plugin = plugin.clone();
            scope.spawn(move || {
                for call in 0..10_000 {
                    let user = format!("t{thread}-c{call}");
                    let identity = allow(plugin.authenticate(cred(&format!("ok:{user}")), NOW_MS));
                    assert_eq!(identity.id, expected_id(&user), "thread {thread} call {call}");
                }
            });
        }
    });
}

#[test]
fn wasi_token() {
    let rt = runtime();
    let settings = vec![("secret".to_owned(), "s3cret".to_owned())];
    let plugin = load_guest(&rt, ward_tests::WASI_TOKEN, PluginOptions { settings, ..Default::default() });
    assert!(plugin.imports_wasi());
    // The guest denies `expired` unless the WASI wall clock reads the request's now-ms.
    assert_eq!(allow(plugin.authenticate(cred(&mint("s3cret", "carol")), NOW_MS)).id, expected_id("carol"));
    assert_eq!(deny(plugin.authenticate(cred(&mint("wrong", "carol")), NOW_MS)).code(), "plugin:bad-signature");
    let refusing = runtime_with(WasiMode::Refuse);
    assert_eq!(load_with(&refusing, guest(ward_tests::WASI_TOKEN), PluginOptions::default()).unwrap_err().code(), "forbidden-import");
}

#[test]
fn wasip1_std() {
    // Rust std on wasm32-wasip1 + the preview1 adapter: env, files, stdout and
    // the clock through WASI 0.2, all served by the deny-all context.
    let rt = runtime();
    let plugin = load_guest(&rt, ward_tests::WASIP1_STD, PluginOptions::default());
    assert!(plugin.imports_wasi());
    let identity = allow(plugin.authenticate(cred("ok:dave"), NOW_MS));
    assert_eq!(identity.id, expected_id("dave"));
    let clock = format!("clock:{NOW_MS}");
    assert_eq!(identity.scopes, ["env:0", "passwd:false", "dir:false", clock.as_str()]);
    assert_eq!(deny(plugin.authenticate(cred("nope"), NOW_MS)).code(), "plugin:malformed");
    let refusing = runtime_with(WasiMode::Refuse);
    assert_eq!(load_with(&refusing, guest(ward_tests::WASIP1_STD), PluginOptions::default()).unwrap_err().code(), "forbidden-import");
}
