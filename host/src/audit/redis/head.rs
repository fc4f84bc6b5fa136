//! The head key's value and the stream entry ids, both written by ward and
//! read back as untrusted input.

use crate::audit::chain::Mac;
use crate::audit::chainer::Head;

/// `<seq> <64 lowercase hex>`, the head key's value; empty for no head.
pub(super) fn format(head: Option<Head>) -> String {
    head.map_or_else(String::new, |h| format!("{} {}", h.seq, hex::encode(h.mac)))
}

/// The head key's value back; `None` when it is not one ward writes.
pub(super) fn parse(value: &[u8]) -> Option<Head> {
    let text = std::str::from_utf8(value).ok()?;
    let (seq, mac_hex) = text.split_once(' ')?;
    if seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) || (seq.len() > 1 && seq.starts_with('0')) {
        return None;
    }
    if mac_hex.len() != 64 || mac_hex.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let mut mac: Mac = [0; 32];
    hex::decode_to_slice(mac_hex, &mut mac).ok()?;
    Some(Head { seq: seq.parse().ok()?, mac })
}

/// The stream entry id of record `seq`.
pub(super) fn entry_id(seq: u64) -> String {
    format!("{seq}-1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_round_trips_and_junk_is_refused() {
        let head = Head { seq: 42, mac: [7; 32] };
        assert_eq!(parse(format(Some(head)).as_bytes()), Some(head));
        for junk in ["", "42", "42 ab", "-1 0707", "042 0707070707070707070707070707070707070707070707070707070707070707"] {
            assert_eq!(parse(junk.as_bytes()), None, "{junk}");
        }
        let upper = format!("1 {}", "AB".repeat(32));
        assert_eq!(parse(upper.as_bytes()), None);
    }
}
