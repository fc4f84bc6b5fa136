//! Key lookup (`ward:auth/keys@0.3.0`, docs/key-material.md): who may import
//! it, what a lookup answers, and what a hostile guest gets out of it. The
//! guests are WAT against the real 0.3.0 world; the shipped plugins that use
//! lookups are tested in `jwt.rs` and `api_key.rs`.

use std::sync::Arc;

use ward::keymaterial::{KeyFormat, KeyIndex};
use ward::sandbox::{Decision, DenyReason, KEY_LOOKUP_CAPABILITY, KeySet, Limits, LoadError, PluginOptions};

use crate::support::{NOW_MS, cred, load_with_capabilities, runtime};
use crate::wat_guests::{allow_fixed, componentize_against, core_module_versioned, deny_case};

const LOOKUP_IMPORT: &str = r#"(import "ward:auth/keys@0.3.0" "lookup" (func $lookup (param i32 i32 i32 i32 i32)))"#;
/// Where the guest keeps the set name, the id and the lookup's result.
const SET_AT: u32 = 0x300;
const ID_AT: u32 = 0x400;
const RET_AT: u32 = 0x2f0;
/// `plugin:malformed` and `plugin:unknown-key` (deny-reason cases 1 and 7).
const WRONG_SIZE: u32 = 1;
const NOT_FOUND: u32 = 7;

