//! The keys file: `{"version":1,"keys":[{"sha256":…,"subject":…,"type":…}]}`.
//!
//! One reader for both sides: ward reads the file when it indexes key
//! material of `format: api-keys` (the plugin then reads one entry's
//! [`record`]), and `ward apikey` refuses to write a file this reader would
//! refuse.
//!
//! The reading is strict so that a damaged or hand-edited file fails closed:
//! invalid JSON, unknown, repeated or missing fields, a second entry for the
//! same hash, and any field the host's claims sanitizer would reject all
//! refuse the whole file. Errors name a line and column or a JSON pointer,
//! never file content, because the content may be a key pasted by mistake.
//!
//! [`scan`] checks every entry but keeps only its hash and where it starts,
//! and [`Scanned::entry`] reads one entry again, this time keeping its
//! fields.

mod json;
pub mod record;
mod rules;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::fmt;

use json::{Key, Name, Reader, Stop};
pub use rules::{check_label_key, decode_hex, encode_hex};

/// The only format version this reader accepts.
pub const FORMAT_VERSION: u64 = 1;

/// What kind of caller a key belongs to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Principal {
    /// A person.
    #[default]
    User,
    /// A machine or workload.
    Service,
    /// An automated agent acting for someone.
    Agent,
}

/// One key's record. The key itself is not here, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// SHA-256 of the key's UTF-8 bytes, prefix included.
    pub sha256: [u8; 32],
    /// The caller the key belongs to.
    pub subject: String,
    /// What kind of caller.
    pub principal: Principal,
    /// Scopes granted to the key.
    pub scopes: Vec<String>,
    /// Labels passed on with the identity.
    pub labels: Vec<(String, String)>,
    /// A revoked key is refused as `revoked`, not as unknown.
    pub revoked: bool,
    /// Unix milliseconds from which the key is refused as `expired`.
    pub expires_ms: Option<u64>,
}

/// A keys file that passed every check, every entry read whole.
// `ward apikey` reads files whole; the plugin reads one entry of a scan.
#[allow(dead_code)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFile {
    /// Entries in file order; no two share a hash.
    pub entries: Vec<Entry>,
}

/// What [`scan`] keeps of an entry: enough to find it and to read it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The entry's `sha256`.
    pub sha256: [u8; 32],
    /// Its position in `keys`.
    pub index: usize,
    /// Byte offset of its `{`.
    at: usize,
}

/// A keys file that passed every check, entries kept as [`Summary`]s.
pub struct Scanned<'a> {
    text: &'a str,
    /// One summary per entry, in file order; no two share a hash.
    pub entries: Vec<Summary>,
}

/// Why a keys file was refused. Positions only, never content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileError {
    /// Not JSON, or JSON of the wrong shape (unknown, repeated, missing or
    /// mistyped field).
    Json {
        /// 1-based line of the problem.
        line: usize,
        /// 1-based byte column of the problem.
        column: usize,
        /// What kind of problem.
        kind: JsonProblem,
    },
    /// `version` is not [`FORMAT_VERSION`].
    Version {
        /// The version the file declares.
        found: u64,
    },
    /// A field breaks a rule.
    Field {
        /// Where: a JSON pointer such as `/keys/3/sha256`, or for a label,
        /// `/keys/3/labels (label 2)`, since a label's key may be anything.
        pointer: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// Two entries have the same hash.
    Duplicate {
        /// Index of the later entry.
        index: usize,
        /// Index of the earlier one.
        first: usize,
    },
}

