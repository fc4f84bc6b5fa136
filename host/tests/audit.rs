//! The audit log: chain, tamper kinds, recovery, rotation, lock, overflow
//! policies, the CLI, and a real SIGKILL crash.
// Test code: a broken assumption should stop the test loudly, so unwrap,
// expect, panic and indexing are allowed (clippy.toml does the same for
// `#[cfg(test)]` modules).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use ward::audit::{
    AuditError, AuditKey, AuditLog, AuditOptions, Break, BreakKind, Code, Enqueued, Event, IdentityId, KeyError, KeyId, OverflowPolicy, PluginId, Sha256Digest,
    TrapKind, Verdict, Version, WouldWait, rotated_path, verify_file, verify_files,
};

const MARKER: &str = "Bearer SECRET-MARKER-7f3a";

fn key() -> AuditKey {
    AuditKey::from_bytes(vec![0x5a; 32]).unwrap()
}

fn pid(i: u64) -> PluginId {
    PluginId::new(&format!("p{i}")).unwrap()
}

fn accepted(i: u64) -> Event {
    Event::LoadAccepted {
        plugin_id: pid(i),
        version: Version::new("1.2.3").unwrap(),
        signer_key_id: KeyId::new("ops-2026").unwrap(),
        entry_sha256: Sha256Digest([1; 32]),
        manifest_sha256: Sha256Digest([2; 32]),
    }
}

fn deny(i: u64) -> Event {
    Event::AuthenticateDeny { plugin_id: pid(i), reason: Code::new("missing-credential").unwrap(), duration_us: i }
}

fn options() -> AuditOptions {
    AuditOptions::default()
}

/// A log of `n` lifecycle records at `dir/audit.log`.
fn log_with(dir: &Path, n: u64) -> PathBuf {
    let path = dir.join("audit.log");
    let log = AuditLog::open(&path, &key(), options()).unwrap();
    for i in 0..n {
        assert_eq!(log.lifecycle(accepted(i)).unwrap(), i);
    }
    log.close().unwrap();
    path
}

fn lines(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    let mut v: Vec<Vec<u8>> = bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    if v.last().is_some_and(Vec::is_empty) {
        v.pop();
    }
    v
}

fn write_lines(path: &Path, lines: &[Vec<u8>]) {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    std::fs::write(path, out).unwrap();
}

fn broken(path: &Path, seq: u64, line: u64, why: BreakKind) -> Verdict {
    Verdict::Broken(Break { seq, file: path.to_path_buf(), line, why })
}

fn records(path: &Path) -> Vec<Value> {
    lines(path).iter().map(|l| serde_json::from_slice(l).unwrap()).collect()
}

#[test]
fn intact_log_verifies_with_every_record_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let log = AuditLog::open(&path, &key(), options()).unwrap();
    for i in 0..10 {
        log.lifecycle(accepted(i)).unwrap();
    }
    for i in 0..100 {
        assert_eq!(log.request(deny(i)), Enqueued::Queued);
    }
    assert_eq!(log.flush().unwrap(), 110);
    log.close().unwrap();
    assert_eq!(verify_file(&key(), &path).unwrap(), Verdict::Valid { records: 110, last_seq: Some(109) });
    let first = &records(&path)[0];
    assert_eq!(first["event"], "plugin.load.accepted");
    assert_eq!(first["seq"], 0);
    assert_eq!(first["entrySha256"], "01".repeat(32));
    assert_eq!(first["mac"].as_str().unwrap().len(), 64);
}

#[test]
fn record_layout_is_canonical_with_mac_last() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_with(dir.path(), 1);
    let line = String::from_utf8(lines(&path)[0].clone()).unwrap();
    let expected_prefix = format!(
        "{{\"entrySha256\":\"{}\",\"event\":\"plugin.load.accepted\",\"manifestSha256\":\"{}\",\"pluginId\":\"p0\",\"seq\":0,\"signerKeyId\":\"ops-2026\",\"ts\":\"",
        "01".repeat(32),
        "02".repeat(32)
    );
    assert!(line.starts_with(&expected_prefix), "{line}");
    // mac = HMAC(key, 32 zero bytes ‖ canonical), canonical = line without the mac field.
    let (canonical_body, mac_part) = line.split_once(",\"mac\":\"").unwrap();
    let canonical = format!("{canonical_body}}}");
    use hmac::Mac;
    let mut h = hmac::Hmac::<sha2::Sha256>::new_from_slice(&[0x5a; 32]).unwrap();
    h.update(&[0u8; 32]);
    h.update(canonical.as_bytes());
    assert_eq!(mac_part, format!("{}\"}}", hex::encode(h.finalize().into_bytes())));
}

