//! When a reload may keep a compiled plugin instead of loading it again.

use sha2::{Digest, Sha256};

use crate::keymaterial::{FetchPolicy, UrlSource};
use crate::sandbox::Limits;

use super::breaker::BreakerSettings;
use super::plan::PluginSpec;

/// What must be equal for a reload to keep a compiled plugin instead of
/// loading it again: compared field by field with `PartialEq`, so a new
/// option that is left out fails to compile (the struct is built whole)
/// rather than being silently ignored, and no `Debug` output is a contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    /// SHA-256 over the envelope's and the entry's digests, the settings and
    /// the file key material: the bulky inputs, hashed so the set does not
    /// keep a second copy of key material.
    inputs: [u8; 32],
    limits: Limits,
    breaker: BreakerSettings,
    key_urls: Vec<(String, UrlSource)>,
    fetch: FetchPolicy,
}

impl Fingerprint {
    pub(crate) fn of(plugin: &PluginSpec, fetch: &FetchPolicy, manifest_sha256: &str, entry_sha256: &str) -> Self {
        let mut hash = Sha256::new();
        let mut field = |bytes: &[u8]| {
            hash.update((bytes.len() as u64).to_be_bytes());
            hash.update(bytes);
        };
        field(manifest_sha256.as_bytes());
        field(entry_sha256.as_bytes());
        // Counts first, so that a setting cannot pass for a key.
        field(&(plugin.options.settings.len() as u64).to_be_bytes());
        for (key, value) in &plugin.options.settings {
            field(key.as_bytes());
            field(value.as_bytes());
        }
        field(&(plugin.options.keys.len() as u64).to_be_bytes());
        for (name, bytes) in &plugin.options.keys {
            field(name.as_bytes());
            field(bytes);
        }
        field(&(plugin.indexed_files.len() as u64).to_be_bytes());
        for file in &plugin.indexed_files {
            field(file.name.as_bytes());
            field(file.shape.format.name().as_bytes());
            field(&file.shape.max_entries.to_be_bytes());
            field(&file.bytes);
        }
        Self { inputs: hash.finalize().into(), limits: plugin.options.limits, breaker: plugin.breaker, key_urls: plugin.key_urls.clone(), fetch: fetch.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keymaterial::{IndexedFile, KeyFormat, Shape};
    use crate::lifecycle::Route;
    use crate::sandbox::PluginOptions;

    fn spec() -> PluginSpec {
        PluginSpec {
            id: "p".into(),
            enabled: true,
            route: Route::new("authorization", Some("Bearer")).unwrap(),
            files: None,
            options: PluginOptions { settings: vec![("a".into(), "1".into())], keys: vec![("k".into(), b"key".to_vec())], ..PluginOptions::default() },
            indexed_files: vec![IndexedFile { name: "keys".into(), shape: Shape { format: KeyFormat::ApiKeys, ..Shape::default() }, bytes: b"{}".to_vec() }],
            key_urls: vec![("jwks".into(), UrlSource::new("https://issuer.example/jwks"))],
            conformance: Vec::new(),
            breaker: BreakerSettings::default(),
        }
    }

    fn of(plugin: &PluginSpec, fetch: &FetchPolicy, entry: &str) -> Fingerprint {
        Fingerprint::of(plugin, fetch, "manifest", entry)
    }

    #[test]
    fn every_input_that_shapes_a_compiled_plugin_changes_it() {
        let fetch = FetchPolicy::default();
        let base = of(&spec(), &fetch, "entry");
        assert_eq!(base, of(&spec(), &fetch, "entry"), "the same inputs keep the plugin");
        assert_ne!(base, of(&spec(), &fetch, "other-entry"));
        let changes: [fn(&mut PluginSpec); 11] = [
            |p| p.options.limits.fuel += 1,
            |p| p.options.limits.code.locals += 1,
            |p| p.options.settings[0].1 = "2".into(),
            |p| p.options.keys[0].1 = b"other".to_vec(),
            |p| p.indexed_files[0].bytes = b"{ }".to_vec(),
            |p| p.indexed_files[0].shape.format = KeyFormat::Jwks,
            |p| p.indexed_files[0].shape.max_entries += 1,
            |p| p.key_urls[0].1.refresh += std::time::Duration::from_secs(1),
            |p| p.key_urls[0].1.shape.format = KeyFormat::Jwks,
            |p| p.key_urls[0].1.refetch_min += std::time::Duration::from_secs(1),
            |p| p.breaker.failures += 1,
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut plugin = spec();
            change(&mut plugin);
            assert_ne!(base, of(&plugin, &fetch, "entry"), "change {i} kept the old compiled plugin");
        }
        let stricter = FetchPolicy { allow_http_hosts: vec!["issuer.internal".into()], ..FetchPolicy::default() };
        assert_ne!(base, of(&spec(), &stricter, "entry"));
        // A setting cannot pass for key material, nor the reverse.
        let mut moved = spec();
        moved.options.keys.push(("a".into(), b"1".to_vec()));
        moved.options.settings.clear();
        assert_ne!(base, of(&moved, &fetch, "entry"));
    }
}
