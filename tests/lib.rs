//! Shared helpers for the integration tests.

/// Paths of the guest components `build.rs` built from source
/// (`EXAMPLE_TOKEN`, `HOSTILE`, ...), `GUESTS`, and `foreach_guest!`.
pub mod guests {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}
pub use guests::*;
