//! `audit.store`: where the audit chain is kept. Absent, or `{"type":
//! "file"}`: the `audit.file` log (the default). `{"type": "redis", ...}`:
//! one chain shared by every replica, in Redis (docs/audit.md,
//! docs/deployment.md "Several replicas").

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use zeroize::Zeroizing;

use super::ConfigError;
use crate::audit::{REDIS_DEFAULT_KEY, RedisTarget, ReplicaId};
use crate::lifecycle::RedisAudit;

/// Defaults of the Redis client's timeouts.
const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 2_000;
const DEFAULT_IO_TIMEOUT_MS: u64 = 1_000;

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) enum RawAuditStore {
    File,
    Redis(RawRedisStore),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawRedisStore {
    url: String,
    key: Option<String>,
    replica_id: Option<String>,
    replica_id_env: Option<String>,
    password_file: Option<PathBuf>,
    connect_timeout_ms: Option<u64>,
    io_timeout_ms: Option<u64>,
}

/// What the loader lends this module.
pub(super) trait StoreContext {
    fn invalid(&self, at: &str, problem: String) -> ConfigError;
    /// A 0600 file's bytes, as every other secret ward reads.
    fn secret(&self, path: &Path, at: &str) -> Result<Zeroizing<Vec<u8>>, ConfigError>;
    fn timeout(&self, ms: u64, at: &str) -> Result<Duration, ConfigError>;
}

/// The Redis store of `raw`, or `None` for the file store.
pub(super) fn redis_store(raw: Option<RawAuditStore>, cx: &dyn StoreContext) -> Result<Option<RedisAudit>, ConfigError> {
    let Some(RawAuditStore::Redis(raw)) = raw else {
        return Ok(None);
    };
    let replica = match (raw.replica_id, raw.replica_id_env) {
        (Some(id), None) => id,
        (None, Some(var)) => {
            std::env::var(&var).map_err(|_| cx.invalid("audit.store.replicaIdEnv", format!("the environment variable {var} is not set (or not UTF-8)")))?
        }
        _ => return Err(cx.invalid("audit.store", "needs exactly one of replicaId and replicaIdEnv".into())),
    };
    let replica = ReplicaId::new(&replica).map_err(|_| cx.invalid("audit.store.replicaId", "must be 1 to 64 characters of [A-Za-z0-9._-]".into()))?;
    let password = raw.password_file.as_deref().map(|path| cx.secret(path, "audit.store.passwordFile")).transpose()?;
    let connect = cx.timeout(raw.connect_timeout_ms.unwrap_or(DEFAULT_CONNECT_TIMEOUT_MS), "audit.store.connectTimeoutMs")?;
    let io = cx.timeout(raw.io_timeout_ms.unwrap_or(DEFAULT_IO_TIMEOUT_MS), "audit.store.ioTimeoutMs")?;
    let key = raw.key.as_deref().unwrap_or(REDIS_DEFAULT_KEY);
    let target = RedisTarget::new(&raw.url, key, password, connect, io).map_err(|e| {
        let at = match e {
            crate::audit::TargetError::BadKey => "audit.store.key",
            crate::audit::TargetError::BadPassword => "audit.store.passwordFile",
            _ => "audit.store.url",
        };
        cx.invalid(at, e.to_string())
    })?;
    Ok(Some(RedisAudit { target, replica }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Refusals name the JSON path; secrets are read from nowhere.
    struct Fake;

    impl StoreContext for Fake {
        fn invalid(&self, at: &str, problem: String) -> ConfigError {
            ConfigError::Invalid { path: "ward.json".into(), at: at.into(), problem }
        }

        fn secret(&self, _: &Path, _: &str) -> Result<Zeroizing<Vec<u8>>, ConfigError> {
            Ok(Zeroizing::new(b"s3cret\n".to_vec()))
        }

        fn timeout(&self, ms: u64, _: &str) -> Result<Duration, ConfigError> {
            Ok(Duration::from_millis(ms))
        }
    }

    fn load(json: serde_json::Value) -> Result<Option<RedisAudit>, String> {
        let raw: RawAuditStore = serde_json::from_value(json).map_err(|e| e.to_string())?;
        redis_store(Some(raw), &Fake).map_err(|e| e.to_string())
    }

    #[test]
    fn a_redis_store_needs_one_replica_id_and_no_password_in_its_url() {
        let ok = load(serde_json::json!({"type": "redis", "url": "redis://127.0.0.1:6379/0", "replicaId": "ward-a", "passwordFile": "p"})).unwrap().unwrap();
        assert_eq!(ok.replica.as_str(), "ward-a");
        assert_eq!(ok.target.key(), REDIS_DEFAULT_KEY);
        let refused = [
            (serde_json::json!({"type": "redis", "url": "redis://127.0.0.1/0"}), "audit.store"),
            (serde_json::json!({"type": "redis", "url": "redis://127.0.0.1/0", "replicaId": "a", "replicaIdEnv": "HOSTNAME"}), "audit.store"),
            (serde_json::json!({"type": "redis", "url": "redis://127.0.0.1/0", "replicaId": "a b"}), "audit.store.replicaId"),
            (serde_json::json!({"type": "redis", "url": "redis://:pw@127.0.0.1/0", "replicaId": "a"}), "audit.store.url"),
            (serde_json::json!({"type": "redis", "url": "http://127.0.0.1/", "replicaId": "a"}), "audit.store.url"),
            (serde_json::json!({"type": "redis", "url": "redis://127.0.0.1/0", "replicaId": "a", "key": "a b"}), "audit.store.key"),
            (serde_json::json!({"type": "redis", "url": "redis://127.0.0.1/0", "replicaIdEnv": "WARD_TEST_UNSET_VARIABLE"}), "audit.store.replicaIdEnv"),
        ];
        for (json, at) in refused {
            let err = load(json.clone()).unwrap_err();
            assert!(err.contains(&format!("{at}:")), "{json}: {err}");
            assert!(!err.contains("pw@"), "{err}");
        }
        assert!(load(serde_json::json!({"type": "redis", "url": "x", "replicaId": "a", "bogus": 1})).unwrap_err().contains("unknown field"));
        assert!(load(serde_json::json!({"type": "file"})).unwrap().is_none());
    }
}
