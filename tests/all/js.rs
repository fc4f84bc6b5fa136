//! JavaScript plugins (issue 18): a Haechi `authProvider` module, signed as
//! its `.mjs` bytes, snapshotted into ward's engine at load and called like
//! any component. The contract matrix follows Haechi 1.7's process sandbox.

use ward::identity::{ClaimsPolicy, PrincipalType};
use ward::sandbox::{Decision, DenyReason, JsRefusal, LoadError, Plugin, PluginDeny, PluginOptions, PluginRuntime, Runtime, RuntimeConfig};

use crate::support::{NOW_MS, cred, identity_key, load_with, runtime};

fn js_options() -> PluginOptions {
    PluginOptions { runtime: PluginRuntime::Js, ..PluginOptions::default() }
}

fn load_js(source: &str) -> Result<Plugin, LoadError> {
    load_with(&runtime(), source.as_bytes().to_vec(), js_options())
}

fn decide(source: &str, token: &str) -> Decision {
    load_js(source).unwrap().authenticate(cred(token), NOW_MS)
}

fn assert_allows(source: &str) {
    match decide(source, "alice") {
        Decision::Allow(identity) => {
            assert_eq!(identity.principal_type, PrincipalType::User);
            assert_eq!(identity.scopes, ["read"]);
        }
        other => panic!("expected allow, got {other:?} for {source}"),
    }
}

const PLUGIN_DENY: Decision = Decision::Deny(DenyReason::Plugin(PluginDeny::NotAuthenticated));

#[test]
fn default_export_named_export_and_nested_export_all_serve() {
    for source in [
        "export default function (c) { return { subject: c, issuer: 'js', scopes: ['read'] }; }",
        "export default async function (c) { return { subject: c, issuer: 'js', scopes: ['read'] }; }",
        "export function authenticate(c) { return { subject: c, issuer: 'js', scopes: ['read'] }; }",
        "export async function authenticate(c) { await null; return { subject: c, issuer: 'js', scopes: ['read'] }; }",
        "export default { authenticate(c) { return Promise.resolve({ subject: c, issuer: 'js', scopes: ['read'] }); } };",
    ] {
        assert_allows(source);
    }
}

#[test]
fn deny_forms_are_plugin_denies() {
    for body in [
        "return { deny: true };",
        "return null;",
        "return undefined;",
        "return 'alice';",
        "throw new Error('no');",
        "return Promise.reject(new Error('no'));",
        "const o = { subject: 'a', issuer: 'b' }; o.self = o; return o;",
        "return { subject: 'a', issuer: 'b', n: 1n };",
        "return { toJSON() { return undefined; } };",
        "return new Promise(() => {});",
    ] {
        let source = format!("export default async function (c) {{ {body} }}");
        assert_eq!(decide(&source, "alice"), PLUGIN_DENY, "{body}");
    }
}

#[test]
fn replies_failing_the_claims_checks_are_invalid_claims() {
    for reply in [
        "{ subject: 42, issuer: 'js' }",
        "{ subject: 'a' }",
        "{ subject: 'a', issuer: 'js', type: 'robot' }",
        "{ subject: 'a', issuer: 'js', scopes: 'read' }",
        "{ subject: 'a', issuer: 'js', labels: { team: 7 } }",
        "Object.create({ subject: 'a', issuer: 'js' })",
        // Inherited after the JSON round trip too: the plugin's own prototype edits do not count.
        "(Object.prototype.issuer = 'js', { subject: 'a' })",
        "{ subject: 'a', issuer: 'js', type: null }",
        "{ subject: 'a', issuer: 'js', scopes: ['read', ''] }",
        "{ subject: 'a', issuer: 'js', scopes: Array.from({ length: 65 }, () => 'read') }",
        "{ subject: 'a'.repeat(1025), issuer: 'js' }",
        // Not an object: the fields in order are not a reply.
        "['a', 'js']",
        "{ toJSON() { return ['a', 'js']; } }",
        "{ toJSON() { return 'a'; } }",
        "{ subject: 'a', issuer: 'js', labels: null }",
        "{ subject: 'a', issuer: 'js', labels: ['x'] }",
        "{ subject: 'a', issuer: 'js', labels: Object.fromEntries(Array.from({ length: 33 }, (_, i) => ['k' + i, 'v'])) }",
    ] {
        let source = format!("export default () => ({reply});");
        assert_eq!(decide(&source, "alice"), Decision::Deny(DenyReason::InvalidClaims), "{reply}");
    }
}

