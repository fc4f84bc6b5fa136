//! Runs a call's future to completion on the calling thread, for the callers
//! that are not async (the CLI, conformance cases at load, embedders).
//!
//! Every call is async (`call.rs`) so that `ward serve` can run guests on its
//! I/O threads, a guest yielding at each epoch tick. Nothing a call awaits
//! waits on I/O or another task: the host functions ward links answer at
//! once, and the only `Pending` is that yield. So polling again straight
//! away, with a waker that does nothing, is the whole executor. The wall
//! clock bounds the loop all the same, should a future ever wait on
//! something that no one here will wake.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// The future's output if it is ready on its first poll: for host code that
/// must never wait (`wasi.rs`'s `poll`, the snapshot's state reads).
pub(crate) fn ready_now<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// Polls `future` until it is ready, or `None` once `bound` has passed.
pub(crate) fn run_to_completion<F: Future>(future: F, bound: Duration) -> Option<F::Output> {
    let started = Instant::now();
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return Some(output);
        }
        if started.elapsed() > bound {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_future_that_yields_completes() {
        let mut polls = 0;
        let future = std::future::poll_fn(|_| {
            polls += 1;
            if polls < 3 { Poll::Pending } else { Poll::Ready(polls) }
        });
        assert_eq!(run_to_completion(future, Duration::from_secs(1)), Some(3));
    }

    #[test]
    fn a_future_that_never_completes_ends_at_the_bound() {
        let started = Instant::now();
        assert_eq!(run_to_completion(std::future::pending::<()>(), Duration::from_millis(20)), None);
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
