//! Typed audit events. Every field is an id, a code, a digest, an enum or a
//! number: there is no variant or field that takes free text, so a credential,
//! a subject, a claim or anything a guest produced cannot be put in a record
//! by accident. Ids are checked against a restricted character set and length
//! when they are built; reason codes are `&'static str` (compiled into ward,
//! never built from input) and also checked.

use super::AuditError;

/// A field value as it goes into the canonical record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Val<'a> {
    /// A JSON string.
    Str(&'a str),
    /// A non-negative JSON integer.
    U64(u64),
}

fn check(value: &str, max: usize, allowed: fn(u8) -> bool, field: &'static str) -> Result<(), AuditError> {
    if value.is_empty() || value.len() > max || !value.bytes().all(allowed) {
        return Err(AuditError::InvalidField { field });
    }
    Ok(())
}

fn id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

macro_rules! restricted_string {
    ($(#[$doc:meta])* $name:ident, $field:literal, $max:expr, $allowed:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// Checks the character set and length; the error names the field, never the value.
            pub fn new(value: &str) -> Result<Self, AuditError> {
                check(value, $max, $allowed, $field)?;
                Ok(Self(value.to_owned()))
            }

            /// The checked value.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

restricted_string!(
    /// A plugin id: `[A-Za-z0-9._-]{1,64}`.
    PluginId, "pluginId", 64, id_byte
);
restricted_string!(
    /// The `replicaId` of a ward replica writing into a shared chain:
    /// `[A-Za-z0-9._-]{1,64}`, like a plugin id.
    ReplicaId, "replicaId", 64, id_byte
);
restricted_string!(
    /// A plugin version: `[A-Za-z0-9.+_-]{1,64}`.
    Version, "version", 64, |b| id_byte(b) || b == b'+'
);
restricted_string!(
    /// A signer key id: `[A-Za-z0-9._:+/=-]{1,128}`. A key id from a refused,
    /// hostile envelope that does not fit is left out of the record by the caller.
    KeyId, "signerKeyId", 128, |b| id_byte(b) || matches!(b, b':' | b'+' | b'/' | b'=')
);
restricted_string!(
    /// A key-material entry's name: `[A-Za-z0-9._-]{1,64}`.
    KeyMaterialName, "keyMaterial", 64, id_byte
);
restricted_string!(
    /// A host-built identity id (`<plugin id>:<hex>`): `[A-Za-z0-9._:-]{1,160}`.
    IdentityId, "identityId", 160, |b| id_byte(b) || b == b':'
);

/// A stable reason or cause code such as `bad-signature` or `plugin:expired`:
/// kebab-case (`[a-z0-9]+(-[a-z0-9]+)*`), a plugin's own deny reason under
/// `plugin:`, 64 bytes at most (docs/stability.md), and `'static`, so it
/// comes from ward's code, not input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Code(&'static str);

impl Code {
    /// Checks the character set and length.
    pub fn new(code: &'static str) -> Result<Self, AuditError> {
        check(code, 64, |b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b':'), "code")?;
        if is_kebab(code.strip_prefix("plugin:").unwrap_or(code)) { Ok(Self(code)) } else { Err(AuditError::InvalidField { field: "code" }) }
    }

    /// The code.
    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

/// Words of `[a-z0-9]` joined by single hyphens: the one format of a stable
/// code (docs/stability.md).
fn is_kebab(code: &str) -> bool {
    !code.is_empty() && code.split('-').all(|word| !word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

/// A SHA-256 digest, written as 64 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256Digest(pub [u8; 32]);

/// How a plugin call trapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrapKind {
    /// The epoch deadline passed.
    Timeout,
    /// The fuel budget ran out.
    FuelExhausted,
    /// A memory limit was hit.
    MemoryLimit,
    /// The wasm stack overflowed.
    StackOverflow,
    /// Any other trap.
    Trap,
}

/// Why a plugin was unloaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnloadCause {
    /// Its signer key or entry digest was revoked.
    Revoked,
    /// It is no longer in the config.
    Removed,
    /// A kill switch disabled it.
    Disabled,
}

/// A circuit breaker transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// `plugin.breaker.opened`
    Opened,
    /// `plugin.breaker.half-open`
    HalfOpen,
    /// `plugin.breaker.closed`
    Closed,
}

/// An outcome in a conformance case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The credential was allowed.
    Allow,
    /// The credential was denied.
    Deny,
    /// The call failed (trap, bad output).
    Error,
}

/// One audit event. The stable names and fields are listed in `docs/audit.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// `plugin.load.accepted`: written and synced before the plugin serves.
    LoadAccepted {
        /// `pluginId`
        plugin_id: PluginId,
        /// `version`
        version: Version,
        /// `signerKeyId`
        signer_key_id: KeyId,
        /// `entrySha256`
        entry_sha256: Sha256Digest,
        /// `manifestSha256`
        manifest_sha256: Sha256Digest,
    },
    /// `plugin.load.refused`
    LoadRefused {
        /// `reason`: the refusal's stable code.
        reason: Code,
        /// `pluginId`, where known.
        plugin_id: Option<PluginId>,
        /// `signerKeyId`, where known and well-formed.
        signer_key_id: Option<KeyId>,
    },
    /// `plugin.conformance.failed`
    ConformanceFailed {
        /// `pluginId`
        plugin_id: PluginId,
        /// `caseIndex`: 0-based index into the fixtures file.
        case_index: u64,
        /// `expected`
        expected: Verdict,
        /// `got`
        got: Verdict,
    },
    /// `plugin.authenticate.deny`
    AuthenticateDeny {
        /// `pluginId`
        plugin_id: PluginId,
        /// `reason`: a stable deny code.
        reason: Code,
        /// `durationUs`
        duration_us: u64,
    },
    /// `plugin.authenticate.allow`: recorded only when
    /// [`super::AuditOptions::record_allowed`] is on.
    AuthenticateAllow {
        /// `pluginId`
        plugin_id: PluginId,
        /// `identityId`: the host-built identity id, nothing else of the identity.
        identity_id: IdentityId,
        /// `durationUs`
        duration_us: u64,
    },
    /// `plugin.trap`
    Trap {
        /// `pluginId`
        plugin_id: PluginId,
        /// `kind`
        kind: TrapKind,
    },
    /// `plugin.breaker.opened` / `plugin.breaker.half-open` / `plugin.breaker.closed`
    Breaker {
        /// Which transition (part of the event name).
        state: BreakerState,
        /// `pluginId`
        plugin_id: PluginId,
        /// `cause`
        cause: Code,
    },
    /// `plugin.unloaded`
    Unloaded {
        /// `pluginId`
        plugin_id: PluginId,
        /// `cause`
        cause: UnloadCause,
    },
    /// `config.reload.applied`
    ReloadApplied {
        /// `reason`: what triggered the reload.
        reason: Code,
    },
    /// `config.reload.refused`
    ReloadRefused {
        /// `reason`: the stable code of the first failure.
        reason: Code,
    },
    /// `keymaterial.update.failed`: new key material could not be used (a
    /// fetch failed, or what was read or fetched does not index); the last
    /// good copy, if any, keeps serving.
    KeyMaterialFailed {
        /// `pluginId`
        plugin_id: PluginId,
        /// `keyMaterial`: the entry's name.
        key_material: KeyMaterialName,
        /// `reason`: the failure's stable code (`keymaterial-...`).
        reason: Code,
    },
    /// `audit.recovered`: written by the log itself after cutting a torn tail.
    Recovered {
        /// `truncatedBytes`
        truncated_bytes: u64,
    },
    /// `audit.dropped`: written by the log itself when the request queue overflowed.
    Dropped {
        /// `count`
        count: u64,
    },
}

