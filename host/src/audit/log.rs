//! [`AuditLog`]: the one handle the rest of ward uses. Lifecycle events are
//! written and synced on the caller's thread before the call returns; request
//! events go through a bounded queue to a background writer that batches them.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use super::AuditError;
use super::appender::{Appender, Counters};
use super::canonical::timestamp;
use super::chainer::Chainer;
use super::event::{Event, ReplicaId};
use super::key::AuditKey;
use super::redis::{RedisStore, RedisTarget};
use super::store::Store;
use super::writer::Sink;

/// What a full request queue does to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverflowPolicy {
    /// Wait for room, at most `max_wait`; past that the event is counted as
    /// dropped (and recorded by `audit.dropped`), so a stalled disk cannot hang
    /// a request forever.
    Block {
        /// The longest a caller waits.
        max_wait: Duration,
    },
    /// Do not wait: count the event as dropped; the count is recorded as
    /// `audit.dropped` with the next batch.
    DropAndCount,
}

/// Settings of an [`AuditLog`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditOptions {
    /// Rotate the live file once it reaches this size (after the batch that
    /// crossed it). Default 64 MiB.
    pub max_file_bytes: u64,
    /// Request events that may wait for the writer. Default 65 536.
    pub queue_capacity: usize,
    /// What a full queue does. Default `Block { max_wait: 1 s }`.
    pub policy: OverflowPolicy,
    /// Record `plugin.authenticate.allow`. Default off.
    pub record_allowed: bool,
    /// Written request events are `fdatasync`ed at least this often. Default 1 s.
    pub sync_interval: Duration,
}

impl Default for AuditOptions {
    fn default() -> Self {
        Self {
            max_file_bytes: 64 * 1024 * 1024,
            queue_capacity: 65_536,
            policy: OverflowPolicy::Block { max_wait: Duration::from_secs(1) },
            record_allowed: false,
            sync_interval: Duration::from_secs(1),
        }
    }
}

/// [`AuditLog::stats`]: what `/metrics` exports as `ward_audit_*`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditStats {
    /// Request events waiting for the writer.
    pub queue_depth: u64,
    /// The writer holds a batch the store could not take yet.
    pub stalled: bool,
    /// Every append is refused.
    pub refused: bool,
    /// Records appended by this process.
    pub appended: u64,
    /// Batches offered to the store (retries included).
    pub offers: u64,
    /// Batches appended.
    pub batches: u64,
    /// Offers refused because another writer moved the head first.
    pub lost_races: u64,
    /// Offers the store did not answer (unreachable, timed out).
    pub store_errors: u64,
    /// Total time from first offer to appended, over all batches, in µs.
    pub append_micros: u64,
}

/// What [`AuditLog::request`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Enqueued {
    /// Queued for the writer.
    Queued,
    /// The queue was full (or the log has failed): counted as dropped.
    Dropped,
    /// An allowed decision while `record_allowed` is off: not recorded by design.
    NotRecorded,
}

struct Queue {
    items: VecDeque<(String, Event)>,
    dropped: u64,
    enqueued: u64,
    written: u64,
    shutdown: bool,
    failed: bool,
    /// Set while the writer holds a batch the store could not take yet.
    stalled: Option<AuditError>,
}

struct Shared {
    queue: Mutex<Queue>,
    not_empty: Condvar,
    not_full: Condvar,
    written: Condvar,
    sink: Mutex<Appender>,
    counters: Arc<Counters>,
    capacity: usize,
    policy: OverflowPolicy,
    record_allowed: bool,
    sync_interval: Duration,
    /// Request batches are offered at most this often ([`SHARED_STORE_LINGER`]
    /// for a store other writers race on; zero for the file).
    linger: Duration,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves the data consistent
    // enough to keep auditing: the sink poisons itself on write failures.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The tamper-evident audit log. `Send + Sync`; share it with `Arc`.
/// Dropping it writes what is queued, syncs, and releases the lock.
pub struct AuditLog {
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
    recovered: Option<u64>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").field("next_seq", &lock(&self.shared.sink).next_seq()).finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Opens the log (a regular file, created 0600; one that group or others
    /// may write is refused), locks it (a second writer under any name, a
    /// symlink or a hard link included, gets [`AuditError::Locked`]), cuts a
    /// torn last line and records `audit.recovered`, then starts the writer.
    pub fn open(path: &Path, key: &AuditKey, options: AuditOptions) -> Result<Self, AuditError> {
        let opened = Sink::open(path, key, options.max_file_bytes)?;
        // A file append is never retried: its errors are not transient.
        let mut sink = Appender::open(Box::new(opened.sink), Chainer::new(key, None), Duration::ZERO, path.display().to_string())?;
        if let Some(truncated_bytes) = opened.truncated_bytes {
            tracing::warn!(truncated_bytes, "audit log had a torn last line; cut it off");
            let ts = timestamp(SystemTime::now());
            sink.append(&[(&ts, &Event::Recovered { truncated_bytes })]).map_err(|(_, e)| e)?;
            sink.sync()?;
        }
        let mut log = Self::start(sink, options, path.display().to_string(), Duration::ZERO)?;
        log.recovered = opened.truncated_bytes;
        Ok(log)
    }