#[test]
fn only_the_five_claim_fields_are_read_from_the_reply() {
    // Other fields are skipped whatever they hold (Haechi's checks never
    // look at them): deep nesting, a lone surrogate, numbers.
    let source = "export default () => ({ subject: 'a', issuer: 'js', scopes: ['read'], deep: JSON.parse('['.repeat(300) + ']'.repeat(300)), odd: '\\ud800', n: 1e308 });";
    let Decision::Allow(identity) = decide(source, "alice") else { panic!("deny") };
    assert_eq!(identity.scopes, ["read"]);
    // Labels keep JavaScript's key order (integer-like keys first, ascending).
    let config = RuntimeConfig { claims: ClaimsPolicy::with_label_keys(["team", "env", "10", "2"]), ..RuntimeConfig::default() };
    let runtime = Runtime::new(config, identity_key()).unwrap();
    let source = "export default () => ({ subject: 'a', issuer: 'js', labels: { team: 't', env: 'e', 10: 'ten', 2: 'two' } });";
    let plugin = load_with(&runtime, source.as_bytes().to_vec(), js_options()).unwrap();
    let Decision::Allow(identity) = plugin.authenticate(cred("alice"), NOW_MS) else { panic!("deny") };
    let keys: Vec<&str> = identity.labels.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(keys, ["2", "10", "team", "env"]);
}

/// The engine reads a reply that is plain data itself (runtimes/js/src/
/// direct.rs) and leaves the rest to `JSON.stringify`. Each reply here is
/// one the reader must decline (a getter, a `toJSON` on a prototype, a
/// proxy, a wrapper object, a hole its prototype fills, a non-enumerable or
/// symbol field) or one where a careless reader would differ from
/// `JSON.stringify` (undefined and NaN fields): each must decide exactly as
/// the JSON text would.
#[test]
fn the_reply_decides_as_its_json_text_would() {
    let plain = "return { subject: 'alice', issuer: 'js', scopes: ['read'] };";
    let Decision::Allow(expected) = decide(&format!("export default function () {{ {plain} }}"), "x") else { panic!("deny") };
    for body in [
        "return { get subject() { return 'alice'; }, issuer: 'js', scopes: ['read'] };",
        "Object.prototype.toJSON = function () { return this.subject === 'mallory' ? { subject: 'alice', issuer: 'js', scopes: ['read'] } : this; }; return { subject: 'mallory', issuer: 'js' };",
        "class Reply { toJSON() { return { subject: 'alice', issuer: 'js', scopes: ['read'] }; } } return new Reply();",
        "Array.prototype.toJSON = function () { return ['read']; }; return { subject: 'alice', issuer: 'js', scopes: ['write'] };",
        "Array.prototype[0] = 'read'; const scopes = []; scopes.length = 1; return { subject: 'alice', issuer: 'js', scopes };",
        "return { subject: 'alice', issuer: 'js', scopes: Object.defineProperty(['write'], 0, { get() { return 'read'; } }) };",
        "const reply = { subject: 'alice', issuer: 'js', scopes: ['read'] }; return new Proxy({}, { get: (_, key) => reply[key], ownKeys: () => Reflect.ownKeys(reply), getOwnPropertyDescriptor: (_, key) => Reflect.getOwnPropertyDescriptor(reply, key) });",
        "return { subject: new String('alice'), issuer: 'js', scopes: ['read'] };",
        "return { subject: 'alice', issuer: 'js', type: undefined, scopes: ['read', undefined].slice(0, 1), when: new Date(0) };",
        "return { subject: 'alice', issuer: 'js', scopes: ['read'], [Symbol('s')]: 1, s: Symbol('x'), f() {}, n: NaN, z: -0, big: 2 ** 31 };",
        "return Object.defineProperty({ subject: 'alice', issuer: 'js', scopes: ['read'] }, 'labels', { value: 7, enumerable: false });",
        "return Object.assign(Object.create(null), { subject: 'alice', issuer: 'js', scopes: ['read'] });",
    ] {
        let source = format!("export default function () {{ {body} }}");
        assert_eq!(decide(&source, "x"), Decision::Allow(expected.clone()), "{body}");
    }
    for (body, decision) in [
        ("return { subject: 'alice', issuer: 'js', get x() { throw new Error('no'); } };", PLUGIN_DENY),
        ("return { subject: 'alice', issuer: 'js', nested: [{ n: 1n }] };", PLUGIN_DENY),
        ("return { subject: 'alice', issuer: 'js', type: NaN };", Decision::Deny(DenyReason::InvalidClaims)),
        ("return { subject: 'alice', issuer: 'js', scopes: [undefined] };", Decision::Deny(DenyReason::InvalidClaims)),
        ("return Object.defineProperty({ issuer: 'js' }, 'subject', { value: 'alice', enumerable: false });", Decision::Deny(DenyReason::InvalidClaims)),
        ("return { subject: 'alice\\ud800', issuer: 'js' };", Decision::Deny(DenyReason::InvalidClaims)),
        ("const scopes = []; scopes.length = 1; return { subject: 'alice', issuer: 'js', scopes };", Decision::Deny(DenyReason::InvalidClaims)),
    ] {
        let source = format!("export default function () {{ {body} }}");
        assert_eq!(decide(&source, "x"), decision, "{body}");
    }
}

