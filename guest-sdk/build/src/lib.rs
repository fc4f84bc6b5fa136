//! Builds ward plugin crates into WebAssembly components (placeholder; filled in by the sandbox work).
#![forbid(unsafe_code)]
