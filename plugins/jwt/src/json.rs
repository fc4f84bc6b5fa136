//! Strict JSON (RFC 8259) for token headers and payloads.
//!
//! Most parsers keep the last of two equal member names; an attacker who
//! can get `{"sub":"alice","sub":"admin"}` signed would see different
//! parsers disagree about what was signed. So
//! a duplicate name anywhere refuses the whole document. Nesting is bounded
//! while parsing: the guest has a 64 KiB shadow stack, and a trap is not a
//! refusal.
//!
//! The parser is this file, not serde_json: every call parses the token in
//! a fresh instance, and a parser that only checks and
//! slices is several times cheaper than one that builds owned values
//! through serde's visitors (docs/plugins/jwt.md, "Cost"). It accepts
//! exactly what serde_json's `from_slice` accepts (the unit tests compare
//! the two on the same inputs), and keeps what it read as a tree that
//! borrows from the input: a string without escapes is a slice of the
//! document, a number is its text, an object is a list of members. It
//! works on bytes: only strings with bytes above 0x7F are checked as UTF-8
//! (outside strings such bytes are not grammar anyway), and a string is
//! made a `&str` only where it is used.

use std::borrow::Cow;

/// Deepest nesting accepted. Real headers and claims rarely need more than 4.
pub const MAX_DEPTH: usize = 16;

/// Objects with up to this many members are checked for duplicate names
/// pair by pair; larger ones by sorting the names (so that a payload with
/// thousands of members costs n log n, not n²).
const PAIRWISE_MAX_MEMBERS: usize = 16;

/// A JSON value whose strings borrow from the parsed text where they can.
#[derive(Debug, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    Number(Number<'a>),
    String(Text<'a>),
    Array(Vec<Json<'a>>),
    Object(Object<'a>),
}

impl<'a> Json<'a> {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(text) => text.as_str(),
            _ => None,
        }
    }
}

/// A string's UTF-8 bytes after unescaping: a slice of the document
/// unless the string had escapes.
#[derive(Debug, PartialEq)]
pub struct Text<'a>(Cow<'a, [u8]>);

impl Text<'_> {
    /// Always `Some`: the parser accepts only valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        core::str::from_utf8(&self.0).ok()
    }
}

/// A number as written: valid JSON number syntax, finite as an f64.
#[derive(Debug, PartialEq, Clone, Copy)]
pub struct Number<'a>(&'a [u8]);

impl Number<'_> {
    /// The exact value if the number is written as an integer (no fraction,
    /// no exponent) that fits an i64.
    pub fn as_i64(self) -> Option<i64> {
        if self.is_integer() { self.text().parse().ok() } else { None }
    }

    /// Written as an integer: digits only, after an optional minus sign.
    pub fn is_integer(self) -> bool {
        !self.0.iter().any(|b| matches!(b, b'.' | b'e' | b'E'))
    }

    /// The nearest f64 (always finite: the parser refuses anything else).
    pub fn as_f64(self) -> f64 {
        self.text().parse().unwrap_or(f64::NAN)
    }
}

impl<'a> Number<'a> {
    /// Number syntax is ASCII, so this is never empty for a parsed number.
    fn text(self) -> &'a str {
        core::str::from_utf8(self.0).unwrap_or_default()
    }
}

/// A JSON object's members in document order, names unique (after unescaping).
#[derive(Debug, PartialEq)]
pub struct Object<'a> {
    members: Vec<(Text<'a>, Json<'a>)>,
}

impl<'a> Object<'a> {
    /// The member called `name`. Names are unique, so there is at most one.
    pub fn get(&self, name: &str) -> Option<&Json<'a>> {
        self.members.iter().find(|(n, _)| *n.0 == *name.as_bytes()).map(|(_, value)| value)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Takes the member called `name` out of the object.
    pub fn remove(&mut self, name: &str) -> Option<Json<'a>> {
        let at = self.members.iter().position(|(n, _)| *n.0 == *name.as_bytes())?;
        Some(self.members.swap_remove(at).1)
    }
}

