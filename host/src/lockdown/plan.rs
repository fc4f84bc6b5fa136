//! What `ward serve` may touch once locked down, worked out from the config
//! it starts with: the directories it reads, the one it writes, the TCP
//! ports it binds and connects to. The layers (`landlock.rs`, `seccomp.rs`)
//! enforce a plan; they decide nothing about what goes in it.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::config::WardConfig;

/// Files outside the config's directories that `ward serve` reads after
/// start-up, found by tracing it (`docs/SECURITY.md`, "Second layer"):
/// glibc's resolver for `url` key material (`getaddrinfo` reads the hosts
/// file, the resolver and name-service switch settings, and the address
/// sorting rules); the cgroup files Rust's `available_parallelism` reads to
/// size tokio's and wasmtime's thread pools to a container's CPU quota; and
/// what glibc's allocator reads to size its arenas and to decide how to
/// shrink its heaps; and what `/metrics` reads for its `process_*` families
/// (`server/process.rs`: this process's own counters, its open descriptors,
/// its limits, and the boot time in `/proc/stat`). Missing ones are
/// skipped. None of them holds a secret.
const SYSTEM_READS: &[&str] = &[
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/nsswitch.conf",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/proc/self/cgroup",
    "/proc/self/mountinfo",
    "/sys/fs/cgroup",
    "/sys/devices/system/cpu/online",
    "/proc/sys/vm/overcommit_memory",
    "/proc/self/stat",
    "/proc/self/status",
    "/proc/self/limits",
    "/proc/self/fd",
    "/proc/stat",
];

/// DNS falls back to TCP for answers too large for UDP.
const DNS_PORT: u16 = 53;

/// The allowed set, fixed when it is applied: a reload that names a new
/// directory or key-material port cannot widen it (restart for that).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // only Linux enforces a plan
pub struct Plan {
    /// Directories (and files) that may be read: opened read-only, listed.
    pub(crate) read: Vec<PathBuf>,
    /// Directories whose files may also be created, written, truncated,
    /// renamed and removed (the audit log rotates there).
    pub(crate) write: Vec<PathBuf>,
    /// Directory trees whose files and subdirectories may be created,
    /// written, renamed and removed (the compile cache: wasmtime's cache
    /// makes a directory per engine and its cleanup removes old ones).
    pub(crate) write_tree: Vec<PathBuf>,
    /// TCP ports that may be bound.
    pub(crate) bind: Vec<u16>,
    /// TCP ports that may be connected to.
    pub(crate) connect: Vec<u16>,
}

impl Plan {
    /// An empty plan: nothing may be read, written, bound or connected.
    pub fn new() -> Self {
        Self::default()
    }

    /// `ward serve`'s plan for `config`, listening on `listen`:
    /// - read: the config's directory, every `allowDirs` entry, and the
    ///   system files name resolution and the process's own limits need
    ///   (`SYSTEM_READS`: `/etc/hosts`, `/etc/resolv.conf`, …);
    /// - write: the audit log's directory (none with the Redis audit store);
    /// - write as a tree: `compileCache`, which must exist by then
    ///   ([`crate::sandbox::create_compile_cache_dir`]);
    /// - bind: the listen port;
    /// - connect: the port of every `url` key material and of the Redis
    ///   audit store, and DNS's when one of them names a host rather than
    ///   an address.
    pub fn for_serve(config: &WardConfig, listen: SocketAddr) -> Self {
        let mut plan = Self::new().read(parent_dir(&config.path));
        for dir in &config.allow_dirs {
            plan = plan.read(dir);
        }
        for file in SYSTEM_READS {
            plan = plan.read(file);
        }
        plan = match &config.plan.audit.redis {
            // The Redis audit store: its port (and DNS's for a host name), no audit directory.
            Some(redis) => {
                let plan = plan.connect(redis.target.port());
                if redis.target.host_is_name() { plan.connect(DNS_PORT) } else { plan }
            }
            None => plan.write(parent_dir(&config.plan.audit.file)),
        };
        if let Some(cache) = &config.plan.compile_cache {
            plan = plan.write_tree(cache);
        }
        plan = plan.bind(listen.port());
        let urls = config.plan.plugins.iter().flat_map(|p| &p.key_urls).map(|(_, source)| source.url.as_str());
        for (port, named) in urls.filter_map(url_port) {
            plan = plan.connect(port);
            if named {
                plan = plan.connect(DNS_PORT);
            }
        }
        plan
    }

    /// Adds a directory (or file) that may be read.
    pub fn read(mut self, path: impl Into<PathBuf>) -> Self {
        push_new(&mut self.read, path.into());
        self
    }

