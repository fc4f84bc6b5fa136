//! The chain verifier behind `ward audit verify`. It reads files as untrusted
//! input: lines are capped, nothing panics, and a break is reported by seq,
//! file and line number and a kind, never by the line's content.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::canonical::{self, Parsed};
use super::chain::{Chain, GENESIS, Mac};
use super::key::AuditKey;

/// Lines longer than this are malformed (records are a few hundred bytes).
pub const MAX_LINE_BYTES: usize = 16 * 1024;
/// How many lines after a break are read to tell its kind.
const LOOKAHEAD: usize = 4096;

/// Why the chain broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakKind {
    /// A record's content was changed.
    Modified,
    /// A record that the writer did not write (or a copy of an older one) sits here.
    Inserted,
    /// One or more records are missing here.
    Deleted,
    /// Records are present but out of order.
    Reordered,
    /// The last line is cut off, or the log ends before `--expect-last-seq`.
    Truncated,
    /// A line is not a record at all (not JSON, no mac, too long, binary).
    Malformed,
    /// A store's head does not name the chain's last record (it was moved
    /// back, edited, or removed).
    HeadMismatch,
}

impl BreakKind {
    /// The stable word used in CLI output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Modified => "modified",
            Self::Inserted => "inserted",
            Self::Deleted => "deleted",
            Self::Reordered => "reordered",
            Self::Truncated => "truncated",
            Self::Malformed => "malformed",
            Self::HeadMismatch => "head-mismatch",
        }
    }
}

/// The first broken link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// The first seq whose link does not hold: the chain is intact up to `seq - 1`.
    pub seq: u64,
    /// The file where the break was found.
    pub file: PathBuf,
    /// 1-based line number in that file.
    pub line: u64,
    /// What kind of break it looks like.
    pub why: BreakKind,
}

/// The verifier's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every link holds.
    Valid {
        /// Records checked.
        records: u64,
        /// The last seq, `None` for an empty log.
        last_seq: Option<u64>,
    },
    /// The first break.
    Broken(Break),
}

/// A file could not be read (not a verdict about the chain).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read audit file {path}: {reason}")]
pub struct VerifyError {
    /// The file.
    pub path: String,
    /// The operating system's reason.
    pub reason: String,
}

impl VerifyError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        "audit-verify-io"
    }
}

pub(crate) enum Line {
    Record(Parsed),
    /// Not a record, or too long.
    Malformed,
    /// Ends without a newline.
    Torn,
}

pub(crate) struct Entry {
    pub(crate) file: usize,
    pub(crate) line: u64,
    pub(crate) body: Line,
}

impl Line {
    /// A complete line (without its newline) as the verifier sees it.
    pub(crate) fn of(bytes: &[u8]) -> Self {
        if bytes.len() > MAX_LINE_BYTES {
            return Self::Malformed;
        }
        canonical::parse_line(bytes).map_or(Self::Malformed, Self::Record)
    }
}

/// Where the verifier reads lines from: files, or a store's entries.
pub(crate) trait Source {
    fn next_entry(&mut self) -> Result<Option<Entry>, VerifyError>;
    /// (file index, line number) of the last line read.
    fn last(&self) -> Option<(usize, u64)>;
}

impl Source for Lines<'_> {
    fn next_entry(&mut self) -> Result<Option<Entry>, VerifyError> {
        self.next()
    }

    fn last(&self) -> Option<(usize, u64)> {
        self.last
    }
}

/// Lines of several files in order, each capped at [`MAX_LINE_BYTES`].
struct Lines<'a> {
    files: &'a [PathBuf],
    index: usize,
    reader: Option<BufReader<File>>,
    line: u64,
    buf: Vec<u8>,
    last: Option<(usize, u64)>,
}

impl<'a> Lines<'a> {
    fn new(files: &'a [PathBuf]) -> Self {
        Self { files, index: 0, reader: None, line: 0, buf: Vec::new(), last: None }
    }

    fn next(&mut self) -> Result<Option<Entry>, VerifyError> {
        loop {
            let Some(path) = self.files.get(self.index) else {
                return Ok(None);
            };
            let err = |e: std::io::Error| VerifyError { path: path.display().to_string(), reason: e.kind().to_string() };
            let reader = match &mut self.reader {
                Some(r) => r,
                None => {
                    self.line = 0;
                    self.reader.insert(BufReader::with_capacity(256 * 1024, File::open(path).map_err(err)?))
                }
            };
            let (ended, too_long) = read_line_capped(reader, &mut self.buf).map_err(err)?;
            if self.buf.is_empty() && !ended && !too_long {
                self.reader = None;
                self.index += 1;
                continue;
            }
            self.line += 1;
            self.last = Some((self.index, self.line));
            let body = if too_long {
                Line::Malformed
            } else if !ended {
                Line::Torn
            } else {
                Line::of(&self.buf)
            };
            return Ok(Some(Entry { file: self.index, line: self.line, body }));
        }
    }
}

