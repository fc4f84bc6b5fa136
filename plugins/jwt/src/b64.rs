//! Strict unpadded base64url (RFC 4648 §5), as JWS segments and JWK members
//! use it: the same rules as `ward_guest::base64url::decode` (no `=`, only
//! `A-Z a-z 0-9 - _`, no length of the form 4n+1, no non-zero unused bits,
//! so every byte string has one accepted spelling), decoded a whole
//! quantum at a time through a table. Every call decodes the token's three
//! segments and the chosen key again; the unit tests check that both
//! decoders agree on every input they try.

/// Each byte's 6-bit value, or `INVALID`.
const INVALID: u8 = 0xff;
// Evaluated at compile time, where an index out of range is a build error,
// not a panic.
#[allow(clippy::indexing_slicing)]
const VALUES: [u8; 256] = {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < alphabet.len() {
        table[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    table
};

fn value(byte: u8) -> u32 {
    // A u8 is always in range: no check is compiled.
    u32::from(VALUES.get(usize::from(byte)).copied().unwrap_or(INVALID))
}

/// Decodes strict unpadded base64url, or `None`.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let input = text.as_bytes();
    let tail = match input.len() % 4 {
        1 => return None,
        rest => rest,
    };
    let whole = input.len() / 4 * 3;
    let mut out = vec![0u8; whole + tail.saturating_sub(1)];
    let (body, rest) = out.split_at_mut(whole);
    // An invalid byte's value has bit 7 set, and OR-ing keeps it.
    let mut invalid = 0u32;
    let quanta = input.chunks_exact(4);
    let last = quanta.remainder();
    for (chunk, bytes) in quanta.zip(body.chunks_exact_mut(3)) {
        let [a, b, c, d]: [u8; 4] = chunk.try_into().ok()?;
        let (a, b, c, d) = (value(a), value(b), value(c), value(d));
        invalid |= a | b | c | d;
        let [_, x, y, z] = (a << 18 | b << 12 | c << 6 | d).to_be_bytes();
        if let [p, q, r] = bytes {
            (*p, *q, *r) = (x, y, z);
        }
    }
    let mut n = 0u32;
    for (i, byte) in last.iter().enumerate() {
        let v = value(*byte);
        invalid |= v;
        n |= v << (18 - 6 * i);
    }
    let [_, x, y, _] = n.to_be_bytes();
    // The bits below the last whole output byte must be zero.
    match rest {
        [] => {}
        [p] if n & 0xFFFF == 0 => *p = x,
        [p, q] if n & 0xFF == 0 => (*p, *q) = (x, y),
        _ => return None,
    }
    if invalid & 0x80 == 0 { Some(out) } else { None }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// The same answer as the SDK's decoder, on every string of up to four
    /// characters over an alphabet with every kind of byte, and on longer
    /// strings with one byte changed anywhere.
    #[test]
    fn agrees_with_the_sdk() {
        let same = |text: &str| assert_eq!(decode(text), ward_guest::base64url::decode(text).ok(), "{text:?}");
        let chars = ["A", "B", "Q", "g", "w", "z", "0", "9", "-", "_", "=", "+", "/", ".", " ", "\u{e9}", "\u{0}", "AA"];
        let mut strings = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> = strings.iter().flat_map(|s| chars.iter().map(move |c| format!("{s}{c}"))).collect();
            strings.extend(longer);
        }
        strings.sort();
        strings.dedup();
        for s in &strings {
            same(s);
        }
        let long = ward_guest::base64url::encode(&(0..=255u8).collect::<Vec<_>>());
        for cut in 0..long.len() {
            same(&long[..cut]);
            for byte in ["A", "_", "=", "+", "/", "*", "\u{0}"] {
                let mut changed = long[..cut].to_owned();
                changed.push_str(byte);
                changed.push_str(&long[cut..]);
                same(&changed);
                same(&format!("{}{byte}", &long[..cut]));
            }
        }
        assert_eq!(decode(&long).as_deref(), Some(&(0..=255u8).collect::<Vec<_>>()[..]));
    }
}
