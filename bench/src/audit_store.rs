//! `ward-bench --plugin audit-store --redis-url URL`: what the audit store
//! itself sustains, apart from the `/auth` path. Each of `--writers` logs
//! stands for a replica (its own writer thread and batches, as in `ward
//! serve`), fed allow records as fast as one producer thread per log can
//! queue them, for `--seconds` (default 2): first into one file each (the file store, the
//! baseline), then all into the one Redis chain at URL. Prints records/s for
//! both, the lost races per 1 000 appends and the chain's verdict.
//!
//! Why apart from `/auth`: on this 2-core machine the fleet run
//! (`scripts/fleet`) is bound by nginx, wrk and the sandboxed calls sharing
//! the CPU, so its audit rate equals its request rate whichever store is
//! used; this run shows how far the store would go with more CPU in front.
//! The Redis server is the caller's (scripts/fleet starts one).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use ward::audit::{AuditKey, AuditLog, AuditOptions, AuditStats, Event, IdentityId, PluginId, RedisTarget, ReplicaId, Verdict, verify_chain, verify_files};

use crate::{BenchError, fail};

/// `--plugin audit-store` arguments.
#[derive(clap::Args)]
#[group(id = "audit-store-args")]
#[command(next_help_heading = "--plugin audit-store")]
pub struct Args {
    /// The Redis server to append to (`redis://127.0.0.1:PORT/0`); its
    /// `ward:bench-audit` stream must be empty or absent.
    #[arg(long)]
    redis_url: Option<String>,
    /// Logs appending at once (the replicas of a fleet).
    #[arg(long, default_value_t = 3)]
    writers: usize,
}

const STREAM: &str = "ward:bench-audit";

/// Runs the file side, then the Redis side, and prints one JSON report.
pub fn run(args: &Args, seconds: f64) -> Result<(), BenchError> {
    let url = args.redis_url.as_deref().ok_or_else(|| fail("--plugin audit-store needs --redis-url (scripts/fleet starts a Redis and passes it)"))?;
    let writers = args.writers.clamp(1, 64);
    let duration = Duration::from_secs_f64(seconds.max(0.1));
    let key = AuditKey::from_bytes(vec![0x5a; 32]).map_err(|e| fail(e.to_string()))?;
    let options = AuditOptions { record_allowed: true, ..AuditOptions::default() };

    let dir = PathBuf::from("target/bench-audit-store");
    // A previous run's files would be appended to, not replaced.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
    let paths: Vec<PathBuf> = (0..writers).map(|n| dir.join(format!("replica-{n}.log"))).collect();
    // One live file each, never rotated, so each verifies on its own.
    let file_options = AuditOptions { max_file_bytes: u64::MAX, ..options.clone() };
    let file_logs = paths.iter().map(|p| AuditLog::open(p, &key, file_options.clone())).collect::<Result<Vec<_>, _>>().map_err(|e| fail(e.to_string()))?;
    let (elapsed, stats) = drive(file_logs, duration)?;
    let (mut records, mut file_valid) = (0, true);
    for path in &paths {
        match verify_files(&key, std::slice::from_ref(path), None).map_err(|e| fail(e.to_string()))? {
            Verdict::Valid { records: in_file, .. } => records += in_file,
            Verdict::Broken(_) => file_valid = false,
        }
    }
    let file = Side { records, elapsed, stats };
    // Hundreds of MB a run; nothing to keep.
    let _ = std::fs::remove_dir_all(&dir);

    let target = RedisTarget::new(url, STREAM, None, Duration::from_secs(2), Duration::from_secs(2)).map_err(|e| fail(e.to_string()))?;
    let redis_logs = (0..writers)
        .map(|n| {
            let replica = ReplicaId::new(&format!("bench-{n}")).map_err(|e| fail(e.to_string()))?;
            AuditLog::open_redis(&target, &key, replica, options.clone()).map_err(|e| fail(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (elapsed, stats) = drive(redis_logs, duration)?;
    let (records, redis_valid) = match verify_chain(&key, &target).map_err(|e| fail(e.to_string()))? {
        Verdict::Valid { records, .. } => (records, true),
        Verdict::Broken(_) => (0, false),
    };
    let redis = Side { records, elapsed, stats };

    let report = json!({
        "bench": "audit-store",
        "writers": writers,
        "seconds": duration.as_secs_f64(),
        "file": file.json(file_valid),
        "redis": redis.json(redis_valid),
        "redis_over_file": redis.per_second() / file.per_second(),
    });
    println!("{}", serde_json::to_string_pretty(&report).map_err(|e| fail(e.to_string()))?);
    if !(file_valid && redis_valid) {
        return Err(fail("a chain written by the bench does not verify"));
    }
    Ok(())
}

/// What one side appended: the records its chain holds (counted by
/// verifying it), the time to the last close, the logs' counters.
struct Side {
    records: u64,
    elapsed: Duration,
    stats: AuditStats,
}

impl Side {
    fn per_second(&self) -> f64 {
        self.records as f64 / self.elapsed.as_secs_f64()
    }

    fn json(&self, valid: bool) -> serde_json::Value {
        let s = &self.stats;
        json!({
            "records": self.records,
            "records_per_second": self.per_second().round(),
            "records_per_batch": s.appended as f64 / s.batches.max(1) as f64,
            "lost_races_per_1000_appends": s.lost_races as f64 * 1000.0 / s.batches.max(1) as f64,
            "mean_append_ms": s.append_micros as f64 / 1000.0 / s.batches.max(1) as f64,
            "store_errors": s.store_errors,
            "chain_valid": valid,
        })
    }
}

/// Feeds every log from its own thread for `duration`, then closes them
/// (their queues written out) and sums their counters (as of just before
/// the close). The time runs to the last close, so queued records are paid for.
fn drive(logs: Vec<AuditLog>, duration: Duration) -> Result<(Duration, AuditStats), BenchError> {
    let plugin = PluginId::new("bench").map_err(|e| fail(e.to_string()))?;
    let identity = IdentityId::new("bench:0123456789abcdef0123456789abcdef").map_err(|e| fail(e.to_string()))?;
    let started = Instant::now();
    let deadline = started + duration;
    let logs: Vec<Arc<AuditLog>> = logs.into_iter().map(Arc::new).collect();
    let feeders: Vec<_> = logs
        .iter()
        .map(|log| {
            let (log, plugin, identity) = (Arc::clone(log), plugin.clone(), identity.clone());
            std::thread::spawn(move || {
                while Instant::now() < deadline {
                    // A full queue waits (the default policy), so the feeder runs at the store's pace.
                    for duration_us in 0..256 {
                        let _ = log.request(Event::AuthenticateAllow { plugin_id: plugin.clone(), identity_id: identity.clone(), duration_us });
                    }
                }
            })
        })
        .collect();
    for feeder in feeders {
        feeder.join().map_err(|_| fail("a feeder thread panicked"))?;
    }
    let mut total = AuditStats::default();
    for log in logs {
        let log = Arc::into_inner(log).ok_or_else(|| fail("a log is still shared"))?;
        let before = log.stats();
        log.close().map_err(|e| fail(e.to_string()))?;
        total.appended += before.appended;
        total.batches += before.batches;
        total.lost_races += before.lost_races;
        total.store_errors += before.store_errors;
        total.append_micros += before.append_micros;
    }
    Ok((started.elapsed(), total))
}