mod tamper {
    use super::*;

    fn tampered(edit: impl FnOnce(&mut Vec<Vec<u8>>)) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = log_with(dir.path(), 10);
        let mut l = lines(&path);
        edit(&mut l);
        write_lines(&path, &l);
        (dir, path)
    }

    #[test]
    fn changed_field_is_modified_at_its_seq() {
        let (_d, path) = tampered(|l| {
            let s = String::from_utf8(l[3].clone()).unwrap().replace("\"pluginId\":\"p3\"", "\"pluginId\":\"p9\"");
            l[3] = s.into_bytes();
        });
        assert_eq!(verify_file(&key(), &path).unwrap(), broken(&path, 3, 4, BreakKind::Modified));
    }

    #[test]
    fn duplicate_key_with_valid_mac_is_modified() {
        // Same mac and the same last value, but a first `pluginId` a naive reader would see.
        let (_d, path) = tampered(|l| {
            let s = String::from_utf8(l[3].clone()).unwrap().replacen('{', "{\"pluginId\":\"evil\",", 1);
            l[3] = s.into_bytes();
        });
        assert_eq!(verify_file(&key(), &path).unwrap(), broken(&path, 3, 4, BreakKind::Modified));
    }

    #[test]
    fn edited_seq_is_modified() {
        let (_d, path) = tampered(|l| {
            let s = String::from_utf8(l[3].clone()).unwrap().replace("\"seq\":3,", "\"seq\":7,");
            l[3] = s.into_bytes();
        });
        assert_eq!(verify_file(&key(), &path).unwrap(), broken(&path, 3, 4, BreakKind::Modified));
    }

    #[test]
    fn replayed_older_record_is_inserted() {
        let (_d, path) = tampered(|l| {
            let copy = l[2].clone();
            l.insert(6, copy);
        });
        assert_eq!(verify_file(&key(), &path).unwrap(), broken(&path, 6, 7, BreakKind::Inserted));
    }

    #[test]
    fn forged_record_with_the_right_seq_is_inserted() {
        let (_d, path) = tampered(|l| {
            let forged = String::from_utf8(l[6].clone()).unwrap().replace("\"pluginId\":\"p6\"", "\"pluginId\":\"px\"");
            l.insert(6, forged.into_bytes());
        });
        assert_eq!(verify_file(&key(), &path).unwrap(), broken(&path, 6, 7, BreakKind::Inserted));
    }

    #[test]
    fn removed_record_is_deleted_at_the_missing_seq() {
        let (_d, path) = tampered(|l| {
            l.remove(4);
        });
        assert_eq!(verify_file(&key(), &path).unwrap(), broken(&path, 4, 5, BreakKind::Deleted));
    }

    #[test]
    fn several_removed_records_are_deleted_at_the_first() {
        let (_d, path) = tampered(|l| {
            l.drain(2..5);
        });
        assert_eq!(verify_file(&key(), &path).unwrap(), broken(&path, 2, 3, BreakKind::Deleted));
    }

    #[test]
    fn swapped_records_are_reordered() {
        let (_d, path) = tampered(|l| l.swap(4, 5));
        assert_eq!(verify_file(&key(), &path).unwrap(), broken(&path, 4, 5, BreakKind::Reordered));
    }

    #[test]
    fn record_moved_later_is_reordered() {
        let (_d, path) = tampered(|l| {
            let moved = l.remove(2);
            l.insert(7, moved);
        });
        assert_eq!(verify_file(&key(), &path).unwrap(), broken(&path, 2, 3, BreakKind::Reordered));
    }

    #[test]
    fn torn_last_line_is_truncated() {
        let (_d, path) = tampered(|_| {});
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 20]).unwrap();
        assert_eq!(verify_file(&key(), &path).unwrap(), broken(&path, 9, 10, BreakKind::Truncated));
    }

    #[test]
    fn cut_tail_is_only_seen_with_expect_last_seq() {
        let (_d, path) = tampered(|l| {
            l.truncate(7);
        });
        assert_eq!(verify_file(&key(), &path).unwrap(), Verdict::Valid { records: 7, last_seq: Some(6) });
        assert_eq!(verify_files(&key(), std::slice::from_ref(&path), Some(9)).unwrap(), broken(&path, 7, 8, BreakKind::Truncated));
        assert_eq!(verify_files(&key(), std::slice::from_ref(&path), Some(6)).unwrap(), Verdict::Valid { records: 7, last_seq: Some(6) });
    }

    #[test]
    fn garbage_and_huge_lines_are_malformed() {
        let (_d, path) = tampered(|l| l[5] = vec![0xff, 0x00, b'{', 0x80]);
        assert_eq!(verify_file(&key(), &path).unwrap(), broken(&path, 5, 6, BreakKind::Malformed));
        let (_d, path) = tampered(|l| l[2] = vec![b'a'; 1 << 20]);
        assert_eq!(verify_file(&key(), &path).unwrap(), broken(&path, 2, 3, BreakKind::Malformed));
        let (_d, path) = tampered(|l| l[0] = b"{\"seq\":0}".to_vec());
        assert_eq!(verify_file(&key(), &path).unwrap(), broken(&path, 0, 1, BreakKind::Malformed));
    }

    #[test]
    fn wrong_key_breaks_at_the_first_record() {
        let (_d, path) = tampered(|_| {});
        let other = AuditKey::from_bytes(vec![0x11; 32]).unwrap();
        assert_eq!(verify_file(&other, &path).unwrap(), broken(&path, 0, 1, BreakKind::Modified));
    }

    #[test]
    fn missing_file_is_an_error_not_a_verdict() {
        let err = verify_file(&key(), Path::new("/nonexistent/audit.log")).unwrap_err();
        assert_eq!(err.code(), "audit-verify-io");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4096)) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("x.log");
            std::fs::write(&path, &bytes).unwrap();
            let verdict = verify_file(&key(), &path).unwrap();
            let valid = matches!(verdict, Verdict::Valid { .. });
            proptest::prop_assert_eq!(bytes.is_empty(), valid);
        }
    }
}

