//! Where a decision runs: on the I/O thread that read the request, until its
//! guest has run for a whole epoch tick; then on the slow lane, a runtime of
//! its own whose threads run at a lower CPU priority.
//!
//! A guest yields at every tick (`sandbox/call.rs`), so on the I/O threads a
//! spinning guest holds a thread one tick at a time; but every tick it holds
//! is a tick the other connections of that thread wait, and two guests
//! spinning to their deadline halved the healthy route's requests/s
//! (`scripts/load`, case (e) against (a)). Moved to the slow lane they
//! take what the kernel gives a niced thread, their deadline (wall-clock)
//! still ends them with the same deny, and the I/O threads keep serving:
//! measured there, (e) 16 000 -> 27 700 requests/s, p50 910 -> 480 µs, the
//! p99 unchanged (docs/performance.md, "Forward-auth under load"). A call
//! that needs a few microseconds never leaves its I/O thread.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::runtime::{Builder, Handle, Runtime};
use tokio::task::{JoinError, JoinHandle};
use tracing::debug;

/// The yield after which a decision moves: a guest's first can come at any
/// point of the tick the call started in, its second only after a whole
/// tick of running. A fresh-instance call takes ~10 µs against a 1 ms tick,
/// so a healthy call almost never yields once, and never twice. (A decision
/// that waits, for a key fetch on an unknown `kid`, yields too; it finishes
/// on the lane, which costs it nothing but the move.)
const MOVE_AT_YIELD: u32 = 2;
/// The slow lane's nice value. At 10 a thread weighs ~1/10 of a default one
/// in the kernel's share of a contended CPU, so guests past their first tick
/// still progress towards their result (or their deadline) under load, and
/// take all the CPU the I/O threads leave idle. (19 and `SCHED_IDLE` were
/// measured too: no better for the healthy route.)
const SLOW_NICE: i32 = 10;

/// The slow lane: a multi-thread runtime (the gate may `block_in_place` for
/// an audit write, which a current-thread runtime forbids) with as many
/// workers as the I/O runtime, each at [`SLOW_NICE`].
pub(crate) struct SlowLane {
    /// `Some` until dropped: dropping a runtime blocks, which is refused on
    /// the I/O threads where the server's last reference may go.
    runtime: Option<Runtime>,
    handle: Handle,
}

impl SlowLane {
    pub(crate) fn start(max_blocking_threads: usize) -> std::io::Result<Self> {
        let runtime = Builder::new_multi_thread()
            .enable_all()
            .thread_name("ward-slow-lane")
            .max_blocking_threads(max_blocking_threads.max(1))
            .on_thread_start(lower_priority)
            .build()?;
        let handle = runtime.handle().clone();
        Ok(Self { runtime: Some(runtime), handle })
    }

    /// Polls `decision` here until it has yielded [`MOVE_AT_YIELD`] times,
    /// then moves it to the slow lane and waits for it there. Dropping the
    /// returned future ends the decision wherever it runs (the server's
    /// request timeout relies on that).
    pub(crate) fn run<F>(&self, decision: F) -> Laned<'_, F>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Laned { state: State::Here(Box::pin(decision)), yields: 0, lane: &self.handle }
    }
}

impl Drop for SlowLane {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            // Decisions still there were abandoned by their requests (their
            // handles abort them); nothing waits for them.
            runtime.shutdown_background();
        }
    }
}

/// Runs on each slow-lane thread as it starts: [`SLOW_NICE`] below the
/// priority the thread inherited (an operator's `nice` stays in effect).
/// `setpriority` on the calling thread (`who` 0) with a nice value that is
/// not negative is what the seccomp layer allows (lockdown/seccomp.rs);
/// refused, the lane still works, at the inherited priority.
fn lower_priority() {
    let lowered =
        rustix::process::getpriority_process(None).and_then(|nice| rustix::process::setpriority_process(None, nice.saturating_add(SLOW_NICE).min(19)));
    if let Err(err) = lowered {
        debug!(error = %err, "slow lane keeps the inherited priority");
    }
}

