//! The core of the chain, shared by every store: records are encoded, given
//! their `seq` and linked by their mac here, on top of a head the store
//! reported. A store never builds or changes a record; it only keeps bytes.

use super::canonical::{self, Encoder};
use super::chain::{self, Chain, GENESIS, Mac};
use super::event::{Event, ReplicaId};
use super::key::AuditKey;

/// The last record of a chain: its `seq` and mac. `None` where a head is
/// optional means the chain is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) seq: u64,
    pub(crate) mac: Mac,
}

impl Head {
    /// The `seq` the record after `head` gets.
    pub(crate) fn next_seq(head: Option<Head>) -> u64 {
        head.map_or(0, |h| h.seq + 1)
    }
}

/// Records chained onto one head, as the lines they are stored as.
#[derive(Default)]
pub(crate) struct Batch {
    /// The lines, each ending in a newline.
    bytes: Vec<u8>,
    /// Where each line ends in `bytes` (after its newline).
    ends: Vec<usize>,
    /// The head the batch was chained onto.
    base: Option<Head>,
    /// The head once the batch is appended.
    last: Option<Head>,
}

impl Batch {
    /// The lines with their newlines, one `write` for a file.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Each record: its `seq` and its line without the newline.
    pub(crate) fn records(&self) -> impl Iterator<Item = (u64, &[u8])> {
        let first = Head::next_seq(self.base);
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(self.ends.iter().copied()).enumerate().map(move |(i, (start, end))| {
            let line = self.bytes.get(start..end.saturating_sub(1)).unwrap_or(&[]);
            (first + i as u64, line)
        })
    }

    /// The head it was chained onto.
    pub(crate) fn base(&self) -> Option<Head> {
        self.base
    }

    /// The head after it; equal to [`Batch::base`] for an empty batch.
    pub(crate) fn last(&self) -> Option<Head> {
        self.last
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub(crate) fn len_bytes(&self) -> usize {
        self.bytes.len()
    }
}

/// Encodes and links records. Holds the keyed HMAC state.
pub(crate) struct Chainer {
    chain: Chain,
    encoder: Encoder,
    canonical: Vec<u8>,
    replica: Option<ReplicaId>,
}

impl Chainer {
    pub(crate) fn new(key: &AuditKey, replica: Option<ReplicaId>) -> Self {
        Self { chain: Chain::new(key), encoder: Encoder::default(), canonical: Vec::with_capacity(512), replica }
    }

    /// A copy of the keyed state, for a store that checks a head it reads.
    pub(crate) fn chain(&self) -> Chain {
        self.chain.clone()
    }

    /// Empties `batch` and makes `base` the head it chains onto.
    pub(crate) fn start(batch: &mut Batch, base: Option<Head>) {
        batch.bytes.clear();
        batch.ends.clear();
        batch.base = base;
        batch.last = base;
    }

    /// Adds one record to `batch`; returns its seq.
    pub(crate) fn push(&mut self, batch: &mut Batch, ts: &str, event: &Event) -> u64 {
        let seq = Head::next_seq(batch.last);
        let prev = batch.last.map_or(GENESIS, |h| h.mac);
        let replica = self.replica.as_ref().map(ReplicaId::as_str);
        self.encoder.encode(seq, ts, event, replica, &mut self.canonical);
        let mac = self.chain.mac(&prev, &self.canonical);
        chain::write_line(&self.canonical, &mac, &mut batch.bytes);
        batch.ends.push(batch.bytes.len());
        batch.last = Some(Head { seq, mac });
        seq
    }
}

/// Why a stored last record cannot be continued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkProblem {
    /// Not a record ward wrote (unparsable or not canonical).
    Corrupt,
    /// It does not link to the record before it under this key.
    KeyMismatch,
}

/// The head a stored last record stands for, checked: it must be a
/// canonical record, and when the record before it is known (`before`:
/// its line, or `GENESIS` for `seq` 0), its mac must link under `chain`.
pub(crate) fn checked_head(chain: &Chain, last: &[u8], before: Option<&[u8]>) -> Result<Head, LinkProblem> {
    let parsed = canonical::parse_line(last).ok_or(LinkProblem::Corrupt)?;
    if !parsed.is_canonical {
        return Err(LinkProblem::Corrupt);
    }
    let prev = match before {
        Some(line) => canonical::parse_line(line).map(|p| p.mac),
        None if parsed.seq == 0 => Some(GENESIS),
        None => None,
    };
    if let Some(prev) = prev
        && !chain.verify(&prev, &parsed.canonical, &parsed.mac)
    {
        return Err(LinkProblem::KeyMismatch);
    }
    Ok(Head { seq: parsed.seq, mac: parsed.mac })
}
