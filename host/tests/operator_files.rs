//! Files named in `ward.json` (and `ward.json` itself) must be regular files:
//! a FIFO in any of those places is refused at once instead of hanging
//! `ward check`, a start or a reload; devices and directories are refused
//! too; symlinks that stay inside the allowed directories still work.
//!
//! Every load runs on a thread with a deadline, so a regression (an open
//! that waits for a FIFO's writer) fails here instead of hanging CI.
// Test code: a broken assumption should stop the test loudly, so unwrap,
// expect, panic and indexing are allowed (clippy.toml does the same for
// `#[cfg(test)]` modules).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};
use ward::config::ConfigError;
use ward::trust::{SigningSecret, public_key_to_pem};

/// Long enough for a loaded 2-core CI box; a blocked open never returns.
const DEADLINE: Duration = Duration::from_secs(10);

/// Runs `f` on its own thread and fails the test if it has not returned by
/// [`DEADLINE`] (the blocked thread is left behind; the process exits anyway).
fn within_deadline<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(DEADLINE).unwrap_or_else(|_| panic!("{what}: did not return within {DEADLINE:?} (blocked opening a FIFO?)"))
}

/// A JSON path and the edit that puts `fifo` there.
type Case = (&'static str, &'static dyn Fn(&mut Value));

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

