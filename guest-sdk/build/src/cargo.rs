//! Runs cargo for `wasm32-unknown-unknown` and collects the `cdylib`s it made.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::toolchain::{Route, TARGET, Toolchain};
use crate::{BuildError, BuildOptions, Targets};

/// One `.wasm` core module and the cargo target it came from.
pub(crate) struct Artifact {
    pub(crate) name: String,
    pub(crate) path: PathBuf,
}

/// Guests are built with these whatever their manifest says: `panic=abort`
/// because std is built that way (and a guest has nowhere to unwind to);
/// opt-level 2 (measured on 2026-11-23 with `ward-bench` on the example
/// guest: "s" loads ~10 ms faster but costs ~4 us more per call; 3 is no
/// faster than 2 and loads slower), one codegen unit, LTO and stripped.
const PROFILE: &[&str] = &[
    "profile.release.panic=\"abort\"",
    "profile.release.opt-level=2",
    "profile.release.lto=true",
    "profile.release.codegen-units=1",
    "profile.release.strip=true",
    "profile.release.debug=false",
    "profile.release.incremental=false",
];

/// The target for `BuildOptions::wasip1` guests.
const WASIP1_TARGET: &str = "wasm32-wasip1";
/// Where Debian's `wasi-libc` package puts libc for wasm32-wasi.
const WASI_LIBC_DIR: &str = "/usr/lib/wasm32-wasi";

/// A 64 KiB shadow stack instead of the default 1 MiB keeps the initial
/// linear memory small, which roughly halves per-call instantiation cost.
/// `BuildOptions::stack_bytes` overrides it (the JavaScript engine).
const STACK_BYTES: u32 = 64 << 10;

pub(crate) fn build(toolchain: &Toolchain, manifest: &Path, opts: &BuildOptions) -> Result<Vec<Artifact>, BuildError> {
    let target_dir = opts.target_dir.clone().unwrap_or_else(|| manifest.parent().unwrap_or(Path::new(".")).join("target"));

    let mut cmd = Command::new(&toolchain.cargo);
    scrub(&mut cmd);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target")
        .arg(if opts.wasip1 { WASIP1_TARGET } else { TARGET })
        .arg("--release")
        .arg("--message-format=json-render-diagnostics")
        .arg("--target-dir")
        .arg(&target_dir);
    for setting in PROFILE {
        cmd.arg("--config").arg(setting);
    }
    match opts.targets {
        Targets::Lib => {}
        Targets::Examples => {
            cmd.arg("--examples");
        }
        Targets::LibAndExamples => {
            cmd.arg("--lib").arg("--examples");
        }
    }
    if opts.locked {
        cmd.arg("--locked");
    }
    if !opts.features.is_empty() {
        cmd.arg("--features").arg(opts.features.join(","));
    }
    cmd.env("RUSTC", &toolchain.rustc);
    let stack = format!("link-arg=-zstack-size={}", opts.stack_bytes.unwrap_or(STACK_BYTES));
    let mut flags: Vec<OsString> = vec!["-C".into(), stack.into()];
    if let Some(linker) = &toolchain.linker {
        let mut arg = OsString::from("linker=");
        arg.push(linker);
        flags.push("-C".into());
        flags.push(arg);
    }
    if opts.wasip1 && toolchain.route == Route::BuildStd {
        // Debian's std sources build against Debian's wasi-libc, not a
        // self-contained copy (rustup ships one; Debian does not).
        for flag in ["-C", "linker-flavor=wasm-ld", "-L", WASI_LIBC_DIR, "-C", "link-self-contained=no"] {
            flags.push(flag.into());
        }
    }
    if toolchain.route == Route::BuildStd {
        // -Zbuild-std is unstable; RUSTC_BOOTSTRAP is how a stable Debian
        // toolchain accepts it. Guests only, never the host build.
        cmd.env("RUSTC_BOOTSTRAP", "1").arg("-Zbuild-std=std,panic_abort");
        if toolchain.immediate_abort {
            // A panic becomes a bare `unreachable` trap, as it already is to
            // the host, without the message formatting code panic=abort keeps.
            // Measured on 2026-11-23 (`ward-bench`, median of 21 loads):
            // example-token 35.9 -> 28.9 KB, load (Cranelift compile)
            // ~72 -> ~47 ms, per-call cost unchanged.
            for flag in ["-Zunstable-options", "-Cpanic=immediate-abort"] {
                flags.push(flag.into());
            }
        }
    }
    cmd.env("CARGO_ENCODED_RUSTFLAGS", join_flags(&flags));
    crate::cc::configure(&mut cmd, &target_dir);
    cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());

    let mut child = cmd.spawn().map_err(|source| BuildError::Spawn { program: toolchain.cargo.clone(), source })?;
    let mut artifacts = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            artifacts.extend(cdylib(&line));
        }
    }
    let status = child.wait().map_err(|source| BuildError::Spawn { program: toolchain.cargo.clone(), source })?;
    if !status.success() {
        return Err(BuildError::Cargo { status });
    }
    Ok(artifacts)
}

