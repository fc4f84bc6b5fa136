//! The core's append loop over a [`Store`]: chain records onto the head the
//! core holds, offer the batch, and on a lost race re-read the (checked)
//! head, chain again and retry with jittered backoff. Two guards keep the
//! chain from forking: a head that does not verify, and a head that went
//! back behind one this writer saw appended, stop every further append.
//! An offer whose answer was lost (the connection dropped) is offered again
//! byte for byte until the store says whether it landed, so the same
//! records never go in twice under different seqs.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::AuditError;
use super::chainer::{Batch, Chainer, Head};
use super::event::Event;
use super::store::{Appended, Store};

/// Lines of one offer are cut at this size (a file's single `write`, a
/// Redis script's arguments).
const MAX_BATCH_BYTES: usize = 256 * 1024;

/// Counters of the append loop, read by `/metrics` (`ward_audit_*`).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) appended: AtomicU64,
    pub(crate) lost_races: AtomicU64,
    pub(crate) store_errors: AtomicU64,
    pub(crate) append_micros: AtomicU64,
    pub(crate) offers: AtomicU64,
    pub(crate) batches: AtomicU64,
    /// Appended and not yet synced (a file's `fdatasync` is due), read by
    /// the writer without taking the store's lock.
    pub(crate) unsynced: AtomicBool,
    /// The log refuses every append (a head that does not verify, a rollback, a failed write).
    pub(crate) refused: AtomicBool,
}

/// The chain's writer over one store.
pub(crate) struct Appender {
    chainer: Chainer,
    store: Box<dyn Store>,
    batch: Batch,
    /// The head the next batch is chained onto.
    head: Option<Head>,
    /// The highest head seen in the store; a head behind it is a rollback.
    seen: Option<Head>,
    /// Once set, every append is refused with it.
    refused: Option<AuditError>,
    /// How long one append keeps retrying a store that is unreachable.
    retry_for: Duration,
    /// The store's address for errors (no credentials).
    label: String,
    counters: std::sync::Arc<Counters>,
}

impl Appender {
    /// Reads the store's head (checked) and makes it the chain's.
    pub(crate) fn open(mut store: Box<dyn Store>, chainer: Chainer, retry_for: Duration, label: String) -> Result<Self, AuditError> {
        let head = store.head()?;
        Ok(Self { chainer, store, batch: Batch::default(), head, seen: head, refused: None, retry_for, label, counters: std::sync::Arc::default() })
    }

    pub(crate) fn counters(&self) -> std::sync::Arc<Counters> {
        std::sync::Arc::clone(&self.counters)
    }

    /// The seq the next record gets, as far as this writer knows.
    pub(crate) fn next_seq(&self) -> u64 {
        Head::next_seq(self.head)
    }

    /// The refusal that stops every append, if any.
    pub(crate) fn check(&self) -> Result<(), AuditError> {
        self.refused.clone().map_or(Ok(()), Err)
    }

    pub(crate) fn sync(&mut self) -> Result<(), AuditError> {
        let result = self.store.sync();
        if let Err(err) = &result {
            self.refuse(err);
        }
        self.counters.unsynced.store(self.store.has_unsynced(), Ordering::Release);
        result
    }

    /// Appends `records` in order; returns the seq of the first. On `Err`,
    /// the number of records that did go in comes with it (the caller keeps
    /// the rest to retry, or counts them).
    pub(crate) fn append(&mut self, records: &[(&str, &Event)]) -> Result<Option<u64>, (usize, AuditError)> {
        let mut done = 0;
        let mut first = None;
        while let Some(rest) = records.get(done..).filter(|r| !r.is_empty()) {
            let (seq, n) = self.append_chunk(rest).map_err(|e| (done, e))?;
            first.get_or_insert(seq);
            done += n;
        }
        Ok(first)
    }

