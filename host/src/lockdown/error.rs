//! Why lockdown stopped `ward serve` from starting. A layer the kernel lacks
//! is not an error (it is logged, see `mod.rs`) unless `--lockdown require`.

use super::Layer;

/// Why [`super::apply`] failed. `code()` is stable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockdownError {
    /// Another thread already runs: Landlock would confine only the calling
    /// thread and its future children, so lockdown must come first.
    #[error("lockdown must be applied before any thread starts, but {threads} threads run")]
    Threaded {
        /// Threads in the process.
        threads: usize,
    },
    /// The kernel supports the layer but applying it failed.
    #[error("cannot apply the {layer} layer: {reason}")]
    Apply {
        /// `landlock` or `seccomp`.
        layer: &'static str,
        /// The kernel's or library's reason.
        reason: String,
    },
    /// `--lockdown require`, and a layer is not (fully) in force.
    #[error("--lockdown require: the {layer} layer is {status} (see the log line above; --lockdown auto serves without it)")]
    Required {
        /// `landlock` or `seccomp`.
        layer: &'static str,
        /// `partial` or `unsupported`.
        status: &'static str,
    },
}

impl LockdownError {
    #[cold]
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))] // the layers are Linux's
    pub(crate) fn apply(layer: Layer, reason: impl Into<String>) -> Self {
        Self::Apply { layer: layer.name(), reason: reason.into() }
    }

    /// Stable code for logs, CLI output and tests.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Threaded { .. } => "lockdown-threaded",
            Self::Apply { .. } => "lockdown-apply",
            Self::Required { .. } => "lockdown-required",
        }
    }
}
