//! The part of a plan only a restart may change.
//!
//! A gateway applies these once, at start: the identity key and label
//! allowlist go into the runtime, the audit settings into the open log. A
//! reload that changes one is refused (`restart-required`) rather than
//! half-applied. Each is a named field compared with `PartialEq`, so what
//! counts is written here, not in some type's `Debug` output.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::audit::AuditOptions;
use crate::identity::ClaimsPolicy;

use super::plan::{Plan, RedisAudit};

/// What a reload must leave as it was at start.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct RestartOnly {
    /// SHA-256 of the identity key's bytes: the gateway keeps no second
    /// copy of the secret to compare against.
    identity_key: [u8; 32],
    claims: ClaimsPolicy,
    audit_file: PathBuf,
    /// SHA-256 of the audit chain key's bytes.
    audit_key: [u8; 32],
    /// Every option: each one is applied when the log opens.
    audit_options: AuditOptions,
    /// The runtime's engine is built with it.
    compile_cache: Option<PathBuf>,
    /// The Redis store (address, key, replica id, password digest, timeouts).
    audit_redis: Option<RedisAudit>,
}

impl RestartOnly {
    pub(crate) fn of(plan: &Plan) -> Self {
        Self {
            identity_key: Sha256::digest(plan.identity_key.expose()).into(),
            claims: plan.claims.clone(),
            audit_file: plan.audit.file.clone(),
            audit_key: Sha256::digest(plan.audit.key.expose()).into(),
            audit_options: plan.audit.options.clone(),
            compile_cache: plan.compile_cache.clone(),
            audit_redis: plan.audit.redis.clone(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // test setup: keys of a valid length
mod tests {
    use std::time::Duration;

    use crate::audit::{AuditKey, OverflowPolicy};
    use crate::identity::IdentityKey;
    use crate::keymaterial::FetchPolicy;
    use crate::trust::TrustPolicy;

    use super::super::plan::AuditSpec;
    use super::*;

    fn plan() -> Plan {
        Plan {
            trust: TrustPolicy::default(),
            identity_key: IdentityKey::from_bytes(vec![1; 32]).unwrap(),
            claims: ClaimsPolicy::default(),
            audit: AuditSpec { file: "audit.jsonl".into(), key: AuditKey::from_bytes(vec![2; 32]).unwrap(), options: AuditOptions::default(), redis: None },
            plugins_enabled: true,
            plugins: Vec::new(),
            fetch: FetchPolicy::default(),
            compile_cache: None,
            routes: None,
            assertion: None,
        }
    }

    /// One change per field, and per audit option: if a field stopped being
    /// compared, its change would pass as reloadable.
    #[test]
    fn each_restart_only_setting_is_compared() {
        type Change = (&'static str, fn(&mut Plan));
        let changes: [Change; 11] = [
            ("compile cache", |p| p.compile_cache = Some("cache".into())),
            ("identity key", |p| p.identity_key = IdentityKey::from_bytes(vec![3; 32]).unwrap()),
            ("label keys", |p| p.claims = ClaimsPolicy::with_label_keys(["team", "region"])),
            ("audit file", |p| p.audit.file = "other.jsonl".into()),
            ("audit key", |p| p.audit.key = AuditKey::from_bytes(vec![4; 32]).unwrap()),
            ("maxFileBytes", |p| p.audit.options.max_file_bytes += 1),
            ("queueCapacity", |p| p.audit.options.queue_capacity += 1),
            ("overflow", |p| p.audit.options.policy = OverflowPolicy::DropAndCount),
            ("blockMaxWaitMs", |p| p.audit.options.policy = OverflowPolicy::Block { max_wait: Duration::from_secs(2) }),
            ("recordAllowed", |p| p.audit.options.record_allowed = !p.audit.options.record_allowed),
            ("sync interval", |p| p.audit.options.sync_interval += Duration::from_millis(1)),
        ];
        let start = RestartOnly::of(&plan());
        for (what, change) in changes {
            let mut next = plan();
            change(&mut next);
            assert!(RestartOnly::of(&next) != start, "a change of the {what} passed as reloadable");
        }
    }

    #[test]
    fn what_a_reload_may_change_is_not_compared() {
        let start = RestartOnly::of(&plan());
        let mut next = plan();
        next.trust.revoked_signer_key_ids.insert("k1".into());
        next.plugins_enabled = false;
        next.fetch.allow_http_hosts.push("keys.internal".into());
        assert!(RestartOnly::of(&next) == start);
    }
}
