//! The presented key's SHA-256, the id the host's key index holds it under.
//!
//! Timing: the plugin hashes the key and asks the host for that one digest
//! (`ward:auth/keys`); it compares nothing with stored data itself. The only
//! work that depends on stored keys is the host's index lookup, a hash-map
//! probe on a SHA-256 digest. A caller cannot choose a digest (that would
//! take a preimage), so it cannot move one byte at a time towards a stored
//! one, and the lookup's timing tells it nothing usable about the keys the
//! operator holds. The cost does not grow with the number of keys either.

use sha2::{Digest, Sha256};

/// SHA-256 of the key's bytes, prefix included: the value the keys file holds.
pub fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyfile::encode_hex;

    #[test]
    fn known_digest() {
        // printf %s test | sha256sum
        assert_eq!(encode_hex(&digest("test")), "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
    }
}