    /// Adds a directory whose files may be created, written and removed.
    pub fn write(mut self, dir: impl Into<PathBuf>) -> Self {
        push_new(&mut self.write, dir.into());
        self
    }

    /// Adds a directory tree in which files and directories may be made and removed.
    pub fn write_tree(mut self, dir: impl Into<PathBuf>) -> Self {
        push_new(&mut self.write_tree, dir.into());
        self
    }

    /// Adds a TCP port that may be bound.
    pub fn bind(mut self, port: u16) -> Self {
        push_new(&mut self.bind, port);
        self
    }

    /// Adds a TCP port that may be connected to.
    pub fn connect(mut self, port: u16) -> Self {
        push_new(&mut self.connect, port);
        self
    }
}

fn push_new<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// The directory a path's file is in; `.` for a bare file name, as the
/// config loader and the audit writer resolve them.
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The TCP port a key-material URL connects to, and whether its host is a
/// name (resolved through DNS) rather than an address literal. The config
/// loader has already refused URLs the fetcher cannot use.
fn url_port(url: &str) -> Option<(u16, bool)> {
    let uri: http::Uri = url.parse().ok()?;
    let https = uri.scheme_str()?.eq_ignore_ascii_case("https");
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let host = uri.host()?.trim_start_matches('[').trim_end_matches(']');
    Some((port, host.parse::<IpAddr>().is_err()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_ports_default_by_scheme_and_names_need_dns() {
        assert_eq!(url_port("https://keys.example.com/jwks.json"), Some((443, true)));
        assert_eq!(url_port("http://keys.internal:8080/jwks"), Some((8080, true)));
        assert_eq!(url_port("https://10.0.0.5:8443/"), Some((8443, false)));
        assert_eq!(url_port("https://[::1]/jwks"), Some((443, false)));
        assert_eq!(url_port("not a url"), None);
    }

    #[test]
    fn a_bare_file_name_lives_in_the_working_directory() {
        assert_eq!(parent_dir(Path::new("ward.json")), PathBuf::from("."));
        assert_eq!(parent_dir(Path::new("/etc/ward/ward.json")), PathBuf::from("/etc/ward"));
    }

    #[test]
    fn entries_are_kept_once() {
        let plan = Plan::new().read("/a").read("/a").connect(53).connect(53).bind(1);
        assert_eq!(plan.read, vec![PathBuf::from("/a")]);
        assert_eq!(plan.connect, vec![53]);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // test setup: a temp dir and files it writes
mod for_serve_tests {
    use std::os::unix::fs::PermissionsExt;

    use serde_json::json;

    use super::*;

    fn write_secret(path: &Path) {
        std::fs::write(path, [7u8; 32]).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    #[test]
    fn serve_reads_its_directories_writes_the_audit_directory_and_connects_to_key_ports() {
        let (config_dir, extra, logs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        write_secret(&config_dir.path().join("identity.key"));
        write_secret(&extra.path().join("audit.key"));
        let anchor = crate::trust::public_key_to_pem(&ed25519_dalek::SigningKey::from_bytes(&[1; 32]).verifying_key());
        let plugin = |id: &str, url: &str| {
            json!({ "id": id, "enabled": false, "envelope": "x.json", "component": "x.wasm", "route": { "header": "Authorization" },
                    "keyMaterial": [{ "name": "jwks", "url": url }] })
        };
        let config = json!({
            "trust": { "trustAnchors": { "k": anchor } },
            "identity": { "keyFile": "identity.key" },
            "audit": { "file": logs.path().join("audit.log"), "keyFile": extra.path().join("audit.key") },
            "allowDirs": [extra.path(), logs.path()],
            "plugins": [plugin("a", "https://keys.example.com/jwks"), plugin("b", "https://10.1.2.3:8080/jwks")],
        });
        let path = config_dir.path().join("ward.json");
        std::fs::write(&path, config.to_string()).unwrap();
        let config = crate::config::load(&path).unwrap();

        let plan = Plan::for_serve(&config, "127.0.0.1:8181".parse().unwrap());
        for dir in [config_dir.path(), extra.path(), logs.path(), Path::new("/etc/hosts")] {
            assert!(plan.read.iter().any(|p| p == dir), "{dir:?} not readable: {plan:?}");
        }
        assert_eq!(plan.write, vec![logs.path().to_path_buf()]);
        assert_eq!(plan.bind, vec![8181]);
        assert_eq!(plan.connect, vec![443, 53, 8080]);
    }
}
