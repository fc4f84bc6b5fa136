//! `format: "api-keys"`: the api-key plugin's keys file (`ward apikey`
//! writes it), checked whole by the plugin's own reader (`api-key-format`),
//! so the host accepts exactly the files the plugin used to accept on every
//! call, and indexed by each key's SHA-256. The value is the entry as a
//! compact record (`keyfile::record`), which the plugin decodes with the
//! same reader.

use api_key_format::keyfile::{self, FileError, record};

use super::table::{Refused, Table};
use super::{IndexError, KeyFormat, KeyIndex, too_many};

/// One pass over the file ([`keyfile::visit`]): each entry is checked,
/// encoded and inserted as it is read, with no per-entry allocation, and the
/// table refuses a second entry for one hash (`visit` leaves that to it).
pub(super) fn index(bytes: &[u8], max_entries: u64) -> Result<KeyIndex, IndexError> {
    // About 130 bytes an entry as `ward apikey` writes them; records are
    // the entry without its hex hash and the fields for people, so the arena
    // stays below half the file.
    let estimate = usize::try_from(max_entries).unwrap_or(usize::MAX).min(bytes.len() / 100);
    let mut table = Table::with_capacity(estimate, bytes.len() / 2);
    let mut record = Vec::with_capacity(256);
    let mut refused = None;
    let mut count = 0usize;
    let visited = keyfile::visit(bytes, |entry| {
        if refused.is_some() {
            return;
        }
        count += 1;
        if count as u64 > max_entries {
            refused = Some(IndexError::TooManyEntries { max: max_entries });
            return;
        }
        record.clear();
        record::encode_into(entry, &mut record);
        refused = table.insert(entry.sha256(), &record).err().map(|refusal| match refusal {
            Refused::Duplicate => IndexError::DuplicateId { index: count - 1 },
            Refused::Full => IndexError::TooManyEntries { max: max_entries },
        });
    });
    // A malformed file is refused for that, whatever else went wrong first.
    visited.map_err(|err| match err {
        FileError::Duplicate { index, .. } => IndexError::DuplicateId { index },
        // Positions and rules only (the reader's errors never quote content).
        other => IndexError::ApiKeys { reason: other.to_string() },
    })?;
    if let Some(err) = refused {
        return Err(err);
    }
    too_many(count, max_entries)?;
    table.shrink();
    Ok(KeyIndex { format: KeyFormat::ApiKeys, table, by_alg: Default::default(), skipped: 0 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn file(entries: &[(&str, &str)]) -> String {
        let keys: Vec<String> =
            entries.iter().map(|(key, fields)| format!(r#"{{"sha256":"{}",{fields}}}"#, hex::encode(Sha256::digest(key.as_bytes())))).collect();
        format!(r#"{{"version":1,"keys":[{}]}}"#, keys.join(","))
    }

    #[test]
    fn indexes_every_key_by_its_hash() {
        let text = file(&[("key-a", r#""subject":"a","type":"user""#), ("key-b", r#""subject":"b","type":"service","revoked":true,"note":"n""#)]);
        let index = KeyIndex::build(KeyFormat::ApiKeys, text.as_bytes(), 10).unwrap();
        assert_eq!(index.len(), 2);
        let digest: [u8; 32] = Sha256::digest(b"key-b").into();
        let value = index.get(&digest).unwrap();
        assert_eq!(value, br#"{"subject":"b","type":"service","revoked":true}"#);
        assert_eq!(record::decode(digest, value).unwrap().subject, "b");
        assert_eq!(index.get(&Sha256::digest(b"key-c")), None);
        // The raw key is never an id.
        assert_eq!(index.get(b"key-a"), None);
    }

    #[test]
    fn refuses_bad_files_with_positions_only() {
        let secret = "sk_live_marker_must_not_leak";
        let bad = format!(r#"{{"version":1,"keys":[{{"sha256":"{secret}","subject":"a","type":"user"}}]}}"#);
        let err = KeyIndex::build(KeyFormat::ApiKeys, bad.as_bytes(), 10).unwrap_err();
        assert_eq!(err.code(), "keymaterial-apikeys-invalid");
        assert!(!err.to_string().contains(secret), "{err}");
        let twice = file(&[("k", r#""subject":"a","type":"user""#), ("k", r#""subject":"b","type":"user""#)]);
        assert_eq!(KeyIndex::build(KeyFormat::ApiKeys, twice.as_bytes(), 10).unwrap_err(), IndexError::DuplicateId { index: 1 });
        let three = file(&[("1", r#""subject":"a","type":"user""#), ("2", r#""subject":"a","type":"user""#), ("3", r#""subject":"a","type":"user""#)]);
        assert_eq!(KeyIndex::build(KeyFormat::ApiKeys, three.as_bytes(), 2).unwrap_err().code(), "keymaterial-too-many-entries");
        for junk in [&b""[..], b"{", b"[]", b"\xff\xfe", br#"{"version":2,"keys":[]}"#] {
            assert_eq!(KeyIndex::build(KeyFormat::ApiKeys, junk, 10).unwrap_err().code(), "keymaterial-apikeys-invalid");
        }
    }
}
