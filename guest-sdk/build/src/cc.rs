//! A C compiler and archiver for crates with C sources (the JavaScript
//! engine's QuickJS, built by `rquickjs-sys` through the `cc` crate).
//!
//! The `cc` crate looks for `CC_wasm32_unknown_unknown` and
//! `AR_wasm32_unknown_unknown`; without them it would try `clang` and `ar`,
//! and Debian's `clang-14` and `llvm-14` packages install only versioned
//! names. A variable the caller already set wins.
//!
//! C's `__FILE__` (QuickJS's assertion messages) would put the absolute path
//! of the build directory into the module, and the JavaScript engine is a
//! committed artifact that every checkout must rebuild byte for byte
//! (`tests/all/js.rs`); `-ffile-prefix-map` writes it as `target` instead.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

const CC_VAR: &str = "CC_wasm32_unknown_unknown";
const AR_VAR: &str = "AR_wasm32_unknown_unknown";
const CFLAGS_VAR: &str = "CFLAGS_wasm32_unknown_unknown";
/// Unversioned first (a rustup or LLVM install), then Debian's.
const COMPILERS: &[&str] = &["clang", "clang-14"];
const ARCHIVERS: &[&str] = &["llvm-ar", "llvm-ar-14"];

/// Sets the compiler and archiver on `cmd` when unset and a tool is on
/// `PATH`, and the flags that keep `target_dir`'s path out of the output.
pub(crate) fn configure(cmd: &mut Command, target_dir: &Path) {
    for (var, names) in [(CC_VAR, COMPILERS), (AR_VAR, ARCHIVERS)] {
        if std::env::var_os(var).is_some() {
            continue;
        }
        if let Some(tool) = names.iter().find_map(|name| on_path(name)) {
            cmd.env(var, tool);
        }
    }
    if std::env::var_os(CFLAGS_VAR).is_none() {
        let absolute = std::path::absolute(target_dir).unwrap_or_else(|_| target_dir.to_path_buf());
        let mut flag = OsString::from("-ffile-prefix-map=");
        flag.push(absolute);
        flag.push("=target");
        cmd.env(CFLAGS_VAR, flag);
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| candidate.is_file())
}