impl TrapKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::FuelExhausted => "fuel-exhausted",
            Self::MemoryLimit => "memory-limit",
            Self::StackOverflow => "stack-overflow",
            Self::Trap => "trap",
        }
    }
}

impl UnloadCause {
    fn as_str(self) -> &'static str {
        match self {
            Self::Revoked => "revoked",
            Self::Removed => "removed",
            Self::Disabled => "disabled",
        }
    }
}

impl Verdict {
    fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::Error => "error",
        }
    }
}

impl Event {
    /// The stable event name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::LoadAccepted { .. } => "plugin.load.accepted",
            Self::LoadRefused { .. } => "plugin.load.refused",
            Self::ConformanceFailed { .. } => "plugin.conformance.failed",
            Self::AuthenticateDeny { .. } => "plugin.authenticate.deny",
            Self::AuthenticateAllow { .. } => "plugin.authenticate.allow",
            Self::Trap { .. } => "plugin.trap",
            Self::Breaker { state: BreakerState::Opened, .. } => "plugin.breaker.opened",
            Self::Breaker { state: BreakerState::HalfOpen, .. } => "plugin.breaker.half-open",
            Self::Breaker { state: BreakerState::Closed, .. } => "plugin.breaker.closed",
            Self::Unloaded { .. } => "plugin.unloaded",
            Self::ReloadApplied { .. } => "config.reload.applied",
            Self::ReloadRefused { .. } => "config.reload.refused",
            Self::KeyMaterialFailed { .. } => "keymaterial.update.failed",
            Self::Recovered { .. } => "audit.recovered",
            Self::Dropped { .. } => "audit.dropped",
        }
    }

    /// Calls `f` with each field of the event (not `seq`, `ts`, `event`, `mac`).
    /// Digests are passed hex-encoded through `hex_buf` to avoid allocation.
    pub(crate) fn fields(&self, f: &mut dyn FnMut(&'static str, Val<'_>)) {
        let digest = |f: &mut dyn FnMut(&'static str, Val<'_>), name: &'static str, d: &Sha256Digest| {
            let mut buf = [0u8; 64];
            // 32 bytes always encode to exactly 64 hex digits, so this cannot fail.
            if hex::encode_to_slice(d.0, &mut buf).is_ok()
                && let Ok(s) = std::str::from_utf8(&buf)
            {
                f(name, Val::Str(s));
            }
        };
        match self {
            Self::LoadAccepted { plugin_id, version, signer_key_id, entry_sha256, manifest_sha256 } => {
                f("pluginId", Val::Str(plugin_id.as_str()));
                f("version", Val::Str(version.as_str()));
                f("signerKeyId", Val::Str(signer_key_id.as_str()));
                digest(f, "entrySha256", entry_sha256);
                digest(f, "manifestSha256", manifest_sha256);
            }
            Self::LoadRefused { reason, plugin_id, signer_key_id } => {
                f("reason", Val::Str(reason.as_str()));
                if let Some(id) = plugin_id {
                    f("pluginId", Val::Str(id.as_str()));
                }
                if let Some(id) = signer_key_id {
                    f("signerKeyId", Val::Str(id.as_str()));
                }
            }
            Self::ConformanceFailed { plugin_id, case_index, expected, got } => {
                f("pluginId", Val::Str(plugin_id.as_str()));
                f("caseIndex", Val::U64(*case_index));
                f("expected", Val::Str(expected.as_str()));
                f("got", Val::Str(got.as_str()));
            }
            Self::AuthenticateDeny { plugin_id, reason, duration_us } => {
                f("pluginId", Val::Str(plugin_id.as_str()));
                f("reason", Val::Str(reason.as_str()));
                f("durationUs", Val::U64(*duration_us));
            }
            Self::AuthenticateAllow { plugin_id, identity_id, duration_us } => {
                f("pluginId", Val::Str(plugin_id.as_str()));
                f("identityId", Val::Str(identity_id.as_str()));
                f("durationUs", Val::U64(*duration_us));
            }
            Self::Trap { plugin_id, kind } => {
                f("pluginId", Val::Str(plugin_id.as_str()));
                f("kind", Val::Str(kind.as_str()));
            }
            Self::Breaker { plugin_id, cause, .. } => {
                f("pluginId", Val::Str(plugin_id.as_str()));
                f("cause", Val::Str(cause.as_str()));
            }
            Self::Unloaded { plugin_id, cause } => {
                f("pluginId", Val::Str(plugin_id.as_str()));
                f("cause", Val::Str(cause.as_str()));
            }
            Self::ReloadApplied { reason } | Self::ReloadRefused { reason } => f("reason", Val::Str(reason.as_str())),
            Self::KeyMaterialFailed { plugin_id, key_material, reason } => {
                f("pluginId", Val::Str(plugin_id.as_str()));
                f("keyMaterial", Val::Str(key_material.as_str()));
                f("reason", Val::Str(reason.as_str()));
            }
            Self::Recovered { truncated_bytes } => f("truncatedBytes", Val::U64(*truncated_bytes)),
            Self::Dropped { count } => f("count", Val::U64(*count)),
        }
    }
}
