//! Reading the whole chain back out of Redis, as untrusted input: for
//! `ward audit verify --redis` and `ward audit export --redis`.
//!
//! Entries are read in id order, a page at a time. When the stream ends
//! the head is read; if it names a later record (writers appended while we
//! read) reading goes on, so a live fleet can be checked. The verdict then
//! compares the head with the last record: a head behind it, beside it or
//! ahead of it (a cut tail) is a break.

use std::collections::VecDeque;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use redis::{Connection, Value};

use super::head;
use super::target::RedisTarget;
use crate::audit::chain::Mac;
use crate::audit::chainer::Head;
use crate::audit::key::AuditKey;
use crate::audit::verify::{Break, BreakKind, Entry, Line, Source, Verdict, VerifyError, verify_source};

/// Entries fetched per `XRANGE`.
const PAGE: usize = 1000;
/// How many times the reader follows a head that moved on while it read.
const MAX_FOLLOW: u32 = 64;

/// The `(id, line)` pairs of an `XRANGE`/`XREVRANGE` reply whose entries
/// each have exactly the one field `r`; `None` for any other shape.
pub(super) fn entries(value: Value) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    let Value::Array(items) = value else { return None };
    items
        .into_iter()
        .map(|item| {
            let Value::Array(pair) = item else { return None };
            let mut pair = pair.into_iter();
            let (Some(Value::BulkString(id)), Some(Value::Array(fields)), None) = (pair.next(), pair.next(), pair.next()) else {
                return None;
            };
            let mut fields = fields.into_iter();
            match (fields.next(), fields.next(), fields.next()) {
                (Some(Value::BulkString(name)), Some(Value::BulkString(line)), None) if name == b"r" => Some((id, line)),
                _ => None,
            }
        })
        .collect()
}

/// The seq part of an entry id `<seq>-1`.
fn id_seq(id: &[u8]) -> Option<u64> {
    std::str::from_utf8(id).ok()?.strip_suffix("-1")?.parse().ok()
}

/// The chain's entries in order, following the head; a `Source` for the verifier.
pub struct ChainReader {
    target: RedisTarget,
    conn: Connection,
    /// Exclusive start of the next page (`-` before the first).
    after: Option<Vec<u8>>,
    page: VecDeque<(Vec<u8>, Vec<u8>)>,
    read: u64,
    last_id_seq: Option<u64>,
    follows: u32,
    /// The head as read when the stream ended: `Some(None)` for no head key,
    /// `Some(Some(..))` for one; `Err` when its value is not one ward writes.
    end_head: Option<Result<Option<Head>, ()>>,
}

impl ChainReader {
    /// Connects to `target`.
    pub fn open(target: &RedisTarget) -> Result<Self, VerifyError> {
        let conn = target.connect().map_err(|e| VerifyError { path: target.label().to_owned(), reason: e.to_string() })?;
        Ok(Self { target: target.clone(), conn, after: None, page: VecDeque::new(), read: 0, last_id_seq: None, follows: 0, end_head: None })
    }

    fn fail(&self, reason: &str) -> VerifyError {
        VerifyError { path: self.target.label().to_owned(), reason: reason.to_owned() }
    }

    fn query(&mut self, cmd: &redis::Cmd) -> Result<Value, VerifyError> {
        cmd.query(&mut self.conn).map_err(|e| self.fail(e.category()))
    }

    /// The next entry's line, or `None` at the end of the chain.
    pub fn next_line(&mut self) -> Result<Option<Vec<u8>>, VerifyError> {
        loop {
            if let Some((id, line)) = self.page.pop_front() {
                self.read += 1;
                self.last_id_seq = id_seq(&id);
                self.after = Some(id);
                return Ok(Some(line));
            }
            if self.end_head.is_some() {
                return Ok(None);
            }
            let mut cmd = redis::cmd("XRANGE");
            cmd.arg(self.target.key());
            match &self.after {
                Some(id) => cmd.arg([b"(".as_slice(), id].concat()),
                None => cmd.arg("-"),
            };
            cmd.arg("+").arg("COUNT").arg(PAGE);
            let value = self.query(&cmd)?;
            let page = entries(value).ok_or_else(|| self.fail("the stream holds entries ward does not write"))?;
            if !page.is_empty() {
                self.page.extend(page);
                continue;
            }
            let value = self.query(redis::cmd("GET").arg(self.target.head_key()))?;
            let head = match value {
                Value::Nil => Ok(None),
                Value::BulkString(bytes) => head::parse(&bytes).map(Some).ok_or(()),
                _ => Err(()),
            };
            let ahead = matches!(head, Ok(Some(h)) if self.last_id_seq.is_none_or(|last| h.seq > last));
            if ahead && self.follows < MAX_FOLLOW {
                // Writers appended after the page was read: read on.
                self.follows += 1;
                continue;
            }
            self.end_head = Some(head);
        }
    }

