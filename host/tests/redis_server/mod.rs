//! A real `redis-server` for a test: on a free loopback port, its own temp
//! directory, AOF on with `appendfsync always` (so a kill loses nothing it
//! acknowledged), killed when dropped. Shared by the tests of the Redis
//! audit store (`audit_redis.rs`, `lockdown.rs`).
//!
//! [`Server::start`] returns `None`, saying so on stderr, only when
//! `redis-server` is not installed (`.ci/setup` installs it).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const REDIS_SERVER: &str = "redis-server";

/// The running server; [`Server::kill`] and [`Server::spawn`] take it down
/// and up again on the same port and directory.
pub struct Server {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
}

fn installed() -> bool {
    let found = Command::new(REDIS_SERVER).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    if !found {
        eprintln!("SKIPPED: {REDIS_SERVER} is not installed (apt-get install redis-server; .ci/setup installs it)");
    }
    found
}

impl Server {
    pub fn start() -> Option<Self> {
        if !installed() {
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut server = Self { child: None, port, dir: tempfile::tempdir().unwrap() };
        server.spawn();
        Some(server)
    }

    /// Starts the server (again) and waits until it answers PING.
    pub fn spawn(&mut self) {
        let child = Command::new(REDIS_SERVER)
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string(), "--save", "", "--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(mut c) = self.client().get_connection()
                && redis::cmd("PING").query::<String>(&mut c).is_ok()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not come up");
    }

    /// SIGKILL: no shutdown, no final fsync.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
