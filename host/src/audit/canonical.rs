//! The canonical record: the bytes the mac covers.
//!
//! A JSON object on one line, no whitespace, keys sorted by byte order, every
//! value either a string (escaped as `serde_json` escapes it) or a non-negative
//! integer. It always has `seq`, `ts` and `event`. The line on disk is the
//! canonical record with `,"mac":"<64 hex>"` inserted before the closing brace.
//! The verifier re-encodes what it parsed and requires the same bytes, so a
//! duplicate key, extra whitespace or a float cannot hide behind a valid mac.

use serde_json::Value;

use super::chain::{self, Mac};
use super::event::{Event, Val};

/// Builds canonical records, reusing its buffers.
#[derive(Default)]
pub(crate) struct Encoder {
    scratch: String,
    fields: Vec<(&'static str, Slot)>,
}

#[derive(Clone, Copy)]
enum Slot {
    Str(usize, usize),
    U64(u64),
}

impl Encoder {
    /// Writes the canonical record of `event` to `out` (cleared first), with
    /// the `replicaId` of the writer when it has one (a fleet's shared chain).
    pub(crate) fn encode(&mut self, seq: u64, ts: &str, event: &Event, replica: Option<&str>, out: &mut Vec<u8>) {
        self.scratch.clear();
        self.fields.clear();
        let scratch = &mut self.scratch;
        let fields = &mut self.fields;
        let mut push = |name: &'static str, value: Val<'_>| {
            let slot = match value {
                Val::Str(s) => {
                    let start = scratch.len();
                    scratch.push_str(s);
                    Slot::Str(start, scratch.len())
                }
                Val::U64(n) => Slot::U64(n),
            };
            fields.push((name, slot));
        };
        push("seq", Val::U64(seq));
        push("ts", Val::Str(ts));
        push("event", Val::Str(event.name()));
        if let Some(replica) = replica {
            push("replicaId", Val::Str(replica));
        }
        event.fields(&mut push);
        self.fields.sort_unstable_by_key(|(name, _)| *name);
        out.clear();
        out.push(b'{');
        for (i, (name, slot)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(name, out);
            out.push(b':');
            match *slot {
                Slot::Str(start, end) => write_str(self.scratch.get(start..end).unwrap_or(""), out),
                Slot::U64(n) => out.extend_from_slice(itoa_u64(n, &mut [0u8; 20])),
            }
        }
        out.push(b'}');
    }
}

fn write_str(s: &str, out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail; a str always serializes.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn itoa_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(slot) = buf.get_mut(i) {
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    buf.get(i..).unwrap_or(&[])
}

/// A line parsed far enough to check its link.
#[derive(Debug, Clone)]
pub(crate) struct Parsed {
    pub(crate) seq: u64,
    pub(crate) mac: Mac,
    pub(crate) canonical: Vec<u8>,
    /// False when the record is not exactly what the writer would produce
    /// (such a record never links, whatever its mac).
    pub(crate) is_canonical: bool,
}

/// Parses one line (without its newline). `None`: not a record at all
/// (no mac field, not a JSON object, no integer `seq`).
pub(crate) fn parse_line(line: &[u8]) -> Option<Parsed> {
    let (canonical, mac) = chain::split_line(line)?;
    let map: serde_json::Map<String, Value> = serde_json::from_slice(&canonical).ok()?;
    let seq = map.get("seq")?.as_u64()?;
    let is_canonical = reencode(&map).is_some_and(|bytes| bytes == canonical);
    Some(Parsed { seq, mac, canonical, is_canonical })
}

fn reencode(map: &serde_json::Map<String, Value>) -> Option<Vec<u8>> {
    for required in ["ts", "event"] {
        map.get(required)?.as_str()?;
    }
    let mut pairs: Vec<(&String, &Value)> = map.iter().collect();
    pairs.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut out = Vec::with_capacity(256);
    out.push(b'{');
    for (i, (name, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(name, &mut out);
        out.push(b':');
        match value {
            Value::String(s) => write_str(s, &mut out),
            Value::Number(n) => out.extend_from_slice(itoa_u64(n.as_u64()?, &mut [0u8; 20])),
            _ => return None,
        }
    }
    out.push(b'}');
    Some(out)
}

/// RFC 3339 UTC timestamp with microseconds, e.g. `2026-11-23T10:04:05.123456Z`.
pub(crate) fn timestamp(now: std::time::SystemTime) -> String {
    let since = now.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let micros = since.subsec_micros();
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z", rem / 3600, (rem % 3600) / 60, rem % 60)
}

/// Howard Hinnant's days-to-civil for days since 1970-01-01 (non-negative).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_is_rfc3339_utc() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_micros(1_795_435_445_123_456);
        assert_eq!(timestamp(t), "2026-11-23T12:04:05.123456Z");
        assert_eq!(timestamp(std::time::UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn itoa_matches_display() {
        for n in [0u64, 7, 10, 99, 12345, u64::MAX] {
            assert_eq!(itoa_u64(n, &mut [0u8; 20]), n.to_string().as_bytes());
        }
    }
}