    /// The head read when the chain ended (after [`ChainReader::next_line`] gave `None`).
    fn end_head(&self) -> Option<Result<Option<Head>, ()>> {
        self.end_head
    }
}

impl Source for ChainReader {
    fn next_entry(&mut self) -> Result<Option<Entry>, VerifyError> {
        Ok(self.next_line()?.map(|line| Entry { file: 0, line: self.read, body: Line::of(&line) }))
    }

    fn last(&self) -> Option<(usize, u64)> {
        (self.read > 0).then_some((0, self.read))
    }
}

/// `ward audit verify --redis`: the chain from `seq` 0 to the end, then the
/// head against the last record. Breaks name the store's label as their
/// file and the entry's position (1-based) as their line.
pub fn verify_chain(key: &AuditKey, target: &RedisTarget) -> Result<Verdict, VerifyError> {
    let mut reader = ChainReader::open(target)?;
    let names = [PathBuf::from(target.label())];
    let (verdict, last_mac) = verify_source(key, &mut reader, &names, None)?;
    let Verdict::Valid { records, last_seq } = verdict else {
        return Ok(verdict);
    };
    let at = |seq, line, why| Verdict::Broken(Break { seq, file: PathBuf::from(target.label()), line, why });
    Ok(match (reader.end_head(), last_seq) {
        (Some(Ok(None)), None) => Verdict::Valid { records, last_seq },
        (Some(Ok(Some(h))), Some(last)) if h.seq == last && h.mac == last_mac => Verdict::Valid { records, last_seq },
        // The head names a record past the last one: the tail was cut.
        (Some(Ok(Some(h))), last) if last.is_none_or(|l| h.seq > l) => at(records, records + 1, BreakKind::Truncated),
        _ => at(records, records, BreakKind::HeadMismatch),
    })
}

/// What `ward audit export --redis` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// Lines written.
    pub records: u64,
    /// The head when the export ended: seq and mac hex, the anchor to
    /// hand to a witness (`None` for an empty chain).
    pub head: Option<(u64, String)>,
    /// The head names the last line written (else: verify --redis says why).
    pub head_matches: bool,
}

/// Writes the chain as JSON Lines to `out` (created, mode 0600, never
/// replaced) for `ward audit verify FILE` to check offline.
pub fn export_chain(target: &RedisTarget, out: &Path) -> Result<Exported, VerifyError> {
    let io = |e: std::io::Error| VerifyError { path: out.display().to_string(), reason: e.kind().to_string() };
    let mut reader = ChainReader::open(target)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(out).map_err(io)?;
    let mut writer = std::io::BufWriter::new(file);
    let mut last: Option<Vec<u8>> = None;
    while let Some(line) = reader.next_line()? {
        writer.write_all(&line).and_then(|()| writer.write_all(b"\n")).map_err(io)?;
        last = Some(line);
    }
    let file = writer.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    let head = match reader.end_head() {
        Some(Ok(head)) => head,
        _ => None,
    };
    let last_head: Option<(u64, Mac)> = last.as_deref().and_then(crate::audit::canonical::parse_line).map(|p| (p.seq, p.mac));
    let head_matches = match (head, last_head) {
        (None, None) => matches!(reader.end_head(), Some(Ok(None))),
        (Some(h), Some((seq, mac))) => h.seq == seq && h.mac == mac,
        _ => false,
    };
    Ok(Exported { records: reader.read, head: head.map(|h| (h.seq, hex::encode(h.mac))), head_matches })
}
