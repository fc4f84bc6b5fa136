//! `ward plugin build` / `ward plugin inspect`: thin wrappers over the
//! `ward-guest-build` library, printing JSON on stdout.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::json;
use sha2::{Digest as _, Sha256};
use ward_guest_build::{BuildError, BuildOptions, Inspection};

use super::CliError;
use super::runtime_arg::RuntimeArg;

/// Larger files are refused unread: no plausible plugin is this big, and
/// `inspect` must not let a hostile file make ward allocate without bound.
const MAX_INSPECT_BYTES: u64 = 256 * 1024 * 1024;
/// The engine refuses larger entries anyway (Haechi's `MAX_ENTRY_BYTES`).
const MAX_JS_BYTES: u64 = ward::sandbox::MAX_JS_SOURCE_BYTES as u64;

/// Subcommands of `ward plugin`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Compile a plugin crate into a component that imports nothing but what
    /// its ward-guest features call: ward:auth/crypto (host-crypto) and
    /// ward:auth/keys (key-lookup).
    Build {
        /// The plugin crate's directory (holding its Cargo.toml).
        dir: PathBuf,
        /// Where to write the component; default `<dir>/target/<name>.wasm`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Require the crate's Cargo.lock to be up to date (`cargo --locked`).
        #[arg(long)]
        locked: bool,
        /// Cargo target directory for the wasm build (default `<dir>/target`);
        /// sharing one across plugins saves rebuilding std for each.
        #[arg(long)]
        target_dir: Option<PathBuf>,
        /// Cargo features to enable, e.g. `host-crypto` (the component then
        /// imports ward:auth/crypto and needs the hostCrypto capability; one
        /// that imports ward:auth/keys needs keyLookup).
        #[arg(long, value_delimiter = ',')]
        features: Vec<String>,
    },
    /// Print a component's imports, exports, size and sha256. With
    /// `--runtime js`, a JavaScript module's: it is evaluated in ward's
    /// engine as at load, and the component it becomes is described (or
    /// the load refusal's code printed, exit 1).
    Inspect {
        /// The component (or any file: non-components are reported as such).
        file: PathBuf,
        /// What the file is (`wasm` or `js`), as ward.json's `"runtime"`.
        #[arg(long, value_enum, default_value_t)]
        runtime: RuntimeArg,
    },
}

/// Runs `ward plugin ...`.
pub fn run(command: Command) -> Result<ExitCode, CliError> {
    match command {
        Command::Build { dir, out, locked, target_dir, features } => build(&dir, out, locked, target_dir, features),
        Command::Inspect { file, runtime: RuntimeArg::Wasm } => inspect(&file),
        Command::Inspect { file, runtime: RuntimeArg::Js } => inspect_js(&file),
    }
}

fn build(dir: &Path, out: Option<PathBuf>, locked: bool, target_dir: Option<PathBuf>, features: Vec<String>) -> Result<ExitCode, CliError> {
    let opts = BuildOptions { locked, target_dir, features, ..BuildOptions::default() };
    let built = ward_guest_build::build(dir, &opts).map_err(build_error)?;
    let [component] = built.as_slice() else {
        return Err(CliError::new(format!("{}: the build made {} components; expected one cdylib", dir.display(), built.len()))
            .with_hint("a plugin crate has exactly one [lib] with crate-type = [\"cdylib\"]"));
    };
    let path = out.unwrap_or_else(|| dir.join("target").join(format!("{}.wasm", component.name)));
    std::fs::write(&path, &component.bytes)
        .map_err(|e| CliError::new(format!("writing {}: {e}", path.display())).with_hint("pass --out FILE in a writable directory"))?;
    print(&describe(&path, &component.inspection));
    Ok(ExitCode::SUCCESS)
}

fn inspect(file: &Path) -> Result<ExitCode, CliError> {
    let bytes = super::read_capped(file, MAX_INSPECT_BYTES, "component")?;
    let inspection = ward_guest_build::inspect(&bytes).map_err(|e| CliError::new(format!("{}: {e}", file.display())))?;
    print(&describe(file, &inspection));
    Ok(ExitCode::SUCCESS)
}

/// A JavaScript entry: its own size and hash (what an envelope signs), and
/// the component ward makes of it, or why it would be refused at load.
fn inspect_js(file: &Path) -> Result<ExitCode, CliError> {
    let source = super::read_capped(file, MAX_JS_BYTES, "JavaScript module")?;
    let digest = hex::encode(Sha256::digest(&source));
    let component = match ward::sandbox::javascript_component(&source) {
        Ok(component) => component,
        Err(refusal) => {
            // The code only: the engine's message may quote the module.
            print(&json!({ "path": file.display().to_string(), "kind": "javascript", "size": source.len(), "sha256": digest, "refusal": refusal.code() }));
            return Ok(ExitCode::FAILURE);
        }
    };
    let inspection = ward_guest_build::inspect(&component).map_err(|e| CliError::new(format!("{}: {e}", file.display())))?;
    let component = describe_component(&inspection);
    print(&json!({ "path": file.display().to_string(), "kind": "javascript", "size": source.len(), "sha256": digest, "component": component }));
    Ok(ExitCode::SUCCESS)
}

fn describe(path: &Path, i: &Inspection) -> serde_json::Value {
    let mut described = describe_component(i);
    if let Some(fields) = described.as_object_mut() {
        fields.insert("path".to_owned(), json!(path.display().to_string()));
    }
    described
}

fn describe_component(i: &Inspection) -> serde_json::Value {
    json!({
        "kind": i.kind.as_str(),
        "size": i.size,
        "sha256": i.sha256,
        "imports": i.imports,
        "exports": i.exports,
    })
}

fn print(value: &serde_json::Value) {
    // Pretty JSON cannot fail to serialize a Value built from strings and numbers.
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

fn build_error(e: BuildError) -> CliError {
    let hint = match &e {
        BuildError::Toolchain(_) => Some("run .ci/setup (as root) to install the Debian route"),
        BuildError::NotACrate(_) => Some("ward plugin build DIR takes the plugin crate's directory"),
        BuildError::HasImports { .. } => Some("depend only on ward-guest and pure-Rust crates; see guest-sdk/README.md"),
        _ => None,
    };
    let err = CliError::new(e.to_string());
    match hint {
        Some(hint) => err.with_hint(hint),
        None => err,
    }
}
