//! The rules each field must pass. The caps are the host's claims sanitizer's
//! (`host/src/identity/sanitize.rs`): an entry the host would reject at call
//! time is refused here, when the file is read, for every key at once.

pub const MAX_SUBJECT_BYTES: usize = 1024;
pub const MAX_SCOPES: usize = 64;
pub const MAX_SCOPE_BYTES: usize = 256;
pub const MAX_LABELS: usize = 32;
pub const MAX_LABEL_KEY_BYTES: usize = 64;
pub const MAX_LABEL_VALUE_BYTES: usize = 64;
pub const MAX_NOTE_BYTES: usize = 256;

pub const HEX_RULE: &str = "must be 64 lower-case hex digits (the SHA-256 of the key, never the key)";

/// Lower-case only, so every hash has one spelling and a hand-edited
/// upper-case copy cannot hide a duplicate from a text search.
pub fn decode_hex(text: &str) -> Option<[u8; 32]> {
    decode_hex_bytes(text.as_bytes())
}

/// [`decode_hex`] on bytes.
pub fn decode_hex_bytes(digits: &[u8]) -> Option<[u8; 32]> {
    if digits.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (four, eight) in out.chunks_exact_mut(4).zip(digits.chunks_exact(8)) {
        let word = u64::from_le_bytes(<[u8; 8]>::try_from(eight).ok()?);
        four.copy_from_slice(&hex8(word)?.to_le_bytes());
    }
    Some(out)
}

/// Eight hex digits, the first in the lowest byte, to the four bytes they
/// spell (first byte lowest), eight at a time (SWAR): every entry's hash is
/// decoded on every call, and a digit-at-a-time loop costs the guest about
/// six times as much.
fn hex8(w: u64) -> Option<u32> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    if w & HI != 0 {
        return None;
    }
    // With every lane below 0x80, setting its top bit and subtracting n cannot
    // borrow across lanes, and the top bit that remains says "lane >= n".
    let at_least = |n: u64| (w | HI).wrapping_sub(n.wrapping_mul(LO)) & HI;
    let digit = at_least(0x30) & !at_least(0x3a);
    let letter = at_least(0x61) & !at_least(0x67);
    if digit | letter != HI {
        return None;
    }
    // '0'..'9' become 0..9 and 'a'..'f' become 10..15, lane by lane.
    let letters = (letter >> 7).wrapping_mul(0xff);
    let nibbles = w.wrapping_sub(0x30 * LO).wrapping_sub((0x27 * LO) & letters);
    // Lane 2i takes (nibble 2i << 4) | nibble 2i+1; then the even lanes close up.
    let pairs = ((nibbles << 4) | (nibbles >> 8)) & 0x00ff_00ff_00ff_00ff;
    let halves = (pairs | (pairs >> 8)) & 0x0000_ffff_0000_ffff;
    u32::try_from((halves | (halves >> 16)) & 0xffff_ffff).ok()
}

/// The spelling `decode_hex` accepts (for `ward apikey` and tests).
#[allow(dead_code)]
pub fn encode_hex(bytes: &[u8; 32]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for byte in bytes {
        for n in [byte >> 4, byte & 0x0f] {
            out.extend(DIGITS.get(usize::from(n)).map(|&d| char::from(d)));
        }
    }
    out
}

pub fn check_subject(subject: &str) -> Result<(), &'static str> {
    if subject.is_empty() {
        return Err("must not be empty");
    }
    check_text(subject, MAX_SUBJECT_BYTES)
}

// Byte classes, one table lookup per byte: every entry's strings are checked
// on every call, and a chain of range comparisons costs the guest about three
// times as much per byte.
const SCOPE: u8 = 1;
const LABEL_KEY: u8 = 2;
const CONTROL: u8 = 4;
const NON_ASCII: u8 = 8;

// Evaluated at compile time, where an index out of bounds fails the build.
#[allow(clippy::indexing_slicing)]
const CLASSES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        let mut class = 0;
        // RFC 6749 scope-token: %x21 / %x23-5B / %x5D-7E.
        if c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) {
            class |= SCOPE;
        }
        if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-' {
            class |= LABEL_KEY;
        }
        if c < 0x20 || c == 0x7f {
            class |= CONTROL;
        }
        if c >= 0x80 {
            class |= NON_ASCII;
        }
        table[b] = class;
        b += 1;
    }
    table
};