#[test]
fn torn_tail_is_cut_and_recorded_and_the_chain_continues() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_with(dir.path(), 5);
    let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(b"{\"entrySha256\":\"0101").unwrap();
    drop(f);
    let log = AuditLog::open(&path, &key(), options()).unwrap();
    assert_eq!(log.recovered(), Some(20));
    assert_eq!(log.lifecycle(accepted(6)).unwrap(), 6);
    log.close().unwrap();
    let recs = records(&path);
    assert_eq!(recs.len(), 7);
    assert_eq!(recs[5]["event"], "audit.recovered");
    assert_eq!(recs[5]["seq"], 5);
    assert_eq!(recs[5]["truncatedBytes"], 20);
    assert_eq!(verify_file(&key(), &path).unwrap(), Verdict::Valid { records: 7, last_seq: Some(6) });
    // A clean reopen records nothing.
    let log = AuditLog::open(&path, &key(), options()).unwrap();
    assert_eq!(log.recovered(), None);
    log.close().unwrap();
    assert_eq!(records(&path).len(), 7);
}

#[test]
fn garbage_complete_last_line_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_with(dir.path(), 3);
    let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(b"not a record\n").unwrap();
    drop(f);
    let err = AuditLog::open(&path, &key(), options()).unwrap_err();
    assert_eq!(err, AuditError::CorruptTail { path: path.display().to_string(), line: 4 });
}

#[test]
fn reopening_with_another_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_with(dir.path(), 3);
    let other = AuditKey::from_bytes(vec![0x11; 32]).unwrap();
    let err = AuditLog::open(&path, &other, options()).unwrap_err();
    assert_eq!(err.code(), "audit-key-mismatch");
}

#[test]
fn rotation_keeps_one_chain_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let opts = AuditOptions { max_file_bytes: 2000, ..options() };
    let log = AuditLog::open(&path, &key(), opts.clone()).unwrap();
    for i in 0..40 {
        log.lifecycle(accepted(i)).unwrap();
    }
    log.close().unwrap();
    // Reopening continues from the right file even when the live file is empty.
    let log = AuditLog::open(&path, &key(), opts).unwrap();
    log.lifecycle(accepted(40)).unwrap();
    log.close().unwrap();
    let mut files: Vec<PathBuf> = (1..).map(|i| rotated_path(&path, i)).take_while(|p| p.exists()).collect();
    assert!(files.len() >= 3, "{files:?}");
    files.push(path.clone());
    assert_eq!(verify_files(&key(), &files, Some(40)).unwrap(), Verdict::Valid { records: 41, last_seq: Some(40) });
    // A file missing in the middle: deleted at its first seq, found at the next file's first line.
    let first_of_2 = records(&files[1])[0]["seq"].as_u64().unwrap();
    let without_2: Vec<PathBuf> = files.iter().enumerate().filter(|(i, _)| *i != 1).map(|(_, p)| p.clone()).collect();
    assert_eq!(verify_files(&key(), &without_2, None).unwrap(), broken(&files[2], first_of_2, 1, BreakKind::Deleted));
    // The oldest file missing: deleted at seq 0.
    assert_eq!(verify_files(&key(), &files[1..], None).unwrap(), broken(&files[1], 0, 1, BreakKind::Deleted));
}