    /// Opens the fleet's shared log in Redis: connects, reads and checks the
    /// head (a head that does not verify is [`AuditError::StoreHead`]; an
    /// unreachable Redis is [`AuditError::StoreUnavailable`]: ward does not
    /// start), and every record names `replica`. An append Redis cannot take
    /// yet is retried for twice the target's I/O timeout, at least 1 s.
    pub fn open_redis(target: &RedisTarget, key: &AuditKey, replica: ReplicaId, options: AuditOptions) -> Result<Self, AuditError> {
        let store = RedisStore::connect(target.clone(), Chainer::new(key, None).chain())?;
        let retry_for = target.io_timeout().saturating_mul(2).max(Duration::from_secs(1));
        Self::open_store(Box::new(store), key, replica, retry_for, target.label().to_owned(), options)
    }

    /// Opens the log over another store: the core reads the store's head
    /// (checked), and every record names `replica`. An append the store
    /// cannot take yet is retried for `retry_for`.
    fn open_store(
        store: Box<dyn Store>,
        key: &AuditKey,
        replica: ReplicaId,
        retry_for: Duration,
        label: String,
        options: AuditOptions,
    ) -> Result<Self, AuditError> {
        let sink = Appender::open(store, Chainer::new(key, Some(replica)), retry_for, label.clone())?;
        Self::start(sink, options, label, SHARED_STORE_LINGER)
    }

    fn start(sink: Appender, options: AuditOptions, label: String, linger: Duration) -> Result<Self, AuditError> {
        let counters = sink.counters();
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                items: VecDeque::with_capacity(options.queue_capacity.min(1 << 16)),
                dropped: 0,
                enqueued: 0,
                written: 0,
                shutdown: false,
                failed: false,
                stalled: None,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            written: Condvar::new(),
            sink: Mutex::new(sink),
            counters,
            capacity: options.queue_capacity.max(1),
            policy: options.policy,
            record_allowed: options.record_allowed,
            sync_interval: options.sync_interval,
            linger,
        });
        let for_thread = Arc::clone(&shared);
        let writer = std::thread::Builder::new().name("ward-audit".into()).spawn(move || writer_loop(&for_thread)).map_err(|e| AuditError::Io {
            op: "open",
            path: label,
            reason: e.kind().to_string(),
        })?;
        Ok(Self { shared, writer: Some(writer), recovered: None })
    }

    /// Bytes cut from a torn last line at open, if any.
    pub fn recovered(&self) -> Option<u64> {
        self.recovered
    }

    /// Records a lifecycle event durably: it is written and `fdatasync`ed
    /// before this returns its seq. On `Err` the action it records must not
    /// take effect (fail closed).
    pub fn lifecycle(&self, event: Event) -> Result<u64, AuditError> {
        let ts = timestamp(SystemTime::now());
        let mut sink = lock(&self.shared.sink);
        sink.check()?;
        let seq = sink.append(&[(&ts, &event)]).map_err(|(_, e)| e)?;
        sink.sync()?;
        // One record was offered: a `None` cannot come back.
        seq.ok_or(AuditError::Poisoned)
    }

    /// Queues a per-request event for the batching writer. Never waits longer
    /// than the [`OverflowPolicy`] allows; a dropped event is counted and the
    /// count recorded as `audit.dropped`.
    pub fn request(&self, event: Event) -> Enqueued {
        enqueue(&self.shared, event)
    }

    /// [`AuditLog::request`] for a caller that must not wait: when the queue
    /// is full and the policy is to wait for room, the event comes back
    /// ([`WouldWait`]) for the caller to queue where it may block.
    pub fn try_request(&self, event: Event) -> Result<Enqueued, WouldWait> {
        enqueue_or_return(&self.shared, event, false)
    }

    /// A handle that queues request events like [`AuditLog::request`] and
    /// can outlive a borrow of the log (a key-material refresh task holds
    /// one). Once the log is closed, what it queues is counted as dropped.
    pub fn request_queue(&self) -> RequestQueue {
        RequestQueue { shared: Arc::clone(&self.shared) }
    }

    /// Waits until every request event queued before this call (and any drop
    /// count) is written and synced; returns the next seq to be assigned.
    pub fn flush(&self) -> Result<u64, AuditError> {
        let shared = &*self.shared;
        {
            let mut q = lock(&shared.queue);
            let target = q.enqueued;
            shared.not_empty.notify_one();
            while (q.written < target || q.dropped > 0) && !q.failed {
                if let Some(err) = &q.stalled {
                    return Err(err.clone());
                }
                q = shared.written.wait(q).unwrap_or_else(PoisonError::into_inner);
            }
        }
        let mut sink = lock(&shared.sink);
        sink.sync()?;
        Ok(sink.next_seq())
    }

    /// False once the log refuses every append (a store head that does not
    /// verify or went back, a failed write): ward is then not ready. Never
    /// waits for the store.
    pub fn is_healthy(&self) -> bool {
        // An atomic, not the queue's lock: asked before every decision. Every
        // failure that sets the queue's `failed` went through the append
        // loop's refusal first.
        !self.shared.counters.refused.load(Ordering::Acquire)
    }

    /// The append loop's counters and the queue's depth, for `/metrics`.
    /// Never waits for the store.
    pub fn stats(&self) -> AuditStats {
        let c = &self.shared.counters;
        let q = lock(&self.shared.queue);
        AuditStats {
            queue_depth: q.items.len() as u64,
            stalled: q.stalled.is_some(),
            refused: c.refused.load(Ordering::Acquire) || q.failed,
            appended: c.appended.load(Ordering::Relaxed),
            offers: c.offers.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            lost_races: c.lost_races.load(Ordering::Relaxed),
            store_errors: c.store_errors.load(Ordering::Relaxed),
            append_micros: c.append_micros.load(Ordering::Relaxed),
        }
    }

    /// Events counted as dropped and not yet recorded.
    pub fn pending_dropped(&self) -> u64 {
        lock(&self.shared.queue).dropped
    }

    /// Stops the writer after it wrote what is queued, syncs, and releases the lock.
    pub fn close(mut self) -> Result<(), AuditError> {
        self.stop();
        lock(&self.shared.sink).sync()
    }

    fn stop(&mut self) {
        {
            let mut q = lock(&self.shared.queue);
            q.shutdown = true;
            self.shared.not_empty.notify_one();
            self.shared.not_full.notify_all();
        }
        if let Some(handle) = self.writer.take() {
            let _ = handle.join();
        }
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        self.stop();
        let _ = lock(&self.shared.sink).sync();
    }
}

