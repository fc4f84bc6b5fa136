//! One integration-test binary, a module per room (link time is the cost of
//! every extra test binary that links wasmtime).

mod sandbox_guests;
mod sandbox_wat;
mod support;
mod wat_guests;