fn class(b: u8) -> u8 {
    // A u8 always indexes a 256-entry table.
    #[allow(clippy::indexing_slicing)]
    CLASSES[usize::from(b)]
}

/// Capped, and free of control characters, which would let a value forge
/// lines in headers and logs downstream.
pub fn check_text(text: &str, max: usize) -> Result<(), &'static str> {
    if text.len() > max {
        return Err("too long");
    }
    let seen = text.bytes().fold(0, |seen, b| seen | class(b));
    // Non-ASCII text is rare enough to check by char: U+0080..U+009F are
    // controls too, and U+2028/2029 end lines in JavaScript and some log
    // viewers, as in the host sanitizer.
    let bad_char = |c: char| c.is_control() || c == '\u{2028}' || c == '\u{2029}';
    let clean = seen & CONTROL == 0 && (seen & NON_ASCII == 0 || !text.chars().any(bad_char));
    if clean { Ok(()) } else { Err("contains a control character") }
}

/// RFC 6749 scope-token: `1*( %x21 / %x23-5B / %x5D-7E )`.
pub fn check_scope(scope: &str) -> Result<(), &'static str> {
    if scope.is_empty() || scope.len() > MAX_SCOPE_BYTES {
        return Err("must be 1 to 256 bytes");
    }
    let all = scope.bytes().fold(SCOPE, |all, b| all & class(b));
    if all & SCOPE != 0 { Ok(()) } else { Err("has a character outside RFC 6749 scope-token (no spaces, quotes or backslashes)") }
}

/// Label keys end up in header names downstream, so they stay plain.
pub fn check_label_key(key: &str) -> Result<(), &'static str> {
    let all = key.bytes().fold(LABEL_KEY, |all, b| all & class(b));
    if !key.is_empty() && key.len() <= MAX_LABEL_KEY_BYTES && all & LABEL_KEY != 0 { Ok(()) } else { Err("label key must be 1 to 64 of A-Z a-z 0-9 _ . -") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(text: &str) -> Option<[u8; 32]> {
        let digits = text.as_bytes();
        if digits.len() != 64 {
            return None;
        }
        let nibble = |d: u8| match d {
            b'0'..=b'9' => Some(d - b'0'),
            b'a'..=b'f' => Some(d - b'a' + 10),
            _ => None,
        };
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = (nibble(digits[2 * i])? << 4) | nibble(digits[2 * i + 1])?;
        }
        Some(out)
    }

    /// The table says what the range comparisons it replaced said.
    #[test]
    fn byte_classes() {
        for b in 0..=255u8 {
            let scope = b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b);
            assert_eq!(class(b) & SCOPE != 0, scope, "{b}");
            assert_eq!(class(b) & LABEL_KEY != 0, b.is_ascii_alphanumeric() || b"_.-".contains(&b), "{b}");
            assert_eq!(class(b) & CONTROL != 0, b.is_ascii_control(), "{b}");
            assert_eq!(class(b) & NON_ASCII != 0, !b.is_ascii(), "{b}");
        }
        assert!(check_text("caf\u{e9}", 64).is_ok());
        assert!(check_text("a\u{85}b", 64).is_err());
        assert!(check_text("a\u{2028}b", 64).is_err());
        assert!(check_text("a\u{7f}b", 64).is_err());
    }

    /// Every byte value at every position: the SWAR decoder accepts exactly
    /// what a digit-at-a-time decoder accepts, with the same result.
    #[test]
    fn swar_hex_matches_a_scalar_decoder() {
        let base: Vec<u8> = (0..64usize).map(|i| b"0123456789abcdef"[(i * 7 + 3) % 16]).collect();
        for at in 0..64 {
            for b in 0..=255u8 {
                let mut bytes = base.clone();
                bytes[at] = b;
                if let Ok(text) = std::str::from_utf8(&bytes) {
                    assert_eq!(decode_hex(text), scalar(text), "{text}");
                } else {
                    assert!(bytes.iter().any(|&c| c >= 0x80));
                }
            }
        }
        let all: String = (0..32u8).map(|i| format!("{:02x}", i.wrapping_mul(37).wrapping_add(11))).collect();
        assert_eq!(decode_hex(&all), scalar(&all));
        assert_eq!(encode_hex(&decode_hex(&all).unwrap()), all);
    }
}
