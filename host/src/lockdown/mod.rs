//! `ward serve`'s second isolation layer on Linux, behind the wasmtime
//! sandbox: if a guest ever escaped into the host process, what could it
//! reach? With lockdown, only what `ward serve` itself needs.
//!
//! Two kernel layers, applied once, before the first thread starts, and
//! never lifted (the kernel offers no way back, for this process or anything
//! it starts):
//! - `landlock.rs`: files and TCP ports. Reads only the config's directory,
//!   `allowDirs` and a few system files; writes only the audit log's
//!   directory; binds only the listen port; connects only to key-material
//!   ports. Nothing may be executed.
//! - `seccomp.rs`: system calls. Only those `ward serve` was seen to make; the
//!   rest fail with `ENOSYS`.
//!
//! Guarantees of this room (`docs/SECURITY.md`, "Second layer"):
//! - Each layer logs exactly one line at start: applied (and what), partial
//!   or unsupported (and why), or turned off. Never silently absent.
//! - [`Mode::Require`] refuses to serve unless every layer is applied;
//!   [`Mode::Auto`] (the default) serves with a warning line instead.
//! - Lockdown refuses to run once a second thread exists: Landlock confines
//!   the calling thread and its future children only.
//! - An error while applying a supported layer stops start-up (fail closed).

mod error;
#[cfg(target_os = "linux")]
mod landlock;
mod plan;
#[cfg(all(debug_assertions, target_os = "linux"))]
mod probe;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod seccomp;
/// The allowlist was traced on x86_64, where the call numbers and the
/// legacy calls are its own (`seccomp.rs`); elsewhere the layer says so.
#[cfg(all(target_os = "linux", not(target_arch = "x86_64")))]
mod seccomp {
    pub(super) fn apply() -> Result<super::LayerStatus, super::LockdownError> {
        Ok(super::LayerStatus::Unsupported(format!("no system call list for {} yet (x86_64 only)", std::env::consts::ARCH)))
    }
}
#[cfg(target_os = "linux")]
mod threads;

use std::str::FromStr;

use tracing::{info, warn};

pub use error::LockdownError;
pub use plan::Plan;

/// `ward serve --lockdown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Apply what the kernel supports; log a warning for the rest.
    #[default]
    Auto,
    /// Refuse to serve unless every layer is applied.
    Require,
    /// Apply nothing; log that lockdown is off.
    Off,
}

impl FromStr for Mode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "auto" => Ok(Self::Auto),
            "require" => Ok(Self::Require),
            "off" => Ok(Self::Off),
            _ => Err("expected auto, require or off".to_owned()),
        }
    }
}

/// The two layers, as logs and errors name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// Files and TCP ports.
    Landlock,
    /// System calls.
    Seccomp,
}

impl Layer {
    /// `landlock` or `seccomp`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Landlock => "landlock",
            Self::Seccomp => "seccomp",
        }
    }
}

/// What a layer became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerStatus {
    /// In force as planned (the detail says what it covers).
    Applied(String),
    /// In force, but the kernel left out part of the plan (the detail says which).
    Partial(String),
    /// Not in force: this kernel or machine cannot (the reason says why).
    Unsupported(String),
    /// Not in force: turned off.
    Off,
}

impl LayerStatus {
    /// `applied`, `partial`, `unsupported` or `off`: the log's `status` field.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Applied(_) => "applied",
            Self::Partial(_) => "partial",
            Self::Unsupported(_) => "unsupported",
            Self::Off => "off",
        }
    }
}

/// What [`apply`] did, layer by layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Files and TCP ports.
    pub landlock: LayerStatus,
    /// System calls.
    pub seccomp: LayerStatus,
}

/// Applies `plan` to this process in `mode`, logging one line per layer.
/// Must run before any thread starts.
pub fn apply(plan: &Plan, mode: Mode) -> Result<Report, LockdownError> {
    let report = if mode == Mode::Off { Report { landlock: LayerStatus::Off, seccomp: LayerStatus::Off } } else { apply_layers(plan)? };
    for (layer, status) in [(Layer::Landlock, &report.landlock), (Layer::Seccomp, &report.seccomp)] {
        log(layer, status);
        if mode == Mode::Require && !matches!(status, LayerStatus::Applied(_)) {
            return Err(LockdownError::Required { layer: layer.name(), status: status.code() });
        }
    }
    #[cfg(all(debug_assertions, target_os = "linux"))]
    probe::run_if_asked();
    Ok(report)
}

#[cfg(target_os = "linux")]
fn apply_layers(plan: &Plan) -> Result<Report, LockdownError> {
    threads::ensure_single()?;
    // Landlock first: the seccomp filter does not allow its calls.
    let landlock = landlock::apply(plan)?;
    let seccomp = seccomp::apply()?;
    Ok(Report { landlock, seccomp })
}

#[cfg(not(target_os = "linux"))]
fn apply_layers(_plan: &Plan) -> Result<Report, LockdownError> {
    let absent = || LayerStatus::Unsupported("Landlock and seccomp are Linux features".to_owned());
    Ok(Report { landlock: absent(), seccomp: absent() })
}

fn log(layer: Layer, status: &LayerStatus) {
    let (layer, code) = (layer.name(), status.code());
    match status {
        LayerStatus::Applied(detail) => {
            info!(layer, status = code, detail = detail.as_str(), "lockdown")
        }
        LayerStatus::Partial(detail) => {
            warn!(layer, status = code, detail = detail.as_str(), "lockdown: only part of this layer is in force")
        }
        LayerStatus::Unsupported(reason) => {
            warn!(layer, status = code, reason = reason.as_str(), "lockdown: this layer is NOT in force")
        }
        LayerStatus::Off => warn!(layer, status = code, "lockdown: this layer is NOT in force (--lockdown off)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_from_their_names_only() {
        assert_eq!("auto".parse(), Ok(Mode::Auto));
        assert_eq!("require".parse(), Ok(Mode::Require));
        assert_eq!("off".parse(), Ok(Mode::Off));
        assert!("Off".parse::<Mode>().is_err());
        assert_eq!(Mode::default(), Mode::Auto);
    }

    /// Calls the check, not `apply`: were the check broken, `apply` would
    /// lock down this test process.
    #[cfg(target_os = "linux")]
    #[test]
    fn lockdown_refuses_once_a_second_thread_runs() {
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let other = std::thread::spawn(move || wait.recv());
        let refused = threads::ensure_single();
        drop(release);
        let _ = other.join();
        assert!(matches!(refused, Err(LockdownError::Threaded { threads }) if threads >= 2), "{refused:?}");
        assert_eq!(refused.map_err(|e| e.code()), Err("lockdown-threaded"));
    }
}
