//! Core module → component, with the type information the guest embedded
//! (wit-bindgen writes a `component-type` custom section into the module).

/// The preview1 adapter wasmtime 48 ships: it turns a module's
/// `wasi_snapshot_preview1` imports into WASI 0.2 imports.
const PREVIEW1_ADAPTER: &[u8] = wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER;

/// Encodes and validates; the error is wit-component's chain on one line.
/// With `wasip1`, the module's preview1 imports are adapted to WASI 0.2.
pub(crate) fn componentize(core: &[u8], wasip1: bool) -> Result<Vec<u8>, String> {
    let encoder = wit_component::ComponentEncoder::default().validate(true).module(core);
    let encoder = if wasip1 { encoder.and_then(|e| e.adapter("wasi_snapshot_preview1", PREVIEW1_ADAPTER)) } else { encoder };
    encoder.and_then(|mut encoder| encoder.encode()).map_err(|e| format!("{e:#}").replace('\n', " "))
}
