//! Indexed key material as `ward serve` runs it (docs/key-material.md,
//! "Indexed formats"): the shipped jwt and api-key plugins behind a gateway,
//! a JWKS served over loopback that rotates, breaks and recovers, keys files
//! that reload under load. Tokens are made by `jsonwebtoken`, not by ward.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderValue};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use ward::sandbox::{Decision, DenyReason};

use crate::site::Site;
use crate::support::NOW_MS;

const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "ward-api";

fn vector(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/vectors/jwt/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The issuer's Ed25519 key `ed-1` from the test vectors, and a second key
/// (the vectors' "attacker" key) that the issuer rotates in as `ed-2`.
fn jwk(source: &str, kid: &str) -> Value {
    let set: Value = serde_json::from_slice(&vector(source)).unwrap();
    let mut key = set["keys"].as_array().unwrap().iter().find(|k| k["kty"] == "OKP").unwrap().clone();
    key["kid"] = json!(kid);
    key
}

fn jwks(keys: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({ "keys": keys })).unwrap()
}

fn token(pem: &str, kid: &str, subject: &str) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    let now = (NOW_MS / 1000) as i64;
    let claims = json!({ "sub": subject, "iss": ISSUER, "aud": AUDIENCE, "iat": now - 10, "exp": now + 600 });
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_pem(&vector(pem)).unwrap()).unwrap()
}

fn bearer(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("authorization", HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
    headers
}

fn outcome(decision: &Decision) -> &'static str {
    match decision {
        Decision::Allow(_) => "allow",
        Decision::Deny(reason) => reason.code(),
    }
}

/// Serves whatever `body` holds at the moment of each request, counting them.
struct JwksServer {
    port: u16,
    body: Arc<Mutex<Vec<u8>>>,
    hits: Arc<AtomicUsize>,
}