fn writer_loop(shared: &Shared) {
    let mut batch: VecDeque<(String, Event)> = VecDeque::new();
    let mut dropped = 0;
    let mut ticket = 0;
    let mut last_sync = Instant::now();
    // A batch the store could not take yet (unreachable): kept, in order,
    // and offered again before anything newer; the queue fills meanwhile.
    let mut retrying = false;
    let mut last_offer = Instant::now();
    loop {
        // A store other replicas append to: let the batch grow for the rest
        // of the linger, outside the queue's lock (lifecycle records do not
        // wait: they append themselves). Fewer, larger offers lose fewer races.
        let pause = shared.linger.saturating_sub(last_offer.elapsed());
        if !retrying && !pause.is_zero() {
            std::thread::sleep(pause);
        }
        let shutdown = {
            let mut q = lock(&shared.queue);
            if !retrying {
                while !q.shutdown && q.items.is_empty() && (q.dropped == 0 || q.failed) {
                    if shared.counters.unsynced.load(Ordering::Acquire) {
                        let wait = shared.sync_interval.saturating_sub(last_sync.elapsed());
                        if wait.is_zero() {
                            break;
                        }
                        q = shared.not_empty.wait_timeout(q, wait).unwrap_or_else(PoisonError::into_inner).0;
                    } else {
                        q = shared.not_empty.wait(q).unwrap_or_else(PoisonError::into_inner);
                    }
                }
                std::mem::swap(&mut q.items, &mut batch);
                shared.not_full.notify_all();
                dropped = std::mem::take(&mut q.dropped);
                ticket = q.enqueued;
            }
            q.shutdown
        };
        last_offer = Instant::now();
        let result = {
            let mut sink = lock(&shared.sink);
            write_batch(&mut sink, &mut batch, &mut dropped).and_then(|()| {
                if shutdown || last_sync.elapsed() >= shared.sync_interval {
                    last_sync = Instant::now();
                    sink.sync()
                } else {
                    Ok(())
                }
            })
        };
        let mut q = lock(&shared.queue);
        match result {
            Err(err) if err.is_transient() && !q.shutdown => {
                if !retrying {
                    tracing::warn!(code = err.code(), queued = batch.len() + q.items.len(), "audit store unavailable; request events wait in the queue: {err}");
                }
                retrying = true;
                q.stalled = Some(err);
                shared.written.notify_all();
                drop(q);
                std::thread::sleep(STALLED_RETRY);
                continue;
            }
            Err(err) => {
                // Lifecycle calls now fail closed; request events are counted.
                tracing::error!(code = err.code(), "audit writer failed: {err}");
                q.failed = true;
                q.dropped += batch.len() as u64 + dropped;
            }
            Ok(()) => {
                if retrying {
                    tracing::info!("audit store reachable again; queued request events written");
                }
            }
        }
        retrying = false;
        q.stalled = None;
        dropped = 0;
        batch.clear();
        q.written = ticket;
        shared.written.notify_all();
        if q.shutdown && q.items.is_empty() && (q.dropped == 0 || q.failed) {
            return;
        }
    }
}

