//! The example-token check as plain Rust, with no wasm or SDK dependency:
//! the plugin (`plugins/example-token`) maps it onto `ward_guest` types, and
//! the host's benchmark (`ward-bench`, `bench/`) runs the same code natively
//! to compare the sandboxed plugin with it. Needs only `hmac` and `sha2`.
//!
//! Token: `demo.<user>.<mac>` where `mac = base64url(HMAC-SHA256(secret, user))`
//! without padding and `user` matches `[a-z0-9_-]{1,64}`.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Why a token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not of the form `demo.<user>.<43 base64url chars>`.
    Malformed,
    /// Well-formed, but the MAC is not the secret's.
    BadSignature,
    /// The operator configured no `secret`.
    Denied,
}

/// What an accepted token yields, borrowed from the token and the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted<'a> {
    /// The user named in the token.
    pub subject: &'a str,
    /// Setting `issuer`, if set.
    pub issuer: Option<&'a str>,
    /// Setting `scopes`, split on whitespace.
    pub scopes: Vec<&'a str>,
    /// Setting `team`, if set (becomes the `team` label).
    pub team: Option<&'a str>,
}

/// An unpadded base64url HMAC-SHA256 is always 43 characters.
const MAC_LEN: usize = 43;

fn setting<'a>(settings: &'a [(String, String)], name: &str) -> Option<&'a str> {
    settings.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The whole decision the plugin makes, on plain Rust types.
pub fn evaluate<'a>(token: &'a str, settings: &'a [(String, String)]) -> Result<Accepted<'a>, Refusal> {
    let secret = setting(settings, "secret").ok_or(Refusal::Denied)?;
    let subject = check(token, secret.as_bytes())?;
    Ok(Accepted {
        subject,
        issuer: setting(settings, "issuer"),
        scopes: setting(settings, "scopes").map(|s| s.split_whitespace().collect()).unwrap_or_default(),
        team: setting(settings, "team"),
    })
}

/// Verifies `token` against `secret` and returns the user it names.
pub fn check<'a>(token: &'a str, secret: &[u8]) -> Result<&'a str, Refusal> {
    let rest = token.strip_prefix("demo.").ok_or(Refusal::Malformed)?;
    let (user, mac) = rest.split_once('.').ok_or(Refusal::Malformed)?;
    let user_ok = (1..=64).contains(&user.len()) && user.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'));
    let mac_ok = mac.len() == MAC_LEN && mac.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !user_ok || !mac_ok {
        return Err(Refusal::Malformed);
    }
    // Comparing encoded forms is sound because the encoding is canonical:
    // any other spelling of the right MAC is simply a wrong MAC.
    let expected = mac_for(secret, user);
    if bool::from(expected.as_bytes().ct_eq(mac.as_bytes())) { Ok(user) } else { Err(Refusal::BadSignature) }
}

/// Mints a token for `user` (tests and benches; the plugin only verifies).
pub fn mint(secret: &[u8], user: &str) -> String {
    format!("demo.{user}.{}", mac_for(secret, user))
}

fn mac_for(secret: &[u8], user: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else { return String::new() };
    mac.update(user.as_bytes());
    b64url(&mac.finalize().into_bytes())
}

fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            let idx = ((n >> (18 - 6 * i)) & 63) as usize;
            out.extend(ALPHABET.get(idx).map(|&c| char::from(c)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer() {
        // python3 -c 'import hmac,hashlib,base64;print(base64.urlsafe_b64encode(hmac.new(b"s3cret",b"alice",hashlib.sha256).digest()).rstrip(b"=").decode())'
        let token = mint(b"s3cret", "alice");
        assert_eq!(token, "demo.alice.dlVCrx8dWHvGDCGNylMqJY9WucIaQnzIGd4qH_bT4UY");
        assert_eq!(check(&token, b"s3cret"), Ok("alice"));
        assert_eq!(check(&token, b"other"), Err(Refusal::BadSignature));
        assert_eq!(check("demo.Alice.x", b"s3cret"), Err(Refusal::Malformed));
        assert_eq!(check("nope", b"s3cret"), Err(Refusal::Malformed));
    }
}
