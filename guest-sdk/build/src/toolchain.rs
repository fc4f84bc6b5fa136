//! Finds a Rust toolchain that can build for `wasm32-unknown-unknown`.
//!
//! Two routes, tried in order:
//! 1. **Prebuilt std**: the `rustc` on `PATH` (normally rustup's) has the
//!    wasm32 standard library installed (`rustup target add wasm32-unknown-unknown`).
//! 2. **Debian, std from source**: `/usr/bin/rustc` + `/usr/bin/cargo`
//!    (packages `rustc-web cargo-web`) with the library sources
//!    (`rust-web-src`), building std with `-Zbuild-std`, linked by `rust-lld`
//!    from the rustup toolchain or Debian's `wasm-ld` (package `lld`).
//!    This is for machines where `rustup target add` cannot download.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The wasm target every guest is built for.
pub const TARGET: &str = "wasm32-unknown-unknown";

/// Which route was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// rustc with a prebuilt wasm32 std.
    PrebuiltStd,
    /// Debian rustc-web with `-Zbuild-std`.
    BuildStd,
}

/// A toolchain that can build guests.
#[derive(Debug, Clone)]
pub struct Toolchain {
    /// How std is obtained.
    pub route: Route,
    /// The cargo to run.
    pub cargo: PathBuf,
    /// The rustc that cargo must use.
    pub rustc: PathBuf,
    /// A wasm linker to pass with `-C linker=`, when rustc's default is absent.
    pub linker: Option<PathBuf>,
    /// Whether rustc takes `-Cpanic=immediate-abort` (only when std is built
    /// from source: a prebuilt std keeps its panic machinery).
    pub immediate_abort: bool,
}

/// No route works. The message is the single line a developer needs.
#[derive(Debug, thiserror::Error)]
#[error(
    "no Rust toolchain for wasm32-unknown-unknown: run `rustup target add wasm32-unknown-unknown`, or `apt-get install rustc-web cargo-web rust-web-src lld` (see guest-sdk/README.md)"
)]
pub struct ToolchainError;

const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
const DEBIAN_CARGO: &str = "/usr/bin/cargo";

/// Detects a toolchain, preferring the prebuilt-std route.
pub fn detect() -> Result<Toolchain, ToolchainError> {
    if let Some(libdir) = output(Path::new("rustc"), &["--print", "target-libdir", "--target", TARGET])
        && Path::new(&libdir).is_dir()
        && has_std(Path::new(&libdir))
    {
        return Ok(Toolchain { route: Route::PrebuiltStd, cargo: PathBuf::from("cargo"), rustc: PathBuf::from("rustc"), linker: None, immediate_abort: false });
    }
    debian().ok_or(ToolchainError)
}

fn debian() -> Option<Toolchain> {
    let rustc = PathBuf::from(DEBIAN_RUSTC);
    let cargo = PathBuf::from(DEBIAN_CARGO);
    if !cargo.is_file() {
        return None;
    }
    let sysroot = output(&rustc, &["--print", "sysroot"])?;
    let library = Path::new(&sysroot).join("lib/rustlib/src/rust/library");
    if !library.join("std").is_dir() {
        return None;
    }
    let immediate_abort = takes_immediate_abort(&rustc);
    Some(Toolchain { route: Route::BuildStd, cargo, rustc, linker: Some(wasm_linker()?), immediate_abort })
}

/// `-Cpanic=immediate-abort` is unstable and newer than some rustc that can
/// build std from source; ask rustc rather than guess from its version.
fn takes_immediate_abort(rustc: &Path) -> bool {
    Command::new(rustc)
        .args(["-Zunstable-options", "-Cpanic=immediate-abort", "--print", "cfg", "--target", TARGET])
        .env("RUSTC_BOOTSTRAP", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .output()
        .is_ok_and(|out| out.status.success() && String::from_utf8_lossy(&out.stdout).contains("panic=\"immediate-abort\""))
}

/// rustup's `rust-lld` if there is a rustup toolchain, else Debian's `wasm-ld`.
fn wasm_linker() -> Option<PathBuf> {
    let from_rustup = output(Path::new("rustc"), &["--print", "sysroot"]).and_then(|sysroot| {
        let host =
            output(Path::new("rustc"), &["--print", "host-tuple"]).or_else(|| output(Path::new("rustc"), &["-vV"]).and_then(|v| host_from_verbose(&v)))?;
        let lld = Path::new(&sysroot).join("lib/rustlib").join(host).join("bin/rust-lld");
        lld.is_file().then_some(lld)
    });
    from_rustup.or_else(|| ["/usr/bin/wasm-ld", "/usr/bin/rust-lld"].iter().map(PathBuf::from).find(|p| p.is_file()))
}

fn host_from_verbose(verbose: &str) -> Option<String> {
    verbose.lines().find_map(|l| l.strip_prefix("host: ")).map(str::to_owned)
}

fn has_std(libdir: &Path) -> bool {
    std::fs::read_dir(libdir).map(|entries| entries.flatten().any(|e| e.file_name().to_string_lossy().starts_with("libstd-"))).unwrap_or(false)
}

/// Trimmed stdout of a successful run, or `None`.
fn output(program: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).env_remove("RUSTC_BOOTSTRAP").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::host_from_verbose;

    #[test]
    fn host_line() {
        let v = "rustc 1.95.0\nbinary: rustc\nhost: x86_64-unknown-linux-gnu\nrelease: 1.95.0";
        assert_eq!(host_from_verbose(v).as_deref(), Some("x86_64-unknown-linux-gnu"));
    }
}