#[test]
fn second_writer_on_the_same_log_is_refused_until_the_first_closes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let first = AuditLog::open(&path, &key(), options()).unwrap();
    let err = AuditLog::open(&path, &key(), options()).unwrap_err();
    assert_eq!(err.code(), "audit-locked");
    assert!(err.to_string().contains("in use by another ward process"), "{err}");
    drop(first);
    AuditLog::open(&path, &key(), options()).unwrap();
}

#[test]
fn second_process_on_the_same_log_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let _held = AuditLog::open(&path, &key(), options()).unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child::open_only", "--nocapture", "--test-threads=1"])
        .env("WARD_AUDIT_CHILD_LOG", &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("open-result audit-locked"), "{stdout}");
}

/// Another name for a live log cannot start a second writer on it: each
/// writer appending its own chain would break both.
mod other_names {
    use super::*;

    #[test]
    fn a_symlink_to_a_live_log_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let link = other.path().join("audit.log");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let first = AuditLog::open(&path, &key(), options()).unwrap();
        let err = AuditLog::open(&link, &key(), options()).unwrap_err();
        assert_eq!(err.code(), "audit-locked", "{err}");
        drop(first);
        // Either name works once the other writer is gone.
        AuditLog::open(&link, &key(), options()).unwrap();
    }

    /// A guard, not a regression test: this case was already refused (the
    /// lock file's own path goes through the same directory); resolving the
    /// path must keep it so.
    #[test]
    fn a_symlinked_directory_is_the_same_log() {
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let via = other.path().join("logs");
        std::os::unix::fs::symlink(dir.path(), &via).unwrap();
        let _first = AuditLog::open(&dir.path().join("audit.log"), &key(), options()).unwrap();
        let err = AuditLog::open(&via.join("audit.log"), &key(), options()).unwrap_err();
        assert_eq!(err.code(), "audit-locked", "{err}");
    }

    #[test]
    fn a_hard_link_to_a_live_log_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let first = AuditLog::open(&path, &key(), options()).unwrap();
        let hard = dir.path().join("hard.log");
        std::fs::hard_link(&path, &hard).unwrap();
        // The lock file beside `hard.log` is free; the log's own lock is not.
        let err = AuditLog::open(&hard, &key(), options()).unwrap_err();
        assert_eq!(err.code(), "audit-locked", "{err}");
        assert!(err.to_string().contains(&format!("(lock {} is held)", hard.display())), "{err}");
        drop(first);
    }

    #[test]
    fn the_new_live_file_is_locked_after_a_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let opts = AuditOptions { max_file_bytes: 1000, ..options() };
        let log = AuditLog::open(&path, &key(), opts.clone()).unwrap();
        for i in 0..10 {
            log.lifecycle(accepted(i)).unwrap();
        }
        assert!(rotated_path(&path, 1).exists());
        let hard = dir.path().join("hard.log");
        std::fs::hard_link(&path, &hard).unwrap();
        assert_eq!(AuditLog::open(&hard, &key(), opts).unwrap_err().code(), "audit-locked");
    }
}

/// The log is created owner-only whatever the umask; an existing log keeps
/// its mode unless group or others may write it.
mod modes {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// An existing, empty `dir/audit.log` with `mode`.
    fn empty_log(dir: &Path, mode: u32) -> PathBuf {
        let path = dir.join("audit.log");
        std::fs::write(&path, b"").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn a_new_log_and_its_lock_are_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let log = AuditLog::open(&path, &key(), options()).unwrap();
        log.close().unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.path().join("audit.log.lock")), 0o600);
    }

    #[test]
    fn a_new_log_is_0600_under_any_umask() {
        // umask is per process: run the open in a child under `umask 000`
        // (which would leave a plain create 0666) and `umask 277` (0400).
        for umask in ["000", "277"] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("audit.log");
            let out = Command::new("sh")
                .args(["-c", &format!("umask {umask} && exec \"$0\" \"$@\"")])
                .arg(std::env::current_exe().unwrap())
                .args(["--exact", "child::open_only", "--nocapture", "--test-threads=1"])
                .env("WARD_AUDIT_CHILD_LOG", &path)
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(stdout.contains("open-result ok"), "umask {umask}: {stdout}");
            assert_eq!(mode(&path), 0o600, "umask {umask}");
        }
    }

    #[test]
    fn an_existing_log_keeps_its_mode_and_rotation_passes_it_on() {
        let dir = tempfile::tempdir().unwrap();
        // Group-readable, for a log shipper: kept.
        let path = empty_log(dir.path(), 0o640);
        let opts = AuditOptions { max_file_bytes: 1000, ..options() };
        let log = AuditLog::open(&path, &key(), opts).unwrap();
        for i in 0..10 {
            log.lifecycle(accepted(i)).unwrap();
        }
        log.close().unwrap();
        assert!(rotated_path(&path, 1).exists());
        assert_eq!(mode(&rotated_path(&path, 1)), 0o640);
        assert_eq!(mode(&path), 0o640, "the live file after a rotation");
    }

    #[test]
    fn a_log_others_may_write_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = empty_log(dir.path(), 0o664);
        let err = AuditLog::open(&path, &key(), options()).unwrap_err();
        assert_eq!(err.code(), "audit-too-open");
        assert!(err.to_string().contains("(mode 664); run: chmod 600"), "{err}");
        assert_eq!(mode(&path), 0o664, "refused, not changed");
    }
}

