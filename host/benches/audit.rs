//! Sustained throughput of the batched audit writer against a baseline.
//!
//! `cargo bench -p ward --bench audit` writes N `plugin.authenticate.deny`
//! events (default 1 000 000; `WARD_AUDIT_BENCH_EVENTS` to change) to a real
//! file in the system temp dir, three rounds each:
//! - `audit`: one producer thread calls `AuditLog::request` N times, then
//!   `flush` (everything written and fdatasynced); the clock stops after flush.
//! - `baseline`: the same thread writes the same JSON lines without seq chain
//!   or mac through a 64 KiB `BufWriter`, then flushes and fdatasyncs.
//!
//! Prints one JSON object per round and a summary with the best round of each.
// Measurement code, not shipped: a broken assumption should stop it loudly,
// so unwrap, expect, panic and indexing are allowed (as in the tests).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ward::audit::{AuditKey, AuditLog, AuditOptions, Code, Enqueued, Event, PluginId};

fn audit_round(dir: &std::path::Path, n: u64, round: u32) -> (Duration, u64) {
    let path = dir.join(format!("audit-{round}.log"));
    let key = AuditKey::from_bytes(vec![0x5a; 32]).unwrap();
    let log = AuditLog::open(&path, &key, AuditOptions { max_file_bytes: u64::MAX, ..AuditOptions::default() }).unwrap();
    let plugin = PluginId::new("bench-plugin").unwrap();
    let reason = Code::new("missing-credential").unwrap();
    let mut dropped = 0;
    let start = Instant::now();
    for i in 0..n {
        let event = Event::AuthenticateDeny { plugin_id: plugin.clone(), reason, duration_us: i % 997 };
        if log.request(event) == Enqueued::Dropped {
            dropped += 1;
        }
    }
    let next = log.flush().unwrap();
    let elapsed = start.elapsed();
    assert_eq!(next, n, "every event written");
    log.close().unwrap();
    std::fs::remove_file(&path).ok();
    (elapsed, dropped)
}

fn baseline_round(dir: &std::path::Path, n: u64, round: u32) -> Duration {
    let path = dir.join(format!("baseline-{round}.log"));
    let file = std::fs::File::create(&path).unwrap();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, file);
    let start = Instant::now();
    for i in 0..n {
        let ts = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros();
        writeln!(
            out,
            "{{\"durationUs\":{},\"event\":\"plugin.authenticate.deny\",\"pluginId\":\"bench-plugin\",\"reason\":\"missing-credential\",\"ts\":{ts}}}",
            i % 997
        )
        .unwrap();
    }
    let file = out.into_inner().unwrap();
    file.sync_data().unwrap();
    let elapsed = start.elapsed();
    std::fs::remove_file(&path).ok();
    elapsed
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: run tiny then.
    let is_bench = std::env::args().any(|a| a == "--bench");
    let n: u64 = std::env::var("WARD_AUDIT_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(if is_bench { 1_000_000 } else { 1_000 });
    let dir = tempfile::tempdir_in(std::env::temp_dir()).unwrap();
    let (mut best_audit, mut best_base) = (0f64, 0f64);
    for round in 0..3 {
        let (t, dropped) = audit_round(dir.path(), n, round);
        let rate = n as f64 / t.as_secs_f64();
        best_audit = best_audit.max(rate);
        println!("{{\"bench\":\"audit\",\"round\":{round},\"events\":{n},\"secs\":{:.3},\"eventsPerSec\":{rate:.0},\"dropped\":{dropped}}}", t.as_secs_f64());
        let t = baseline_round(dir.path(), n, round);
        let rate = n as f64 / t.as_secs_f64();
        best_base = best_base.max(rate);
        println!("{{\"bench\":\"baseline\",\"round\":{round},\"events\":{n},\"secs\":{:.3},\"eventsPerSec\":{rate:.0}}}", t.as_secs_f64());
    }
    println!("{{\"summary\":true,\"auditEventsPerSec\":{best_audit:.0},\"baselineEventsPerSec\":{best_base:.0},\"ratio\":{:.2}}}", best_audit / best_base);
}
