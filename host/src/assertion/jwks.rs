//! The public keys as a JWK Set (RFC 7517; Ed25519 as an `OKP` key, RFC
//! 8037), built once per configuration. Only [`VerifyingKey`]s reach this
//! file, so no private material can be written into the document.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::VerifyingKey;
use serde_json::json;

/// `{"keys":[{"kty":"OKP","crv":"Ed25519","x":…,"kid":…,"alg":"EdDSA","use":"sig"},…]}`.
pub(super) fn document<'k>(keys: impl Iterator<Item = (&'k str, &'k VerifyingKey)>) -> String {
    let keys: Vec<_> = keys
        .map(|(kid, key)| json!({ "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(key.as_bytes()), "kid": kid, "alg": "EdDSA", "use": "sig" }))
        .collect();
    json!({ "keys": keys }).to_string()
}
