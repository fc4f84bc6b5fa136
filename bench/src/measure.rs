//! Latency and throughput measurement: many samples, medians and tails, all
//! cases in one process so ratios compare like with like on a noisy VM.

use std::time::{Duration, Instant};

use serde::Serialize;

/// Per-call latency summary in microseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Latency {
    pub p50_us: f64,
    pub p99_us: f64,
    pub mean_us: f64,
    pub samples: usize,
}

/// Calls `op` `samples` times after `warmup` calls and summarizes the timings.
/// Each sample times a batch of `batch` calls so timer overhead stays small.
pub fn latency(warmup: usize, samples: usize, batch: usize, mut op: impl FnMut(usize)) -> Latency {
    for i in 0..warmup {
        op(i);
    }
    let batch = batch.max(1);
    let per_call: Vec<f64> = (0..samples.max(1))
        .map(|sample| {
            let started = Instant::now();
            for i in 0..batch {
                op(sample * batch + i);
            }
            started.elapsed().as_secs_f64() * 1e6 / batch as f64
        })
        .collect();
    summarize(per_call)
}

/// The summary of per-call times in microseconds, in any order.
fn summarize(mut per_call: Vec<f64>) -> Latency {
    per_call.sort_by(f64::total_cmp);
    Latency {
        p50_us: quantile(&per_call, 0.50),
        p99_us: quantile(&per_call, 0.99),
        mean_us: per_call.iter().sum::<f64>() / per_call.len() as f64,
        samples: per_call.len(),
    }
}

/// [`latency`] for several operations at once, their batches interleaved
/// (one batch of each per sample, in turn), so that a slow spell of the
/// machine lands on all of them alike and their ratios stay fair.
pub fn interleaved_latency(warmup: usize, samples: usize, batch: usize, ops: &mut [&mut dyn FnMut(usize)]) -> Vec<Latency> {
    for op in ops.iter_mut() {
        for i in 0..warmup {
            op(i);
        }
    }
    let batch = batch.max(1);
    let mut per_call: Vec<Vec<f64>> = ops.iter().map(|_| Vec::with_capacity(samples)).collect();
    for sample in 0..samples.max(1) {
        for (op, times) in ops.iter_mut().zip(per_call.iter_mut()) {
            let started = Instant::now();
            for i in 0..batch {
                op(sample * batch + i);
            }
            times.push(started.elapsed().as_secs_f64() * 1e6 / batch as f64);
        }
    }
    per_call.into_iter().map(summarize).collect()
}

/// The `q` quantile (nearest rank) of values sorted ascending; NaN if empty.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted.get((sorted.len().saturating_sub(1) as f64 * q).round() as usize).copied().unwrap_or(f64::NAN)
}

/// Runs `op` on `threads` threads for about `duration` and returns calls/s.
pub fn throughput<F>(threads: usize, duration: Duration, make_op: impl Fn() -> F) -> f64
where
    F: FnMut(usize) + Send,
{
    let started = Instant::now();
    let total: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| {
                let mut op = make_op();
                scope.spawn(move || {
                    let mut calls = 0usize;
                    while started.elapsed() < duration {
                        for _ in 0..64 {
                            op(calls);
                            calls += 1;
                        }
                    }
                    calls
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    total as f64 / started.elapsed().as_secs_f64()
}
