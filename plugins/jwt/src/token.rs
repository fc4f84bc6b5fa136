//! The JWS compact serialization (RFC 7515 §7.1): three strict base64url
//! segments, and the few header members this plugin reads.
//!
//! `jku`, `x5u`, `jwk`, `x5c`, `x5t` and `x5t#S256` are never read: a key or
//! a key location chosen by the token's author is no key at all.

use ward_guest::base64url;

use crate::json::{self, Json, Text};
use crate::refusal::Refusal;

/// A token cut into its parts, every segment decoded.
pub struct Compact<'t> {
    /// `<header>.<payload>` exactly as received: what was signed.
    pub signing_input: &'t str,
    pub header: Vec<u8>,
    pub payload: Vec<u8>,
    pub signature: Vec<u8>,
}

/// Splits and decodes. Exactly three segments; header and payload non-empty;
/// every segment strict unpadded base64url. An empty signature gets through
/// here so that `alg: none` with a trailing dot is refused for its algorithm.
pub fn split(token: &str, max_bytes: usize) -> Result<Compact<'_>, Refusal> {
    if token.len() > max_bytes {
        return Err(Refusal::Malformed);
    }
    let (signing_input, signature) = token.rsplit_once('.').ok_or(Refusal::Malformed)?;
    let (header, payload) = signing_input.split_once('.').ok_or(Refusal::Malformed)?;
    if header.is_empty() || payload.is_empty() || payload.contains('.') {
        return Err(Refusal::Malformed);
    }
    let decode = |segment: &str| base64url::decode(segment).map_err(|_| Refusal::Malformed);
    Ok(Compact { signing_input, header: decode(header)?, payload: decode(payload)?, signature: decode(signature)? })
}

/// What the header says, as far as this plugin listens. Borrowed from the
/// decoded header bytes.
pub struct Header<'h> {
    pub alg: Text<'h>,
    pub kid: Option<Text<'h>>,
}

/// The header must be a strict JSON object with a string `alg`; `kid`, when
/// present, a string. `crit` is refused whatever it lists: this plugin
/// implements no extension, and RFC 7515 §4.1.11 makes a token with an
/// extension the recipient does not understand invalid. `b64` (RFC 7797)
/// changes what was signed, so it is refused even outside `crit`.
pub fn parse_header(bytes: &[u8]) -> Result<Header<'_>, Refusal> {
    let mut header = json::parse_object(bytes).ok_or(Refusal::Malformed)?;
    if header.contains("crit") || header.contains("b64") {
        return Err(Refusal::Malformed);
    }
    let alg = match header.remove("alg") {
        Some(Json::String(alg)) => alg,
        _ => return Err(Refusal::Malformed),
    };
    let kid = match header.remove("kid") {
        None => None,
        Some(Json::String(kid)) => Some(kid),
        Some(_) => return Err(Refusal::Malformed),
    };
    Ok(Header { alg, kid })
}