impl JwksServer {
    fn start(body: Vec<u8>) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (body, hits) = (Arc::new(Mutex::new(body)), Arc::new(AtomicUsize::new(0)));
        let (served, counted) = (Arc::clone(&body), Arc::clone(&hits));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                counted.fetch_add(1, Ordering::SeqCst);
                let body = served.lock().unwrap().clone();
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        Self { port, body, hits }
    }

    fn serve(&self, body: Vec<u8>) {
        *self.body.lock().unwrap() = body;
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn jwt_site() -> Site {
    let site = Site::new();
    site.add_plugin_with("jwt", &std::fs::read(ward_tests::JWT).unwrap(), &["readsCredentials", "keyLookup"]);
    site
}

/// The jwt plugin on `Authorization: Bearer`, EdDSA only, with one key-material entry.
fn jwt_plugin(key_material: Value) -> Value {
    let mut plugin = Site::plugin("jwt", json!({ "header": "Authorization", "scheme": "Bearer" }));
    plugin["settings"] = json!({ "algorithms": "EdDSA", "issuer": ISSUER, "audience": AUDIENCE });
    plugin["keyMaterial"] = json!([key_material]);
    plugin
}

/// Allows `keyLookup` and loopback fetches.
fn allow_lookup_and_loopback(config: &mut Value) {
    config["trust"]["allowCapabilities"] = json!(["readsCredentials", "keyLookup"]);
    config["keyMaterialFetch"] = json!({ "allowHttpHosts": ["127.0.0.1"], "allowCidrs": ["127.0.0.0/8"] });
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The JWKS is fetched (and indexed) once, however many calls use it; a
/// token naming a `kid` the set lacks denies at once and brings forward
/// one refetch, however many such tokens arrive within `refetchMinSeconds`;
/// after it the rotated-in key verifies.
#[test]
fn a_jwks_url_is_indexed_per_fetch_and_refetched_once_on_an_unknown_kid() {
    let server = JwksServer::start(jwks(&[jwk("jwks.json", "ed-1")]));
    let site = jwt_site();
    let url = format!("http://127.0.0.1:{}/jwks", server.port);
    let entry = json!({ "name": "jwks", "url": url, "format": "jwks", "refreshSeconds": 3600, "refetchMinSeconds": 3600 });
    let config = site.config(vec![jwt_plugin(entry)], allow_lookup_and_loopback);
    let gateway = site.gateway(&config).unwrap();
    assert_eq!(server.hits(), 1, "one fetch at load");
    for i in 0..50 {
        let decision = gateway.authenticate(&bearer(&token("ed25519.pem", "ed-1", &format!("user{i}"))), NOW_MS).decision;
        assert_eq!(outcome(&decision), "allow");
    }
    assert_eq!(server.hits(), 1, "calls never fetch");

    // The issuer rotates in ed-2; ward's next scheduled refresh is an hour away.
    server.serve(jwks(&[jwk("jwks.json", "ed-1"), jwk("attacker-jwks.json", "ed-2")]));
    let rotated = token("attacker-ed25519.pem", "ed-2", "bob");
    // The call that misses does not wait for the refetch it asks for.
    assert_eq!(outcome(&gateway.authenticate(&bearer(&rotated), NOW_MS).decision), "plugin:unknown-key");
    wait_until("the early refetch", || server.hits() == 2);
    wait_until("the rotated key to verify", || gateway.authenticate(&bearer(&rotated), NOW_MS).decision.is_allow());
    // Twenty misses, one refetch: the window is an hour.
    let unknown = token("attacker-ed25519.pem", "ed-3", "eve");
    for _ in 0..20 {
        assert_eq!(outcome(&gateway.authenticate(&bearer(&unknown), NOW_MS).decision), "plugin:unknown-key");
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.hits(), 2, "refetches on a miss are rate-limited");
}

/// A fetched JWKS that does not index is a failed refresh: the last good
/// index keeps serving, and the failure is audited with its code, never
/// the body.
#[test]
fn a_broken_jwks_refresh_keeps_the_last_good_set_and_is_audited() {
    let server = JwksServer::start(jwks(&[jwk("jwks.json", "ed-1")]));
    let site = jwt_site();
    let url = format!("http://127.0.0.1:{}/jwks", server.port);
    let entry = json!({ "name": "jwks", "url": url, "format": "jwks", "refreshSeconds": 1, "maxStaleSeconds": 3600 });
    let gateway = site.gateway(&site.config(vec![jwt_plugin(entry)], allow_lookup_and_loopback)).unwrap();
    let good = token("ed25519.pem", "ed-1", "alice");
    assert!(gateway.authenticate(&bearer(&good), NOW_MS).decision.is_allow());

    const MARKER: &str = "jwks-body-marker-not-for-the-audit-log";
    let ed = jwk("jwks.json", "ed-1");
    server.serve(serde_json::to_vec(&json!({ "keys": [ed.clone(), ed], "note": MARKER })).unwrap());
    let seen = server.hits();
    wait_until("two more refreshes", || server.hits() >= seen + 2);
    assert!(gateway.authenticate(&bearer(&good), NOW_MS).decision.is_allow(), "the last good set keeps serving");
    server.serve(b"{\"keys\": [".to_vec());
    let seen = server.hits();
    wait_until("two more refreshes", || server.hits() >= seen + 2);
    assert!(gateway.authenticate(&bearer(&good), NOW_MS).decision.is_allow());
    gateway.flush_audit().unwrap();
    site.assert_audit("keymaterial.update.failed", 2);
    let audit = site.audit_text();
    assert!(audit.contains("\"reason\":\"keymaterial-duplicate-id\"") && audit.contains("\"reason\":\"keymaterial-jwks-invalid\""), "{audit}");
    assert!(audit.contains("\"keyMaterial\":\"jwks\"") && audit.contains("\"pluginId\":\"jwt\""), "{audit}");
    assert!(!audit.contains(MARKER) && !audit.contains("127.0.0.1"), "{audit}");
}

fn sha_hex(key: &str) -> String {
    Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn keys_file(keys: &[&str]) -> Vec<u8> {
    let entries: Vec<Value> = keys.iter().map(|k| json!({ "sha256": sha_hex(k), "subject": format!("owner-of-{k}"), "type": "service" })).collect();
    serde_json::to_vec(&json!({ "version": 1, "keys": entries })).unwrap()
}

fn api_key_site() -> Site {
    let site = Site::new();
    site.add_plugin_with("api-key", &std::fs::read(ward_tests::API_KEY).unwrap(), &["readsCredentials", "keyLookup"]);
    site
}

fn api_key_config(site: &Site, entry: Value) -> std::path::PathBuf {
    let mut plugin = Site::plugin("api-key", json!({ "header": "X-Api-Key" }));
    plugin["settings"] = json!({ "prefixes": "wk_", "schemes": "api-key", "minKeyBytes": "4" });
    plugin["keyMaterial"] = json!([entry]);
    site.config(vec![plugin], |c| c["trust"]["allowCapabilities"] = json!(["readsCredentials", "keyLookup"]))
}

fn api(key: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("x-api-key", HeaderValue::from_str(key).unwrap());
    headers
}

/// A keys file that does not index refuses the start, and a reload to one
/// refuses the reload: the old set keeps serving, and both the reload and
/// the entry are audited with the index's code.
#[test]
fn a_bad_keys_file_refuses_the_start_or_the_reload() {
    let site = api_key_site();
    site.write("keys.json", b"{\"version\":1,\"keys\":[{\"sha256\":\"wk_raw_key_pasted_by_mistake\"}]}");
    let config = api_key_config(&site, json!({ "name": "api-keys", "file": "keys.json", "format": "api-keys" }));
    let err = site.gateway(&config).err().unwrap();
    assert_eq!(err.code(), "keymaterial-apikeys-invalid");
    assert!(!err.to_string().contains("wk_raw_key_pasted_by_mistake"), "{err}");

    site.write("keys.json", &keys_file(&["wk_alpha"]));
    let gateway = site.gateway(&config).unwrap();
    assert!(gateway.authenticate(&api("wk_alpha"), NOW_MS).decision.is_allow());
    site.write("keys.json", &[keys_file(&["wk_alpha"]), b"x".to_vec()].concat());
    assert_eq!(gateway.reload_from_source().err().map(|e| e.code()), Some("keymaterial-apikeys-invalid"));
    assert!(gateway.authenticate(&api("wk_alpha"), NOW_MS).decision.is_allow(), "the old set keeps serving");
    gateway.flush_audit().unwrap();
    site.assert_audit("config.reload.refused", 1);
    site.assert_audit("keymaterial.update.failed", 1);
    assert!(site.audit_text().contains("\"reason\":\"keymaterial-apikeys-invalid\""));
}

/// Calls racing reloads that swap the keys file: `wk_alpha` is in both
/// versions and never denied; `wk_beta` is in one and is allowed exactly
/// when that version serves, never half of one and half of the other.
#[test]
fn reloads_swap_the_index_atomically_under_load() {
    let site = api_key_site();
    let (with_beta, without_beta) = (keys_file(&["wk_alpha", "wk_beta"]), keys_file(&["wk_alpha"]));
    site.write("keys.json", &with_beta);
    let config = api_key_config(&site, json!({ "name": "api-keys", "file": "keys.json", "format": "api-keys" }));
    let gateway = Arc::new(site.gateway(&config).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let callers: Vec<_> = (0..2)
        .map(|_| {
            let (gateway, stop) = (Arc::clone(&gateway), Arc::clone(&stop));
            std::thread::spawn(move || {
                let (mut calls, mut beta_allowed, mut beta_unknown) = (0, 0, 0);
                while !stop.load(Ordering::Relaxed) {
                    let alpha = gateway.authenticate(&api("wk_alpha"), NOW_MS).decision;
                    assert!(alpha.is_allow(), "wk_alpha denied mid-swap: {}", outcome(&alpha));
                    match gateway.authenticate(&api("wk_beta"), NOW_MS).decision {
                        Decision::Allow(_) => beta_allowed += 1,
                        Decision::Deny(DenyReason::Plugin(_)) => beta_unknown += 1,
                        Decision::Deny(other) => panic!("wk_beta: {}", other.code()),
                    }
                    calls += 1;
                }
                (calls, beta_allowed, beta_unknown)
            })
        })
        .collect();
    for round in 0..20 {
        // Written aside and renamed, as an operator's deploy does, so a
        // reload never reads half a file.
        site.write("keys.json.next", if round % 2 == 0 { &without_beta } else { &with_beta });
        std::fs::rename(site.path("keys.json.next"), site.path("keys.json")).unwrap();
        gateway.reload_from_source().unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    let totals: Vec<(usize, usize, usize)> = callers.into_iter().map(|c| c.join().unwrap()).collect();
    assert!(totals.iter().all(|(calls, ..)| *calls > 0), "{totals:?}");
    assert!(totals.iter().any(|(_, allowed, _)| *allowed > 0) && totals.iter().any(|(.., unknown)| *unknown > 0), "both versions served: {totals:?}");
}