#[test]
fn key_material_is_text_or_null() {
    let source = "export default (c, { keyMaterial }) => ({ subject: String(keyMaterial), issuer: 'js', scopes: [typeof keyMaterial] });";
    let Decision::Allow(identity) = decide(source, "alice") else { panic!("deny") };
    assert_eq!(identity.scopes, ["object"]);
    let options = PluginOptions { keys: vec![("jwks".into(), b"{\"keys\":[]}".to_vec())], ..js_options() };
    let plugin = load_with(&runtime(), source.as_bytes().to_vec(), options).unwrap();
    let Decision::Allow(identity) = plugin.authenticate(cred("alice"), NOW_MS) else { panic!("deny") };
    assert_eq!(identity.scopes, ["string"]);
}

#[test]
fn date_now_is_the_request_time() {
    let source = "export default () => ({ subject: 'a', issuer: 'js', scopes: [String(Date.now())] });";
    let Decision::Allow(identity) = decide(source, "alice") else { panic!("deny") };
    assert_eq!(identity.scopes, [NOW_MS.to_string()]);
}

/// Every call draws fresh numbers, also through a reference the module
/// kept at load (QuickJS's own generator would repeat its snapshot's
/// sequence); the numbers are doubles in [0, 1) with more than 32 bits.
#[test]
fn math_random_differs_on_every_call() {
    let source = "const kept = Math.random; const atLoad = Math.random(); \
        export default () => ({ subject: 'a', issuer: 'js', scopes: [String(Math.random()), String(kept()), String(atLoad)] });";
    let plugin = load_js(source).unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut at_load = None;
    for _ in 0..8 {
        let Decision::Allow(identity) = plugin.authenticate(cred("alice"), NOW_MS) else { panic!("deny") };
        let [now, kept, loaded] = <[String; 3]>::try_from(identity.scopes).unwrap();
        for drawn in [&now, &kept] {
            let value: f64 = drawn.parse().unwrap();
            assert!((0.0..1.0).contains(&value), "{drawn}");
            assert!(seen.insert(drawn.clone()), "{drawn} drawn twice");
        }
        // Evaluation ran once, at load: what it drew is in the snapshot.
        assert_eq!(*at_load.get_or_insert(loaded.clone()), loaded);
    }
    let fine = seen.iter().any(|drawn| drawn.parse::<f64>().is_ok_and(|v| (v * 4_294_967_296.0).fract() != 0.0));
    assert!(fine, "only 32-bit values: {seen:?}");
}