/// The kinds of JSON-level failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonProblem {
    /// Not valid JSON.
    Syntax,
    /// Valid JSON so far, but not a keys file.
    Shape,
    /// The file ends early.
    Truncated,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json { line, column, kind } => {
                let what = match kind {
                    JsonProblem::Syntax => "not valid JSON",
                    JsonProblem::Shape => "not a keys file (a field is unknown, repeated, missing or of the wrong type)",
                    JsonProblem::Truncated => "the file ends early",
                };
                write!(f, "line {line} column {column}: {what}")
            }
            Self::Version { found } => write!(f, "/version: format version {found} is not supported (expected {FORMAT_VERSION})"),
            Self::Field { pointer, rule } => write!(f, "{pointer}: {rule}"),
            Self::Duplicate { index, first } => write!(f, "/keys/{index}/sha256: the same hash as /keys/{first}/sha256"),
        }
    }
}

/// Checks a whole keys file, keeping a [`Summary`] per entry.
pub fn scan(bytes: &[u8]) -> Result<Scanned<'_>, FileError> {
    let mut entries = Vec::new();
    let text = read_all(bytes, |parts, index, at| entries.push(Summary { sha256: parts.sha256, index, at }))?;
    refuse_duplicates(&entries)?;
    Ok(Scanned { text, entries })
}

/// Checks a whole keys file in one pass, handing each entry, as read, to
/// `each`, and returns how many there were. Unlike [`scan`] it keeps
/// nothing, so it does **not** refuse two entries with the same hash: the
/// caller must (the host's key index refuses a second insert of one id).
/// An error may come after some entries were handed over: discard them.
pub fn visit(bytes: &[u8], mut each: impl FnMut(&EntryRef<'_, '_>)) -> Result<usize, FileError> {
    let mut count = 0;
    read_all(bytes, |parts, _, _| {
        each(&EntryRef { parts });
        count += 1;
    })?;
    Ok(count)
}

/// Reads the whole file, calling `each` with every entry's parts, its index
/// and where it starts; returns the checked text.
fn read_all<'a>(bytes: &'a [u8], mut each: impl FnMut(&Parts<'a>, usize, usize)) -> Result<&'a str, FileError> {
    let mut reader = Reader::new(bytes)?;
    let mut version = false;
    let mut keys = false;
    let mut count = 0;
    let mut parts = Parts::default();
    let read = reader.object(&TOP, |r, key| match key {
        Key::Known(VERSION) if !version => {
            version = true;
            let found = r.u64()?;
            if found == FORMAT_VERSION { Ok(()) } else { Err(r.fail(FileError::Version { found })) }
        }
        Key::Known(KEYS) if !keys => {
            keys = true;
            r.array(|r| {
                r.ws();
                let at = r.pos();
                read_entry(r, count, &mut parts, REQUIRED)?;
                each(&parts, count, at);
                count += 1;
                Ok(())
            })
        }
        _ => Err(r.stop(JsonProblem::Shape)),
    });
    if read.and_then(|()| reader.end()).is_err() {
        return Err(reader.failure());
    }
    if !(version && keys) {
        return Err(reader.error(JsonProblem::Shape));
    }
    Ok(reader.text())
}

/// One entry as [`visit`] reads it, borrowed from the file: every field
/// already checked.
pub struct EntryRef<'p, 'a> {
    parts: &'p Parts<'a>,
}

impl EntryRef<'_, '_> {
    /// SHA-256 of the key.
    pub fn sha256(&self) -> &[u8; 32] {
        &self.parts.sha256
    }
    /// The caller the key belongs to.
    pub fn subject(&self) -> &str {
        &self.parts.subject
    }
    /// What kind of caller.
    pub fn principal(&self) -> Principal {
        self.parts.principal
    }
    /// Scopes granted to the key.
    pub fn scopes(&self) -> impl ExactSizeIterator<Item = &str> {
        self.parts.scopes.iter().map(|scope| scope.as_ref())
    }
    /// Labels passed on with the identity.
    pub fn labels(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.parts.labels.iter().map(|(key, value)| (key.as_ref(), value.as_ref()))
    }
    /// Whether the key is revoked.
    pub fn revoked(&self) -> bool {
        self.parts.revoked
    }
    /// When the key expires, in Unix milliseconds.
    pub fn expires_ms(&self) -> Option<u64> {
        self.parts.expires_ms
    }
}

impl Scanned<'_> {
    /// Reads one entry whole.
    pub fn entry(&self, summary: &Summary) -> Result<Entry, FileError> {
        let mut parts = Parts::default();
        let mut reader = Reader::at(self.text, summary.at);
        match read_entry(&mut reader, summary.index, &mut parts, REQUIRED) {
            Ok(()) => Ok(parts.into_entry()),
            Err(Stop) => Err(reader.failure()),
        }
    }
}

