//! The values of ward's indexed key material, in one crate both sides
//! compile: the host writes them when it indexes a key-material entry, a
//! plugin reads the one it looked up (`ward-guest`'s `keys` module). See
//! docs/key-material.md, "Indexed formats".
//!
//! Only `jwks` values are defined here: an `api-keys` value is the api-key
//! plugin's own format (`api-key-format`'s `keyfile::record`).

pub mod jwk;