/// The environment of an outer cargo (we may run inside a build script)
/// would redirect this build: its rustc, flags, target dir, jobserver and
/// package metadata. Registry, network and home settings are kept.
fn scrub(cmd: &mut Command) {
    const KEEP: &[&str] = &["CARGO_HOME", "CARGO_NET_", "CARGO_HTTP_", "CARGO_REGISTRIES_", "CARGO_REGISTRY_"];
    const DROP: &[&str] = &[
        "RUSTC",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTFLAGS",
        "RUSTDOC",
        "RUSTDOCFLAGS",
        "RUSTC_LINKER",
        "RUSTC_BOOTSTRAP",
        "MAKEFLAGS",
        "MFLAGS",
        "TARGET",
        "HOST",
        "OUT_DIR",
        "OPT_LEVEL",
        "PROFILE",
        "DEBUG",
        "NUM_JOBS",
    ];
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let cargo_var = key == "CARGO" || (key.starts_with("CARGO_") && !KEEP.iter().any(|k| key.starts_with(k)));
        if cargo_var || key.starts_with("__CARGO") || key.starts_with("DEP_") || DROP.contains(&key) {
            cmd.env_remove(key);
        }
    }
}

fn join_flags(flags: &[OsString]) -> OsString {
    let mut joined = OsString::new();
    for (i, flag) in flags.iter().enumerate() {
        if i > 0 {
            joined.push("\u{1f}");
        }
        joined.push(flag);
    }
    joined
}

/// A `compiler-artifact` message for a `cdylib`, as the `.wasm` it wrote.
fn cdylib(line: &str) -> Option<Artifact> {
    let msg: serde_json::Value = serde_json::from_str(line).ok()?;
    if msg.get("reason")?.as_str()? != "compiler-artifact" {
        return None;
    }
    let target = msg.get("target")?;
    let is_cdylib = target.get("crate_types")?.as_array()?.iter().any(|t| t.as_str() == Some("cdylib"));
    if !is_cdylib {
        return None;
    }
    // Cargo reports a lib target as `example_token` but an example as
    // `wasi-snoop`; kebab-case gives every guest one spelling.
    let name = target.get("name")?.as_str()?.replace('_', "-");
    let path = msg.get("filenames")?.as_array()?.iter().filter_map(|f| f.as_str()).find(|f| f.ends_with(".wasm")).map(PathBuf::from)?;
    Some(Artifact { name, path })
}

#[cfg(test)]
mod tests {
    use super::cdylib;

    #[test]
    fn picks_cdylib_wasm_only() {
        let lib = r#"{"reason":"compiler-artifact","target":{"name":"example_token","kind":["cdylib"],"crate_types":["cdylib"]},"filenames":["/t/example_token.wasm"]}"#;
        let a = cdylib(lib).map(|a| (a.name, a.path));
        assert_eq!(a, Some(("example-token".into(), "/t/example_token.wasm".into())));
        let rlib = r#"{"reason":"compiler-artifact","target":{"name":"x","crate_types":["lib"]},"filenames":["/t/libx.rlib"]}"#;
        assert!(cdylib(rlib).is_none());
        assert!(cdylib("not json").is_none());
        assert!(cdylib(r#"{"reason":"build-finished","success":true}"#).is_none());
    }
}