/// Parses `bytes` as one JSON object, or `None` for anything else: invalid
/// JSON or UTF-8, trailing data (whitespace aside), a byte-order mark, a
/// lone surrogate escape, a number that overflows an f64, a duplicate
/// member name at any level, nesting deeper than [`MAX_DEPTH`], a top-level
/// value that is not an object.
pub fn parse_object(bytes: &[u8]) -> Option<Object<'_>> {
    let mut parser = Parser { bytes, at: 0 };
    parser.skip_whitespace();
    if parser.peek()? != b'{' {
        return None;
    }
    let Json::Object(object) = parser.value(0)? else { return None };
    parser.skip_whitespace();
    if parser.at == bytes.len() { Some(object) } else { None }
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// Called before every token: inline for the common case of none.
    #[inline]
    fn skip_whitespace(&mut self) {
        if let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.skip_some_whitespace();
        }
    }

    /// Inlined into its few callers, as `string` is: the parser's position
    /// then stays in wasm locals instead of going through memory, which cut
    /// the JWKS parse by ~12 % of its fuel (47 500 -> 41 900 units for the
    /// test JWKS, measured on 2026-11-24).
    #[inline(always)]
    fn skip_some_whitespace(&mut self) {
        let bytes = self.bytes;
        loop {
            match bytes.get(self.at) {
                // Indentation comes in runs of spaces: eight at a time.
                Some(b' ') => match bytes.get(self.at..self.at + 8).and_then(|chunk| <[u8; 8]>::try_from(chunk).ok()) {
                    Some(chunk) => {
                        let others = u64::from_le_bytes(chunk) ^ (ONES * u64::from(b' '));
                        self.at += if others == 0 { 8 } else { (others.trailing_zeros() / 8) as usize };
                    }
                    None => self.at += 1,
                },
                Some(b'\t' | b'\n' | b'\r') => self.at += 1,
                _ => return,
            }
        }
    }

    /// Consumes `byte` (after whitespace), or fails.
    fn expect(&mut self, byte: u8) -> Option<()> {
        self.skip_whitespace();
        if self.peek()? == byte {
            self.at += 1;
            Some(())
        } else {
            None
        }
    }

    /// One value, inside `depth` arrays and objects.
    fn value(&mut self, depth: usize) -> Option<Json<'a>> {
        self.skip_whitespace();
        match self.peek()? {
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b'"' => self.string().map(Json::String),
            b't' => self.literal("true", Json::Bool(true)),
            b'f' => self.literal("false", Json::Bool(false)),
            b'n' => self.literal("null", Json::Null),
            b'-' | b'0'..=b'9' => self.number().map(Json::Number),
            _ => None,
        }
    }

    fn literal(&mut self, word: &str, value: Json<'a>) -> Option<Json<'a>> {
        let end = self.at + word.len();
        if self.bytes.get(self.at..end)? != word.as_bytes() {
            return None;
        }
        self.at = end;
        Some(value)
    }

    /// Steps past the opening bracket of the `depth`th container (`None`
    /// when that is too deep) and says whether `close` ends it at once.
    fn open(&mut self, depth: usize, close: u8) -> Option<bool> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.at += 1;
        self.skip_whitespace();
        let empty = self.peek()? == close;
        if empty {
            self.at += 1;
        }
        Some(empty)
    }

    /// At `{`; the object is the `depth`th container.
    fn object(&mut self, depth: usize) -> Option<Json<'a>> {
        if self.open(depth, b'}')? {
            return Some(Json::Object(Object { members: Vec::new() }));
        }
        // Enough for a JOSE header, a JWK or a usual claims set at once.
        let mut members = Vec::with_capacity(8);
        loop {
            self.skip_whitespace();
            if self.peek()? != b'"' {
                return None;
            }
            let name = self.string()?;
            self.expect(b':')?;
            let value = self.value(depth)?;
            members.push((name, value));
            self.skip_whitespace();
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    break;
                }
                _ => return None,
            }
        }
        // Names compare after unescaping: "a" and "\u0061" are one name.
        if has_duplicate(&members) {
            return None;
        }
        Some(Json::Object(Object { members }))
    }

    /// At `[`; the array is the `depth`th container.
    fn array(&mut self, depth: usize) -> Option<Json<'a>> {
        if self.open(depth, b']')? {
            return Some(Json::Array(Vec::new()));
        }
        let mut items = Vec::with_capacity(8);
        loop {
            items.push(self.value(depth)?);
            self.skip_whitespace();
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(Json::Array(items));
                }
                _ => return None,
            }
        }
    }

    /// At `"`. Borrowed when there is no escape; control characters
    /// (U+0000 to U+001F) must be escaped, and bytes above 0x7F must be
    /// UTF-8 (as serde_json checks: per string).
    #[inline(always)]
    fn string(&mut self) -> Option<Text<'a>> {
        let bytes = self.bytes;
        let start = self.at + 1;
        let mut end = start;
        // Whether any byte read may be above 0x7F (the last word read may
        // reach past the string; that only costs a needless check).
        let mut high = 0;
        // Eight bytes at a time (claims hold long strings: URLs, ids),
        // up to the first byte that needs a look.
        while let Some(chunk) = bytes.get(end..end + 8)
            && let Ok(chunk) = <[u8; 8]>::try_from(chunk)
        {
            let word = u64::from_le_bytes(chunk);
            high |= word;
            let mask = needs_a_look(word);
            if mask != 0 {
                end += (mask.trailing_zeros() / 8) as usize;
                break;
            }
            end += 8;
        }
        loop {
            match *bytes.get(end)? {
                b'"' => break,
                b'\\' => return self.escaped_string(start, end),
                0..=0x1f => return None,
                byte => {
                    high |= u64::from(byte);
                    end += 1;
                }
            }
        }
        let text = bytes.get(start..end)?;
        if high & HIGH_BITS != 0 && core::str::from_utf8(text).is_err() {
            return None;
        }
        self.at = end + 1;
        Some(Text(Cow::Borrowed(text)))
    }

    /// The rest of a string from `start`, with its first escape at `at`.
    fn escaped_string(&mut self, start: usize, mut at: usize) -> Option<Text<'a>> {
        let bytes = self.bytes;
        let mut out = bytes.get(start..at)?.to_vec();
        let mut run = at;
        loop {
            match *bytes.get(at)? {
                b'"' => {
                    out.extend_from_slice(bytes.get(run..at)?);
                    // Escapes add whole characters, so the result is UTF-8
                    // exactly when every unescaped run is.
                    core::str::from_utf8(&out).ok()?;
                    self.at = at + 1;
                    return Some(Text(Cow::Owned(out)));
                }
                b'\\' => {
                    out.extend_from_slice(bytes.get(run..at)?);
                    let (c, next) = self.escape(at + 1)?;
                    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                    at = next;
                    run = at;
                }
                0..=0x1f => return None,
                _ => at += 1,
            }
        }
    }

    /// The escape after a backslash at `at - 1`: the character and where the
    /// string goes on. A `\u` surrogate must be a high one followed by a
    /// `\u` low one; anything else is refused, as serde_json does.
    fn escape(&self, at: usize) -> Option<(char, usize)> {
        let c = match *self.bytes.get(at)? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let high = self.hex4(at + 1)?;
                return match high {
                    0xD800..=0xDBFF => {
                        if self.bytes.get(at + 5..at + 7)? != b"\\u" {
                            return None;
                        }
                        let low = self.hex4(at + 7)?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return None;
                        }
                        let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                        Some((char::from_u32(code)?, at + 11))
                    }
                    0xDC00..=0xDFFF => None,
                    _ => Some((char::from_u32(high)?, at + 5)),
                };
            }
            _ => return None,
        };
        Some((c, at + 1))
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        self.bytes.get(at..at + 4)?.iter().try_fold(0, |n, b| Some(n << 4 | char::from(*b).to_digit(16)?))
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, finite as an f64.
    fn number(&mut self) -> Option<Number<'a>> {
        let bytes = self.bytes;
        let start = self.at;
        let mut at = start;
        let digits = |mut at: usize| {
            while bytes.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
            at
        };
        if bytes.get(at) == Some(&b'-') {
            at += 1;
        }
        match *bytes.get(at)? {
            b'0' => at += 1,
            b'1'..=b'9' => at = digits(at + 1),
            _ => return None,
        }
        let mut integer = true;
        if bytes.get(at) == Some(&b'.') {
            integer = false;
            let end = digits(at + 1);
            if end == at + 1 {
                return None;
            }
            at = end;
        }
        if let Some(b'e' | b'E') = bytes.get(at) {
            integer = false;
            at += 1;
            if let Some(b'+' | b'-') = bytes.get(at) {
                at += 1;
            }
            let end = digits(at);
            if end == at {
                return None;
            }
            at = end;
        }
        let number = Number(bytes.get(start..at)?);
        // serde_json refuses a number whose f64 value overflows ("number out
        // of range"); integers of up to 18 digits cannot.
        if (!integer || number.0.len() > 18) && !number.text().parse::<f64>().is_ok_and(f64::is_finite) {
            return None;
        }
        self.at = at;
        Some(number)
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The bytes of `word` (little-endian) that are `"`, `\` or a control
/// character (below 0x20), as their high bits; zero if there are none.
/// `(v - 0x01…) & !v & 0x80…` flags the lowest zero byte of `v` exactly
/// (borrows can only add flags above it), and with 0x20 in place of 0x01
/// the lowest byte below 0x20; so the lowest flag of the three marks the
/// first byte that needs a look.
fn needs_a_look(word: u64) -> u64 {
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH_BITS;
    let quote = zero_byte(word ^ (ONES * u64::from(b'"')));
    let backslash = zero_byte(word ^ (ONES * u64::from(b'\\')));
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH_BITS;
    quote | backslash | control
}

fn has_duplicate(members: &[(Text<'_>, Json<'_>)]) -> bool {
    if members.len() <= PAIRWISE_MAX_MEMBERS {
        // Length and first byte first: most pairs differ there, and a full
        // comparison is a call to `memcmp` in wasm.
        let same = |a: &[u8], b: &[u8]| a.len() == b.len() && a.first() == b.first() && a == b;
        return members.iter().enumerate().any(|(i, (name, _))| members.iter().skip(i + 1).any(|(other, _)| same(&other.0, &name.0)));
    }
    let mut names: Vec<&[u8]> = members.iter().map(|(name, _)| name.0.as_ref()).collect();
    names.sort_unstable();
    names.windows(2).any(|pair| pair.first() == pair.last())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_refused_at_every_level() {
        assert!(parse_object(br#"{"a":1,"b":{"c":[1,{"d":2}]}}"#).is_some());
        assert!(parse_object(br#"{"a":1,"a":1}"#).is_none());
        assert!(parse_object(br#"{"a":1,"\u0061":2}"#).is_none());
        assert!(parse_object(br#"{"x":{"a":1,"a":2}}"#).is_none());
        assert!(parse_object(br#"{"x":[{"a":1,"a":2}]}"#).is_none());
    }

    #[test]
    fn duplicates_refused_in_large_objects() {
        let members: Vec<String> = (0..100).map(|i| format!("\"m{i}\":{i}")).collect();
        let unique = format!("{{{}}}", members.join(","));
        assert_eq!(parse_object(unique.as_bytes()).map(|o| o.members.len()), Some(100));
        let duplicate = format!("{{{},\"m\\u0035\":0}}", members.join(","));
        assert!(parse_object(duplicate.as_bytes()).is_none());
        let first_and_last = format!("{{{},\"m0\":0}}", members.join(","));
        assert!(parse_object(first_and_last.as_bytes()).is_none());
    }

    #[test]
    fn strings_borrow_unless_escaped() {
        let object = parse_object(br#"{"a":"plain","b":"t\u0061b\t","c\u0061":["x"],"d":"\ud83d\ude00\/"}"#).unwrap();
        assert!(matches!(object.get("a"), Some(Json::String(Text(Cow::Borrowed(b"plain"))))));
        assert!(matches!(object.get("b"), Some(Json::String(Text(Cow::Owned(s)))) if s == b"tab\t"));
        assert!(matches!(object.get("ca"), Some(Json::Array(items)) if items.len() == 1));
        assert!(object.get("c").is_none());
        assert_eq!(object.get("d").and_then(Json::as_str), Some("😀/"));
    }

    #[test]
    fn word_test_is_exact() {
        for special in (0u8..0x20).chain([b'"', b'\\']) {
            for at in 0..8 {
                for filler in [b'a', b' ', 0x7f, 0x80, 0xff, b'!', b'#', b'[', b']'] {
                    let mut word = [filler; 8];
                    word[at] = special;
                    let mask = needs_a_look(u64::from_le_bytes(word));
                    assert_eq!(mask.trailing_zeros() / 8, at as u32, "{special:#x} at {at} among {filler:#x}");
                    // Another one further on does not move the first.
                    for later in at + 1..8 {
                        let mut two = word;
                        two[later] = b'"';
                        assert_eq!(needs_a_look(u64::from_le_bytes(two)).trailing_zeros() / 8, at as u32);
                    }
                }
            }
        }
        for byte in 0x20u8..=0xff {
            if byte != b'"' && byte != b'\\' {
                assert_eq!(needs_a_look(u64::from_le_bytes([byte; 8])), 0, "{byte:#x}");
                assert_eq!(needs_a_look(u64::from_le_bytes([byte, 0x20, 0xff, b'!', 0x80, byte, 0x7f, b'#'])), 0, "{byte:#x}");
            }
        }
    }

    #[test]
    fn numbers() {
        let object = parse_object(br#"{"i":-0,"big":12345678901234567890123,"f":1.5e3,"neg":-7}"#).unwrap();
        let number = |name: &str| match object.get(name) {
            Some(Json::Number(n)) => *n,
            other => panic!("{other:?}"),
        };
        assert_eq!(number("i").as_i64(), Some(0));
        assert_eq!(number("neg").as_i64(), Some(-7));
        assert_eq!(number("big").as_i64(), None);
        assert_eq!(number("big").as_f64(), 1.2345678901234568e22);
        assert_eq!(number("f").as_i64(), None);
        assert_eq!(number("f").as_f64(), 1500.0);
        for bad in ["01", "1.", ".5", "+1", "1e", "1e+", "-", "--1", "1.5.5", "0x10", "1e400", "-1e400", "NaN", "Infinity", "1_0"] {
            assert!(parse_object(format!("{{\"n\":{bad}}}").as_bytes()).is_none(), "{bad}");
        }
        let huge = format!("{{\"n\":1{}}}", "0".repeat(400));
        assert!(parse_object(huge.as_bytes()).is_none());
        assert!(parse_object(b"{\"n\":1e-400}").is_some());
    }

    #[test]
    fn only_objects_and_bounded_depth() {
        for not_object in [&b"[]"[..], b"\"x\"", b"1", b"null", b"", b"{} {}", b"{\"a\":1}x", b"\xef\xbb\xbf{}", b"{", b"{\"a\"}", b"{\"a\":}"] {
            assert!(parse_object(not_object).is_none(), "{not_object:?}");
        }
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(MAX_DEPTH - 1), "]".repeat(MAX_DEPTH - 1));
        assert!(parse_object(deep.as_bytes()).is_some());
        let deeper = format!("{{\"a\":{}1{}}}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse_object(deeper.as_bytes()).is_none());
        let deep_objects = format!("{}1{}", "{\"a\":".repeat(MAX_DEPTH), "}".repeat(MAX_DEPTH));
        assert!(parse_object(deep_objects.as_bytes()).is_some());
        let deeper_objects = format!("{}1{}", "{\"a\":".repeat(MAX_DEPTH + 1), "}".repeat(MAX_DEPTH + 1));
        assert!(parse_object(deeper_objects.as_bytes()).is_none());
        // Far beyond serde_json's own limit (128): refused, never a trap.
        let far = format!("{{\"a\":{}1{}}}", "[".repeat(5000), "]".repeat(5000));
        assert!(parse_object(far.as_bytes()).is_none());
        // Brackets inside strings do not count, escaped quotes do not end them.
        let quoted = format!("{{\"a\":\"\\\"{}\"}}", "[".repeat(100));
        assert!(parse_object(quoted.as_bytes()).is_some());
    }

    /// Accepts exactly what serde_json accepts (its `Value` keeps the last
    /// duplicate, so duplicates are compared apart), on hand-picked edge
    /// cases and on every one-byte mutation of realistic documents.
    #[test]
    fn agrees_with_serde_json() {
        let serde_accepts = |bytes: &[u8]| matches!(serde_json::from_slice::<serde_json::Value>(bytes), Ok(serde_json::Value::Object(_)));
        let check = |bytes: &[u8]| {
            let ours = parse_object(bytes);
            let theirs = serde_accepts(bytes);
            match ours {
                Some(object) => {
                    assert!(theirs, "we accept what serde_json refuses: {:?}", String::from_utf8_lossy(bytes));
                    // Same members and values.
                    let value: serde_json::Value = serde_json::from_slice(bytes).unwrap();
                    assert_eq!(to_value(&Json::Object(object)), value, "{:?}", String::from_utf8_lossy(bytes));
                }
                None => {
                    if theirs {
                        assert!(has_any_duplicate_or_too_deep(bytes), "we refuse what serde_json accepts: {:?}", String::from_utf8_lossy(bytes));
                    }
                }
            }
        };
        let cases: &[&[u8]] = &[
            br#"{"alg":"EdDSA","kid":"ed-1","typ":"JWT"}"#,
            br#"{"sub":"alice","iss":"https://issuer.example","aud":["ward-api","x"],"exp":1700000000,"nbf":1.5,"scope":"a b","ext":{"a":[1,-2,3.5e-3,true,false,null]}}"#,
            br#" { "a" : "\u00e9\u20ac\ud83d\ude00\n\t\"\\\/\b\f\r" } "#,
            "{\"a\":\"é€😀\u{7f}\"}".as_bytes(),
            b"{\"a\":\"\x01\"}",
            b"{\"a\":\"\xff\"}",
            b"{\"a\":\"\xc3\"}",
            b"{\"\xed\xa0\x80\":1}",
            br#"{"a":"\ud800"}"#,
            br#"{"a":"\udc00"}"#,
            br#"{"a":"\ud800\u0041"}"#,
            br#"{"a":"\ud800\udb00"}"#,
            br#"{"a":"\udbff\udfff"}"#,
            br#"{"a":"\ud800\ue000"}"#,
            br#"{"a":"\ud800\ud800\udc00"}"#,
            br#"{"a":"\ud800\\udc00"}"#,
            br#"{"a":"\ud800\u"}"#,
            br#"{"a":"\u12"}"#,
            br#"{"a":"\uD834\uDD1E\uFFFF\uABCD"}"#,
            br#"{"a":"\ud800\n"}"#,
            br#"{"a":"\u00G0"}"#,
            br#"{"a":"\u+123"}"#,
            br#"{"a":"\x"}"#,
            br#"{"a":"\u0000"}"#,
            b"{\"a\":1}\n\r\t ",
            b"{\"a\":1}\x0c",
            b"{\"a\":1,}",
            b"{,\"a\":1}",
            b"{\"a\":[1,]}",
            b"{\"a\":[,1]}",
            b"{\"a\" 1}",
            b"{\"a\":tru}",
            b"{\"a\":truex}",
            b"{\"a\":nul}",
            b"{'a':1}",
            b"{a:1}",
            b"{\"a\":1 \"b\":2}",
            b"{\"a\":-0.0e-0}",
            b"{\"a\":1E+2}",
            b"{\"a\":18446744073709551616}",
            b"{\"a\":-9223372036854775809}",
            b"{\"a\":1.7976931348623157e308}",
            b"{\"a\":1.8e308}",
        ];
        for case in cases {
            check(case);
        }
        let jwks = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/vectors/jwt/jwks.json")).unwrap();
        let seeds: Vec<Vec<u8>> = cases.iter().take(3).map(|c| c.to_vec()).chain([jwks]).collect();
        let replacements = b"{}[]\":,\\ -.0159abcdefABCDEF+tnu\x00\x1f\x7f\xc3\xa9\xff";
        for seed in &seeds {
            for at in 0..seed.len() {
                for &byte in replacements {
                    let mut mutated = seed.clone();
                    mutated[at] = byte;
                    check(&mutated);
                    let mut inserted = seed.clone();
                    inserted.insert(at, byte);
                    check(&inserted);
                }
                let mut removed = seed.clone();
                removed.remove(at);
                check(&removed);
            }
        }
    }

    fn to_value(json: &Json<'_>) -> serde_json::Value {
        match json {
            Json::Null => serde_json::Value::Null,
            Json::Bool(b) => serde_json::Value::Bool(*b),
            Json::Number(n) => serde_json::from_slice(n.0).unwrap(),
            Json::String(s) => serde_json::Value::String(s.as_str().unwrap().to_owned()),
            Json::Array(items) => serde_json::Value::Array(items.iter().map(to_value).collect()),
            Json::Object(object) => serde_json::Value::Object(object.members.iter().map(|(k, v)| (k.as_str().unwrap().to_owned(), to_value(v))).collect()),
        }
    }

    /// Whether serde_json's acceptance is one this parser refuses on purpose:
    /// a duplicate member name, or nesting deeper than [`MAX_DEPTH`].
    fn has_any_duplicate_or_too_deep(bytes: &[u8]) -> bool {
        struct Check(usize);
        impl<'de> serde::de::DeserializeSeed<'de> for Check {
            type Value = bool;
            fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
                d.deserialize_any(self)
            }
        }
        impl<'de> serde::de::Visitor<'de> for Check {
            type Value = bool;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("json")
            }
            fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
                Ok(false)
            }
            fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
                Ok(false)
            }
            fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
                Ok(false)
            }
            fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
                Ok(false)
            }
            fn visit_str<E>(self, _: &str) -> Result<bool, E> {
                Ok(false)
            }
            fn visit_unit<E>(self) -> Result<bool, E> {
                Ok(false)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
                let mut found = self.0 + 1 > MAX_DEPTH;
                while let Some(inner) = seq.next_element_seed(Check(self.0 + 1))? {
                    found |= inner;
                }
                Ok(found)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
                let mut found = self.0 + 1 > MAX_DEPTH;
                let mut names = std::collections::BTreeSet::new();
                while let Some(name) = map.next_key::<String>()? {
                    found |= !names.insert(name);
                    found |= map.next_value_seed(Check(self.0 + 1))?;
                }
                Ok(found)
            }
        }
        let mut de = serde_json::Deserializer::from_slice(bytes);
        serde::de::DeserializeSeed::deserialize(Check(0), &mut de).unwrap_or(false)
    }
}