    /// Appends as many leading records of `records` as fit one offer;
    /// returns the first seq and how many went in.
    fn append_chunk(&mut self, records: &[(&str, &Event)]) -> Result<(u64, usize), AuditError> {
        let started = Instant::now();
        let deadline = started + self.retry_for;
        let mut attempt = 0u32;
        // The offer whose answer was lost, offered again as is.
        let mut in_doubt: Option<usize> = None;
        loop {
            self.check()?;
            let reoffer = in_doubt.is_some();
            let n = match in_doubt {
                Some(n) => n,
                None => self.chain(records),
            };
            self.counters.offers.fetch_add(1, Ordering::Relaxed);
            let outcome = self.offer(n, reoffer, &mut in_doubt, attempt);
            match outcome {
                Ok(Some(first)) => {
                    self.counters.unsynced.store(self.store.has_unsynced(), Ordering::Release);
                    self.counters.appended.fetch_add(n as u64, Ordering::Relaxed);
                    self.counters.batches.fetch_add(1, Ordering::Relaxed);
                    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                    self.counters.append_micros.fetch_add(micros, Ordering::Relaxed);
                    return Ok((first, n));
                }
                Ok(None) => {
                    self.counters.lost_races.fetch_add(1, Ordering::Relaxed);
                }
                Err(err) if err.is_transient() => {
                    self.counters.store_errors.fetch_add(1, Ordering::Relaxed);
                    if Instant::now() >= deadline {
                        return Err(err);
                    }
                    std::thread::sleep(jitter(attempt, Duration::from_millis(20), Duration::from_millis(500)));
                }
                Err(err) => {
                    self.refuse(&err);
                    return Err(err);
                }
            }
            attempt = attempt.saturating_add(1);
        }
    }

    /// Chains the leading records that fit one offer onto the head; returns how many.
    fn chain(&mut self, records: &[(&str, &Event)]) -> usize {
        Chainer::start(&mut self.batch, self.head);
        let mut n = 0;
        for (ts, event) in records {
            if n > 0 && self.batch.len_bytes() >= MAX_BATCH_BYTES {
                break;
            }
            self.chainer.push(&mut self.batch, ts, event);
            n += 1;
        }
        n
    }

    /// Offers the batch once. `Some(first seq)` when it went in, `None` on a
    /// lost race (the next attempt chains again onto the store's head).
    ///
    /// A lost race answers with the store's head, and the next attempt
    /// chains onto it at once: an offer can only win if no other writer
    /// appended since that head, so any pause or extra round trip between
    /// the two lets more of them in first. (A writer that slept there
    /// before re-reading lost to busy replicas for seconds: scripts/fleet
    /// counted thousands of a killed replica's records still queued.) Only
    /// after a few losses in a row is there a short jitter, so writers that
    /// keep colliding fall out of step, then the head is read again.
    fn offer(&mut self, n: usize, reoffer: bool, in_doubt: &mut Option<usize>, attempt: u32) -> Result<Option<u64>, AuditError> {
        let first = Head::next_seq(self.batch.base());
        let sent = self.batch.last();
        *in_doubt = Some(n);
        let appended = self.store.append(&self.batch)?;
        *in_doubt = None;
        let mut head = match appended {
            Appended::Done => {
                self.advance(sent);
                return Ok(Some(first));
            }
            Appended::Moved(head) => head,
        };
        if attempt >= LOST_RACES_BEFORE_PAUSE {
            // After the pause that head is old news: read it again.
            std::thread::sleep(jitter(attempt - LOST_RACES_BEFORE_PAUSE, LOST_RACE_PAUSE, LOST_RACE_PAUSE_CAP));
            head = self.store.head()?;
        }
        // A lost answer earlier in this chunk: it may be this very batch
        // that moved the head.
        if reoffer
            && let Some(mine) = sent
            && head.is_some_and(|h| h.seq >= mine.seq)
            && self.store.holds(mine)?
        {
            self.advance(head);
            return Ok(Some(first));
        }
        self.rebase(head)?;
        Ok(None)
    }

    fn advance(&mut self, head: Option<Head>) {
        self.head = head;
        if Head::next_seq(head) > Head::next_seq(self.seen) {
            self.seen = head;
        }
    }

    /// Takes `head` as the chain's, unless it is behind (or beside) the
    /// highest head seen: then the store lost records, or was edited.
    fn rebase(&mut self, head: Option<Head>) -> Result<(), AuditError> {
        if let Some(seen) = self.seen {
            let behind = match head {
                None => true,
                Some(h) => h.seq < seen.seq || (h.seq == seen.seq && h.mac != seen.mac),
            };
            if behind {
                let found = head.map_or(-1, |h| i64::try_from(h.seq).unwrap_or(i64::MAX));
                let err = AuditError::StoreRolledBack { store: self.label.clone(), acknowledged: seen.seq, found };
                self.refuse(&err);
                return Err(err);
            }
        }
        self.advance(head);
        Ok(())
    }

    fn refuse(&mut self, err: &AuditError) {
        if self.refused.is_none() {
            tracing::error!(code = err.code(), "audit store refused; no further records are appended: {err}");
            self.refused = Some(err.clone());
            self.counters.refused.store(true, Ordering::Release);
        }
    }
}

