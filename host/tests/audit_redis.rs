//! The Redis audit store against a real `redis-server` started here on a
//! loopback port with its own directory: several writers on one chain, lost
//! races, Redis killed and restarted mid-burst, tampering seen by
//! `verify --redis`, and export + offline verify.
//!
//! Skipped, with a message on stderr, only when `redis-server` is not
//! installed (`.ci/setup` installs it).
// Test code: a broken assumption should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod redis_server;
use redis_server::Server;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::Commands as _;
use ward::audit::{
    AuditError, AuditKey, AuditLog, AuditOptions, BreakKind, Code, Event, KeyId, PluginId, RedisTarget, ReplicaId, Sha256Digest, Verdict, Version,
    export_chain, verify_chain, verify_file,
};

const KEY_NAME: &str = "ward:audit";

fn target(server: &Server) -> RedisTarget {
    RedisTarget::new(&server.url(), KEY_NAME, None, Duration::from_millis(500), Duration::from_millis(500)).unwrap()
}

fn key() -> AuditKey {
    AuditKey::from_bytes(vec![0x5a; 32]).unwrap()
}

fn accepted(i: u64) -> Event {
    Event::LoadAccepted {
        plugin_id: PluginId::new(&format!("p{i}")).unwrap(),
        version: Version::new("1.2.3").unwrap(),
        signer_key_id: KeyId::new("ops-2026").unwrap(),
        entry_sha256: Sha256Digest([1; 32]),
        manifest_sha256: Sha256Digest([2; 32]),
    }
}

fn deny(i: u64) -> Event {
    Event::AuthenticateDeny { plugin_id: PluginId::new("p").unwrap(), reason: Code::new("missing-credential").unwrap(), duration_us: i }
}

fn open(server: &Server, replica: &str) -> AuditLog {
    AuditLog::open_redis(&target(server), &key(), ReplicaId::new(replica).unwrap(), AuditOptions::default()).unwrap()
}

fn valid_records(server: &Server) -> u64 {
    match verify_chain(&key(), &target(server)).unwrap() {
        Verdict::Valid { records, .. } => records,
        broken => panic!("chain does not verify: {broken:?}"),
    }
}

/// The stream's (id, line) entries in order.
fn entries(server: &Server) -> Vec<(String, Vec<u8>)> {
    let mut c = server.client().get_connection().unwrap();
    let reply: redis::streams::StreamRangeReply = c.xrange_all(KEY_NAME).unwrap();
    reply
        .ids
        .into_iter()
        .map(|entry| {
            let line: Vec<u8> = entry.get("r").unwrap();
            (entry.id, line)
        })
        .collect()
}

fn line_json(line: &[u8]) -> serde_json::Value {
    serde_json::from_slice(line).unwrap()
}

