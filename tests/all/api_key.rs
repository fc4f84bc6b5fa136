//! The api-key plugin (`plugins/api-key`) through the real trust gate and
//! sandbox. Keys files are built here and hashed here with `sha2`, not with
//! the plugin's code, so a plugin that hashed or compared wrongly would fail.

use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use ward::identity::{ClaimsPolicy, Identity, PrincipalType};
use ward::keymaterial::{DEFAULT_MAX_ENTRIES, KeyFormat, KeyIndex};
use ward::sandbox::{Credential, Decision, KEY_LOOKUP_CAPABILITY, KeySet, Limits, Plugin, PluginOptions};

use crate::support::{NOW_MS, identity_key, load_with_capabilities, runtime};

const PREFIXES: (&str, &str) = ("prefixes", "wk_live_,wk_test_");

/// A key as `ward apikey new` makes them: prefix + base64url of 32 bytes.
fn key(prefix: &str, seed: &str) -> String {
    let secret = Sha256::digest(seed.as_bytes());
    format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret))
}

fn sha_hex(key: &str) -> String {
    Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn entry(key: &str, subject: &str, kind: &str) -> Value {
    json!({ "sha256": sha_hex(key), "subject": subject, "type": kind })
}

fn keys_file(entries: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({ "version": 1, "keys": entries })).unwrap()
}

fn settings(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// `file` as `ward serve` hands a `format: "api-keys"` entry named `name`
/// to the plugin: indexed by the host once.
fn indexed(name: &str, file: &[u8]) -> KeySet {
    KeySet::new(name, Arc::new(KeyIndex::build(KeyFormat::ApiKeys, file, DEFAULT_MAX_ENTRIES).unwrap()))
}

/// Signed with `keyLookup`, as the plugin must be.
fn load(settings: Vec<(String, String)>, key_sets: Vec<KeySet>, limits: Limits) -> Plugin {
    let bytes = std::fs::read(ward_tests::API_KEY).unwrap();
    let options = PluginOptions { limits, settings, key_sets, ..PluginOptions::default() };
    let plugin = load_with_capabilities(&runtime(), bytes, &["readsCredentials", KEY_LOOKUP_CAPABILITY], options).unwrap();
    assert!(plugin.imports_key_lookup());
    plugin
}

/// The plugin with the usual prefixes and `file` as key material `api-keys`.
fn plugin(file: Vec<u8>) -> Plugin {
    load(settings(&[PREFIXES]), vec![indexed("api-keys", &file)], Limits::default())
}

fn api(plugin: &Plugin, token: &str) -> Decision {
    plugin.authenticate(Credential { scheme: "api-key", token }, NOW_MS)
}

fn allow(decision: Decision) -> Identity {
    match decision {
        Decision::Allow(identity) => identity,
        Decision::Deny(reason) => panic!("expected an allow, got {}", reason.code()),
    }
}

fn deny(decision: Decision) -> &'static str {
    match decision {
        Decision::Deny(reason) => reason.code(),
        Decision::Allow(identity) => panic!("expected a deny, got an allow for {}", identity.id),
    }
}

/// The id the host must derive for `subject` from the test plugin.
fn expected_id(subject: &str, issuer: Option<&str>) -> String {
    let policy = ClaimsPolicy::default();
    let mut sanitizer = policy.sanitizer();
    sanitizer.subject(subject).unwrap();
    if let Some(issuer) = issuer {
        sanitizer.issuer(issuer).unwrap();
    }
    Identity::derive(&identity_key(), "test-plugin", sanitizer.finish(PrincipalType::User).unwrap()).id
}

