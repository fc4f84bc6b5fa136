//! Route policy and the signed identity assertion, through a real gateway
//! served in-process (`proxy::Backend`): the route a request's forwarded
//! method, host and path match names the plugin and what the identity must
//! carry; a miss after a successful authentication is 403
//! `insufficient-scope`, audited; a request no route takes is denied; and
//! the assertion a route opts in to verifies with PyJWT, an independent
//! library, against the keys ward serves at `/.well-known/jwks.json`.
//! Config refusals name their JSON path.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use ward::trust::{SigningSecret, public_key_to_pem};

use crate::proxy::{Answer, Backend, get};
use crate::site::Site;

/// The assertion's signing key, and a retired one published from its public half.
pub fn write_keys(site: &Site) {
    site.write_secret("assertion.key", SigningSecret::from_seed(&[5; 32]).to_pkcs8_pem().as_bytes());
    site.write("retired.pub", public_key_to_pem(&SigningSecret::from_seed(&[4; 32]).verifying_key()).as_bytes());
}

pub fn assertion_section() -> Value {
    json!({ "keys": [{ "kid": "2026-11", "publicKeyFile": "retired.pub" }, { "kid": "2026-12", "keyFile": "assertion.key" }] })
}

/// nginx's forwarded names. No catch-all: a request no rule takes is denied.
fn policy() -> Value {
    json!({
        "proxy": "nginx",
        "rules": [
            { "pathPrefix": "/orders", "plugin": "example-token" },
            { "pathPrefix": "/orders", "methods": ["POST"], "plugin": "example-token",
              "require": { "scopes": ["orders:write"] },
              "assertion": { "audience": "orders-api", "bindRequest": true } },
            { "pathPrefix": "/admin", "require": { "principalTypes": ["service"] } },
            { "host": "internal.test", "plugin": "hostile", "require": { "labels": { "team": "payments" } } }
        ]
    })
}

fn routed_backend() -> Backend {
    Backend::start_with(|site, config| {
        write_keys(site);
        config["routes"] = policy();
        config["assertion"] = assertion_section();
    })
}

fn auth(backend: &Backend, forwarded: &[(&str, &str)], credential: (&str, &str)) -> Answer {
    let mut headers = forwarded.to_vec();
    headers.push(credential);
    get(backend.ward.port(), "/auth", &headers)
}

fn metric(backend: &Backend, plugin: &str, outcome: &str, reason: &str) -> bool {
    let metrics = get(backend.ward.port(), "/metrics", &[]).body;
    metrics.contains(&format!("ward_decisions_total{{plugin=\"{plugin}\",outcome=\"{outcome}\",reason=\"{reason}\"}}"))
}

#[test]
fn routes_pick_the_plugin_require_and_deny_what_no_route_takes() {
    let backend = routed_backend();
    let bearer = format!("Bearer {}", backend.good);
    let alice = ("Authorization", bearer.as_str());
    let get_order = [("X-Original-Method", "GET"), ("X-Original-URI", "/orders/7?full=1")];

    let read = auth(&backend, &get_order, alice);
    assert_eq!(read.status, 200, "{:?}", read.headers);
    assert_eq!(read.header("X-Ward-Id"), Some(backend.alice.as_str()));
    assert_eq!(read.header("X-Ward-Assertion"), Some(""), "this route does not opt in");

    // Authenticated, but a user where the route wants a service: 403, audited.
    let admin = auth(&backend, &[("X-Original-Method", "GET"), ("X-Original-URI", "/admin/users")], alice);
    assert_eq!(admin.status, 403, "{:?}", admin.headers);
    assert!(admin.header("WWW-Authenticate").is_none());
    assert!(metric(&backend, "example-token", "deny", "insufficient-scope"));
    backend.gateway.flush_audit().unwrap();
    backend.site.assert_audit("plugin.authenticate.deny", 1);
    assert!(backend.site.audit_text().contains("\"insufficient-scope\""), "{}", backend.site.audit_text());

    // A label the identity lacks, on a host route with the other plugin.
    let internal = auth(&backend, &[("X-Original-URI", "/x"), ("X-Forwarded-Host", "Internal.Test:8443")], ("X-Api-Key", "ok:bob"));
    assert_eq!(internal.status, 403);
    assert!(metric(&backend, "hostile", "deny", "insufficient-scope"));

    // The route's plugin reads its own header only: another plugin's credential is none.
    let wrong_credential = auth(&backend, &get_order, ("X-Api-Key", "ok:bob"));
    assert_eq!((wrong_credential.status, wrong_credential.header("WWW-Authenticate")), (401, Some("Bearer realm=\"ward\"")));

    // No forwarded path: every route depends on it or on the host. Denied, never allowed.
    for (what, forwarded) in [
        ("no forwarded headers", vec![]),
        ("a path no route takes", vec![("X-Original-URI", "/public")]),
        ("the client forging ward's own target header", vec![("X-Ward-Target-Path", "/orders/1")]),
    ] {
        let answer = auth(&backend, &forwarded, alice);
        assert_eq!(answer.status, 403, "{what}: {:?}", answer.headers);
    }
    assert!(metric(&backend, "", "deny", "no-route"));

    // A path the upstream could read as another one is refused, not matched.
    for path in ["/orders/../admin", "/orders/%2e%2e/admin", "/orders%2Fx"] {
        assert_eq!(auth(&backend, &[("X-Original-URI", path)], alice).status, 403, "{path}");
    }
    let repeated = auth(&backend, &[("X-Original-URI", "/orders/1"), ("X-Original-URI", "/admin")], alice);
    assert_eq!(repeated.status, 403);
    assert!(metric(&backend, "", "deny", "unroutable-request"));
}

