//! Core module → component, with the type information the guest embedded
//! (wit-bindgen writes a `component-type` custom section into the module).

/// Encodes and validates; the error is wit-component's chain on one line.
pub(crate) fn componentize(core: &[u8]) -> Result<Vec<u8>, String> {
    wit_component::ComponentEncoder::default()
        .validate(true)
        .module(core)
        .and_then(|mut encoder| encoder.encode())
        .map_err(|e| format!("{e:#}").replace('\n', " "))
}
