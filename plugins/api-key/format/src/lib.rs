//! The api-key plugin's formats, in one crate both sides compile: the keys
//! file ([`keyfile`]), which the plugin reads on every call and `ward apikey`
//! writes, and the settings rules ([`settings`]), which `ward apikey` checks
//! `--prefix` against. Depending on `std` alone, it builds for the guest
//! (wasm32) and the host alike.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
#![warn(missing_docs)]

pub mod keyfile;
pub mod settings;