/// A guest that looks up `id` (at most a few KiB, written at `ID_AT`) in
/// `set` once and allows only if it finds a value of `value_len` bytes;
/// with `forever`, it looks up in a loop and never returns.
fn lookup_guest(set: &str, id: &[u8], value_len: usize, forever: bool) -> Vec<u8> {
    let escape = |bytes: &[u8]| bytes.iter().map(|b| format!("\\{b:02x}")).collect::<String>();
    let call = format!("(call $lookup (i32.const {SET_AT}) (i32.const {}) (i32.const {ID_AT}) (i32.const {}) (i32.const {RET_AT}))", set.len(), id.len());
    let body = if forever {
        format!("(loop $again {call} (br $again)) unreachable")
    } else {
        format!(
            "{call}
    (if (result i32) (i32.eqz (i32.load8_u (i32.const {RET_AT})))
      (then {not_found})
      (else (if (result i32) (i32.eq (i32.load (i32.const {len_at})) (i32.const {value_len}))
        (then {allow})
        (else {wrong_size}))))",
            len_at = RET_AT + 8,
            not_found = deny_case(NOT_FOUND),
            allow = allow_fixed(),
            wrong_size = deny_case(WRONG_SIZE),
        )
    };
    let data = format!(r#"(data (i32.const {SET_AT}) "{}") (data (i32.const {ID_AT}) "{}")"#, escape(set.as_bytes()), escape(id));
    componentize_against(&core_module_versioned("0.3.0", LOOKUP_IMPORT, 4, &body, &data), "0.3.0", "plugin")
}

fn digest(key: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(key.as_bytes()).into()
}

/// An `api-keys` set named `keys` holding `key-1` and `key-2`.
fn api_key_set() -> KeySet {
    let entries: Vec<String> = ["key-1", "key-2"]
        .iter()
        .map(|key| format!(r#"{{"sha256":"{}","subject":"{key}-owner","type":"service"}}"#, digest(key).iter().map(|b| format!("{b:02x}")).collect::<String>()))
        .collect();
    let file = format!(r#"{{"version":1,"keys":[{}]}}"#, entries.join(","));
    KeySet::new("keys", Arc::new(KeyIndex::build(KeyFormat::ApiKeys, file.as_bytes(), 10).unwrap()))
}

/// The value a lookup of `key` returns: the compact record.
fn record_len(key: &str) -> usize {
    format!(r#"{{"subject":"{key}-owner","type":"service"}}"#).len()
}

fn options(sets: Vec<KeySet>) -> PluginOptions {
    PluginOptions { key_sets: sets, ..PluginOptions::default() }
}

fn outcome(decision: Decision) -> String {
    match decision {
        Decision::Allow(_) => "allow".to_owned(),
        Decision::Deny(reason) => reason.code().to_owned(),
    }
}

fn call(guest: Vec<u8>, sets: Vec<KeySet>) -> String {
    let plugin = load_with_capabilities(&runtime(), guest, &["readsCredentials", KEY_LOOKUP_CAPABILITY], options(sets)).unwrap();
    assert!(plugin.imports_key_lookup() && !plugin.imports_host_crypto(), "a guest that calls only lookup imports only keys");
    outcome(plugin.authenticate(cred("t"), NOW_MS))
}

/// Without `keyLookup` in the signed envelope the import is refused at load,
/// whatever the operator allows; with it, it loads.
#[test]
fn lookup_is_importable_only_with_the_signed_capability() {
    let guest = lookup_guest("keys", &digest("key-1"), record_len("key-1"), false);
    let err = load_with_capabilities(&runtime(), guest.clone(), &["readsCredentials"], options(vec![api_key_set()])).unwrap_err();
    assert_eq!(err, LoadError::ForbiddenImport { name: "ward:auth/keys@0.3.0".into() });
    // hostCrypto is another capability; it does not open key lookup.
    let err = load_with_capabilities(&runtime(), guest.clone(), &["readsCredentials", "hostCrypto"], options(vec![api_key_set()])).unwrap_err();
    assert_eq!(err.code(), "forbidden-import");
    assert_eq!(call(guest, vec![api_key_set()]), "allow");
}

#[test]
fn a_lookup_finds_one_entry_by_its_exact_id_or_nothing() {
    assert_eq!(call(lookup_guest("keys", &digest("key-2"), record_len("key-2"), false), vec![api_key_set()]), "allow");
    // The value is the one entry's record, not some other size.
    assert_eq!(call(lookup_guest("keys", &digest("key-2"), record_len("key-2") + 1, false), vec![api_key_set()]), "plugin:malformed");
    for (set, id) in [
        ("keys", digest("key-3").to_vec()),
        ("keys", digest("key-1")[..31].to_vec()),
        ("keys", b"key-1".to_vec()),
        ("other", digest("key-1").to_vec()),
        ("keys#alg", b"EdDSA".to_vec()),
        ("", Vec::new()),
    ] {
        assert_eq!(call(lookup_guest(set, &id, 0, false), vec![api_key_set()]), "plugin:unknown-key", "{set} {id:?}");
    }
    // No sets at all: the same answer, not a trap.
    assert_eq!(call(lookup_guest("keys", &digest("key-1"), record_len("key-1"), false), Vec::new()), "plugin:unknown-key");
}

/// An id past 1 KiB is `none` without a search; a set name of any bytes
/// the guest sends is `none`, not a trap.
#[test]
fn hostile_arguments_are_none_not_traps() {
    assert_eq!(call(lookup_guest("keys", &[0x41; 4096], 0, false), vec![api_key_set()]), "plugin:unknown-key");
    assert_eq!(call(lookup_guest(&"k".repeat(300), &digest("key-1"), 0, false), vec![api_key_set()]), "plugin:unknown-key");
}

/// Every lookup is charged: a guest that looks up in a loop runs out of fuel
/// (the default budget, 50 million, is some 50 000 lookups), whether the
/// lookups find something (which the guest must store) or not, and the
/// runtime keeps serving. The deadline is raised so that only fuel decides
/// in this unoptimized test build; with the default deadline, whichever
/// comes first ends the call.
#[test]
fn a_lookup_loop_runs_out_of_fuel() {
    let rt = runtime();
    let caps = ["readsCredentials", KEY_LOOKUP_CAPABILITY];
    let limits = Limits { timeout: std::time::Duration::from_secs(30), ..Limits::default() };
    for id in [digest("key-3"), digest("key-1")] {
        let options = PluginOptions { limits, ..options(vec![api_key_set()]) };
        let looping = load_with_capabilities(&rt, lookup_guest("keys", &id, 0, true), &caps, options).unwrap();
        let started = std::time::Instant::now();
        assert_eq!(looping.authenticate(cred("t"), NOW_MS), Decision::Deny(DenyReason::FuelExhausted));
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
    }
    let good = load_with_capabilities(&rt, lookup_guest("keys", &digest("key-1"), record_len("key-1"), false), &caps, options(vec![api_key_set()])).unwrap();
    assert!(good.authenticate(cred("t"), NOW_MS).is_allow());
}

/// A 0.3.0 component that imports nothing needs no capability, like a 0.1.0 one.
#[test]
fn a_component_of_0_3_0_that_imports_nothing_loads_without_capabilities() {
    let guest = componentize_against(&core_module_versioned("0.3.0", "", 1, &allow_fixed(), ""), "0.3.0", "plugin");
    let plugin = load_with_capabilities(&runtime(), guest, &["readsCredentials"], PluginOptions::default()).unwrap();
    assert!(!plugin.imports_key_lookup() && !plugin.imports_host_crypto());
    assert!(plugin.authenticate(cred("t"), NOW_MS).is_allow());
}

/// `authenticator` and `crypto` of 0.3.0 are 0.2.0's, text for text: the
/// host lifts all three versions with one mirror.
#[test]
fn wit_0_3_0_repeats_0_2_0_and_adds_keys() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let text = |path: &str| std::fs::read_to_string(format!("{root}/{path}")).unwrap();
    let interface = |text: &str, name: &str| {
        let start = text.find(&format!("interface {name} {{")).unwrap();
        let end = start + text[start..].find("\n}\n").unwrap();
        text[start..end].to_owned()
    };
    let (v2, v3) = (text("wit/0.2.0/ward-auth.wit"), text("wit/0.3.0/ward-auth.wit"));
    for name in ["authenticator", "crypto"] {
        assert_eq!(interface(&v2, name), interface(&v3, name), "{name}");
    }
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve.push_dir(format!("{root}/wit/0.3.0")).unwrap();
    let package = &resolve.packages[package];
    let keys = &resolve.interfaces[package.interfaces["keys"]];
    assert_eq!(keys.functions.keys().collect::<Vec<_>>(), ["lookup"]);
}
