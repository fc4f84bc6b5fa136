//! The JWT plugin's configuration in its tests (`tests/all/jwt.rs`) and its
//! benchmarks (`ward-bench --plugin jwt`, `benches/jwt.rs`): one definition,
//! so the benchmarks measure the configuration the tests prove correct. The
//! keys and JWKS themselves are files in `tests/vectors/jwt` (its README says
//! how they were made).

use std::sync::Arc;

use ward::keymaterial::{DEFAULT_MAX_ENTRIES, IndexError, KeyFormat, KeyIndex};
use ward::sandbox::{KeySet, Limits, PluginOptions};

/// The issuer the plugin is configured with and valid tokens carry.
pub const ISSUER: &str = "https://issuer.example";
/// The audience valid tokens carry.
pub const AUDIENCE: &str = "ward-api";
/// A second audience the plugin accepts.
pub const OTHER_AUDIENCE: &str = "other-api";
/// The clock skew the plugin allows, in seconds.
pub const LEEWAY_SECONDS: u64 = 30;
/// The key-material name of the JWKS (`jwks.json`).
pub const JWKS_KEY: &str = "idp-jwks";
/// The key-material name of the HS256 secret (`hs256.secret`).
pub const HS256_KEY: &str = "idp-hs256";
/// The `kid` that names the HS256 secret (a token without `kid` finds it too).
pub const HS256_KID: &str = "hs-1";
/// The claim that names the principal type (absent: `user`).
pub const PRINCIPAL_TYPE_CLAIM: &str = "ptype";

/// The plugin's settings: every algorithm, [`ISSUER`], both audiences, the
/// JWKS and the HS256 secret under the key-material names above.
pub fn settings() -> Vec<(String, String)> {
    [
        ("algorithms", "EdDSA, ES256, RS256, PS256, HS256".to_owned()),
        ("issuer", ISSUER.to_owned()),
        ("audience", format!("{AUDIENCE} {OTHER_AUDIENCE}")),
        ("leewaySeconds", LEEWAY_SECONDS.to_string()),
        ("jwksKey", JWKS_KEY.to_owned()),
        ("hs256Key", HS256_KEY.to_owned()),
        ("hs256Kid", HS256_KID.to_owned()),
        ("principalTypeClaim", PRINCIPAL_TYPE_CLAIM.to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect()
}

/// The key material [`settings`] names, as `ward serve` hands it to the
/// plugin: `jwks` indexed (`format: "jwks"`) as the set [`JWKS_KEY`], and
/// `hs256_secret` as it is (`raw`) under [`HS256_KEY`].
#[derive(Clone, Debug)]
pub struct KeyMaterial {
    /// `raw` entries, for `request-context.keys`.
    pub raw: Vec<(String, Vec<u8>)>,
    /// Indexed sets, for `ward:auth/keys` lookups.
    pub sets: Vec<KeySet>,
}

impl KeyMaterial {
    /// Plugin options with this key material, `settings` and `limits`.
    pub fn options(self, settings: Vec<(String, String)>, limits: Limits) -> PluginOptions {
        PluginOptions { limits, settings, keys: self.raw, key_sets: self.sets, ..PluginOptions::default() }
    }
}

/// `jwks` indexed as [`JWKS_KEY`], `hs256_secret` raw as [`HS256_KEY`];
/// a JWKS that does not index is refused as `ward serve` refuses it.
pub fn key_material(jwks: &[u8], hs256_secret: Vec<u8>) -> Result<KeyMaterial, IndexError> {
    let index = KeyIndex::build(KeyFormat::Jwks, jwks, DEFAULT_MAX_ENTRIES)?;
    Ok(KeyMaterial { raw: vec![(HS256_KEY.to_owned(), hs256_secret)], sets: vec![KeySet::new(JWKS_KEY, Arc::new(index))] })
}