/// Reads up to a newline, keeping at most `MAX_LINE_BYTES` in `buf`.
/// Returns (found newline, line was too long).
fn read_line_capped(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> std::io::Result<(bool, bool)> {
    buf.clear();
    let mut too_long = false;
    loop {
        let chunk = match reader.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok((false, too_long));
        }
        let (take, found) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let data = chunk.get(..take).unwrap_or(&[]);
        let data = if found { data.get(..take - 1).unwrap_or(&[]) } else { data };
        if buf.len() + data.len() > MAX_LINE_BYTES {
            too_long = true;
        } else if !too_long {
            buf.extend_from_slice(data);
        }
        reader.consume(take);
        if found {
            if too_long {
                buf.clear();
            }
            return Ok((true, too_long));
        }
    }
}

/// Checks the chain across `files`, in the order given (oldest first), from
/// `seq` 0. With `expect_last_seq`, a log whose last seq is lower is `Truncated`.
pub fn verify_files(key: &AuditKey, files: &[PathBuf], expect_last_seq: Option<u64>) -> Result<Verdict, VerifyError> {
    verify_source(key, &mut Lines::new(files), files, expect_last_seq).map(|(verdict, _)| verdict)
}

/// [`verify_files`] over any [`Source`]; `names` name its files in a
/// [`Break`]. Also returns the last record's mac (`GENESIS` when empty).
pub(crate) fn verify_source(key: &AuditKey, lines: &mut dyn Source, files: &[PathBuf], expect_last_seq: Option<u64>) -> Result<(Verdict, Mac), VerifyError> {
    let chain = Chain::new(key);
    let mut prev: Mac = GENESIS;
    let mut expected: u64 = 0;
    while let Some(entry) = lines.next_entry()? {
        let at = |why, seq| Break { seq, file: file_of(files, entry.file), line: entry.line, why };
        let cur = match entry.body {
            Line::Record(p) => p,
            Line::Malformed => return Ok((Verdict::Broken(at(BreakKind::Malformed, expected)), prev)),
            Line::Torn => return Ok((Verdict::Broken(at(BreakKind::Truncated, expected)), prev)),
        };
        if cur.seq == expected && links(&chain, &prev, &cur) {
            prev = cur.mac;
            expected += 1;
            continue;
        }
        let mut ahead = Vec::new();
        while ahead.len() < LOOKAHEAD {
            match lines.next_entry()? {
                Some(Entry { body: Line::Record(p), .. }) => ahead.push(Some(p)),
                Some(_) => ahead.push(None),
                None => break,
            }
        }
        return Ok((Verdict::Broken(at(classify(&chain, &prev, expected, &cur, &ahead), expected)), prev));
    }
    let last_seq = expected.checked_sub(1);
    if let Some(want) = expect_last_seq
        && last_seq.is_none_or(|last| last < want)
    {
        let (file, line) = lines.last().map_or((0, 0), |(f, l)| (f, l));
        return Ok((Verdict::Broken(Break { seq: expected, file: file_of(files, file), line: line + 1, why: BreakKind::Truncated }), prev));
    }
    Ok((Verdict::Valid { records: expected, last_seq }, prev))
}

fn file_of(files: &[PathBuf], index: usize) -> PathBuf {
    files.get(index).cloned().unwrap_or_default()
}

fn links(chain: &Chain, prev: &Mac, p: &Parsed) -> bool {
    p.is_canonical && chain.verify(prev, &p.canonical, &p.mac)
}

/// Tells the kind of a break at `cur` (which does not link to `prev` as seq
/// `expected`) from the records after it.
fn classify(chain: &Chain, prev: &Mac, expected: u64, cur: &Parsed, ahead: &[Option<Parsed>]) -> BreakKind {
    let records = || ahead.iter().flatten();
    // The genuine record `expected` appears later, still linking to `prev`.
    let genuine_later = records().any(|a| a.seq == expected && links(chain, prev, a));
    // `cur` is a genuine record whose predecessor is somewhere ahead.
    let cur_genuine_elsewhere = records().any(|a| cur.seq.checked_sub(1) == Some(a.seq) && links(chain, &a.mac, cur));
    let next = ahead.first().and_then(Option::as_ref);
    // The chain continues from `cur`'s own mac: `cur` kept its place and mac.
    let next_follows_cur = next.is_some_and(|n| links(chain, &cur.mac, n));
    match cur.seq.cmp(&expected) {
        std::cmp::Ordering::Equal => {
            if genuine_later {
                BreakKind::Inserted
            } else {
                BreakKind::Modified
            }
        }
        std::cmp::Ordering::Greater => {
            if genuine_later {
                if cur_genuine_elsewhere { BreakKind::Reordered } else { BreakKind::Inserted }
            } else if next_follows_cur && next.is_some_and(|n| n.seq == expected + 1) {
                // `cur` sits where `expected` belongs and the next record follows it: its seq was edited.
                BreakKind::Modified
            } else {
                BreakKind::Deleted
            }
        }
        std::cmp::Ordering::Less => {
            if next_follows_cur && next.is_some_and(|n| n.seq == expected + 1) {
                BreakKind::Modified
            } else {
                BreakKind::Inserted
            }
        }
    }
}

/// Convenience for one file.
pub fn verify_file(key: &AuditKey, file: &Path) -> Result<Verdict, VerifyError> {
    verify_files(key, &[file.to_path_buf()], None)
}