/// Checks a whole keys file and reads every entry whole.
#[allow(dead_code)]
pub fn parse(bytes: &[u8]) -> Result<KeyFile, FileError> {
    let scanned = scan(bytes)?;
    let entries = scanned.entries.iter().map(|s| scanned.entry(s)).collect::<Result<_, _>>()?;
    Ok(KeyFile { entries })
}

// One bit per entry field, to refuse a repeated one.
const SHA256: u16 = 1;
const SUBJECT: u16 = 1 << 1;
const TYPE: u16 = 1 << 2;
const SCOPES: u16 = 1 << 3;
const LABELS: u16 = 1 << 4;
const REVOKED: u16 = 1 << 5;
const EXPIRES_MS: u16 = 1 << 6;
const CREATED_MS: u16 = 1 << 7;
const NOTE: u16 = 1 << 8;
const REQUIRED: u16 = SHA256 | SUBJECT | TYPE;

const VERSION: u16 = 1;
const KEYS: u16 = 2;
const TOP: [Name; 2] = [Name::new("version", VERSION), Name::new("keys", KEYS)];

// In the order `ward apikey` writes them: the fast path tries them in turn.
const FIELDS: [Name; 9] = [
    Name::new("sha256", SHA256),
    Name::new("subject", SUBJECT),
    Name::new("type", TYPE),
    Name::new("scopes", SCOPES),
    Name::new("labels", LABELS),
    Name::new("createdMs", CREATED_MS),
    Name::new("revoked", REVOKED),
    Name::new("expiresMs", EXPIRES_MS),
    Name::new("note", NOTE),
];

/// An entry as read, borrowing from the file. [`scan`] reuses one for every
/// entry, so its lists allocate once, not once per entry.
#[derive(Default)]
struct Parts<'a> {
    seen: u16,
    sha256: [u8; 32],
    subject: Cow<'a, str>,
    principal: Principal,
    scopes: Vec<Cow<'a, str>>,
    labels: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    revoked: bool,
    expires_ms: Option<u64>,
}

impl Parts<'_> {
    fn into_entry(self) -> Entry {
        Entry {
            sha256: self.sha256,
            subject: self.subject.into_owned(),
            principal: self.principal,
            scopes: self.scopes.into_iter().map(Cow::into_owned).collect(),
            labels: self.labels.into_iter().map(|(k, v)| (k.into_owned(), v.into_owned())).collect(),
            revoked: self.revoked,
            expires_ms: self.expires_ms,
        }
    }
}