/// A config directory with every file a serving plugin needs. The component
/// and envelope are not valid (loading only reads bytes; the trust gate runs
/// later), so the tests are about opening files and nothing else.
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Self {
        let site = Self { dir: tempfile::tempdir().unwrap() };
        site.write_secret("identity.key");
        site.write_secret("audit.key");
        std::fs::write(site.path("p.wasm"), b"not a component").unwrap();
        std::fs::write(site.path("p.signed.json"), b"{}").unwrap();
        std::fs::write(site.path("jwks.json"), b"{\"keys\":[]}").unwrap();
        site
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write_secret(&self, name: &str) {
        std::fs::write(self.path(name), [7u8; 32]).unwrap();
        std::fs::set_permissions(self.path(name), std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    fn config(&self) -> Value {
        json!({
            "trust": { "trustAnchors": { "k": public_key_to_pem(&SigningSecret::from_seed(&[3; 32]).verifying_key()) } },
            "identity": { "keyFile": "identity.key" },
            "audit": { "file": "audit.log", "keyFile": "audit.key" },
            "plugins": [{
                "id": "p",
                "envelope": "p.signed.json",
                "component": "p.wasm",
                "route": { "header": "Authorization", "scheme": "Bearer" },
                "keyMaterial": [{ "name": "jwks", "file": "jwks.json" }],
            }],
        })
    }

    /// Writes `ward.json` from the base config after `edit`, and loads it
    /// within the deadline.
    fn load(&self, edit: impl FnOnce(&mut Value)) -> Result<ward::config::WardConfig, ConfigError> {
        let mut config = self.config();
        edit(&mut config);
        let path = self.path("ward.json");
        std::fs::write(&path, config.to_string()).unwrap();
        within_deadline("config::load", move || ward::config::load(&path))
    }
}

/// The refusal is the config's, at the field's JSON path, naming the kind.
fn assert_refused(result: Result<ward::config::WardConfig, ConfigError>, at: &str, kind: &str) {
    let err = result.expect_err("loaded");
    assert_eq!(err.code(), "config-invalid", "{err}");
    let text = err.to_string();
    assert!(text.contains(&format!("{at}: ")) && text.contains(&format!("is {kind}, not a regular file")), "want {at} / {kind}, got {text:?}");
}

#[test]
fn the_base_config_loads() {
    let site = Site::new();
    let config = site.load(|_| {}).unwrap();
    assert_eq!(config.plan.plugins[0].options.keys, vec![("jwks".to_owned(), b"{\"keys\":[]}".to_vec())]);
}

#[test]
fn a_fifo_named_anywhere_in_the_config_is_refused_at_once() {
    let cases: [Case; 6] = [
        ("plugins[0].component", &|c| c["plugins"][0]["component"] = json!("fifo")),
        ("plugins[0].envelope", &|c| c["plugins"][0]["envelope"] = json!("fifo")),
        ("identity.keyFile", &|c| c["identity"]["keyFile"] = json!("fifo")),
        ("audit.keyFile", &|c| c["audit"]["keyFile"] = json!("fifo")),
        ("plugins[0].keyMaterial[0].file", &|c| c["plugins"][0]["keyMaterial"][0]["file"] = json!("fifo")),
        ("plugins[0].conformance", &|c| c["plugins"][0]["conformance"] = json!("fifo")),
    ];
    let site = Site::new();
    mkfifo(&site.path("fifo"));
    // A FIFO has no group/other bits by default here, but make sure the key
    // cases reach the kind check rather than the mode check.
    std::fs::set_permissions(site.path("fifo"), std::fs::Permissions::from_mode(0o600)).unwrap();
    for (at, edit) in cases {
        assert_refused(site.load(edit), at, "a FIFO");
    }
}

#[test]
fn ward_json_itself_as_a_fifo_is_refused_at_once() {
    let site = Site::new();
    let path = site.path("ward.json");
    mkfifo(&path);
    let err = within_deadline("config::load", move || ward::config::load(&path)).unwrap_err();
    assert_eq!(err.code(), "config-unreadable");
    assert!(err.to_string().ends_with("ward.json: is a FIFO, not a regular file"), "{err}");
}

#[test]
fn ward_json_as_a_directory_or_device_is_refused() {
    let site = Site::new();
    std::fs::create_dir(site.path("ward.json")).unwrap();
    let err = ward::config::load(&site.path("ward.json")).unwrap_err();
    assert_eq!(err.code(), "config-unreadable");
    assert!(err.to_string().contains("is a directory, not a regular file"), "{err}");
    let err = ward::config::load(Path::new("/dev/null")).unwrap_err();
    assert!(err.to_string().contains("is a character device, not a regular file"), "{err}");
}

#[test]
fn dev_null_as_key_material_is_refused_even_when_dev_is_allowed() {
    // docs/key-material.md: devices are refused. /dev/null would read as
    // empty key material and /dev/zero as an endless one.
    let site = Site::new();
    let result = site.load(|c| {
        c["allowDirs"] = json!(["/dev"]);
        c["plugins"][0]["keyMaterial"][0]["file"] = json!("/dev/null");
    });
    assert_refused(result, "plugins[0].keyMaterial[0].file", "a character device");
}

#[test]
fn a_directory_is_refused() {
    let site = Site::new();
    std::fs::create_dir(site.path("sub")).unwrap();
    assert_refused(site.load(|c| c["plugins"][0]["component"] = json!("sub")), "plugins[0].component", "a directory");
    assert_refused(site.load(|c| c["plugins"][0]["keyMaterial"][0]["file"] = json!("sub")), "plugins[0].keyMaterial[0].file", "a directory");
}

#[test]
fn symlinks_to_regular_files_inside_the_allowed_dirs_still_work() {
    let site = Site::new();
    std::os::unix::fs::symlink("p.wasm", site.path("alias.wasm")).unwrap();
    let config = site.load(|c| c["plugins"][0]["component"] = json!("alias.wasm")).unwrap();
    assert_eq!(config.plan.plugins[0].files.as_ref().unwrap().component, b"not a component");

    // Inside an allowDirs entry, through that entry's handle.
    let keys = tempfile::tempdir().unwrap();
    std::fs::write(keys.path().join("real.json"), b"{\"keys\":[1]}").unwrap();
    std::os::unix::fs::symlink("real.json", keys.path().join("jwks.json")).unwrap();
    let config = site
        .load(|c| {
            c["allowDirs"] = json!([keys.path()]);
            c["plugins"][0]["keyMaterial"][0]["file"] = json!(keys.path().join("jwks.json"));
        })
        .unwrap();
    assert_eq!(config.plan.plugins[0].options.keys[0].1, b"{\"keys\":[1]}");
}

#[test]
fn a_symlink_to_a_fifo_is_refused_like_the_fifo() {
    let site = Site::new();
    mkfifo(&site.path("fifo"));
    std::os::unix::fs::symlink("fifo", site.path("link.wasm")).unwrap();
    assert_refused(site.load(|c| c["plugins"][0]["component"] = json!("link.wasm")), "plugins[0].component", "a FIFO");
}

/// `ward verify --config` reads the trust section with the same rules.
#[test]
fn the_trust_policy_reader_refuses_a_fifo_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("ward.json");
    mkfifo(&fifo);
    let outcome = within_deadline("read_trust_policy", move || ward::config::read_trust_policy(&fifo).map(|_| ()));
    let err = outcome.unwrap_err();
    assert_eq!(err.code(), "config-unreadable", "{err}");
    assert!(err.to_string().contains("FIFO"), "{err}");
}
