//! Why a gateway could not start or a reload was refused.

use crate::audit::AuditError;
use crate::sandbox::RuntimeError;

/// A start or reload failure. `code()` is what `config.reload.refused` records.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LifecycleError {
    /// The plan source could not produce a plan (for `ward serve`: the
    /// config could not be read or validated).
    #[error("{error}")]
    Source {
        /// The source's stable code, e.g. `config-invalid`.
        code: &'static str,
        /// Why, in the source's words (a `ConfigError` for the config).
        error: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The audit log refused a write: nothing it would have recorded happened.
    #[error("audit log: {0}")]
    Audit(#[from] AuditError),
    /// The wasm runtime could not be built.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// A plugin was refused: by the trust gate, the loader or its fixtures.
    #[error("plugin {plugin_id}: refused ({reason})")]
    PluginRefused {
        /// The config's id for it.
        plugin_id: String,
        /// The stable code: a trust refusal, a load error, `conformance-failed`
        /// or `plugin-id-mismatch`.
        reason: &'static str,
    },
    /// The key-material fetcher could not be built (e.g. an unreadable `caFile`).
    #[error("key material: {0}")]
    KeyMaterial(#[from] crate::keymaterial::KeyMaterialError),
    /// The reload did not finish within its deadline and was abandoned;
    /// whatever it finishes later is discarded.
    #[error("the reload did not finish within {} ms; the previous plugin set keeps serving", .after.as_millis())]
    ReloadTimeout {
        /// The deadline.
        after: std::time::Duration,
    },
    /// A revocation read after this reload's config was applied meanwhile,
    /// and this reload's config does not revoke as much.
    #[error("a newer revocation was applied while this reload ran; the next reload applies the config")]
    ReloadSuperseded,
    /// Too many abandoned reloads are still running.
    #[error("{running} reloads abandoned at their deadline are still running; fix what makes them hang, or restart")]
    ReloadBusy {
        /// How many.
        running: usize,
    },
    /// The reload's thread panicked.
    #[error("the reload panicked")]
    ReloadPanicked,
    /// No thread could be started for the reload.
    #[error("cannot start a reload thread: {0}")]
    Thread(#[source] std::io::Error),
    /// The reload changes something only a restart may change.
    #[error("{what} changed; restart ward to apply it")]
    RestartRequired {
        /// Which section.
        what: &'static str,
    },
}

impl LifecycleError {
    /// The stable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Source { code, .. } => code,
            Self::Audit(_) => "audit-unavailable",
            Self::Runtime(_) => "runtime-unavailable",
            Self::PluginRefused { reason, .. } => reason,
            Self::RestartRequired { .. } => "restart-required",
            Self::KeyMaterial(err) => err.code(),
            Self::ReloadTimeout { .. } => "reload-timeout",
            Self::ReloadSuperseded => "reload-superseded",
            Self::ReloadBusy { .. } => "reload-busy",
            Self::ReloadPanicked => "reload-panicked",
            Self::Thread(_) => "runtime-unavailable",
        }
    }
}
