//! One keys-file entry as the host's key index stores it (`format:
//! "api-keys"`, docs/key-material.md): the entry's JSON object without its
//! `sha256` (the index's id already is the hash) and without `createdMs` and
//! `note` (for people, not for decisions), written compactly.
//!
//! The host writes records with [`encode`] after the whole file passed
//! [`super::scan`]; the plugin reads the one it looked up with [`decode`],
//! the same field reader the file goes through, so neither side can accept
//! what the other refuses.

use super::json::Reader;
use super::{Entry, EntryRef, FileError, JsonProblem, Parts, Principal, SUBJECT, TYPE, read_entry};

/// The entry as a compact JSON object: `subject` and `type` always, then
/// `scopes`, `labels`, `revoked` and `expiresMs` only when they say
/// something (non-empty, `true`, set).
pub fn encode(entry: &Entry) -> Vec<u8> {
    let mut out = Vec::with_capacity(48 + entry.subject.len());
    let scopes = entry.scopes.iter().map(String::as_str);
    let labels = entry.labels.iter().map(|(key, value)| (key.as_str(), value.as_str()));
    write(&mut out, &entry.subject, entry.principal, scopes, labels, entry.revoked, entry.expires_ms);
    out
}

/// [`encode`] for an entry [`super::visit`] is reading, appended to `out`
/// (the host indexes a million of them without an allocation each).
pub fn encode_into(entry: &EntryRef<'_, '_>, out: &mut Vec<u8>) {
    write(out, entry.subject(), entry.principal(), entry.scopes(), entry.labels(), entry.revoked(), entry.expires_ms());
}

fn write<'e>(
    out: &mut Vec<u8>,
    subject: &str,
    principal: Principal,
    scopes: impl ExactSizeIterator<Item = &'e str>,
    labels: impl ExactSizeIterator<Item = (&'e str, &'e str)>,
    revoked: bool,
    expires_ms: Option<u64>,
) {
    out.extend_from_slice(b"{\"subject\":");
    string(out, subject);
    out.extend_from_slice(match principal {
        Principal::User => b",\"type\":\"user\"".as_slice(),
        Principal::Service => b",\"type\":\"service\"",
        Principal::Agent => b",\"type\":\"agent\"",
    });
    if scopes.len() > 0 {
        out.extend_from_slice(b",\"scopes\":[");
        for (i, scope) in scopes.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            string(out, scope);
        }
        out.push(b']');
    }
    if labels.len() > 0 {
        out.extend_from_slice(b",\"labels\":{");
        for (i, (key, value)) in labels.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            string(out, key);
            out.push(b':');
            string(out, value);
        }
        out.push(b'}');
    }
    if revoked {
        out.extend_from_slice(b",\"revoked\":true");
    }
    if let Some(expires) = expires_ms {
        out.extend_from_slice(b",\"expiresMs\":");
        out.extend_from_slice(expires.to_string().as_bytes());
    }
    out.push(b'}');
}

/// Reads a record back, with every rule the keys file applies; `sha256` is
/// the id it was looked up by (a record does not repeat it).
pub fn decode(sha256: [u8; 32], bytes: &[u8]) -> Result<Entry, FileError> {
    let mut reader = Reader::new(bytes)?;
    let mut parts = Parts::default();
    let read = read_entry(&mut reader, 0, &mut parts, SUBJECT | TYPE).and_then(|()| reader.end());
    if read.is_err() {
        return Err(reader.failure());
    }
    // A record names its entry by the id it is stored under, never inside.
    if parts.seen & super::SHA256 != 0 {
        return Err(reader.error(JsonProblem::Shape));
    }
    parts.sha256 = sha256;
    Ok(parts.into_entry())
}

/// A JSON string. The file's rules refuse control characters in every
/// string a record holds, but they are escaped anyway, so a record is valid
/// JSON whatever it is given.
fn string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    for byte in text.bytes() {
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x00..=0x1f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.extend(HEX.get(usize::from(byte >> 4)));
                out.extend(HEX.get(usize::from(byte & 0x0f)));
            }
            _ => out.push(byte),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyfile::parse;

    fn entry_of(fields: &str) -> Entry {
        let hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let text = format!(r#"{{"version":1,"keys":[{{"sha256":"{hash}",{fields}}}]}}"#);
        parse(text.as_bytes()).unwrap().entries.remove(0)
    }

    #[test]
    fn round_trips_every_field() {
        for fields in [
            r#""subject":"a","type":"user""#,
            r#""subject":"svc \"q\" \\ caf\u00e9","type":"service","scopes":["read","write:all"],"labels":{"team":"billing","tier":"gold"},"revoked":true,"expiresMs":1700000000000,"createdMs":5,"note":"x""#,
            r#""subject":"bot","type":"agent","scopes":[],"labels":{},"revoked":false,"expiresMs":null"#,
        ] {
            let entry = entry_of(fields);
            let record = encode(&entry);
            assert_eq!(decode(entry.sha256, &record).unwrap(), entry, "{}", String::from_utf8_lossy(&record));
        }
    }

    #[test]
    fn a_visited_entry_encodes_as_the_entry_does() {
        let fields = r#""subject":"svc","type":"agent","scopes":["a","b"],"labels":{"k":"v"},"revoked":true,"expiresMs":7"#;
        let hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let text = format!(r#"{{"version":1,"keys":[{{"sha256":"{hash}",{fields}}},{{"sha256":"{hash}",{fields}}}]}}"#);
        let mut records = Vec::new();
        let count = crate::keyfile::visit(text.as_bytes(), |entry| {
            let mut out = Vec::new();
            encode_into(entry, &mut out);
            records.push(out);
        });
        // `visit` hands duplicates on: its caller refuses them.
        assert_eq!(count, Ok(2));
        assert_eq!(records[0], encode(&entry_of(fields)));
    }

    #[test]
    fn compact_and_without_the_hash() {
        let entry = entry_of(r#""subject":"a","type":"user","scopes":["r"],"createdMs":5,"note":"n""#);
        assert_eq!(encode(&entry), br#"{"subject":"a","type":"user","scopes":["r"]}"#);
    }

    #[test]
    fn refuses_what_the_file_refuses() {
        let hash = [7; 32];
        for bad in [
            &br#"{"subject":"","type":"user"}"#[..],
            br#"{"subject":"a"}"#,
            br#"{"subject":"a","type":"root"}"#,
            br#"{"subject":"a","type":"user","extra":1}"#,
            br#"{"subject":"a","type":"user"} x"#,
            br#"{"subject":"a","type":"user","sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}"#,
            br#"{"subject":"a\u0001","type":"user"}"#,
            b"",
            b"\xff",
        ] {
            assert!(decode(hash, bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
