//! JavaScript plugins: an operator-signed ES module (a Haechi
//! `authProvider`) becomes an ordinary ward component at load.
//!
//! The engine (`runtimes/js`, QuickJS built for wasm32) is part of ward and
//! embedded here as a core module. At load the host instruments it
//! (wasmtime-wizer), writes the verified `.mjs` bytes into its memory, runs
//! its `ward_js_init` once under a fuel budget (engine start, module parse
//! and evaluation, entry lookup), and snapshots the initialized memory and
//! globals into a new module. That module, componentized, is what the
//! runtime compiles and calls like any other plugin: the call path does not
//! know a plugin was JavaScript. docs/javascript.md has the design and the
//! Haechi contract.

mod refusal;
mod snapshot;

use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use super::compile_cache::CompileCache;

pub use refusal::JsRefusal;
pub use snapshot::MAX_SOURCE_BYTES;

/// The engine's core module, committed and checked to be reproducible from
/// `runtimes/js` (tests/all/js.rs, `js_engine_artifact_is_reproducible`).
pub(crate) const ENGINE_CORE: &[u8] = include_bytes!("../../../../runtimes/js/ward-js-engine.wasm");

/// The component for a verified JavaScript module: the engine with the
/// module evaluated, snapshotted, then componentized; or that component as
/// an earlier load left it in the compile cache.
pub(crate) fn component(source: &[u8], cache: Option<&CompileCache>) -> Result<Vec<u8>, JsRefusal> {
    let key = cache.map(|_| snapshot_key(source));
    if let Some(component) = cache.zip(key.as_deref()).and_then(|(cache, key)| cache.snapshot(key)) {
        return Ok(component);
    }
    let core = snapshot::snapshot(source)?;
    let component = ward_guest_build::componentize_module(&core).map_err(|_| JsRefusal::Engine { why: "the snapshot does not componentize" })?;
    if let Some((cache, key)) = cache.zip(key.as_deref()) {
        cache.keep_snapshot(key, &component);
    }
    Ok(component)
}

/// The component ward makes of a JavaScript module at load, without a
/// cache: what `ward plugin inspect --runtime js` describes. The module is
/// evaluated in the engine under the load's fuel and memory budget, as
/// for a verified plugin.
pub fn javascript_component(source: &[u8]) -> Result<Vec<u8>, JsRefusal> {
    component(source, None)
}

/// What a snapshot is a function of: the source, the engine's bytes, and
/// this ward's code around them (wizer, the componentizing adapter, the
/// evaluation budget), named by its version.
fn snapshot_key(source: &[u8]) -> String {
    static ENGINE_DIGEST: OnceLock<[u8; 32]> = OnceLock::new();
    let engine = ENGINE_DIGEST.get_or_init(|| Sha256::digest(ENGINE_CORE).into());
    let mut key = Sha256::new();
    key.update(b"ward js snapshot\0");
    key.update(env!("CARGO_PKG_VERSION").as_bytes());
    key.update(b"\0");
    key.update(engine);
    key.update(Sha256::digest(source));
    hex::encode(key.finalize())
}
