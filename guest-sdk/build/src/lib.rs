//! Builds ward plugin crates into WebAssembly components on whatever wasm32
//! Rust toolchain this machine has, and inspects components.
//!
//! Used by `ward plugin build|inspect` and by the test suite's build step
//! (`tests/build.rs`). Nothing here panics on input: every failure is a
//! [`BuildError`] or [`InspectError`] with a one-line message.
#![forbid(unsafe_code)]

mod cargo;
mod cc;
mod componentize;
mod inspect;
mod toolchain;

use std::path::{Path, PathBuf};

pub use inspect::{InspectError, Inspection, WasmKind, inspect};
pub use toolchain::{Route, Toolchain, ToolchainError, detect};

/// Which of the crate's `cdylib` targets to build.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Targets {
    /// The library (the usual plugin layout).
    #[default]
    Lib,
    /// Every `[[example]]` (one guest per example, as the test guests do).
    Examples,
    /// Both.
    LibAndExamples,
}

/// How to build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Which targets.
    pub targets: Targets,
    /// Cargo target directory; `<crate>/target` when unset. Give guests their
    /// own directory when calling from a build script, so the outer cargo's
    /// lock on its target directory is never waited on.
    pub target_dir: Option<PathBuf>,
    /// Pass `--locked` (CI: the guest's `Cargo.lock` must be up to date).
    pub locked: bool,
    /// Build for `wasm32-wasip1` with Rust's std on wasi-libc and adapt the
    /// module to WASI 0.2 with the preview1 adapter, as mainstream toolchains
    /// do. Such a component imports WASI; ward plugins normally do not.
    pub wasip1: bool,
    /// Cargo features to enable (`--features`), e.g. `host-crypto`.
    pub features: Vec<String>,
    /// The shadow stack the module is linked with; 64 KiB when unset. The
    /// JavaScript engine (runtimes/js) needs more for QuickJS's recursion.
    pub stack_bytes: Option<u32>,
}

/// Host crypto as `ward-guest`'s `host-crypto` feature imports it; loads
/// only with the `hostCrypto` capability.
pub const HOST_CRYPTO_IMPORT: &str = "ward:auth/crypto@0.2.0";
/// Host crypto when `key-lookup` is on too (the same interface in
/// `ward:auth@0.3.0`); loads only with the `hostCrypto` capability.
pub const HOST_CRYPTO_IMPORT_0_3: &str = "ward:auth/crypto@0.3.0";
/// Indexed key material (`ward-guest`'s `key-lookup` feature); loads only
/// with the `keyLookup` capability.
pub const KEY_LOOKUP_IMPORT: &str = "ward:auth/keys@0.3.0";
/// Every import a ward plugin may have; anything else (WASI, another
/// package) means the crate links something a plugin must not.
pub const ALLOWED_IMPORTS: [&str; 3] = [HOST_CRYPTO_IMPORT, HOST_CRYPTO_IMPORT_0_3, KEY_LOOKUP_IMPORT];

/// The shadow stack the JavaScript engine (runtimes/js) is linked with.
/// QuickJS's own limit (runtimes/js/src/init.rs) must stay below it: QuickJS
/// measures the stack pointer, and a limit at or past the real end would let
/// deep recursion run into static data instead of throwing.
pub const JS_ENGINE_STACK_BYTES: u32 = 256 << 10;

/// Makes a component of a core module that carries its own `component-type`
/// section (as wit-bindgen writes it), e.g. a pre-initialized snapshot of the
/// JavaScript engine. The error is wit-component's chain on one line.
pub fn componentize_module(core: &[u8]) -> Result<Vec<u8>, String> {
    componentize::componentize(core, false)
}

/// One component made from one `cdylib` target.
#[derive(Debug, Clone)]
pub struct BuiltComponent {
    /// The cargo target name in kebab-case (`example-token`, `wasi-snoop`, ...).
    pub name: String,
    /// The core module cargo produced.
    pub core_module: PathBuf,
    /// The component bytes.
    pub bytes: Vec<u8>,
    /// Imports, exports, size and digest of `bytes`.
    pub inspection: Inspection,
}