/// What PyJWT makes of `token` (`verify_assertion.py`'s JSON), verified
/// against `backend`'s served keys for `audience`.
pub fn verified_by_pyjwt(backend: &Backend, token: &str, audience: &str) -> Value {
    let jwks_url = format!("http://{}/.well-known/jwks.json", backend.ward);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("all/verify_assertion.py");
    let out = Command::new(pyjwt_python()).arg(&script).args([&jwks_url, token, audience]).output().unwrap();
    assert!(out.status.success(), "PyJWT refused ward's assertion:\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `target/pyjwt-venv`, with PyJWT and `cryptography` from PyPI (made on
/// first use; pinned versions). Made once per test process (the nginx test
/// and this file's ask at the same time), and marked ready only when pip
/// finished, so a half-made venv is made again rather than used.
fn pyjwt_python() -> PathBuf {
    static MADE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = MADE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/pyjwt-venv");
    let python = venv.join("bin/python");
    let ready = venv.join("ward-ready");
    if !ready.exists() {
        let _ = std::fs::remove_dir_all(&venv);
        let made = Command::new("python3").arg("-m").arg("venv").arg(&venv).status().unwrap();
        assert!(made.success(), "python3 -m venv {} failed (Debian: apt-get install python3-venv)", venv.display());
        let pip = Command::new(venv.join("bin/pip")).args(["install", "-q", "pyjwt==2.15.1", "cryptography==51.0.1"]).status().unwrap();
        assert!(pip.success(), "pip install pyjwt cryptography into {} failed (needs PyPI)", venv.display());
        std::fs::write(&ready, b"").unwrap();
    }
    python
}

#[test]
fn the_assertion_verifies_with_pyjwt_against_the_served_jwks() {
    pyjwt_python();
    let backend = routed_backend();
    let bearer = format!("Bearer {}", backend.good);
    let post = [("X-Original-Method", "POST"), ("X-Original-URI", "/orders/7?x=1")];
    // A client's own assertion header is dropped before the decision and
    // replaced by ward's on the answer.
    let answer = auth(&backend, &[post[0], post[1], ("X-Ward-Assertion", "forged.by.client")], ("Authorization", &bearer));
    assert_eq!(answer.status, 200, "{:?}", answer.headers);
    let token = answer.header("X-Ward-Assertion").unwrap().to_owned();
    assert_ne!(token, "forged.by.client");

    let verified = verified_by_pyjwt(&backend, &token, "orders-api");

    let claims = &verified["claims"];
    assert_eq!(claims["sub"], backend.alice.as_str(), "the host-built id");
    assert_eq!(claims["provider"], "example-token");
    assert_eq!(claims["principal_type"], "user");
    assert_eq!(claims["scopes"], json!(["orders:read", "orders:write"]));
    assert_eq!(claims["labels"], json!({ "team": "payments" }));
    assert_eq!((&claims["method"], &claims["path"]), (&json!("POST"), &json!("/orders/7")));
    assert_eq!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(), 60, "the default lifetime");
    assert_eq!(verified["header"], json!({ "alg": "EdDSA", "typ": "JWT", "kid": "2026-12" }), "the newest private key signs");
    assert!(!claims.to_string().contains("\"alice\""), "the plugin's subject never leaves ward: {claims}");
    assert_eq!(verified["wrong_audience"], "InvalidAudienceError");
    assert_eq!(verified["forged_claims"], "InvalidSignatureError");

    // Both keys published, public halves only.
    let jwks = &verified["jwks"];
    let kids: Vec<_> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids, ["2026-11", "2026-12"]);
    assert!(jwks["keys"].as_array().unwrap().iter().all(|k| k.get("d").is_none()), "{jwks}");
    assert_eq!(verified["jwks_content_type"], "application/jwk-set+json");
}