#[test]
fn bad_modules_are_refused_at_load_with_a_code() {
    for (source, refusal) in [
        ("export default function (", JsRefusal::Syntax),
        ("import x from 'node:fs'; export default () => x;", JsRefusal::Syntax),
        ("export const nothing = 1;", JsRefusal::NoEntry),
        ("throw new Error('at load');", JsRefusal::Evaluation),
        ("await Promise.reject(1); export default () => null;", JsRefusal::Evaluation),
        ("for (;;) {} export default () => null;", JsRefusal::EvaluationFuel),
    ] {
        let err = load_js(source).err().unwrap_or_else(|| panic!("loaded: {source}"));
        assert_eq!(err, LoadError::JavaScript(refusal), "{source}");
    }
    let err = load_with(&runtime(), vec![0xff, 0xfe], js_options()).err().unwrap();
    assert_eq!(err.code(), "js-not-utf8");
}

/// Recursion through a function with 300 locals (built once).
const WIDE_RECURSION: &str = "const w = new Function('n', 'g', Array.from({ length: 300 }, (_, i) => `let v${i} = n + ${i};`).join('') + 'return g(n + 1) + v299;'); \
    const f = (n) => w(n, f); return f(0);";

#[test]
fn hostile_calls_end_in_resource_denies_and_the_host_keeps_serving() {
    let runtime = runtime();
    for (body, reason) in [
        ("for (;;) {}", DenyReason::FuelExhausted),
        ("const a = []; for (;;) a.push(new ArrayBuffer(1 << 20));", DenyReason::MemoryLimit),
        // Small frames: the wasm stack runs out first.
        ("const f = (n) => f(n + 1) + 1; return f(0);", DenyReason::StackOverflow),
        // Wide frames (locals live on QuickJS's stack in linear memory): its
        // own limit comes first, a RangeError the engine reports as what it is.
        (WIDE_RECURSION, DenyReason::StackOverflow),
    ] {
        let source = format!("export default function (c) {{ {body} }}");
        let plugin = load_with(&runtime, source.into_bytes(), js_options()).unwrap();
        assert_eq!(plugin.authenticate(cred("alice"), NOW_MS), Decision::Deny(reason), "{body}");
    }
    crate::support::assert_still_serves(&runtime);
}

/// ward embeds the committed engine (runtimes/js/ward-js-engine.wasm); it
/// must be exactly what the sources build, as wasmtime checks its preview1
/// adapter. After changing runtimes/js, copy the core module tests/build.rs
/// made over the committed one (the message says from where).
#[test]
fn js_engine_artifact_is_reproducible() {
    let committed = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../runtimes/js/ward-js-engine.wasm")).unwrap();
    let rebuilt = std::fs::read(ward_tests::JS_ENGINE_CORE).unwrap();
    assert!(committed == rebuilt, "runtimes/js/ward-js-engine.wasm is stale: cp {} runtimes/js/ward-js-engine.wasm", ward_tests::JS_ENGINE_CORE);
}

