//! `ward serve` runs guests on its I/O threads: a guest that spins to its
//! deadline must yield at every epoch tick, so healthy requests keep being
//! answered while several spin at once, more of them than there are threads;
//! and after a whole tick it moves to the slow lane's niced threads
//! (`server/lane.rs`), which then do the spinning.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::oneshot;
use ward::server::{ServerOptions, serve};

use crate::proxy::{SECRET, example_token};
use crate::site::Site;

/// Each spinning call's deadline.
const SPIN_MS: u64 = 600;
/// Spinning calls at once: three per I/O thread.
const SPINNERS: usize = 6;
/// The slowest healthy answer allowed while they spin. The epoch tick is
/// 1 ms; a guest that held its thread to the deadline would take ~`SPIN_MS`.
/// Generous, for a 2-core VM that runs builds beside the tests.
const HEALTHY_BOUND: Duration = Duration::from_millis(150);

/// Sends one HTTP/1.1 request to `/auth` with `header` and returns the status
/// and how long the answer took.
fn auth(addr: SocketAddr, header: &str) -> (u16, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "GET /auth HTTP/1.1\r\nHost: ward\r\n{header}\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    (status, started.elapsed())
}

/// CPU time (clock ticks, user + system) of this process's threads named
/// `ward-slow-lane` (the server's `SlowLane`), from `/proc/self/task`.
fn slow_lane_cpu_ticks() -> u64 {
    let mut ticks = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let Ok(stat) = std::fs::read_to_string(task.unwrap().path().join("stat")) else { continue };
        // "pid (comm) state ...": the fields after the comm start at field 3.
        let Some((head, rest)) = stat.rsplit_once(") ") else { continue };
        if !head.ends_with("(ward-slow-lane") {
            continue;
        }
        let fields: Vec<&str> = rest.split(' ').collect();
        // utime and stime are fields 14 and 15, i.e. 11 and 12 after the comm.
        ticks += fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    }
    ticks
}

#[test]
fn spinning_guests_do_not_hold_the_io_threads() {
    let site = Site::new();
    site.add_plugin("example-token", &std::fs::read(ward_tests::EXAMPLE_TOKEN).unwrap());
    site.add_plugin("hostile", &std::fs::read(ward_tests::HOSTILE).unwrap());
    let mut example = Site::plugin("example-token", json!({ "header": "Authorization", "scheme": "Bearer" }));
    example["settings"] = json!({ "secret": SECRET, "scopes": "orders:read", "team": "payments" });
    let mut hostile = Site::plugin("hostile", json!({ "header": "X-Api-Key" }));
    // Fuel so high that the deadline comes first; faults must not open the breaker.
    hostile["limits"] = json!({ "timeoutMs": SPIN_MS, "fuel": 10_000_000_000_000u64, "maxConcurrent": SPINNERS });
    hostile["breaker"] = json!({ "failures": 1000 });
    let config = site.config(vec![example, hostile], |_| {});
    let gateway = Arc::new(site.gateway(&config).unwrap());

    // Two I/O threads, as on the 2-core machines ward is measured on.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))).unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = runtime.spawn(serve(listener, gateway, ServerOptions::default(), async move {
        let _ = stopped.await;
    }));

    let good = format!("Authorization: Bearer {}", example_token(SECRET, "alice"));
    assert_eq!(auth(addr, &good).0, 200, "the example plugin allows a good token");

    let spinners: Vec<_> = (0..SPINNERS).map(|_| std::thread::spawn(move || auth(addr, "X-Api-Key: loop"))).collect();
    // Let them reach the guest; then ask, one at a time, while they spin.
    std::thread::sleep(Duration::from_millis(50));
    let lane_before = slow_lane_cpu_ticks();
    let window = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut answered = 0;
    while window.elapsed() < Duration::from_millis(SPIN_MS / 2) {
        let (status, took) = auth(addr, &good);
        assert_eq!(status, 200);
        slowest = slowest.max(took);
        answered += 1;
    }
    let lane_spun = slow_lane_cpu_ticks() - lane_before;
    for spinner in spinners {
        let (status, took) = spinner.join().unwrap();
        assert_eq!(status, 503, "a spinning guest ends in the deadline's deny (`timeout`), on the slow lane too");
        assert!(took >= Duration::from_millis(SPIN_MS / 2), "the guest spun ({took:?}): the test measured what it meant to");
    }
    // Six guests spinning for the window would keep both I/O threads busy;
    // the lane's threads did it instead. One clock tick is 10 ms, and even
    // niced on a busy machine they get far more than two.
    assert!(lane_spun >= 2, "the spinning guests did not run on the slow lane ({lane_spun} ticks of CPU there)");
    assert!(slowest < HEALTHY_BOUND, "a healthy request waited {slowest:?} behind {SPINNERS} spinning guests ({answered} answered)");

    stop.send(()).unwrap();
    runtime.block_on(task).unwrap().unwrap();
}