/// Named after the guest, as `foreach_guest!` requires: the allow path with
/// every identity field the keys file sets.
#[test]
pub(crate) fn api_key() {
    let alice = key("wk_live_", "alice");
    let billing = key("wk_live_", "billing");
    let bot = key("wk_test_", "bot");
    let mut alice_entry = entry(&alice, "alice", "user");
    alice_entry["scopes"] = json!(["orders:read", "orders:write"]);
    alice_entry["labels"] = json!({ "team": "payments", "env": "prod" });
    let file = keys_file(&[alice_entry, entry(&billing, "svc-billing", "service"), entry(&bot, "triage-bot", "agent")]);
    let p = plugin(file.clone());

    let identity = allow(api(&p, &alice));
    assert_eq!(identity.id, expected_id("alice", None));
    assert_eq!(identity.provider, "test-plugin");
    assert_eq!(identity.principal_type, PrincipalType::User);
    assert_eq!(identity.scopes, ["orders:read", "orders:write"]);
    assert_eq!(identity.labels, [("team".to_owned(), "payments".to_owned()), ("env".to_owned(), "prod".to_owned())]);

    let service = allow(api(&p, &billing));
    assert_eq!((service.id.as_str(), service.principal_type), (expected_id("svc-billing", None).as_str(), PrincipalType::Service));
    assert!(service.scopes.is_empty() && service.labels.is_empty());
    assert_eq!(allow(api(&p, &bot)).principal_type, PrincipalType::Agent);

    // `Authorization: Bearer` carries the same key.
    let bearer = allow(p.authenticate(Credential { scheme: "bearer", token: &alice }, NOW_MS));
    assert_eq!(bearer.id, identity.id);

    // The `issuer` setting is the claims' issuer, so it keys the identity too.
    let with_issuer = load(settings(&[PREFIXES, ("issuer", "acme-keys")]), vec![indexed("api-keys", &file)], Limits::default());
    assert_eq!(allow(api(&with_issuer, &alice)).id, expected_id("alice", Some("acme-keys")));
}

#[test]
fn unknown_revoked_and_expired_keys_are_refused_by_name() {
    let live = key("wk_live_", "live");
    let revoked = key("wk_live_", "revoked");
    let expired = key("wk_live_", "expired");
    let later = key("wk_live_", "later");
    let mut revoked_entry = entry(&revoked, "old-svc", "service");
    revoked_entry["revoked"] = json!(true);
    let mut expired_entry = entry(&expired, "temp", "user");
    expired_entry["expiresMs"] = json!(NOW_MS);
    let mut later_entry = entry(&later, "temp2", "user");
    later_entry["expiresMs"] = json!(NOW_MS + 1);
    let p = plugin(keys_file(&[entry(&live, "svc", "service"), revoked_entry, expired_entry, later_entry]));

    assert_eq!(allow(api(&p, &live)).id, expected_id("svc", None));
    assert_eq!(deny(api(&p, &key("wk_live_", "never-issued"))), "plugin:unknown-key");
    assert_eq!(deny(api(&p, &revoked)), "plugin:revoked");
    assert_eq!(deny(api(&p, &expired)), "plugin:expired", "expiresMs is the first refused millisecond");
    assert!(api(&p, &later).is_allow());
    // One changed character is a different key, not a near miss.
    let mut near = live.clone().into_bytes();
    let last = near.last_mut().unwrap();
    *last = if *last == b'A' { b'B' } else { b'A' };
    assert_eq!(deny(api(&p, std::str::from_utf8(&near).unwrap())), "plugin:unknown-key");
}

#[test]
fn key_shape_is_checked_before_any_lookup() {
    let unprefixed = key("", "unprefixed");
    let foreign = key("sk_live_", "foreign");
    let spaced = format!("{} ", key("wk_live_", "spaced"));
    let short = "wk_live_abc".to_owned();
    let long = format!("wk_live_{}", "a".repeat(257));
    // Every one of these is listed: only the shape check can refuse them.
    let listed = [&unprefixed, &foreign, &spaced, &short, &long];
    let entries: Vec<Value> = listed.iter().enumerate().map(|(i, k)| entry(k, &format!("s{i}"), "user")).collect();
    let p = plugin(keys_file(&entries));
    for token in listed {
        assert_eq!(deny(api(&p, token)), "plugin:malformed", "{token:?}");
    }
    assert_eq!(deny(api(&p, "wk_live_ünïcödé-ünïcödé-ünïcödé")), "plugin:malformed");
    assert_eq!(deny(api(&p, "wk_live_\u{7f}aaaaaaaaaaaaaaaaaaaaaa")), "plugin:malformed");
    assert_eq!(deny(api(&p, "")), "plugin:missing-credential");
    let basic = Credential { scheme: "basic", token: "YWxpY2U6cGFzc3dvcmQ=" };
    assert_eq!(deny(p.authenticate(basic, NOW_MS)), "plugin:missing-credential");
    // The host refuses an oversized credential before the guest runs.
    assert_eq!(deny(api(&p, &format!("wk_live_{}", "a".repeat(9000)))), "oversized");

    // Without `prefixes`, unprefixed (legacy) keys are looked up as they are.
    let legacy = load(Vec::new(), vec![indexed("api-keys", &keys_file(&entries))], Limits::default());
    assert_eq!(allow(api(&legacy, &unprefixed)).id, expected_id("s0", None));
}

