//! A C compiler and archiver for crates with C sources (the JavaScript
//! engine's QuickJS, built by `rquickjs-sys` through the `cc` crate).
//!
//! The `cc` crate looks for `CC_wasm32_unknown_unknown` and
//! `AR_wasm32_unknown_unknown`; without them it would try `clang` and `ar`,
//! and Debian's `clang-14` and `llvm-14` packages install only versioned
//! names. A variable the caller already set wins.

use std::path::PathBuf;
use std::process::Command;

const CC_VAR: &str = "CC_wasm32_unknown_unknown";
const AR_VAR: &str = "AR_wasm32_unknown_unknown";
/// Unversioned first (a rustup or LLVM install), then Debian's.
const COMPILERS: &[&str] = &["clang", "clang-14"];
const ARCHIVERS: &[&str] = &["llvm-ar", "llvm-ar-14"];

/// Sets the two variables on `cmd` when unset and a tool is on `PATH`.
pub(crate) fn configure(cmd: &mut Command) {
    for (var, names) in [(CC_VAR, COMPILERS), (AR_VAR, ARCHIVERS)] {
        if std::env::var_os(var).is_some() {
            continue;
        }
        if let Some(tool) = names.iter().find_map(|name| on_path(name)) {
            cmd.env(var, tool);
        }
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| candidate.is_file())
}
