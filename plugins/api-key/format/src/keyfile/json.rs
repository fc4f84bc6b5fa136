//! A strict JSON reader for the shapes the keys file uses, and nothing more.
//!
//! The plugin reads the whole keys file on every call (nothing survives a
//! call), so this reader is built for that: the input is checked as UTF-8
//! once, strings without escapes are borrowed rather than copied, and no
//! value is ever skipped generically, because the caller always says which
//! type it expects. Everything RFC 8259 forbids is refused: raw control
//! characters in strings, lone surrogates, leading zeros, trailing commas,
//! anything after the top-level value.

use std::borrow::Cow;

use super::{FileError, JsonProblem, rules};

/// A member name the caller expects. [`Reader::object`] recognises these with
/// two masked 8-byte comparisons, not a string read and compare: every entry
/// names some ten fields on every call.
pub struct Name {
    text: &'static str,
    packed: [u64; 2],
    mask: [u64; 2],
    /// The caller's code for the name.
    pub id: u16,
}

impl Name {
    /// `text` must be at most 15 bytes of ASCII without quotes or backslashes.
    pub const fn new(text: &'static str, id: u16) -> Self {
        let (mut low, mut high, mut at) = (0u64, 0u64, 0);
        let mut rest = text.as_bytes();
        while let [byte, tail @ ..] = rest {
            if at < 8 {
                low |= (*byte as u64) << (8 * at);
            } else if at < 16 {
                high |= (*byte as u64) << (8 * (at - 8));
            }
            at += 1;
            rest = tail;
        }
        let low_mask = if at >= 8 { u64::MAX } else { (1u64 << (8 * at)) - 1 };
        let high_mask = if at <= 8 {
            0
        } else if at >= 16 {
            u64::MAX
        } else {
            (1u64 << (8 * (at - 8))) - 1
        };
        Self { text, packed: [low, high], mask: [low_mask, high_mask], id }
    }
}

/// An object member's name: one the caller listed, or any other.
pub enum Key<'a> {
    /// The [`Name::id`] of a listed name.
    Known(u16),
    /// A name the caller did not list.
    Other(Cow<'a, str>),
}

/// A position in the keys file and the means to read the next value there.
pub struct Reader<'a> {
    text: &'a str,
    pos: usize,
    /// Why reading stopped; kept here so that every read returns a
    /// `Result<_, Stop>`, which the guest passes in a register where a
    /// `Result<_, Stop>` would go through memory at every `?`.
    failure: Option<FileError>,
}

/// Reading stopped; [`Reader::failure`] says why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stop;