/// The log must be a regular file: a FIFO would block the open (or the tail
/// read) forever, a device would swallow the records.
mod not_regular {
    use super::*;
    use std::sync::mpsc;

    fn open_within_deadline(path: PathBuf) -> Result<AuditLog, AuditError> {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(AuditLog::open(&path, &key(), options()));
        });
        rx.recv_timeout(Duration::from_secs(10)).expect("AuditLog::open did not return (blocked on a FIFO?)")
    }

    #[test]
    fn a_fifo_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        assert!(Command::new("mkfifo").arg(&path).status().unwrap().success());
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        let err = open_within_deadline(path).unwrap_err();
        assert_eq!(err.code(), "audit-not-regular");
        assert!(err.to_string().ends_with("is a FIFO, not a regular file"), "{err}");
    }

    #[test]
    fn a_fifo_as_the_lock_file_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        assert!(Command::new("mkfifo").arg(dir.path().join("audit.log.lock")).status().unwrap().success());
        assert_eq!(open_within_deadline(path).unwrap_err().code(), "audit-io");
    }

    #[test]
    fn a_device_or_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("audit.log");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        let err = open_within_deadline(link).unwrap_err();
        assert_eq!((err.code(), err.to_string().contains("is a character device")), ("audit-not-regular", true), "{err}");
        let sub = dir.path().join("sub.log");
        std::fs::create_dir(&sub).unwrap();
        assert_eq!(open_within_deadline(sub).unwrap_err().code(), "audit-not-regular");
    }
}

#[test]
fn drop_and_count_accounts_for_every_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let opts = AuditOptions { queue_capacity: 1, policy: OverflowPolicy::DropAndCount, ..options() };
    let log = AuditLog::open(&path, &key(), opts).unwrap();
    let total = 50_000u64;
    let mut queued = 0;
    for i in 0..total {
        match log.request(deny(i)) {
            Enqueued::Queued => queued += 1,
            Enqueued::Dropped => {}
            Enqueued::NotRecorded => panic!("deny is always recorded"),
        }
    }
    log.flush().unwrap();
    assert_eq!(log.pending_dropped(), 0);
    log.close().unwrap();
    let recs = records(&path);
    let denies = recs.iter().filter(|r| r["event"] == "plugin.authenticate.deny").count() as u64;
    let dropped: u64 = recs.iter().filter(|r| r["event"] == "audit.dropped").map(|r| r["count"].as_u64().unwrap()).sum();
    assert_eq!(denies, queued);
    assert_eq!(denies + dropped, total);
    assert!(dropped > 0, "a one-slot queue under a tight loop should overflow");
    assert_eq!(verify_file(&key(), &path).unwrap(), Verdict::Valid { records: recs.len() as u64, last_seq: Some(recs.len() as u64 - 1) });
}

#[test]
fn block_policy_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let opts = AuditOptions { queue_capacity: 1, policy: OverflowPolicy::Block { max_wait: Duration::from_secs(30) }, ..options() };
    let log = AuditLog::open(&path, &key(), opts).unwrap();
    for i in 0..2_000 {
        assert_eq!(log.request(deny(i)), Enqueued::Queued);
    }
    log.close().unwrap();
    let recs = records(&path);
    assert_eq!(recs.len(), 2_000);
    assert!(recs.iter().all(|r| r["event"] == "plugin.authenticate.deny"));
}

