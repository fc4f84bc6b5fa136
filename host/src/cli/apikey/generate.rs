//! Making a key and hashing one. A key is `<prefix><43 base64url chars>`:
//! 32 bytes from the operating system's CSPRNG, so its SHA-256 needs no salt
//! or slow hash (nobody can enumerate 2^256 candidates), and the plugin can
//! afford one fast hash per call.

use std::io::{Read as _, Write as _};
use std::process::ExitCode;

use base64::Engine as _;
use rand_core::RngCore as _;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use super::error::ApiKeyError;
use super::keyfile::encode_hex;

/// The longest key the plugin can be configured to accept (8 KiB, the host's
/// credential cap); `hash` refuses more rather than hash a key nobody can use.
const MAX_KEY_BYTES: usize = 8192;

/// A fresh key with `prefix` in front. Held in zeroizing memory: it exists
/// in this process only until it has been printed.
pub fn new_key(prefix: &str) -> Zeroizing<String> {
    let mut secret = Zeroizing::new([0u8; 32]);
    rand_core::OsRng.fill_bytes(secret.as_mut());
    let mut key = Zeroizing::new(String::with_capacity(prefix.len() + 43));
    key.push_str(prefix);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(secret.as_ref(), &mut key);
    key
}

/// SHA-256 of the key's bytes in the keys file's spelling.
pub fn sha256_hex(key: &str) -> String {
    encode_hex(&Sha256::digest(key.as_bytes()).into())
}

/// `ward apikey hash`: one key on stdin (a trailing newline is not part of
/// it), its hash on stdout.
pub fn hash_stdin() -> Result<ExitCode, ApiKeyError> {
    let mut raw = Zeroizing::new(Vec::new());
    std::io::stdin().take(MAX_KEY_BYTES as u64 + 3).read_to_end(&mut raw).map_err(|err| ApiKeyError::Stdin(err.kind().to_string()))?;
    let key = strip_newline(&raw);
    if key.is_empty() {
        return Err(ApiKeyError::EmptyKey);
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(ApiKeyError::KeyTooLong { max: MAX_KEY_BYTES });
    }
    // The plugin refuses such keys as malformed before hashing: a hash of
    // one would match nothing.
    if !key.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(ApiKeyError::KeyCharacter);
    }
    let hex = encode_hex(&Sha256::digest(key).into());
    writeln!(std::io::stdout(), "{hex}").map_err(|err| ApiKeyError::Stdout(err.kind().to_string()))?;
    Ok(ExitCode::SUCCESS)
}

/// One trailing `\n` or `\r\n`, as `echo` and editors add.
fn strip_newline(raw: &[u8]) -> &[u8] {
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    raw.strip_suffix(b"\r").unwrap_or(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_prefixed_random_and_43_chars() {
        let a = new_key("wk_live_");
        let b = new_key("wk_live_");
        assert_ne!(*a, *b);
        let rest = a.strip_prefix("wk_live_").unwrap_or_default();
        assert_eq!(rest.len(), 43);
        assert!(rest.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }

    #[test]
    fn known_hash_and_newlines() {
        // printf %s test | sha256sum
        assert_eq!(sha256_hex("test"), "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
        assert_eq!(strip_newline(b"k\r\n"), b"k");
        assert_eq!(strip_newline(b"k\n\n"), b"k\n");
    }
}