/// A decision under way, on this thread or on the slow lane ([`SlowLane::run`]).
pub(crate) struct Laned<'lane, F: Future> {
    state: State<F>,
    yields: u32,
    /// Borrowed: the server holds its lane for as long as any request.
    lane: &'lane Handle,
}

enum State<F: Future> {
    Here(Pin<Box<F>>),
    Moved(JoinHandle<F::Output>),
    Done,
}

impl<F> Future for Laned<'_, F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    /// `Err` only if the slow lane dropped the decision: it panicked there
    /// or the lane was shut down.
    type Output = Result<F::Output, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if matches!(this.state, State::Here(_)) {
            let State::Here(mut decision) = std::mem::replace(&mut this.state, State::Done) else {
                return Poll::Pending;
            };
            if let Poll::Ready(output) = decision.as_mut().poll(cx) {
                return Poll::Ready(Ok(output));
            }
            this.yields += 1;
            if this.yields < MOVE_AT_YIELD {
                this.state = State::Here(decision);
                return Poll::Pending;
            }
            this.state = State::Moved(this.lane.spawn(decision));
        }
        match &mut this.state {
            State::Moved(handle) => {
                let output = std::task::ready!(Pin::new(handle).poll(cx));
                this.state = State::Done;
                Poll::Ready(output)
            }
            // Polled again after it completed, which the server never does.
            State::Here(_) | State::Done => Poll::Pending,
        }
    }
}

impl<F: Future> Drop for Laned<'_, F> {
    fn drop(&mut self) {
        if let State::Moved(handle) = &self.state {
            handle.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    /// Yields `yields` times, then reports the thread it finished on and that
    /// thread's nice value; sets `dropped` when dropped.
    async fn spinner(yields: u32, dropped: Arc<AtomicBool>) -> (Option<String>, i32) {
        struct SetOnDrop(Arc<AtomicBool>);
        impl Drop for SetOnDrop {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let _guard = SetOnDrop(dropped);
        for _ in 0..yields {
            tokio::task::yield_now().await;
        }
        let name = std::thread::current().name().map(str::to_owned);
        (name, rustix::process::getpriority_process(None).unwrap_or(i32::MIN))
    }

    /// A lane for the whole test process, so that decisions on it can be
    /// spawned on the test's own runtime (a request's borrows its server's).
    fn leaked_lane() -> &'static SlowLane {
        Box::leak(Box::new(SlowLane::start(1).expect("lane")))
    }

    fn io_runtime() -> Runtime {
        Builder::new_multi_thread().worker_threads(1).thread_name("io").enable_all().build().expect("runtime")
    }

    #[test]
    fn a_decision_that_yields_once_stays_on_its_thread() {
        let lane = leaked_lane();
        let io = io_runtime();
        for yields in [0, 1] {
            let done = io.block_on(io.spawn(lane.run(spinner(yields, Arc::default())))).expect("joined").expect("ran");
            assert_eq!(done.0.as_deref(), Some("io"), "{yields} yield(s)");
        }
    }

    #[test]
    fn a_decision_past_a_tick_moves_to_the_niced_lane() {
        let lane = leaked_lane();
        let io = io_runtime();
        let base = io.block_on(io.spawn(async { rustix::process::getpriority_process(None) })).expect("joined").expect("nice");
        let (thread, nice) = io.block_on(io.spawn(lane.run(spinner(5, Arc::default())))).expect("joined").expect("ran");
        assert_eq!(thread.as_deref(), Some("ward-slow-lane"));
        assert_eq!(nice, (base + SLOW_NICE).min(19), "the lane's threads run at a lower priority");
    }

    #[test]
    fn dropping_a_moved_decision_ends_it_on_the_lane() {
        let lane = SlowLane::start(1).expect("lane");
        let io = io_runtime();
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&dropped);
        io.block_on(async {
            let spinning = lane.run(spinner(u32::MAX, flag));
            // Long enough to move, far too short to finish.
            let _ = tokio::time::timeout(std::time::Duration::from_millis(20), spinning).await;
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !dropped.load(Ordering::SeqCst) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(dropped.load(Ordering::SeqCst), "the lane still runs a decision its request dropped");
    }
}