/// A Haechi-signed envelope says `>=1.0.0 <2.0.0`: for a JavaScript plugin
/// that names the Haechi contract (1.7.0), for a component ward's own
/// version, and each rule refuses the other's range.
#[test]
fn core_version_range_is_the_haechi_contract_for_js_and_ward_for_wasm() {
    use ward::trust::{CoreContract, SignRequest, sign, verify_for};
    let source = b"export default (c) => ({ subject: c, issuer: 'js' });".to_vec();
    let envelope = |range: &str| {
        let mut request = SignRequest::auth_provider("test-plugin", "1.0.0", crate::support::SIGNER, &["readsCredentials"]);
        request.core_version_range = range.into();
        serde_json::to_vec(&sign(&request, &source, &crate::support::signing_key()).unwrap()).unwrap()
    };
    let policy = crate::support::trust_policy();
    let haechi = envelope(">=1.0.0 <2.0.0");
    let ward_line = envelope(&SignRequest::auth_provider("x", "1.0.0", "s", &[]).core_version_range);
    let verified = verify_for(&haechi, source.clone(), &policy, NOW_MS, CoreContract::Haechi).unwrap();
    assert!(runtime().load(verified, js_options()).is_ok());
    for (envelope, contract) in [(&haechi, CoreContract::Ward), (&ward_line, CoreContract::Haechi)] {
        let refusal = verify_for(envelope, source.clone(), &policy, NOW_MS, contract).err().unwrap();
        assert_eq!(refusal.code(), "manifest-invalid", "{contract:?}");
    }
    assert!(verify_for(&ward_line, source.clone(), &policy, NOW_MS, CoreContract::Ward).is_ok());
}

/// Haechi's own files, unchanged: tests/vectors/haechi-js/plugin.signed.json
/// was written by Haechi 1.7's `signPluginManifest` (make.mjs beside it) for
/// plugin.mjs, under the Haechi test anchor, with a Haechi core range.
#[test]
fn a_haechi_signed_module_verifies_and_serves() {
    use ward::trust::{TrustPolicy, public_key_from_pem, verify_for};
    let vectors = concat!(env!("CARGO_MANIFEST_DIR"), "/vectors");
    let read = |name: &str| std::fs::read(format!("{vectors}/{name}")).unwrap();
    let anchor = public_key_from_pem(&String::from_utf8(read("test-signer.pub")).unwrap()).unwrap();
    let policy = TrustPolicy::default().with_anchor("ward-test-signer", anchor).allow("readsCredentials");
    let envelope = read("haechi-js/plugin.signed.json");
    let verified = verify_for(&envelope, read("haechi-js/plugin.mjs"), &policy, NOW_MS, PluginRuntime::Js.core_contract()).unwrap();
    let plugin = runtime().load(verified, js_options()).unwrap();
    assert_eq!(plugin.id(), "haechi-js");
    let Decision::Allow(identity) = plugin.authenticate(cred("good-token-alice"), NOW_MS) else { panic!("deny") };
    assert!(identity.id.starts_with("haechi-js:"));
    assert_eq!(identity.scopes, ["read"]);
    assert_eq!(plugin.authenticate(cred("bad-token"), NOW_MS), PLUGIN_DENY);
    // One byte changed in the module: the signature no longer covers it.
    let mut tampered = read("haechi-js/plugin.mjs");
    tampered.push(b'\n');
    let refusal = verify_for(&envelope, tampered, &policy, NOW_MS, PluginRuntime::Js.core_contract()).err().unwrap();
    assert_eq!(refusal.code(), "tampered-entry");
}