/// Bytes that end the plain run of a string: the closing quote, an escape,
/// or a control character (which JSON forbids raw).
fn special(b: u8) -> bool {
    b == b'"' || b == b'\\' || b < 0x20
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Offset of the first `special` byte, eight bytes at a time (SWAR). Strings
/// are most of the file, and a byte-at-a-time loop costs the guest some 25
/// wasm instructions (and as much fuel) per byte; this costs about 4.
fn plain_run(bytes: &[u8]) -> Option<usize> {
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else { break };
        let w = u64::from_le_bytes(word);
        let quote = w ^ (LO * u64::from(b'"'));
        let backslash = w ^ (LO * u64::from(b'\\'));
        // A lane is flagged when it is zero after the xor (a quote or a
        // backslash) or below 0x20. The lowest flagged lane is exact: a
        // borrow can only flag lanes above a lane that is itself flagged.
        let zero = |x: u64| x.wrapping_sub(LO) & !x;
        let hit = (zero(quote) | zero(backslash) | (w.wrapping_sub(LO * 0x20) & !w)) & HI;
        if hit != 0 {
            return Some(offset + (hit.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks.remainder().iter().position(|&b| special(b)).map(|i| offset + i)
}

/// How many ASCII digits `bytes` starts with, eight at a time (SWAR).
fn digit_run(bytes: &[u8]) -> usize {
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else { break };
        // A lane is a digit when its xor with '0' is below 10. Setting the top
        // bit before subtracting keeps each lane's borrow to itself.
        let x = u64::from_le_bytes(word) ^ (LO * u64::from(b'0'));
        let other = ((x | HI).wrapping_sub(LO * 10) | x) & HI;
        if other != 0 {
            return offset + (other.trailing_zeros() / 8) as usize;
        }
        offset += 8;
    }
    offset + chunks.remainder().iter().take_while(|b| b.is_ascii_digit()).count()
}

/// Line and column (1-based, in bytes) are computed only on failure.
fn error_at(bytes: &[u8], pos: usize, kind: JsonProblem) -> FileError {
    let before = bytes.get(..pos).unwrap_or(bytes);
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    FileError::Json { line, column: 1 + pos.saturating_sub(line_start), kind }
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`, which must be UTF-8.
    pub fn new(bytes: &'a [u8]) -> Result<Self, FileError> {
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(Self { text, pos: 0, failure: None }),
            Err(err) => Err(error_at(bytes, err.valid_up_to(), JsonProblem::Syntax)),
        }
    }

    /// A reader at byte `pos` of text a previous reader accepted as UTF-8.
    pub fn at(text: &'a str, pos: usize) -> Self {
        Self { text, pos, failure: None }
    }

    /// Records why reading stops (the first reason wins).
    pub fn fail(&mut self, failure: FileError) -> Stop {
        self.failure.get_or_insert(failure);
        Stop
    }

    /// Why reading stopped, once a read returned [`Stop`].
    pub fn failure(&mut self) -> FileError {
        let fallback = self.error(JsonProblem::Syntax);
        self.failure.take().unwrap_or(fallback)
    }

    /// Stops with an error of `kind` at the current position.
    pub fn stop(&mut self, kind: JsonProblem) -> Stop {
        self.fail(self.error(kind))
    }

    /// The whole input.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The current byte offset.
    pub fn pos(&self) -> usize {
        self.pos
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    /// Skips JSON whitespace.
    pub fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// An error of `kind` at the current position.
    pub fn error(&self, kind: JsonProblem) -> FileError {
        error_at(self.bytes(), self.pos, kind)
    }

    /// An error of `kind`, or `Truncated` when the input ran out here.
    fn unexpected(&mut self, kind: JsonProblem) -> Stop {
        self.stop(if self.pos >= self.bytes().len() { JsonProblem::Truncated } else { kind })
    }

    /// A value of another type than expected is a shape problem; anything
    /// that starts no value at all is a syntax problem.
    fn wrong_type(&mut self) -> Stop {
        match self.peek() {
            Some(b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => self.stop(JsonProblem::Shape),
            _ => self.unexpected(JsonProblem::Syntax),
        }
    }

    /// Only whitespace may follow the top-level value.
    pub fn end(&mut self) -> Result<(), Stop> {
        self.ws();
        if self.pos == self.bytes().len() { Ok(()) } else { Err(self.stop(JsonProblem::Syntax)) }
    }

    /// Consumes the `open` bracket of an object or array (another value is a
    /// type error) and, if `close` follows at once, that too: `true` when the
    /// container is empty.
    fn open(&mut self, open: u8, close: u8) -> Result<bool, Stop> {
        self.ws();
        if self.peek() != Some(open) {
            return Err(self.wrong_type());
        }
        self.pos += 1;
        self.ws();
        let empty = self.peek() == Some(close);
        if empty {
            self.pos += 1;
        }
        Ok(empty)
    }

    /// Reads an object, calling `member` with each key; `member` must read
    /// the value.
    pub fn object(&mut self, names: &[Name], mut member: impl FnMut(&mut Self, Key<'a>) -> Result<(), Stop>) -> Result<(), Stop> {
        if self.open(b'{', b'}')? {
            return Ok(());
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.unexpected(JsonProblem::Syntax));
            }
            self.pos += 1;
            let key = match self.listed_name(names) {
                Some(id) => Key::Known(id),
                None => {
                    // Escapes may spell a listed name too (`"sub\u006aect"`).
                    let text = self.string_body()?;
                    names.iter().find(|n| n.text == text).map_or(Key::Other(text), |n| Key::Known(n.id))
                }
            };
            self.ws();
            if self.peek() != Some(b':') {
                return Err(self.unexpected(JsonProblem::Syntax));
            }
            self.pos += 1;
            member(self, key)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.unexpected(JsonProblem::Syntax)),
            }
        }
    }

    /// The fast path for a member name just after its opening quote: a
    /// listed name followed by the closing quote is exactly that string.
    fn listed_name(&mut self, names: &[Name]) -> Option<u16> {
        let rest = self.bytes().get(self.pos..)?;
        let [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p] = *rest.first_chunk::<16>()?;
        let low = u64::from_le_bytes([a, b, c, d, e, f, g, h]);
        let high = u64::from_le_bytes([i, j, k, l, m, n, o, p]);
        let name = names
            .iter()
            .find(|name| low & name.mask[0] == name.packed[0] && high & name.mask[1] == name.packed[1] && rest.get(name.text.len()) == Some(&b'"'))?;
        self.pos += name.text.len() + 1;
        Some(name.id)
    }

    /// Reads a string that should be a SHA-256 in hex; `None` if it is not.
    /// The common case (64 digits, no escapes) is decoded in place.
    pub fn hex_string(&mut self) -> Result<Option<[u8; 32]>, Stop> {
        self.ws();
        let quoted = self.bytes().get(self.pos..).and_then(|rest| rest.first_chunk::<66>());
        if let Some([b'"', digits @ .., b'"']) = quoted
            && let Some(hash) = rules::decode_hex_bytes(digits)
        {
            self.pos += 66;
            return Ok(Some(hash));
        }
        Ok(rules::decode_hex(&self.string()?))
    }

    /// Reads an array, calling `item` once per element; `item` must read it.
    pub fn array(&mut self, mut item: impl FnMut(&mut Self) -> Result<(), Stop>) -> Result<(), Stop> {
        if self.open(b'[', b']')? {
            return Ok(());
        }
        loop {
            item(self)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.unexpected(JsonProblem::Syntax)),
            }
        }
    }

    /// Reads a string value, borrowed unless it holds escapes.
    pub fn string(&mut self) -> Result<Cow<'a, str>, Stop> {
        self.ws();
        if self.peek() != Some(b'"') {
            return Err(self.wrong_type());
        }
        self.pos += 1;
        self.string_body()
    }

    /// The rest of a string whose opening quote was read.
    fn string_body(&mut self) -> Result<Cow<'a, str>, Stop> {
        let start = self.pos;
        let rest = self.bytes().get(start..).unwrap_or_default();
        let Some(run) = plain_run(rest) else {
            self.pos = self.bytes().len();
            return Err(self.unexpected(JsonProblem::Syntax));
        };
        self.pos = start + run;
        match self.peek() {
            Some(b'"') => {
                // Both ends are ASCII quotes, so the slice is on char boundaries.
                let Some(text) = self.text.get(start..self.pos) else { return Err(self.stop(JsonProblem::Syntax)) };
                self.pos += 1;
                Ok(Cow::Borrowed(text))
            }
            Some(b'\\') => self.escaped(start).map(Cow::Owned),
            _ => Err(self.stop(JsonProblem::Syntax)),
        }
    }

    /// The slow path: a string with escapes, decoded into a new `String`.
    fn escaped(&mut self, start: usize) -> Result<String, Stop> {
        let mut out = String::from(self.text.get(start..self.pos).unwrap_or_default());
        loop {
            match self.peek() {
                None => return Err(self.unexpected(JsonProblem::Syntax)),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    out.push(self.escape()?);
                }
                Some(b) if b < 0x20 => return Err(self.stop(JsonProblem::Syntax)),
                Some(_) => {
                    let from = self.pos;
                    let rest = self.bytes().get(from..).unwrap_or_default();
                    self.pos = from + plain_run(rest).unwrap_or(rest.len());
                    let Some(run) = self.text.get(from..self.pos) else { return Err(self.stop(JsonProblem::Syntax)) };
                    out.push_str(run);
                }
            }
        }
    }

    /// One escape after its backslash; a `\u` surrogate must come in a pair.
    fn escape(&mut self) -> Result<char, Stop> {
        let Some(kind) = self.peek() else { return Err(self.unexpected(JsonProblem::Syntax)) };
        self.pos += 1;
        let simple = match kind {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => return self.unicode_escape(),
            _ => {
                self.pos -= 1;
                return Err(self.stop(JsonProblem::Syntax));
            }
        };
        Ok(simple)
    }

    fn unicode_escape(&mut self) -> Result<char, Stop> {
        let high = self.hex4()?;
        let code = match high {
            0xD800..=0xDBFF => {
                if self.bytes().get(self.pos..self.pos + 2) != Some(b"\\u") {
                    return Err(self.unexpected(JsonProblem::Syntax));
                }
                self.pos += 2;
                let low = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err(self.stop(JsonProblem::Syntax));
                }
                0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.stop(JsonProblem::Syntax)),
            other => other,
        };
        char::from_u32(code).ok_or_else(|| self.stop(JsonProblem::Syntax))
    }

    fn hex4(&mut self) -> Result<u32, Stop> {
        let mut value = 0u32;
        for _ in 0..4 {
            let Some(digit) = self.peek().and_then(|b| char::from(b).to_digit(16)) else { return Err(self.unexpected(JsonProblem::Syntax)) };
            value = (value << 4) | digit;
            self.pos += 1;
        }
        Ok(value)
    }

    /// Reads a non-negative integer that fits in a `u64`. Fractions,
    /// exponents and negative numbers are JSON numbers but not such integers.
    pub fn u64(&mut self) -> Result<u64, Stop> {
        let digits = self.integer()?;
        // Checked arithmetic on u64 is a 128-bit library call on wasm32;
        // `integer` already ruled out overflow.
        Ok(digits.iter().fold(0u64, |value, d| value.wrapping_mul(10).wrapping_add(u64::from(d.wrapping_sub(b'0')))))
    }

    /// Checks an integer as [`Reader::u64`] does, without computing it.
    pub fn skip_u64(&mut self) -> Result<(), Stop> {
        self.integer().map(drop)
    }

    /// The digits of an integer that fits in a `u64`.
    fn integer(&mut self) -> Result<&'a [u8], Stop> {
        const MAX: &[u8] = b"18446744073709551615";
        self.ws();
        let start = self.pos;
        let rest = self.bytes().get(start..).unwrap_or_default();
        let len = digit_run(rest);
        let Some(digits) = rest.get(..len).filter(|d| !d.is_empty()) else { return Err(self.wrong_type()) };
        self.pos += len;
        if len > 1 && digits.first() == Some(&b'0') {
            return Err(self.fail(error_at(self.bytes(), start, JsonProblem::Syntax)));
        }
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return Err(self.stop(JsonProblem::Shape));
        }
        // Equal lengths compare as numbers when compared as text.
        if len > MAX.len() || (len == MAX.len() && digits > MAX) {
            return Err(self.fail(error_at(self.bytes(), start, JsonProblem::Shape)));
        }
        Ok(digits)
    }

    /// Reads `true` or `false`.
    pub fn bool(&mut self) -> Result<bool, Stop> {
        self.ws();
        let rest = self.bytes().get(self.pos..).unwrap_or_default();
        if rest.starts_with(b"true") {
            self.pos += 4;
            Ok(true)
        } else if rest.starts_with(b"false") {
            self.pos += 5;
            Ok(false)
        } else {
            Err(self.wrong_type())
        }
    }

    /// Reads `null` if it comes next; an optional field may hold it.
    pub fn null(&mut self) -> bool {
        self.ws();
        let found = self.bytes().get(self.pos..).is_some_and(|rest| rest.starts_with(b"null"));
        if found {
            self.pos += 4;
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_run_matches_a_byte_loop() {
        for len in [0usize, 1, 7, 8, 9, 16, 17] {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut bytes = vec![b'7'; len];
                    bytes[at] = b;
                    assert_eq!(digit_run(&bytes), bytes.iter().take_while(|c| c.is_ascii_digit()).count(), "{bytes:?}");
                }
            }
        }
    }

    #[test]
    fn integers() {
        let read = |text: &str| Reader::new(text.as_bytes()).ok().and_then(|mut r| r.u64().ok());
        assert_eq!(read("0"), Some(0));
        assert_eq!(read(" 1763856000000,"), Some(1_763_856_000_000));
        assert_eq!(read("18446744073709551615"), Some(u64::MAX));
        assert!(read("18446744073709551616").is_none());
        assert!(read("99999999999999999999").is_none());
        assert!(read("123456789012345678901").is_none());
        assert!(read("01").is_none());
        assert!(read("1.0").is_none());
        assert!(read("1e3").is_none());
        assert!(read("-1").is_none());
        assert!(read("").is_none());
    }

    /// Every byte value at every position of a 24-byte run (three words and
    /// a remainder): the SWAR scan finds what a plain loop finds.
    #[test]
    fn plain_run_matches_a_byte_loop() {
        for len in [0usize, 1, 7, 8, 9, 23, 24] {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    // A special byte just after the first one must not hide it.
                    if at + 1 < len {
                        bytes[at + 1] = b'"';
                    }
                    assert_eq!(plain_run(&bytes), bytes.iter().position(|&c| special(c)), "{bytes:?}");
                }
            }
        }
    }
}
