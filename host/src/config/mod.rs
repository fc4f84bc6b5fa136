//! The operator's `ward.json`.
//!
//! Today only the `trust` section is defined ([`trust`]); other top-level
//! keys are left for the issues that define them and are ignored here.
//! Parsing runs in two stages, as the style guide asks: deserialize into a raw
//! shape (unknown keys in `trust` refused), then validate into the library's
//! [`crate::trust::TrustPolicy`], reporting the JSON path of the first
//! problem.

pub mod trust;

pub use trust::{ConfigError, read_trust_policy, trust_policy_from_json};