/// A `"runtime": "js"` entry in ward.json, as `ward serve` runs it: Haechi's
/// own files under Haechi's anchor serve; `ward check` refuses a module
/// that does not parse with its code; a reload to a new module swaps it in;
/// `compileCache` is made private and holds the snapshot.
#[test]
fn ward_json_runtime_js_serves_checks_and_reloads() {
    use http::{HeaderMap, HeaderValue};
    use serde_json::json;
    use ward::lifecycle::Gateway;
    use ward::trust::{SignRequest, sign};

    use crate::site::Site;

    let bearer = |token: &str| {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
        headers
    };
    let vectors = concat!(env!("CARGO_MANIFEST_DIR"), "/vectors");
    let read = |name: &str| std::fs::read(format!("{vectors}/{name}")).unwrap();
    let site = Site::new();
    site.write("haechi-js.mjs", &read("haechi-js/plugin.mjs"));
    site.write("haechi-js.signed.json", &read("haechi-js/plugin.signed.json"));
    let entry = json!({
        "id": "haechi-js", "envelope": "haechi-js.signed.json", "component": "haechi-js.mjs", "runtime": "js",
        "route": { "header": "Authorization", "scheme": "Bearer" }, "limits": { "timeoutMs": 5000 },
    });
    let haechi_pem = String::from_utf8(read("test-signer.pub")).unwrap();
    let config = site.config(vec![entry], |c| {
        c["trust"]["trustAnchors"]["ward-test-signer"] = json!(haechi_pem);
        c["compileCache"] = json!("cache/ward");
    });
    let gateway = site.gateway(&config).unwrap();
    let cache = std::fs::read_dir(site.path("cache/ward")).unwrap().map(|entry| entry.unwrap().file_name().into_string().unwrap());
    assert_eq!(cache.filter(|name| name.ends_with(".js-snapshot")).count(), 1);
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(site.path("cache/ward")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
    assert!(gateway.authenticate(&bearer("good-token-alice"), 0).decision.is_allow());
    assert!(!gateway.authenticate(&bearer("nope"), 0).decision.is_allow());

    // A new module under the site's own signer, with a Haechi core range.
    let sign_js = |source: &[u8]| {
        let mut request = SignRequest::auth_provider("haechi-js", "1.0.1", crate::support::SIGNER, &["readsCredentials"]);
        request.core_version_range = ">=1.0.0 <2.0.0".into();
        serde_json::to_vec(&sign(&request, source, &crate::support::signing_key()).unwrap()).unwrap()
    };
    let next = b"export function authenticate(c) { return { subject: c, issuer: 'v2', scopes: ['v2'] }; }";
    site.write("haechi-js.mjs", next);
    site.write("haechi-js.signed.json", &sign_js(next));
    gateway.reload(site.load(&config).plan).unwrap();
    let ward::sandbox::Decision::Allow(identity) = gateway.authenticate(&bearer("nope"), 0).decision else { panic!("deny after reload") };
    assert_eq!(identity.scopes, ["v2"]);

    let broken = b"export default function (";
    site.write("haechi-js.mjs", broken);
    site.write("haechi-js.signed.json", &sign_js(broken));
    assert_eq!(Gateway::check(&site.load(&config).plan).err().map(|e| e.code()), Some("js-syntax"));
}

/// A restart with `compileCache` neither snapshots nor compiles an unchanged
/// JavaScript plugin again (issue 18: the cached load is what makes a JS
/// plugin start in milliseconds), and what it loads decides the same.
#[test]
fn a_restart_with_a_compile_cache_reuses_the_snapshot_and_the_compiled_code() {
    use ward::sandbox::{CompileCacheStats, Runtime, RuntimeConfig};
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let start = || Runtime::new(RuntimeConfig { compile_cache: Some(cache.clone()), ..RuntimeConfig::default() }, crate::support::identity_key()).unwrap();
    let source = "export default (c) => c === 'alice' ? { subject: c, issuer: 'js', scopes: ['read'] } : null;";
    let first = start();
    let plugin = load_with(&first, source.as_bytes().to_vec(), js_options()).unwrap();
    let stats = first.compile_cache_stats().unwrap();
    assert_eq!((stats.snapshot_hits, stats.snapshot_misses, stats.compiled_hits), (0, 1, 0), "{stats:?}");
    assert!(stats.compiled_misses >= 1, "{stats:?}");
    let allowed = plugin.authenticate(cred("alice"), NOW_MS);

    let restarted = start();
    let plugin = load_with(&restarted, source.as_bytes().to_vec(), js_options()).unwrap();
    assert_eq!(restarted.compile_cache_stats(), Some(CompileCacheStats { compiled_hits: 1, compiled_misses: 0, snapshot_hits: 1, snapshot_misses: 0 }));
    assert_eq!(plugin.authenticate(cred("alice"), NOW_MS), allowed);
    assert_eq!(plugin.authenticate(cred("mallory"), NOW_MS), PLUGIN_DENY);

    // Another module is another snapshot, never the cached one.
    let other = "export default (c) => ({ subject: 'other', issuer: 'js' });";
    let plugin = load_with(&restarted, other.as_bytes().to_vec(), js_options()).unwrap();
    match plugin.authenticate(cred("alice"), NOW_MS) {
        Decision::Allow(identity) => assert_ne!(Decision::Allow(identity), allowed),
        deny => panic!("{deny:?}"),
    }
    assert_eq!(restarted.compile_cache_stats().unwrap().snapshot_misses, 1);
}

/// A cache directory others may write is refused at start: wasmtime runs
/// the machine code it finds there.
#[cfg(unix)]
#[test]
fn a_compile_cache_others_may_write_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    use ward::sandbox::{Runtime, RuntimeConfig, RuntimeError};
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let config = RuntimeConfig { compile_cache: Some(cache), ..RuntimeConfig::default() };
    match Runtime::new(config, crate::support::identity_key()) {
        Err(RuntimeError::CompileCache(err)) => assert_eq!(err.code(), "compile-cache-too-open"),
        other => panic!("expected a refusal, got {:?}", other.err()),
    }
}