/// The least time between two request batches offered to a store that
/// several replicas append to (Redis). Measured with scripts/fleet before
/// it (docs/performance.md): ~6 records per batch and about as many lost
/// races as appends, which cost the Redis runs ~10 % of the file store's
/// requests/s; a record waits at most this much longer to be written.
const SHARED_STORE_LINGER: Duration = Duration::from_millis(5);

/// The pause between offers of a batch an unreachable store did not take
/// (each offer itself retries for the store's retry window).
const STALLED_RETRY: Duration = Duration::from_millis(200);

/// Offers the drop count (as `audit.dropped`) and the batch. On `Err`, what
/// did go in is taken off `batch` and `dropped`, so a retry never writes a
/// record twice.
fn write_batch(sink: &mut Appender, batch: &mut VecDeque<(String, Event)>, dropped: &mut u64) -> Result<(), AuditError> {
    sink.check()?;
    let drop_ts = timestamp(SystemTime::now());
    let drop_event = Event::Dropped { count: *dropped };
    let mut records: Vec<(&str, &Event)> = Vec::with_capacity(batch.len() + 1);
    if *dropped > 0 {
        records.push((&drop_ts, &drop_event));
    }
    records.extend(batch.iter().map(|(ts, event)| (ts.as_str(), event)));
    let with_drop = usize::from(*dropped > 0);
    match sink.append(&records) {
        Ok(_) => Ok(()),
        Err((mut done, err)) => {
            if with_drop == 1 && done > 0 {
                *dropped = 0;
                done -= 1;
            }
            batch.drain(..done.min(batch.len()));
            Err(err)
        }
    }
}

/// [`AuditLog::request`]'s queueing, shared with [`RequestQueue`].
fn enqueue(shared: &Shared, event: Event) -> Enqueued {
    match enqueue_or_return(shared, event, true) {
        Ok(enqueued) => enqueued,
        // Not returned when waiting is allowed; counted as dropped if it were.
        Err(WouldWait(_)) => Enqueued::Dropped,
    }
}

/// Queues `event`; with `may_wait` false, an event that would wait for room
/// comes back instead.
fn enqueue_or_return(shared: &Shared, event: Event, may_wait: bool) -> Result<Enqueued, WouldWait> {
    if matches!(event, Event::AuthenticateAllow { .. }) && !shared.record_allowed {
        return Ok(Enqueued::NotRecorded);
    }
    let ts = timestamp(SystemTime::now());
    let mut q = lock(&shared.queue);
    if q.items.len() >= shared.capacity && !q.failed {
        match shared.policy {
            OverflowPolicy::DropAndCount => {}
            OverflowPolicy::Block { .. } if !may_wait && !q.shutdown => return Err(WouldWait(Box::new(event))),
            OverflowPolicy::Block { max_wait } => {
                let deadline = Instant::now() + max_wait;
                while q.items.len() >= shared.capacity && !q.failed && !q.shutdown {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    q = shared.not_full.wait_timeout(q, left).unwrap_or_else(PoisonError::into_inner).0;
                }
            }
        }
    }
    if q.items.len() >= shared.capacity || q.failed || q.shutdown {
        q.dropped += 1;
        shared.not_empty.notify_one();
        return Ok(Enqueued::Dropped);
    }
    q.items.push_back((ts, event));
    q.enqueued += 1;
    if q.items.len() == 1 {
        shared.not_empty.notify_one();
    }
    Ok(Enqueued::Queued)
}

/// A request event [`AuditLog::try_request`] did not queue, because queueing
/// it would have waited for room.
#[derive(Debug)]
pub struct WouldWait(pub Box<Event>);

/// Queues request events into an [`AuditLog`] ([`AuditLog::request_queue`]).
#[derive(Clone)]
pub struct RequestQueue {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for RequestQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestQueue")
    }
}

impl RequestQueue {
    /// Queues `event`, as [`AuditLog::request`] does.
    pub fn request(&self, event: Event) -> Enqueued {
        enqueue(&self.shared, event)
    }
}
