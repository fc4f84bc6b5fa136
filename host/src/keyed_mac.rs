//! The one place an HMAC-SHA256 is keyed (identity ids, the audit chain).

use hmac::{Hmac, Mac as _};
use sha2::Sha256;

/// HMAC-SHA256 keyed with `key`. HMAC takes keys of any length (RFC 2104
/// hashes long ones), so `new_from_slice` cannot fail here; the panic below
/// is unreachable unless the hmac crate breaks that contract.
pub(crate) fn hmac_sha256(key: &[u8]) -> Hmac<Sha256> {
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable_key_length(),
    }
}

#[allow(clippy::panic)]
#[cold]
fn unreachable_key_length() -> ! {
    panic!("HMAC-SHA256 refused a key length; this is a bug in ward, please report it")
}