/// plugins/js-example-token is example-token in JavaScript: for the same
/// secret, issuer, scopes and team (settings for the Rust plugin, the
/// key-material document for the JavaScript one) the same tokens allow the
/// same identities, and the same tokens are refused.
#[test]
fn js_example_token_decides_as_the_rust_example_token() {
    let rust_component = std::fs::read(ward_tests::GUESTS.iter().find(|(name, _)| *name == "example-token").unwrap().1).unwrap();
    let settings = [("secret", "s3cret"), ("issuer", "demo"), ("scopes", "orders:read orders:write"), ("team", "billing")];
    let rust_options = PluginOptions { settings: settings.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(), ..PluginOptions::default() };
    let rust = load_with(&runtime(), rust_component, rust_options).unwrap();
    let source = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/js-example-token/plugin.mjs")).unwrap();
    let document = serde_json::json!({ "secret": "s3cret", "issuer": "demo", "scopes": "orders:read orders:write", "team": "billing" });
    let configured = PluginOptions { keys: vec![("config".into(), document.to_string().into_bytes())], ..js_options() };
    let js = load_with(&runtime(), source.clone(), configured).unwrap();

    // The known answer of plugins/example-token/check (HMAC-SHA256 of "alice" under "s3cret").
    let good = "demo.alice.dlVCrx8dWHvGDCGNylMqJY9WucIaQnzIGd4qH_bT4UY";
    let rust_allowed = rust.authenticate(cred(good), NOW_MS);
    assert!(rust_allowed.is_allow(), "{rust_allowed:?}");
    assert_eq!(js.authenticate(cred(good), NOW_MS), rust_allowed);
    for refused in
        ["demo.alice.dlVCrx8dWHvGDCGNylMqJY9WucIaQnzIGd4qH_bT4UX", "demo.Alice.dlVCrx8dWHvGDCGNylMqJY9WucIaQnzIGd4qH_bT4UY", "demo.alice", "bearer-junk", ""]
    {
        assert!(!rust.authenticate(cred(refused), NOW_MS).is_allow(), "{refused}");
        assert_eq!(js.authenticate(cred(refused), NOW_MS), PLUGIN_DENY, "{refused}");
    }
    // No secret configured: everything is refused, as the Rust plugin without `secret`.
    let unconfigured = load_with(&runtime(), source, js_options()).unwrap();
    assert_eq!(unconfigured.authenticate(cred(good), NOW_MS), PLUGIN_DENY);
}
