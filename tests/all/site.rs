//! A ward deployment on disk for tests: keys with owner-only modes, signed
//! plugins, a `ward.json` built from JSON, and the audit log to read back.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tempfile::TempDir;
use ward::audit::{AuditKey, Verdict, verify_file};
use ward::trust::public_key_to_pem;

use crate::support::{SIGNER, envelope_for, envelope_with, signing_key};

pub const AUDIT_FILE: &str = "ward-audit.log";
const AUDIT_KEY: [u8; 32] = [9; 32];

pub struct Site {
    dir: TempDir,
}

impl Site {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let site = Self { dir };
        site.write_secret("identity.key", &[7; 32]);
        site.write_secret("audit.key", &AUDIT_KEY);
        site
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    pub fn write_secret(&self, name: &str, bytes: &[u8]) {
        let path = self.write(name, bytes);
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    /// Writes `<id>.wasm` and `<id>.signed.json`, signed by the test signer.
    pub fn add_plugin(&self, id: &str, component: &[u8]) {
        self.write(&format!("{id}.wasm"), component);
        self.write(&format!("{id}.signed.json"), &envelope_for(id, component));
    }

    /// The same, declaring each of `capabilities` in the envelope (the
    /// config must allow them: `trust.allowCapabilities`).
    pub fn add_plugin_with(&self, id: &str, component: &[u8], capabilities: &[&str]) {
        self.write(&format!("{id}.wasm"), component);
        self.write(&format!("{id}.signed.json"), &envelope_with(id, component, capabilities));
    }

    /// A `plugins[]` entry for a plugin added with [`Site::add_plugin`]. The
    /// deadline is generous: these tests run beside builds on 2 cores, and
    /// deadlines have their own tests in `sandbox_guests.rs`.
    pub fn plugin(id: &str, route: Value) -> Value {
        json!({ "id": id, "envelope": format!("{id}.signed.json"), "component": format!("{id}.wasm"), "route": route, "limits": { "timeoutMs": 5000 } })
    }

    /// The full config around `plugins`; `edit` may change anything.
    pub fn config(&self, plugins: Vec<Value>, edit: impl FnOnce(&mut Value)) -> PathBuf {
        let mut config = json!({
            "trust": {
                "trustAnchors": { SIGNER: public_key_to_pem(&signing_key().verifying_key()) },
                "allowCapabilities": ["readsCredentials"],
            },
            "identity": { "keyFile": "identity.key" },
            "audit": { "file": AUDIT_FILE, "keyFile": "audit.key" },
            "plugins": plugins,
        });
        edit(&mut config);
        self.write("ward.json", config.to_string().as_bytes())
    }

    pub fn load(&self, config: &Path) -> ward::config::WardConfig {
        ward::config::load(config).unwrap()
    }

    /// A gateway started as `ward serve` starts one: from the config's plan,
    /// its reloads re-reading the same file.
    pub fn gateway(&self, config: &Path) -> Result<ward::lifecycle::Gateway, ward::lifecycle::LifecycleError> {
        let (plan, file) = self.load(config).into_plan();
        ward::lifecycle::Gateway::start(plan, file)
    }

    pub fn audit_text(&self) -> String {
        std::fs::read_to_string(self.path(AUDIT_FILE)).unwrap_or_default()
    }

    /// The chain verifies and the log holds `event` at least `times` times.
    pub fn assert_audit(&self, event: &str, times: usize) {
        let key = AuditKey::from_bytes(AUDIT_KEY.to_vec()).unwrap();
        let verdict = verify_file(&key, &self.path(AUDIT_FILE)).unwrap();
        assert!(matches!(verdict, Verdict::Valid { .. }), "audit chain broken: {verdict:?}");
        let found = self.audit_text().matches(&format!("\"{event}\"")).count();
        assert!(found >= times, "audit has {found} × {event}, want ≥ {times}:\n{}", self.audit_text());
    }
}
