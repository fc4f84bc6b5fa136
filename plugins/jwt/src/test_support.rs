//! Natively built tokens, key records and a stand-in for the host's JWKS
//! index, for the unit tests. The `keys` import cannot be called natively,
//! so the code under test takes the lookup as a closure.

use std::cell::RefCell;
use std::collections::HashMap;

#[cfg(not(feature = "host-crypto"))]
use ward_guest::base64url;
use ward_guest::keys::{Alg, KeyRecord, PublicKey};
use ward_guest::{Context, Key};

/// The Ed25519 key the tests sign with, and another one.
pub fn ed25519(seed: u8) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
}

/// The key record the host would index for `key`.
pub fn record(key: PublicKey<'_>, alg: Option<Alg>) -> Vec<u8> {
    let mut out = Vec::new();
    KeyRecord { key, alg }.encode(&mut out).expect("a key within the record's bounds");
    out
}

/// The record of an Ed25519 signing key's public half.
pub fn ed25519_record(key: &ed25519_dalek::SigningKey) -> Vec<u8> {
    record(PublicKey::Ed25519(key.verifying_key().as_bytes()), None)
}

/// `<header>.<payload>.<signature>`, signed by `sign` over the first two.
#[cfg(not(feature = "host-crypto"))]
pub fn token(header: &str, payload: &str, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let signing_input = format!("{}.{}", base64url::encode(header.as_bytes()), base64url::encode(payload.as_bytes()));
    let signature = sign(signing_input.as_bytes());
    format!("{signing_input}.{}", base64url::encode(&signature))
}

/// An EdDSA token by `key` with the given `kid` (none if `None`).
#[cfg(not(feature = "host-crypto"))]
pub fn eddsa_token(key: &ed25519_dalek::SigningKey, kid: Option<&str>, payload: &str) -> String {
    use ed25519_dalek::Signer;
    let header = match kid {
        Some(kid) => format!(r#"{{"alg":"EdDSA","kid":"{kid}"}}"#),
        None => r#"{"alg":"EdDSA"}"#.to_owned(),
    };
    token(&header, payload, |input| key.sign(input).to_bytes().to_vec())
}

/// A context with these settings and no raw key material.
pub fn context(settings: &[(&str, &str)], now_ms: u64) -> Context {
    Context { now_ms, settings: settings.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(), keys: Vec::new() }
}

/// The same context with raw key material `name` added.
pub fn with_raw_key(mut ctx: Context, name: &str, data: &[u8]) -> Context {
    ctx.keys.push(Key { name: name.to_owned(), data: data.to_vec() });
    ctx
}

/// The host's index: values by (set, id), and every (set, id) asked.
#[derive(Default)]
pub struct Index {
    values: HashMap<(String, Vec<u8>), Vec<u8>>,
    pub asked: RefCell<Vec<(String, Vec<u8>)>>,
}

impl Index {
    pub fn with(mut self, set: &str, id: &str, value: Vec<u8>) -> Self {
        self.values.insert((set.to_owned(), id.as_bytes().to_vec()), value);
        self
    }

    /// What `ward_guest::keys::lookup` would return.
    pub fn lookup(&self) -> impl FnOnce(&str, &[u8]) -> Option<Vec<u8>> + '_ {
        |set, id| {
            self.asked.borrow_mut().push((set.to_owned(), id.to_vec()));
            self.values.get(&(set.to_owned(), id.to_vec())).cloned()
        }
    }

    /// The (set, id) pairs asked, as text.
    pub fn asked(&self) -> Vec<(String, String)> {
        self.asked.borrow().iter().map(|(set, id)| (set.clone(), String::from_utf8_lossy(id).into_owned())).collect()
    }
}