/// Reads and checks the entry object at the reader's position into `parts`;
/// every field in `required` must be there.
// `createdMs` and `note` are for people and `ward apikey`: checked, not kept.
fn read_entry<'a>(reader: &mut Reader<'a>, index: usize, parts: &mut Parts<'a>, required: u16) -> Result<(), Stop> {
    parts.seen = 0;
    parts.scopes.clear();
    parts.labels.clear();
    parts.revoked = false;
    parts.expires_ms = None;
    let field = |name: &str, rule: &'static str| FileError::Field { pointer: format!("/keys/{index}/{name}"), rule };
    reader.object(&FIELDS, |r, key| {
        let Key::Known(bit) = key else { return Err(r.stop(JsonProblem::Shape)) };
        if parts.seen & bit != 0 {
            return Err(r.stop(JsonProblem::Shape));
        }
        parts.seen |= bit;
        match bit {
            SHA256 => match r.hex_string()? {
                Some(hash) => parts.sha256 = hash,
                None => return Err(r.fail(field("sha256", rules::HEX_RULE))),
            },
            SUBJECT => {
                let subject = r.string()?;
                if let Err(rule) = rules::check_subject(&subject) {
                    return Err(r.fail(field("subject", rule)));
                }
                parts.subject = subject;
            }
            TYPE => {
                parts.principal = match r.string()?.as_ref() {
                    "user" => Principal::User,
                    "service" => Principal::Service,
                    "agent" => Principal::Agent,
                    _ => return Err(r.fail(field("type", "must be user, service or agent"))),
                }
            }
            SCOPES => r.array(|r| {
                let scope = r.string()?;
                let i = parts.scopes.len();
                if i >= rules::MAX_SCOPES {
                    return Err(r.fail(field("scopes", "more than 64 scopes")));
                }
                if let Err(rule) = rules::check_scope(&scope) {
                    return Err(r.fail(field(&format!("scopes/{i}"), rule)));
                }
                parts.scopes.push(scope);
                Ok(())
            })?,
            LABELS => r.object(&[], |r, name| {
                let Key::Other(name) = name else { return Err(r.stop(JsonProblem::Shape)) };
                let i = parts.labels.len();
                let label = |rule| field(&format!("labels (label {i})"), rule);
                let value = r.string()?;
                if i >= rules::MAX_LABELS {
                    return Err(r.fail(field("labels", "more than 32 labels")));
                }
                let repeated = parts.labels.iter().any(|(earlier, _)| *earlier == name);
                let checked = rules::check_label_key(&name)
                    .and(if repeated { Err("repeats a label key") } else { Ok(()) })
                    .and(rules::check_text(&value, rules::MAX_LABEL_VALUE_BYTES));
                if let Err(rule) = checked {
                    return Err(r.fail(label(rule)));
                }
                parts.labels.push((name, value));
                Ok(())
            })?,
            REVOKED => parts.revoked = r.bool()?,
            EXPIRES_MS => parts.expires_ms = if r.null() { None } else { Some(r.u64()?) },
            CREATED_MS => {
                if !r.null() {
                    r.skip_u64()?;
                }
            }
            _ => {
                if !r.null()
                    && let Err(rule) = rules::check_text(&r.string()?, rules::MAX_NOTE_BYTES)
                {
                    return Err(r.fail(field("note", rule)));
                }
            }
        }
        Ok(())
    })?;
    if parts.seen & required != required {
        return Err(reader.stop(JsonProblem::Shape));
    }
    Ok(())
}

/// Open addressing on each hash's leading 8 bytes: SHA-256 output is
/// uniform, so a table twice the size of the file costs about one probe per
/// entry on every call, where sorting cost some log2(n) comparisons. (A file
/// of hand-made "hashes" sharing their low bits only makes this slower.)
fn refuse_duplicates(entries: &[Summary]) -> Result<(), FileError> {
    let size = entries.len().saturating_mul(2).next_power_of_two().max(16);
    let mask = size - 1;
    // Entry index + 1; 0 marks a free slot.
    let mut slots = vec![0usize; size];
    for (index, entry) in entries.iter().enumerate() {
        let [a, b, c, d, e, f, g, h, ..] = entry.sha256;
        let mut slot = (u64::from_le_bytes([a, b, c, d, e, f, g, h]) as usize) & mask;
        loop {
            // `slot` is masked to the table size, so `get_mut` always finds
            // it; if it did not, refusing the file keeps this closed.
            let Some(taken) = slots.get_mut(slot) else { return Err(FileError::Duplicate { index, first: index }) };
            if *taken == 0 {
                *taken = index + 1;
                break;
            }
            let first = *taken - 1;
            if entries.get(first).is_some_and(|other| other.sha256 == entry.sha256) {
                return Err(FileError::Duplicate { index, first });
            }
            slot = (slot + 1) & mask;
        }
    }
    Ok(())
}
