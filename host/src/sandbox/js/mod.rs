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

pub use refusal::JsRefusal;

/// The engine's core module, committed and checked to be reproducible from
/// `runtimes/js` (tests/all/js.rs, `js_engine_artifact_is_reproducible`).
pub(crate) const ENGINE_CORE: &[u8] = include_bytes!("../../../../runtimes/js/ward-js-engine.wasm");

/// The component for a verified JavaScript module: the engine with the
/// module evaluated, snapshotted, then componentized.
pub(crate) fn component(source: &[u8]) -> Result<Vec<u8>, JsRefusal> {
    let core = snapshot::snapshot(source)?;
    ward_guest_build::componentize_module(&core).map_err(|_| JsRefusal::Engine { why: "the snapshot does not componentize" })
}