/// Why a build failed. Each message is one line.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// No usable wasm32 toolchain.
    #[error(transparent)]
    Toolchain(#[from] ToolchainError),
    /// The crate directory has no `Cargo.toml`.
    #[error("{0}: no Cargo.toml here; pass the plugin crate's directory")]
    NotACrate(PathBuf),
    /// Cargo could not be started.
    #[error("could not run {program}: {source}")]
    Spawn {
        /// The cargo binary.
        program: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Cargo ran and failed; its diagnostics went to stderr.
    #[error("cargo build for wasm32-unknown-unknown failed ({status}); see the compiler output above")]
    Cargo {
        /// Exit status.
        status: std::process::ExitStatus,
    },
    /// The build made no `cdylib`.
    #[error("{0}: the build produced no cdylib; set `crate-type = [\"cdylib\"]` under [lib] (or on the [[example]])")]
    NoCdylib(PathBuf),
    /// Reading the core module failed.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// wit-component refused the core module.
    #[error("{name}: cannot make a component: {message}")]
    Componentize {
        /// Target name.
        name: String,
        /// wit-component's explanation, on one line.
        message: String,
    },
    /// The component imports something outside [`ALLOWED_IMPORTS`]: a ward
    /// plugin imports nothing but, optionally, host crypto and key lookup.
    #[error(
        "{name}: the component imports {imports:?}; a ward plugin built with ward-guest imports nothing but, with its host-crypto feature, ward:auth/crypto and, with its key-lookup feature, ward:auth/keys (are you linking WASI or a crate that uses it?)"
    )]
    HasImports {
        /// Target name.
        name: String,
        /// What it imports.
        imports: Vec<String>,
    },
    /// The component did not survive inspection.
    #[error("{name}: {source}")]
    Inspect {
        /// Target name.
        name: String,
        /// Why.
        source: InspectError,
    },
}

/// Builds every selected `cdylib` of the crate at `crate_dir` into a
/// validated component and checks that each imports nothing outside
/// [`ALLOWED_IMPORTS`].
pub fn build(crate_dir: &Path, opts: &BuildOptions) -> Result<Vec<BuiltComponent>, BuildError> {
    build_with(&detect()?, crate_dir, opts, true)
}

/// Like [`build`] but with a detected toolchain, and with the import check
/// optional: the test suite also builds guests that import WASI on purpose.
pub fn build_with(toolchain: &Toolchain, crate_dir: &Path, opts: &BuildOptions, require_no_imports: bool) -> Result<Vec<BuiltComponent>, BuildError> {
    let manifest = crate_dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(BuildError::NotACrate(crate_dir.to_path_buf()));
    }
    let artifacts = cargo::build(toolchain, &manifest, opts)?;
    if artifacts.is_empty() {
        return Err(BuildError::NoCdylib(crate_dir.to_path_buf()));
    }
    let mut built = Vec::with_capacity(artifacts.len());
    for artifact in artifacts {
        let core = std::fs::read(&artifact.path).map_err(|source| BuildError::Read { path: artifact.path.clone(), source })?;
        let bytes = componentize::componentize(&core, opts.wasip1).map_err(|message| BuildError::Componentize { name: artifact.name.clone(), message })?;
        let inspection = inspect(&bytes).map_err(|source| BuildError::Inspect { name: artifact.name.clone(), source })?;
        if require_no_imports && !only_allowed(&inspection.imports) {
            return Err(BuildError::HasImports { name: artifact.name, imports: inspection.imports });
        }
        built.push(BuiltComponent { name: artifact.name, core_module: artifact.path, bytes, inspection });
    }
    Ok(built)
}

/// Whether every import is one a ward plugin may have.
fn only_allowed(imports: &[String]) -> bool {
    imports.iter().all(|import| ALLOWED_IMPORTS.contains(&import.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_imports_are_the_ward_interfaces_only() {
        let imports = |names: &[&str]| names.iter().map(|name| (*name).to_owned()).collect::<Vec<_>>();
        assert!(only_allowed(&[]));
        assert!(only_allowed(&imports(&["ward:auth/crypto@0.2.0"])));
        assert!(only_allowed(&imports(&["ward:auth/keys@0.3.0"])));
        assert!(only_allowed(&imports(&["ward:auth/crypto@0.3.0", "ward:auth/keys@0.3.0"])));
        for refused in [
            &["wasi:io/streams@0.2.0"][..],
            &["ward:auth/keys@0.3.0", "wasi:clocks/wall-clock@0.2.0"],
            &["ward:auth/keys@0.2.0"],
            &["ward:auth/authenticator@0.3.0"],
        ] {
            assert!(!only_allowed(&imports(refused)), "{refused:?}");
        }
    }
}
