//! The api-key plugin's formats, in one crate both sides compile: the keys
//! file ([`keyfile`]), which the plugin reads on every call and `ward apikey`
//! writes, and the settings rules ([`settings`]), which `ward apikey` checks
//! `--prefix` against. Depending on `std` alone, it builds for the guest
//! (wasm32) and the host alike.

pub mod keyfile;
pub mod settings;
