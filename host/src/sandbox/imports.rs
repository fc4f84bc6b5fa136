//! Which imports a plugin may have. This file is the whole allowlist: any
//! interface not named here is refused at load with `forbidden-import`.
//! `ward:auth/crypto` (0.2.0 or 0.3.0) is allowed only to a plugin whose
//! verified envelope declares `hostCrypto: true`, `ward:auth/keys@0.3.0`
//! only to one that declares `keyLookup: true` (the trust gate accepts
//! either only when the operator allows that capability).

use wasmtime::Engine;
use wasmtime::component::Component;

use super::crypto::{CRYPTO_INTERFACE, CRYPTO_INTERFACE_0_3};
use super::keys::KEYS_INTERFACE;

/// How WASI imports are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WasiMode {
    /// Serve the allowlisted WASI 0.2 interfaces from a context that grants
    /// nothing (no files, env, network, real clock or stdio).
    #[default]
    DenyAll,
    /// Refuse every WASI import: the smallest attack surface. (Host crypto
    /// is not WASI; it is governed by the `hostCrypto` capability alone.)
    Refuse,
}

/// WASI 0.2 interfaces that language toolchains pull in and that the deny-all
/// context can serve without granting anything. Sockets and HTTP are absent on
/// purpose: there is no deny-all form of them worth the attack surface.
pub(crate) const SERVED_WASI: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
];

/// An import name fit to print: import names come from the plugin binary, so
/// anything beyond the WIT name alphabet is replaced rather than echoed.
pub(crate) fn printable_name(name: &str) -> String {
    const MAX: usize = 128;
    let tidy = name.len() <= MAX && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-:/@._".contains(&b));
    if tidy { name.to_owned() } else { "<unprintable import name>".to_owned() }
}

/// What a component's imports need from the host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Needs {
    /// The deny-all WASI context.
    pub wasi: bool,
    /// `ward:auth/crypto` (0.2.0 or 0.3.0).
    pub crypto: bool,
    /// `ward:auth/keys@0.3.0`.
    pub keys: bool,
}

/// The capabilities of a plugin's verified envelope that open imports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Granted {
    /// `hostCrypto: true`.
    pub host_crypto: bool,
    /// `keyLookup: true`.
    pub key_lookup: bool,
}

/// Checks every import against the mode and the plugin's capabilities.
/// Returns what the component needs, or the first forbidden import's
/// printable name.
pub(crate) fn check_imports(component: &Component, engine: &Engine, mode: WasiMode, granted: Granted) -> Result<Needs, String> {
    let mut needs = Needs::default();
    for (name, _) in component.component_type().imports(engine) {
        if (name == CRYPTO_INTERFACE || name == CRYPTO_INTERFACE_0_3) && granted.host_crypto {
            needs.crypto = true;
            continue;
        }
        if name == KEYS_INTERFACE && granted.key_lookup {
            needs.keys = true;
            continue;
        }
        let base = name.split_once('@').map_or(name, |(base, _)| base);
        let version_ok = name.split_once('@').is_none_or(|(_, version)| version.starts_with("0.2."));
        if mode == WasiMode::Refuse || !version_ok || !SERVED_WASI.contains(&base) {
            return Err(printable_name(name));
        }
        needs.wasi = true;
    }
    Ok(needs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_not_echoed() {
        assert_eq!(printable_name("wasi:sockets/tcp@0.2.0"), "wasi:sockets/tcp@0.2.0");
        assert_eq!(printable_name("evil\r\nX-Ward-Id: forged"), "<unprintable import name>");
        assert_eq!(printable_name(&"a".repeat(200)), "<unprintable import name>");
    }
}
