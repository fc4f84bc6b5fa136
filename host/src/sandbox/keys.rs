//! `ward:auth/keys@0.3.0`: one entry of the operator's indexed key material
//! per lookup (`crate::keymaterial::KeyIndex`), for plugins whose signed
//! envelope declares `keyLookup`.
//!
//! Guarantees of this file:
//! - Linked only into the linkers of components that import the interface
//!   and are allowed to (`imports.rs`, `runtime.rs`).
//! - A call sees the sets snapshotted when it started ([`KeySet`]s in the
//!   store), so a refresh mid-call cannot show it two versions of a set.
//! - Exact ids only: no enumeration, no prefix match. An unknown set, an
//!   unknown id or an id over [`MAX_ID_BYTES`] is `none`, never a trap.
//! - Bounded: arguments are read in place (no host copy), the value copied
//!   out is one entry (a few hundred bytes for a JWK, at most about 22 KiB
//!   for an api-key record, both bounded when the set is indexed), and each
//!   lookup is charged to the guest's fuel, so a guest that loops over
//!   lookups runs out of fuel, not the host out of memory.
//! - A miss on a `jwks` set fetched from a url asks its source for an early
//!   refetch, which the source grants at most once per `refetchMinSeconds`
//!   and never waits for.

use std::sync::Arc;

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, WasmList, WasmStr};

use crate::keymaterial::{ALG_VIEW_SUFFIX, KeyFormat, KeyIndex, KeyMaterialSource, MAX_ID_BYTES, MAX_NAME_BYTES};

use super::fuel::charge_fuel;

/// The imported interface, exactly as a component names it.
pub const KEYS_INTERFACE: &str = "ward:auth/keys@0.3.0";
/// The envelope capability that lets a plugin import [`KEYS_INTERFACE`].
pub const KEY_LOOKUP_CAPABILITY: &str = "keyLookup";

/// Fuel per lookup, on top of the bytes: about what the guest would burn in
/// the host's time (a hash and a probe, well under a microsecond).
const FUEL_LOOKUP: u64 = 1_000;
const FUEL_PER_BYTE: u64 = 2;

/// One indexed set as a call may look it up.
#[derive(Clone)]
pub struct KeySet {
    name: Arc<str>,
    index: Arc<KeyIndex>,
    /// Asked for an early refetch when a lookup misses.
    source: Option<Arc<KeyMaterialSource>>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet").field("name", &self.name).field("index", &self.index).finish_non_exhaustive()
    }
}

impl KeySet {
    /// The set `name` (the key-material entry's name).
    pub fn new(name: impl Into<Arc<str>>, index: Arc<KeyIndex>) -> Self {
        Self { name: name.into(), index, source: None }
    }

    /// A set whose misses ask `source` for an early refetch.
    pub fn refetching(mut self, source: Arc<KeyMaterialSource>) -> Self {
        self.source = Some(source);
        self
    }

    /// The set's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn missed(&self) {
        if let Some(source) = &self.source {
            source.request_early_refetch();
        }
    }
}

/// The value stored under `id` in the set called `set`: a set's own name,
/// or `<name>#alg` for a `jwks` set's by-algorithm view.
pub(crate) fn lookup<'a>(sets: &'a [KeySet], set: &str, id: &[u8]) -> Option<&'a [u8]> {
    if id.len() > MAX_ID_BYTES || set.len() > MAX_NAME_BYTES + ALG_VIEW_SUFFIX.len() {
        return None;
    }
    let (name, by_alg) = match set.strip_suffix(ALG_VIEW_SUFFIX) {
        Some(name) => (name, true),
        None => (set, false),
    };
    let found = sets.iter().find(|candidate| &*candidate.name == name)?;
    let value = match (by_alg, found.index.format()) {
        (false, _) => found.index.get(id),
        (true, KeyFormat::Jwks) => found.index.get_for_alg(id),
        (true, _) => return None,
    };
    if value.is_none() {
        found.missed();
    }
    value
}

/// Links `lookup` under [`KEYS_INTERFACE`]; `sets` finds the call's
/// snapshot in the store's data.
pub(crate) fn add_key_lookup<T: 'static>(linker: &mut Linker<T>, sets: fn(&T) -> &[KeySet]) -> wasmtime::Result<()> {
    let mut instance = linker.instance(KEYS_INTERFACE)?;
    instance.func_wrap("lookup", move |mut cx: StoreContextMut<'_, T>, (set, id): (WasmStr, WasmList<u8>)| {
        let found = {
            let id = id.as_le_slice(&cx);
            // A name that is not UTF-8 cannot name a set; `to_str` checks.
            match set.to_str(&cx) {
                Ok(set) => lookup(sets(cx.data()), &set, id).map(<[u8]>::to_vec),
                Err(_) => None,
            }
        };
        let bytes = (id.len().min(MAX_ID_BYTES) + found.as_ref().map_or(0, Vec::len)) as u64;
        charge_fuel(&mut cx, FUEL_LOOKUP + FUEL_PER_BYTE * bytes);
        Ok((found,))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keymaterial::KeyFormat;

    fn api_keys(digest: [u8; 32]) -> Arc<KeyIndex> {
        let text = format!(r#"{{"version":1,"keys":[{{"sha256":"{}","subject":"a","type":"user"}}]}}"#, hex::encode(digest));
        Arc::new(KeyIndex::build(KeyFormat::ApiKeys, text.as_bytes(), 10).unwrap())
    }

    #[test]
    fn finds_by_exact_set_and_id_only() {
        let sets = [KeySet::new("keys", api_keys([7; 32]))];
        assert!(lookup(&sets, "keys", &[7; 32]).is_some());
        assert!(lookup(&sets, "keys", &[7; 31]).is_none());
        assert!(lookup(&sets, "other", &[7; 32]).is_none());
        assert!(lookup(&sets, "keys#alg", b"EdDSA").is_none(), "no by-alg view of an api-keys set");
        assert!(lookup(&sets, "keys", &vec![7; MAX_ID_BYTES + 1]).is_none());
        assert!(lookup(&[], "keys", &[7; 32]).is_none());
    }
}
