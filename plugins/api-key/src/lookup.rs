//! Finding the entry for a presented key without telling anyone, through
//! timing, which entry matched or how close a guess came.
//!
//! The key is hashed first, so the comparisons run on SHA-256 digests the
//! caller cannot steer byte by byte. Each comparison is still constant-time
//! (xor-or of the words, then `subtle`'s equality), and the loop visits
//! every entry and selects the match with a branch-free conditional
//! assignment instead of returning early.

use sha2::{Digest, Sha256};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use crate::keyfile::Summary;

/// SHA-256 of the key's bytes, prefix included: the value the keys file holds.
pub fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The entry whose hash is `digest`, if any. Runs in time that depends on the
/// number of entries only. The file reader refuses duplicate hashes, so at
/// most one entry can match.
pub fn find<'a>(entries: &'a [Summary], digest: &[u8; 32]) -> Option<&'a Summary> {
    let mut found = Choice::from(0);
    let mut index = 0u64;
    for (i, entry) in entries.iter().enumerate() {
        // Four 8-byte xors instead of 32 byte comparisons: this runs for every
        // entry on every call, and the guest pays per instruction.
        let (have, want) = (entry.sha256.as_chunks::<8>().0, digest.as_chunks::<8>().0);
        let diff = have.iter().zip(want).fold(0u64, |acc, (a, b)| acc | (u64::from_le_bytes(*a) ^ u64::from_le_bytes(*b)));
        let hit = diff.ct_eq(&0);
        index.conditional_assign(&u64::try_from(i).unwrap_or(u64::MAX), hit);
        found |= hit;
    }
    if bool::from(found) { usize::try_from(index).ok().and_then(|i| entries.get(i)) } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyfile::{encode_hex, scan};

    #[test]
    fn finds_first_middle_last_and_none() {
        let entries: Vec<String> =
            (0..5).map(|i| format!(r#"{{"sha256":"{}","subject":"s{i}","type":"user"}}"#, encode_hex(&digest(&format!("key-{i}"))))).collect();
        let text = format!(r#"{{"version":1,"keys":[{}]}}"#, entries.join(","));
        let file = scan(text.as_bytes()).unwrap();
        for i in [0, 2, 4] {
            let hit = find(&file.entries, &digest(&format!("key-{i}"))).unwrap();
            assert_eq!(file.entry(hit).unwrap().subject, format!("s{i}"));
        }
        assert!(find(&file.entries, &digest("key-5")).is_none());
        assert!(find(&[], &digest("key-0")).is_none());
    }

    #[test]
    fn known_digest() {
        // printf %s test | sha256sum
        assert_eq!(encode_hex(&digest("test")), "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
    }
}
