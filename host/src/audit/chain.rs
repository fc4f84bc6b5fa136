//! The chain: `mac = HMAC-SHA256(audit key, previous mac ‖ canonical record)`,
//! where the previous mac is the 32 raw bytes of the record before (32 zero
//! bytes for `seq` 0) and the canonical record is the exact bytes described in
//! [`super::canonical`]. Checking uses the hmac crate's constant-time verify.

use hmac::{Hmac, Mac as _};
use sha2::Sha256;

use super::key::AuditKey;
use crate::keyed_mac::hmac_sha256;

/// A record's mac.
pub(crate) type Mac = [u8; 32];

/// The "previous mac" of the first record (`seq` 0).
pub(crate) const GENESIS: Mac = [0; 32];

/// Bytes after the canonical record's closing brace is removed:
/// `,"mac":"` + 64 hex digits + `"}`.
pub(crate) const MAC_SUFFIX_LEN: usize = MAC_PREFIX.len() + 64 + 2;
const MAC_PREFIX: &[u8] = b",\"mac\":\"";

/// A keyed HMAC state, cloned per record so the key schedule runs once.
#[derive(Clone)]
pub(crate) struct Chain {
    keyed: Hmac<Sha256>,
}

impl Chain {
    pub(crate) fn new(key: &AuditKey) -> Self {
        Self { keyed: hmac_sha256(key.expose()) }
    }

    fn state(&self, prev: &Mac, canonical: &[u8]) -> Hmac<Sha256> {
        let mut state = self.keyed.clone();
        state.update(prev);
        state.update(canonical);
        state
    }

    pub(crate) fn mac(&self, prev: &Mac, canonical: &[u8]) -> Mac {
        self.state(prev, canonical).finalize().into_bytes().into()
    }

    /// Constant-time check of `mac` against the expected link.
    pub(crate) fn verify(&self, prev: &Mac, canonical: &[u8], mac: &Mac) -> bool {
        self.state(prev, canonical).verify_slice(mac).is_ok()
    }
}

/// Appends `canonical` with its mac spliced in before the closing brace, and a newline.
pub(crate) fn write_line(canonical: &[u8], mac: &Mac, out: &mut Vec<u8>) {
    let body = canonical.strip_suffix(b"}").unwrap_or(canonical);
    out.extend_from_slice(body);
    out.extend_from_slice(MAC_PREFIX);
    let mut hex = [0u8; 64];
    if hex::encode_to_slice(mac, &mut hex).is_ok() {
        out.extend_from_slice(&hex);
    }
    out.extend_from_slice(b"\"}\n");
}

/// Splits a line (without its newline) into the canonical record and the mac.
/// `None` when the line does not end with a well-formed mac field.
pub(crate) fn split_line(line: &[u8]) -> Option<(Vec<u8>, Mac)> {
    let cut = line.len().checked_sub(MAC_SUFFIX_LEN)?;
    let (body, suffix) = line.split_at_checked(cut)?;
    let rest = suffix.strip_prefix(MAC_PREFIX)?;
    let (hex_digits, tail) = rest.split_at_checked(64)?;
    if tail != b"\"}" || body.is_empty() {
        return None;
    }
    let mut mac = [0u8; 32];
    // Only lowercase hex is written; anything else is not our line.
    if hex_digits.iter().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    hex::decode_to_slice(hex_digits, &mut mac).ok()?;
    let mut canonical = Vec::with_capacity(body.len() + 1);
    canonical.extend_from_slice(body);
    canonical.push(b'}');
    Some((canonical, mac))
}