/// Lost races in a row retried at once, before any pause.
const LOST_RACES_BEFORE_PAUSE: u32 = 2;
/// The pause after that: up to this, doubling per attempt...
const LOST_RACE_PAUSE: Duration = Duration::from_micros(100);
/// ...to at most this. Another writer's append takes about a round trip to
/// Redis, so pausing longer only lets more of them in first.
const LOST_RACE_PAUSE_CAP: Duration = Duration::from_millis(2);

/// A sleep between `0` and `base * 2^attempt` (at most `cap`), so writers
/// that lost the same race do not retry in step.
fn jitter(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let ceiling = base.saturating_mul(1u32 << attempt.min(16)).min(cap);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let ceiling_nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX).max(1);
    Duration::from_nanos(u64::from(nanos).wrapping_mul(2_654_435_761) % ceiling_nanos)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)] // test setup
mod tests {
    use super::*;
    use crate::audit::AuditKey;
    use crate::audit::event::Event;

    /// An in-memory store that can lose the answer to its next append
    /// (after applying it), as a dropped connection does.
    #[derive(Default)]
    struct Fake {
        lines: Vec<Vec<u8>>,
        head: Option<Head>,
        lose_next_answer: bool,
    }

    impl Store for std::sync::Arc<std::sync::Mutex<Fake>> {
        fn head(&mut self) -> Result<Option<Head>, AuditError> {
            Ok(self.lock().unwrap().head)
        }

        fn append(&mut self, batch: &Batch) -> Result<Appended, AuditError> {
            let mut fake = self.lock().unwrap();
            if batch.base() != fake.head {
                return Ok(Appended::Moved(fake.head));
            }
            fake.lines.extend(batch.records().map(|(_, line)| line.to_vec()));
            fake.head = batch.last();
            if std::mem::take(&mut fake.lose_next_answer) {
                return Err(AuditError::StoreUnavailable { store: "fake".into(), reason: "connection dropped".into() });
            }
            Ok(Appended::Done)
        }

        fn holds(&mut self, head: Head) -> Result<bool, AuditError> {
            let fake = self.lock().unwrap();
            let line = usize::try_from(head.seq).ok().and_then(|i| fake.lines.get(i));
            Ok(line.and_then(|l| crate::audit::canonical::parse_line(l)).is_some_and(|p| p.mac == head.mac))
        }

        fn sync(&mut self) -> Result<(), AuditError> {
            Ok(())
        }

        fn has_unsynced(&self) -> bool {
            false
        }
    }

    fn appender(store: &std::sync::Arc<std::sync::Mutex<Fake>>) -> Appender {
        let key = AuditKey::from_bytes(vec![7; 32]).unwrap();
        Appender::open(Box::new(std::sync::Arc::clone(store)), Chainer::new(&key, None), Duration::from_secs(5), "fake".into()).unwrap()
    }

    fn event(count: u64) -> Event {
        Event::Dropped { count }
    }

    #[test]
    fn an_append_whose_answer_was_lost_goes_in_once() {
        let store = std::sync::Arc::new(std::sync::Mutex::new(Fake::default()));
        let mut a = appender(&store);
        assert_eq!(a.append(&[("t", &event(1))]).unwrap(), Some(0));
        store.lock().unwrap().lose_next_answer = true;
        assert_eq!(a.append(&[("t", &event(2)), ("t", &event(3))]).unwrap(), Some(1));
        assert_eq!(a.append(&[("t", &event(4))]).unwrap(), Some(3));
        assert_eq!(store.lock().unwrap().lines.len(), 4, "a lost answer put the batch in twice");
        assert_eq!(a.counters().store_errors.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_lost_race_chains_again_on_the_new_head() {
        let store = std::sync::Arc::new(std::sync::Mutex::new(Fake::default()));
        let (mut a, mut b) = (appender(&store), appender(&store));
        assert_eq!(a.append(&[("t", &event(1))]).unwrap(), Some(0));
        assert_eq!(b.append(&[("t", &event(2))]).unwrap(), Some(1));
        assert_eq!(b.counters().lost_races.load(Ordering::Relaxed), 1);
        // A head behind what `b` saw appended: refused, and from then on.
        store.lock().unwrap().head = None;
        assert_eq!(b.append(&[("t", &event(3))]).unwrap_err().1.code(), "audit-store-rolled-back");
        store.lock().unwrap().head = a.head;
        assert_eq!(b.append(&[("t", &event(3))]).unwrap_err().1.code(), "audit-store-rolled-back");
    }
}