/// `ward serve` polls decisions on its I/O threads: `try_request` must hand
/// the event back rather than wait for room, and the caller's blocking
/// `request` (off those threads) then records it; nothing is lost.
#[test]
fn try_request_hands_back_what_would_wait_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let opts = AuditOptions { queue_capacity: 1, policy: OverflowPolicy::Block { max_wait: Duration::from_secs(30) }, ..options() };
    let log = AuditLog::open(&path, &key(), opts).unwrap();
    let mut handed_back = 0;
    for i in 0..2_000 {
        match log.try_request(deny(i)) {
            Ok(enqueued) => assert_eq!(enqueued, Enqueued::Queued),
            Err(WouldWait(event)) => {
                assert_eq!(*event, deny(i), "the very event comes back");
                handed_back += 1;
                assert_eq!(log.request(*event), Enqueued::Queued);
            }
        }
    }
    assert!(handed_back > 0, "a one-slot queue under a tight loop fills");
    log.close().unwrap();
    let recs = records(&path);
    assert_eq!(recs.len(), 2_000);
    assert!(recs.iter().all(|r| r["event"] == "plugin.authenticate.deny"));
}

#[test]
fn allowed_decisions_are_recorded_only_when_switched_on() {
    let dir = tempfile::tempdir().unwrap();
    let allow = || Event::AuthenticateAllow { plugin_id: pid(1), identity_id: IdentityId::new("p1:0123456789abcdef0123456789abcdef").unwrap(), duration_us: 5 };
    let path = dir.path().join("off.log");
    let log = AuditLog::open(&path, &key(), options()).unwrap();
    assert_eq!(log.request(allow()), Enqueued::NotRecorded);
    log.close().unwrap();
    assert!(records(&path).is_empty());
    let path = dir.path().join("on.log");
    let log = AuditLog::open(&path, &key(), AuditOptions { record_allowed: true, ..options() }).unwrap();
    assert_eq!(log.request(allow()), Enqueued::Queued);
    log.close().unwrap();
    let recs = records(&path);
    assert_eq!(recs[0]["event"], "plugin.authenticate.allow");
    assert_eq!(recs[0]["identityId"], "p1:0123456789abcdef0123456789abcdef");
}

#[test]
fn free_text_cannot_enter_a_record() {
    for bad in [MARKER, "", "p 1", "p\n1", "pé", &"a".repeat(65)] {
        let err = PluginId::new(bad).unwrap_err();
        assert_eq!(err, AuditError::InvalidField { field: "pluginId" });
        assert!(!err.to_string().contains("MARKER"));
    }
    assert_eq!(KeyId::new(MARKER).unwrap_err().code(), "audit-invalid-field");
    assert_eq!(IdentityId::new(MARKER).unwrap_err().code(), "audit-invalid-field");
    assert_eq!(Code::new("Bearer x").unwrap_err(), AuditError::InvalidField { field: "code" });
    // docs/stability.md: codes are kebab-case; the dotted form is refused.
    assert!(Code::new("bad-signature").is_ok() && Code::new("plugin:expired").is_ok());
    assert!(Code::new("trust.bad_signature").is_err() && Code::new("half_open").is_err() && Code::new("a--b").is_err());
}

#[test]
fn every_event_name_and_field_is_stable() {
    use ward::audit::{BreakerState, ConformanceVerdict, KeyMaterialName, UnloadCause};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let log = AuditLog::open(&path, &key(), options()).unwrap();
    let c = |s| Code::new(s).unwrap();
    let events = vec![
        accepted(1),
        Event::LoadRefused { reason: c("bad-signature"), plugin_id: Some(pid(1)), signer_key_id: None },
        Event::ConformanceFailed { plugin_id: pid(1), case_index: 3, expected: ConformanceVerdict::Deny, got: ConformanceVerdict::Allow },
        deny(1),
        Event::Trap { plugin_id: pid(1), kind: TrapKind::FuelExhausted },
        Event::Breaker { state: BreakerState::Opened, plugin_id: pid(1), cause: c("faults") },
        Event::Breaker { state: BreakerState::HalfOpen, plugin_id: pid(1), cause: c("cooldown-elapsed") },
        Event::Breaker { state: BreakerState::Closed, plugin_id: pid(1), cause: c("probe-succeeded") },
        Event::Unloaded { plugin_id: pid(1), cause: UnloadCause::Revoked },
        Event::ReloadApplied { reason: c("reload") },
        Event::ReloadRefused { reason: c("revoked") },
        Event::KeyMaterialFailed { plugin_id: pid(1), key_material: KeyMaterialName::new("idp-jwks").unwrap(), reason: c("keymaterial-jwks-invalid") },
    ];
    for e in events {
        log.lifecycle(e).unwrap();
    }
    log.close().unwrap();
    let shapes: Vec<String> = records(&path)
        .iter()
        .map(|r| {
            let o = r.as_object().unwrap();
            let keys: Vec<&str> = o.keys().map(String::as_str).filter(|k| !["seq", "ts", "mac", "event"].contains(k)).collect();
            format!("{} {}", o["event"].as_str().unwrap(), keys.join(","))
        })
        .collect();
    assert_eq!(
        shapes,
        [
            "plugin.load.accepted entrySha256,manifestSha256,pluginId,signerKeyId,version",
            "plugin.load.refused pluginId,reason",
            "plugin.conformance.failed caseIndex,expected,got,pluginId",
            "plugin.authenticate.deny durationUs,pluginId,reason",
            "plugin.trap kind,pluginId",
            "plugin.breaker.opened cause,pluginId",
            "plugin.breaker.half-open cause,pluginId",
            "plugin.breaker.closed cause,pluginId",
            "plugin.unloaded cause,pluginId",
            "config.reload.applied reason",
            "config.reload.refused reason",
            "keymaterial.update.failed keyMaterial,pluginId,reason",
        ]
    );
    let recs = records(&path);
    assert_eq!(recs[2]["got"], "allow");
    assert_eq!(recs[4]["kind"], "fuel-exhausted");
    assert_eq!(recs[8]["cause"], "revoked");
}