/// Each file is broken in one way; the presented key is listed in it (or is
/// the raw key a careless file holds), so a lenient parser would allow it.
/// The host refuses each when it indexes it (`ward serve` then keeps the old
/// set, or does not start), with a code and a position, never the content.
#[test]
fn broken_keys_files_fail_closed() {
    let k = key("wk_live_", "k");
    let other = key("wk_live_", "other");
    let good = entry(&k, "svc", "service");
    let with = |field: &str, value: Value| {
        let mut e = good.clone();
        e[field] = value;
        keys_file(&[e])
    };
    let raw = |text: &str| text.as_bytes().to_vec();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("raw keys only", keys_file(&[json!({ "key": k, "subject": "svc", "type": "service" })])),
        ("raw key in sha256", keys_file(&[json!({ "sha256": k, "subject": "svc", "type": "service" })])),
        ("plain list of raw keys", raw(&format!("{k}\n{other}\n"))),
        ("JSON array of raw keys", serde_json::to_vec(&json!([k, other])).unwrap()),
        ("broken JSON", keys_file(std::slice::from_ref(&good)).split_last().unwrap().1.to_vec()),
        ("empty file", Vec::new()),
        ("duplicate hashes", keys_file(&[good.clone(), entry(&k, "someone-else", "user")])),
        ("unknown entry field", with("owner", json!("ops"))),
        ("unknown top-level field", serde_json::to_vec(&json!({ "version": 1, "keys": [good.clone()], "default": "allow" })).unwrap()),
        (
            "duplicate entry field",
            raw(&format!(r#"{{"version":1,"keys":[{{"sha256":"{}","subject":"svc","subject":"root","type":"service"}}]}}"#, sha_hex(&k))),
        ),
        (
            "duplicate label",
            raw(&format!(r#"{{"version":1,"keys":[{{"sha256":"{}","subject":"svc","type":"service","labels":{{"team":"a","team":"b"}}}}]}}"#, sha_hex(&k))),
        ),
        ("other version", serde_json::to_vec(&json!({ "version": 2, "keys": [good.clone()] })).unwrap()),
        ("no version", serde_json::to_vec(&json!({ "keys": [good.clone()] })).unwrap()),
        ("upper-case hex", with("sha256", json!(sha_hex(&k).to_uppercase()))),
        ("short hex", with("sha256", json!(&sha_hex(&k)[..63]))),
        ("unknown type", with("type", json!("admin"))),
        ("revoked as string", with("revoked", json!("false"))),
        ("empty subject", with("subject", json!(""))),
        ("subject with newline", with("subject", json!("svc\nadmin"))),
        ("scope with space", with("scopes", json!(["read write"]))),
        ("65 scopes", with("scopes", json!((0..65).map(|i| format!("s{i}")).collect::<Vec<_>>()))),
        ("negative expiry", with("expiresMs", json!(-1))),
        ("not UTF-8", [b"{\"version\":1,\"keys\":[],\"x\":\"".as_slice(), &[0xff, 0xfe], b"\"}"].concat()),
    ];
    for (what, file) in cases {
        let err = KeyIndex::build(KeyFormat::ApiKeys, &file, DEFAULT_MAX_ENTRIES).err().unwrap_or_else(|| panic!("{what}: indexed"));
        assert!(["keymaterial-apikeys-invalid", "keymaterial-duplicate-id"].contains(&err.code()), "{what}: {}", err.code());
        let shown = err.to_string();
        assert!(!shown.contains(&k) && !shown.contains("svc") && !shown.contains(&sha_hex(&k)), "{what}: {shown}");
    }
    // No key material, or key material under another name: nothing to find.
    let none = load(settings(&[PREFIXES]), Vec::new(), Limits::default());
    assert_eq!(deny(api(&none, &k)), "plugin:unknown-key");
    let elsewhere = load(settings(&[PREFIXES]), vec![indexed("other", &keys_file(std::slice::from_ref(&good)))], Limits::default());
    assert_eq!(deny(api(&elsewhere, &k)), "plugin:unknown-key");
    // ... unless `keyMaterial` names it.
    let named = load(settings(&[PREFIXES, ("keyMaterial", "other")]), vec![indexed("other", &keys_file(&[good]))], Limits::default());
    assert!(api(&named, &k).is_allow());
}

#[test]
fn unusable_settings_fail_closed() {
    let k = key("wk_live_", "k");
    let file = keys_file(&[entry(&k, "svc", "service")]);
    for bad in [
        settings(&[("prefix", "wk_live_")]),
        settings(&[PREFIXES, ("prefixes", "wk_")]),
        settings(&[("prefixes", "")]),
        settings(&[("prefixes", "wk_live_,")]),
        settings(&[("schemes", "basic")]),
        settings(&[("minKeyBytes", "0")]),
        settings(&[("minKeyBytes", "64"), ("maxKeyBytes", "32")]),
        settings(&[("maxKeyBytes", "lots")]),
    ] {
        let p = load(bad.clone(), vec![indexed("api-keys", &file)], Limits::default());
        assert_eq!(deny(api(&p, &k)), "plugin:denied", "{bad:?}");
    }
    // `schemes` narrows what is read.
    let api_only = load(settings(&[PREFIXES, ("schemes", "api-key")]), vec![indexed("api-keys", &file)], Limits::default());
    assert!(api(&api_only, &k).is_allow());
    assert_eq!(deny(api_only.authenticate(Credential { scheme: "bearer", token: &k }, NOW_MS)), "plugin:missing-credential");
}

#[test]
fn label_keys_outside_the_host_allowlist_are_invalid_claims() {
    let k = key("wk_live_", "k");
    let mut e = entry(&k, "svc", "service");
    e["labels"] = json!({ "owner": "ops" });
    assert_eq!(deny(api(&plugin(keys_file(&[e])), &k)), "invalid-claims");
}

/// 10 000 entries as `ward apikey new --scope orders:read` writes them
/// (about 1.5 MB), each found under the default limits. The host indexed the
/// file once; a call hashes the key and looks one entry up, so its cost does
/// not depend on the file's size (`ward bench` measures 10 to 1 000 000 keys).
#[test]
fn ten_thousand_entries_within_default_limits() {
    let keys: Vec<String> = (0..10_000).map(|i| key("wk_live_", &format!("k{i}"))).collect();
    let entries: Vec<Value> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let mut e = entry(k, &format!("svc-{i:05}"), "service");
            e["scopes"] = json!(["orders:read"]);
            e["createdMs"] = json!(NOW_MS);
            if i == 5_000 {
                e["revoked"] = json!(true);
            }
            e
        })
        .collect();
    let file = keys_file(&entries);
    assert!(file.len() > 1_400_000, "{} bytes", file.len());
    let limits = Limits::default();
    let p = load(settings(&[PREFIXES]), vec![indexed("api-keys", &file)], limits);
    let started = Instant::now();
    for i in [0, 4_999, 9_999] {
        assert_eq!(allow(api(&p, &keys[i])).id, expected_id(&format!("svc-{i:05}"), None), "entry {i}");
    }
    assert_eq!(deny(api(&p, &keys[5_000])), "plugin:revoked");
    assert_eq!(deny(api(&p, &key("wk_live_", "absent"))), "plugin:unknown-key");
    eprintln!("10k-entry keys file: {:?} per call", started.elapsed() / 5);
}