#[test]
fn three_writers_interleave_into_one_valid_chain() {
    let Some(server) = Server::start() else { return };
    let per_writer = 60u64;
    let logs: Vec<Arc<AuditLog>> = ["ward-a", "ward-b", "ward-c"].iter().map(|r| Arc::new(open(&server, r))).collect();
    let threads: Vec<_> = logs
        .iter()
        .map(|log| {
            let log = Arc::clone(log);
            std::thread::spawn(move || {
                for i in 0..per_writer {
                    log.lifecycle(accepted(i)).unwrap();
                    let _ = log.request(deny(i));
                }
                log.flush().unwrap();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let lost: u64 = logs.iter().map(|l| l.stats().lost_races).sum();
    drop(logs);
    assert_eq!(valid_records(&server), 3 * 2 * per_writer);
    let all = entries(&server);
    for replica in ["ward-a", "ward-b", "ward-c"] {
        let mine = all.iter().filter(|(_, line)| line_json(line)["replicaId"] == replica).count() as u64;
        assert_eq!(mine, 2 * per_writer, "{replica}");
    }
    // Entry ids follow the records' seqs.
    for (i, (id, line)) in all.iter().enumerate() {
        assert_eq!(*id, format!("{i}-1"));
        assert_eq!(line_json(line)["seq"], i as u64);
    }
    eprintln!("lost races: {lost}");
}

#[test]
fn a_lost_race_rechains_on_the_new_head_and_retries() {
    let Some(server) = Server::start() else { return };
    let a = open(&server, "ward-a");
    let b = open(&server, "ward-b");
    // b's head is now stale: a appends first.
    assert_eq!(a.lifecycle(accepted(0)).unwrap(), 0);
    assert_eq!(b.lifecycle(accepted(1)).unwrap(), 1);
    assert_eq!(b.stats().lost_races, 1);
    assert_eq!(a.lifecycle(accepted(2)).unwrap(), 2);
    assert_eq!(a.stats().lost_races, 1);
    drop((a, b));
    assert_eq!(valid_records(&server), 3);
}

#[test]
fn killing_redis_mid_burst_loses_no_acknowledged_lifecycle_event() {
    let Some(mut server) = Server::start() else { return };
    let logs: Vec<Arc<AuditLog>> = ["ward-a", "ward-b", "ward-c"].iter().map(|r| Arc::new(open(&server, r))).collect();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let threads: Vec<_> = logs
        .iter()
        .enumerate()
        .map(|(w, log)| {
            let (log, stop) = (Arc::clone(log), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                let mut refused = 0u64;
                let mut i = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let n = w as u64 * 1_000_000 + i;
                    match log.lifecycle(accepted(n)) {
                        Ok(seq) => acked.push((seq, format!("p{n}"))),
                        Err(err) => {
                            assert!(err.is_transient(), "{err}");
                            refused += 1;
                        }
                    }
                    let _ = log.request(deny(n));
                    i += 1;
                }
                (acked, refused)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    server.kill();
    // Longer than a lifecycle call can wait: for the store's lock while the
    // writer retries its own batch (up to 1 s), then its own retries (1 s).
    std::thread::sleep(Duration::from_millis(3000));
    server.spawn();
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut acked = Vec::new();
    let mut refused = 0;
    for t in threads {
        let (a, r) = t.join().unwrap();
        acked.extend(a);
        refused += r;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    for log in &logs {
        while log.flush().is_err() {
            assert!(Instant::now() < deadline, "queued request events not flushed after Redis came back");
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(log.is_healthy());
    }
    drop(logs);
    let records = valid_records(&server);
    let all = entries(&server);
    assert_eq!(all.len() as u64, records);
    for (seq, plugin) in &acked {
        let record = line_json(&all[*seq as usize].1);
        assert_eq!(record["event"], "plugin.load.accepted", "seq {seq}");
        assert_eq!(record["pluginId"], plugin.as_str(), "seq {seq}");
    }
    // No record twice: every lifecycle record's plugin id is unique.
    let mut seen = std::collections::HashSet::new();
    for (_, line) in &all {
        let record = line_json(line);
        if record["event"] == "plugin.load.accepted" {
            assert!(seen.insert(record["pluginId"].as_str().unwrap().to_owned()), "duplicate {record}");
        }
    }
    assert!(refused > 0, "the outage refused no lifecycle event: Redis was not down long enough");
    eprintln!("acknowledged {} lifecycle events, refused {refused} during the outage, {records} records", acked.len());
}

/// Rewrites the stream as `edit` leaves its entries (ids kept as given).
fn rewrite(server: &Server, edit: impl FnOnce(&mut Vec<(String, Vec<u8>)>)) {
    let mut all = entries(server);
    edit(&mut all);
    let mut c = server.client().get_connection().unwrap();
    let _: () = c.del(KEY_NAME).unwrap();
    for (id, line) in all {
        let _: String = c.xadd(KEY_NAME, id, &[("r", line)]).unwrap();
    }
}

fn chain_of(server: &Server, n: u64) {
    let log = open(server, "ward-a");
    for i in 0..n {
        log.lifecycle(accepted(i)).unwrap();
    }
}

fn broken_kind(server: &Server) -> (BreakKind, u64) {
    match verify_chain(&key(), &target(server)).unwrap() {
        Verdict::Broken(b) => (b.why, b.seq),
        Verdict::Valid { .. } => panic!("tampering not detected"),
    }
}

#[test]
fn tampering_in_redis_is_detected_by_verify() {
    let Some(server) = Server::start() else { return };
    chain_of(&server, 8);
    assert_eq!(valid_records(&server), 8);
    let pristine = entries(&server);
    let reset = |server: &Server| rewrite(server, |all| *all = pristine.clone());

    rewrite(&server, |all| all[3].1 = String::from_utf8(all[3].1.clone()).unwrap().replace("\"p3\"", "\"p9\"").into_bytes());
    assert_eq!(broken_kind(&server), (BreakKind::Modified, 3));
    reset(&server);

    rewrite(&server, |all| {
        all.remove(3);
    });
    assert_eq!(broken_kind(&server), (BreakKind::Deleted, 3));
    reset(&server);

    rewrite(&server, |all| {
        let (l3, l4) = (all[3].1.clone(), all[4].1.clone());
        all[3].1 = l4;
        all[4].1 = l3;
    });
    assert_eq!(broken_kind(&server), (BreakKind::Reordered, 3));
    reset(&server);
    assert_eq!(valid_records(&server), 8);

    // The head moved back to an earlier (genuine) record.
    let mut c = server.client().get_connection().unwrap();
    let old_head = {
        let line = line_json(&pristine[5].1);
        format!("5 {}", line["mac"].as_str().unwrap())
    };
    let _: () = c.set(format!("{KEY_NAME}:head"), &old_head).unwrap();
    assert_eq!(broken_kind(&server), (BreakKind::HeadMismatch, 8));
    // ... and no writer appends onto it: it would fork the chain.
    let err = AuditLog::open_redis(&target(&server), &key(), ReplicaId::new("ward-b").unwrap(), AuditOptions::default()).unwrap_err();
    assert_eq!(err.code(), "audit-store-head");

    // The tail cut off, head left: truncated.
    reset(&server);
    let _: () = c.set(format!("{KEY_NAME}:head"), format!("7 {}", line_json(&pristine[7].1)["mac"].as_str().unwrap())).unwrap();
    rewrite(&server, |all| {
        all.truncate(6);
    });
    assert_eq!(broken_kind(&server), (BreakKind::Truncated, 6));
}

#[test]
fn a_running_writer_refuses_a_head_that_went_back_and_is_not_ready() {
    let Some(server) = Server::start() else { return };
    let log = open(&server, "ward-a");
    for i in 0..4 {
        log.lifecycle(accepted(i)).unwrap();
    }
    // Someone else's append moves the head on, then Redis "loses" the last
    // two records (as a restart with appendfsync everysec may).
    let other = open(&server, "ward-b");
    other.lifecycle(accepted(4)).unwrap();
    drop(other);
    let all = entries(&server);
    rewrite(&server, |all| all.truncate(2));
    let mut c = server.client().get_connection().unwrap();
    let _: () = c.set(format!("{KEY_NAME}:head"), format!("1 {}", line_json(&all[1].1)["mac"].as_str().unwrap())).unwrap();
    let err = log.lifecycle(accepted(9)).unwrap_err();
    assert_eq!(err.code(), "audit-store-rolled-back", "{err}");
    assert!(!log.is_healthy());
    // Refused from now on, without touching the store.
    assert_eq!(log.lifecycle(accepted(10)).unwrap_err().code(), "audit-store-rolled-back");
    assert_eq!(entries(&server).len(), 2);
}

#[test]
fn export_verifies_offline_and_never_replaces_a_file() {
    let Some(server) = Server::start() else { return };
    let a = open(&server, "ward-a");
    let b = open(&server, "ward-b");
    for i in 0..20 {
        a.lifecycle(accepted(i)).unwrap();
        let _ = b.request(deny(i));
    }
    b.flush().unwrap();
    drop((a, b));
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("fleet.jsonl");
    let exported = export_chain(&target(&server), &out).unwrap();
    assert_eq!(exported.records, 40);
    assert!(exported.head_matches);
    assert_eq!(exported.head.as_ref().map(|h| h.0), Some(39));
    assert_eq!(verify_file(&key(), &out).unwrap(), Verdict::Valid { records: 40, last_seq: Some(39) });
    assert!(export_chain(&target(&server), &out).is_err());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[test]
fn redis_down_at_start_refuses_to_open() {
    let Some(mut server) = Server::start() else { return };
    server.kill();
    let err = AuditLog::open_redis(&target(&server), &key(), ReplicaId::new("ward-a").unwrap(), AuditOptions::default()).unwrap_err();
    assert_eq!(err.code(), "audit-store-unavailable");
    assert!(matches!(err, AuditError::StoreUnavailable { .. }));
}

/// `ward audit verify --redis`, `ward audit export --redis` and the offline
/// `ward audit verify FILE`, through the binary.
#[test]
fn the_cli_verifies_exports_and_reports_a_moved_head() {
    let Some(server) = Server::start() else { return };
    chain_of(&server, 5);
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("audit.key");
    {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&key_file).unwrap();
        f.write_all(&[0x5a; 32]).unwrap();
    }
    let ward = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_ward")).args(args).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let url = server.url();
    let key = key_file.to_str().unwrap();
    let (code, stdout, stderr) = ward(&["audit", "verify", "--redis", &url, "--key", key]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&stdout).unwrap()["records"], 5);

    let out = dir.path().join("fleet.jsonl");
    let (code, stdout, stderr) = ward(&["audit", "export", "--redis", &url, "--out", out.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let exported: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(exported["head"]["seq"], 4);
    let (code, stdout, _) = ward(&["audit", "verify", out.to_str().unwrap(), "--key", key, "--expect-last-seq", "4"]);
    assert_eq!(code, Some(0), "{stdout}");

    let mut c = server.client().get_connection().unwrap();
    let first = line_json(&entries(&server)[1].1);
    let _: () = c.set(format!("{KEY_NAME}:head"), format!("1 {}", first["mac"].as_str().unwrap())).unwrap();
    let (code, stdout, _) = ward(&["audit", "verify", "--redis", &url, "--key", key]);
    assert_eq!(code, Some(1), "{stdout}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&stdout).unwrap()["why"], "head-mismatch");
    // A password in the URL is refused before anything is sent.
    let (code, _, stderr) = ward(&["audit", "verify", "--redis", &format!("redis://:hunter2@127.0.0.1:{}/0", server.port), "--key", key]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("must not carry a password") && !stderr.contains("hunter2"), "{stderr}");
}