mod key_file {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn debug_redacts() {
        let shown = format!("{:?}", AuditKey::from_bytes(vec![0x41; 32]).unwrap());
        assert_eq!(shown, "AuditKey(<redacted>)");
    }

    #[test]
    fn keygen_writes_0600_and_refuses_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        AuditKey::generate().write_file(&p, false).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read(&p).unwrap().len(), 32);
        AuditKey::from_file(&p).unwrap();
        assert_eq!(AuditKey::generate().write_file(&p, false).unwrap_err(), KeyError::Exists { path: p.display().to_string() });
        AuditKey::generate().write_file(&p, true).unwrap();
    }

    #[test]
    fn open_or_short_key_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        std::fs::write(&p, [7u8; 32]).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(AuditKey::from_file(&p).unwrap_err(), KeyError::TooOpen { path: p.display().to_string(), mode: 0o640 });
        std::fs::write(&p, [7u8; 31]).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(AuditKey::from_file(&p).unwrap_err(), KeyError::BadLength { path: p.display().to_string(), len: 31 });
    }
}

mod cli {
    use super::*;

    fn ward(args: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_ward")).args(args).output().unwrap();
        (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
    }

    #[test]
    fn verify_prints_json_and_exits_by_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let key_path = dir.path().join("audit.key");
        let (code, _, _) = ward(&["audit", "keygen", "--out", key_path.to_str().unwrap()]);
        assert_eq!(code, 0);
        let (code, _, err) = ward(&["audit", "keygen", "--out", key_path.to_str().unwrap()]);
        assert_eq!(code, 2);
        assert!(err.contains("hint: pass --force"), "{err}");
        let key = AuditKey::from_file(&key_path).unwrap();
        let path = dir.path().join("audit.log");
        let log = AuditLog::open(&path, &key, options()).unwrap();
        for i in 0..5 {
            log.lifecycle(accepted(i)).unwrap();
        }
        log.close().unwrap();
        let p = path.to_str().unwrap();
        let k = key_path.to_str().unwrap();
        assert_eq!(ward(&["audit", "verify", p, "--key", k]), (0, "{\"valid\":true,\"records\":5,\"lastSeq\":4}\n".into(), String::new()));
        let (code, out, _) = ward(&["audit", "verify", p, "--key", k, "--expect-last-seq", "9"]);
        assert_eq!((code, out), (1, format!("{{\"valid\":false,\"seq\":5,\"file\":\"{p}\",\"line\":6,\"why\":\"truncated\"}}\n")));
        let mut l = lines(&path);
        l.remove(1);
        write_lines(&path, &l);
        let (code, out, _) = ward(&["audit", "verify", p, "--key", k]);
        assert_eq!((code, out), (1, format!("{{\"valid\":false,\"seq\":1,\"file\":\"{p}\",\"line\":2,\"why\":\"deleted\"}}\n")));
        let (code, out, err) = ward(&["audit", "verify", "/nonexistent", "--key", k]);
        assert_eq!((code, out.as_str()), (2, ""));
        assert!(err.starts_with("ward: cannot read audit file /nonexistent"), "{err}");
    }
}

/// Modes of this test binary when started as a child by another test.
mod child {
    use super::*;