#[test]
fn without_assertion_keys_there_is_no_jwks() {
    let backend = Backend::start();
    assert_eq!(get(backend.ward.port(), "/.well-known/jwks.json", &[]).status, 404);
}

// ---------------------------------------------------------------- config refusals

/// `edit` applied to a config with the example plugin and the assertion
/// keys in place; the refusal's text.
fn refused(edit: impl FnOnce(&Site, &mut Value)) -> String {
    let site = Site::new();
    site.add_plugin("example-token", &std::fs::read(ward_tests::EXAMPLE_TOKEN).unwrap());
    write_keys(&site);
    let plugin = Site::plugin("example-token", json!({ "header": "Authorization", "scheme": "Bearer" }));
    let config = site.config(vec![plugin], |config| {
        config["assertion"] = assertion_section();
        edit(&site, config);
    });
    ward::config::load(&config).map(|_| ()).unwrap_err().to_string()
}

fn rules(rules: Value) -> impl FnOnce(&Site, &mut Value) {
    move |_, config| config["routes"] = json!({ "proxy": "nginx", "rules": rules })
}

/// One edit of a site's config.
type Edit = Box<dyn FnOnce(&Site, &mut Value)>;

#[test]
fn ward_check_refuses_bad_routes_and_keys_at_their_json_path() {
    let cases: Vec<(&str, Edit)> = vec![
        (
            "routes.rules[1]: overlaps routes.rules[0]",
            Box::new(rules(json!([{ "pathPrefix": "/a", "methods": ["GET", "PUT"] }, { "pathPrefix": "/a", "methods": ["PUT"] }]))),
        ),
        ("routes.rules[1]: overlaps", Box::new(rules(json!([{ "plugin": "example-token" }, {}])))),
        ("routes.rules[0].methods[1]: unknown method", Box::new(rules(json!([{ "methods": ["GET", "get"] }])))),
        ("routes.rules[0].methods: is empty", Box::new(rules(json!([{ "methods": [] }])))),
        ("routes.rules[0].require.principalTypes: is empty", Box::new(rules(json!([{ "require": { "principalTypes": [] } }])))),
        ("routes.rules[0].require.principalTypes[0]", Box::new(rules(json!([{ "require": { "principalTypes": ["robot"] } }])))),
        ("routes.rules[0].require.labels.owner: is not in identity.labelKeys", Box::new(rules(json!([{ "require": { "labels": { "owner": "x" } } }])))),
        ("routes.rules[0].require.scopes[0]", Box::new(rules(json!([{ "require": { "scopes": ["a b"] } }])))),
        ("routes.rules[0].plugin: names no plugin", Box::new(rules(json!([{ "plugin": "nope" }])))),
        ("routes.rules[0].pathPrefix", Box::new(rules(json!([{ "pathPrefix": "/a/../b" }])))),
        ("routes.rules[0]: takes path or pathPrefix", Box::new(rules(json!([{ "path": "/a", "pathPrefix": "/a" }])))),
        ("routes.rules[0].host", Box::new(rules(json!([{ "host": "shop.test:443" }])))),
        ("routes.rules[0].methods[0]", Box::new(rules(json!([{ "methods": [["GET"]] }])))),
        (
            "routes.forwardedHeaders.uri",
            Box::new(|_: &Site, c: &mut Value| c["routes"] = json!({ "proxy": "nginx", "forwardedHeaders": { "uri": "X-Ward-Uri" }, "rules": [] })),
        ),
        ("routes.proxy", Box::new(|_: &Site, c: &mut Value| c["routes"] = json!({ "proxy": "apache", "rules": [] }))),
        (
            "routes.rules[0].assertion: needs the assertion section",
            Box::new(|_: &Site, c: &mut Value| {
                c.as_object_mut().unwrap().remove("assertion");
                c["routes"] = json!({ "proxy": "nginx", "rules": [{ "assertion": { "audience": "a" } }] });
            }),
        ),
        (
            "assertion.keys[1].keyFile",
            Box::new(|site: &Site, _: &mut Value| {
                std::fs::set_permissions(site.path("assertion.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
            }),
        ),
        ("assertion.keys[1].keyFile", Box::new(|site: &Site, _: &mut Value| std::fs::remove_file(site.path("assertion.key")).unwrap())),
        (
            "assertion.keys: no key has a keyFile",
            Box::new(|_: &Site, c: &mut Value| c["assertion"]["keys"] = json!([{ "kid": "old", "publicKeyFile": "retired.pub" }])),
        ),
        ("assertion.keys[0]: needs exactly one", Box::new(|_: &Site, c: &mut Value| c["assertion"]["keys"][0]["keyFile"] = json!("assertion.key"))),
        ("assertion.keys[1].kid", Box::new(|_: &Site, c: &mut Value| c["assertion"]["keys"][1]["kid"] = json!("2026-11"))),
        ("assertion.ttlSeconds", Box::new(|_: &Site, c: &mut Value| c["assertion"]["ttlSeconds"] = json!(0))),
    ];
    for (expected, edit) in cases {
        let err = refused(edit);
        assert!(err.contains(expected), "want {expected:?} in:\n{err}");
    }
    // And the open key file says why.
    let err = refused(|site, _| std::fs::set_permissions(site.path("assertion.key"), std::fs::Permissions::from_mode(0o604)).unwrap());
    assert!(err.contains("open to group or others"), "{err}");
}

/// A reload swaps the route policy and the assertion keys with the plugin
/// set: a requirement lifted by a reload no longer refuses, and a key added
/// last is published and signs from then on (rotation by reload).
#[test]
fn a_reload_swaps_the_route_policy_and_rotates_the_assertion_key() {
    let backend = routed_backend();
    let bearer = format!("Bearer {}", backend.good);
    let alice = ("Authorization", bearer.as_str());
    let admin = [("X-Original-Method", "GET"), ("X-Original-URI", "/admin/users")];
    let post = [("X-Original-Method", "POST"), ("X-Original-URI", "/orders")];
    assert_eq!(auth(&backend, &admin, alice).status, 403);
    let kid = |answer: &Answer| {
        let token = answer.header("X-Ward-Assertion").unwrap().to_owned();
        let header = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, token.split('.').next().unwrap()).unwrap();
        serde_json::from_slice::<Value>(&header).unwrap()["kid"].as_str().unwrap().to_owned()
    };
    assert_eq!(kid(&auth(&backend, &post, alice)), "2026-12");

    let path = backend.site.path("ward.json");
    let mut config: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    config["routes"]["rules"][2] = json!({ "pathPrefix": "/admin" });
    backend.site.write_secret("next.key", SigningSecret::from_seed(&[6; 32]).to_pkcs8_pem().as_bytes());
    config["assertion"]["keys"].as_array_mut().unwrap().push(json!({ "kid": "2027-01", "keyFile": "next.key" }));
    backend.site.write("ward.json", config.to_string().as_bytes());
    backend.gateway.reload(backend.site.load(&path).plan).unwrap();

    assert_eq!(auth(&backend, &admin, alice).status, 200);
    assert_eq!(kid(&auth(&backend, &post, alice)), "2027-01");
    let jwks: Value = serde_json::from_str(&get(backend.ward.port(), "/.well-known/jwks.json", &[]).body).unwrap();
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|key| key["kid"].as_str().unwrap()).collect();
    assert_eq!(kids, ["2026-11", "2026-12", "2027-01"]);
}
