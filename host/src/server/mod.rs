//! The forward-auth HTTP sidecar (`ward serve`).

mod gate;

pub use gate::{Gate, GateDecision};