    fn log_path() -> Option<PathBuf> {
        std::env::var_os("WARD_AUDIT_CHILD_LOG").map(PathBuf::from)
    }

    #[test]
    fn open_only() {
        let Some(path) = log_path() else { return };
        match AuditLog::open(&path, &key(), options()) {
            Ok(_) => println!("open-result ok"),
            Err(e) => println!("open-result {}", e.code()),
        }
    }

    /// Writes lifecycle events (acknowledged once `lifecycle` returns) mixed
    /// with request bursts (acknowledged once `flush` returns), forever.
    #[test]
    fn burst_writer() {
        let Some(path) = log_path() else { return };
        let log = AuditLog::open(&path, &key(), AuditOptions { max_file_bytes: 256 * 1024, ..options() }).unwrap();
        let out = std::io::stdout();
        let base = log.flush().unwrap();
        println!("start {base}");
        for i in 0.. {
            let seq = log.lifecycle(accepted(i)).unwrap();
            writeln!(out.lock(), "ack {seq} {i}").unwrap();
            for j in 0..200 {
                let _ = log.request(deny(j));
            }
            if i % 5 == 0 {
                let next = log.flush().unwrap();
                writeln!(out.lock(), "flushed {next}").unwrap();
            }
        }
    }
}

fn all_files(path: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = (1..).map(|i| rotated_path(path, i)).take_while(|p| p.exists()).collect();
    files.push(path.to_path_buf());
    files
}

#[test]
fn sigkill_mid_burst_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let mut acked: BTreeMap<u64, u64> = BTreeMap::new();
    let mut flushed = 0;
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child::burst_writer", "--nocapture", "--test-threads=1"])
            .env("WARD_AUDIT_CHILD_LOG", &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut acks_this_round = 0;
        for line in stdout.lines() {
            let line = line.unwrap();
            let parts: Vec<&str> = line.split(' ').collect();
            match parts.as_slice() {
                ["ack", seq, i] => {
                    acked.insert(seq.parse().unwrap(), i.parse().unwrap());
                    acks_this_round += 1;
                }
                ["flushed", next] => flushed = next.parse().unwrap(),
                _ => {}
            }
            if acks_this_round == 12 + round * 7 {
                child.kill().unwrap(); // SIGKILL on unix
                break;
            }
        }
        let status = child.wait().unwrap();
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9));
    }
    // Restart: recovery runs, then the whole chain verifies.
    let log = AuditLog::open(&path, &key(), AuditOptions { max_file_bytes: 256 * 1024, ..options() }).unwrap();
    log.close().unwrap();
    let files = all_files(&path);
    let last_acked = *acked.keys().last().unwrap();
    let verdict = verify_files(&key(), &files, Some(last_acked.max(flushed - 1))).unwrap();
    assert!(matches!(verdict, Verdict::Valid { .. }), "{verdict:?}");
    let mut by_seq: BTreeMap<u64, Value> = BTreeMap::new();
    for f in &files {
        for r in records(f) {
            by_seq.insert(r["seq"].as_u64().unwrap(), r);
        }
    }
    for (seq, i) in &acked {
        let r = &by_seq[seq];
        assert_eq!(r["event"], "plugin.load.accepted", "seq {seq}");
        assert_eq!(r["pluginId"], format!("p{i}"), "seq {seq}");
    }
    assert!((0..flushed).all(|s| by_seq.contains_key(&s)));
}

/// docs/stability.md settled the field names (`durationUs`, not
/// `duration_us`) and event names (`plugin.breaker.half-open`); a log that
/// ward wrote before, one record of every event, still verifies: the chain
/// covers each record's bytes, whatever its field names.
#[test]
fn a_log_written_before_the_wire_formats_were_settled_still_verifies() {
    let old = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/audit-0.x/audit.log");
    let text = std::fs::read_to_string(&old).unwrap();
    assert!(text.contains("\"duration_us\":") && text.contains("plugin.breaker.half_open"), "the fixture lost its old names");
    // A copy, to tamper with below.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("audit.log");
    std::fs::copy(&old, &copy).unwrap();
    assert_eq!(verify_file(&key(), &copy).unwrap(), Verdict::Valid { records: 14, last_seq: Some(13) });
    // And it is the chain that holds, not a verifier that reads nothing.
    std::fs::write(&copy, text.replacen("\"duration_us\":7", "\"duration_us\":8", 1)).unwrap();
    assert!(matches!(verify_file(&key(), &copy).unwrap(), Verdict::Broken(Break { seq: 3, why: BreakKind::Modified, .. })));
}
