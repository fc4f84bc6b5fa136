//! [`AuditLog`]: the one handle the rest of ward uses. Lifecycle events are
//! written and synced on the caller's thread before the call returns; request
//! events go through a bounded queue to a background writer that batches them.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use super::AuditError;
use super::canonical::timestamp;
use super::event::Event;
use super::key::AuditKey;
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
}

struct Shared {
    queue: Mutex<Queue>,
    not_empty: Condvar,
    not_full: Condvar,
    written: Condvar,
    sink: Mutex<Sink>,
    capacity: usize,
    policy: OverflowPolicy,
    record_allowed: bool,
    sync_interval: Duration,
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
        let mut sink = opened.sink;
        if let Some(truncated_bytes) = opened.truncated_bytes {
            tracing::warn!(truncated_bytes, "audit log had a torn last line; cut it off");
            sink.append(&timestamp(SystemTime::now()), &Event::Recovered { truncated_bytes });
            sink.write_pending()?;
            sink.sync()?;
        }
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                items: VecDeque::with_capacity(options.queue_capacity.min(1 << 16)),
                dropped: 0,
                enqueued: 0,
                written: 0,
                shutdown: false,
                failed: false,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            written: Condvar::new(),
            sink: Mutex::new(sink),
            capacity: options.queue_capacity.max(1),
            policy: options.policy,
            record_allowed: options.record_allowed,
            sync_interval: options.sync_interval,
        });
        let for_thread = Arc::clone(&shared);
        let writer =
            std::thread::Builder::new().name("ward-audit".into()).spawn(move || writer_loop(&for_thread)).map_err(|e| AuditError::io("open", path, &e))?;
        Ok(Self { shared, writer: Some(writer), recovered: opened.truncated_bytes })
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
        let seq = sink.append(&ts, &event);
        sink.write_pending()?;
        sink.sync()?;
        Ok(seq)
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
                q = shared.written.wait(q).unwrap_or_else(PoisonError::into_inner);
            }
        }
        let mut sink = lock(&shared.sink);
        sink.sync()?;
        Ok(sink.next_seq())
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
    let mut last_sync = Instant::now();
    loop {
        let (dropped, ticket, shutdown) = {
            let mut q = lock(&shared.queue);
            while !q.shutdown && q.items.is_empty() && (q.dropped == 0 || q.failed) {
                let unsynced = lock(&shared.sink).has_unsynced();
                if unsynced {
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
            (std::mem::take(&mut q.dropped), q.enqueued, q.shutdown)
        };
        let result = {
            let mut sink = lock(&shared.sink);
            write_batch(&mut sink, &mut batch, dropped).and_then(|()| {
                if shutdown || last_sync.elapsed() >= shared.sync_interval {
                    last_sync = Instant::now();
                    sink.sync()
                } else {
                    Ok(())
                }
            })
        };
        let mut q = lock(&shared.queue);
        if let Err(err) = result {
            // Lifecycle calls now fail closed; request events are counted.
            tracing::error!(code = err.code(), "audit writer failed: {err}");
            q.failed = true;
            q.dropped += batch.len() as u64 + dropped;
        }
        batch.clear();
        q.written = ticket;
        shared.written.notify_all();
        if q.shutdown && q.items.is_empty() && (q.dropped == 0 || q.failed) {
            return;
        }
    }
}

fn write_batch(sink: &mut Sink, batch: &mut VecDeque<(String, Event)>, dropped: u64) -> Result<(), AuditError> {
    sink.check()?;
    if dropped > 0 {
        sink.append(&timestamp(SystemTime::now()), &Event::Dropped { count: dropped });
    }
    for (ts, event) in batch.iter() {
        sink.append(ts, event);
        // Keep single writes bounded.
        if sink.pending_len() >= 256 * 1024 {
            sink.write_pending()?;
        }
    }
    sink.write_pending()
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
