//! What a file claims to be: a component (with its imports and exports), a
//! core module, or not wasm at all. Reads untrusted bytes: every path returns
//! a value or an error, none panics.

use sha2::{Digest, Sha256};
use wasmparser::{Parser, Payload, Validator};

/// What the bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WasmKind {
    /// A component.
    Component,
    /// A core module (not loadable by ward: it must be componentized first).
    CoreModule,
    /// Neither.
    NotWasm,
}

impl WasmKind {
    /// Stable lower-case name for JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Component => "component",
            Self::CoreModule => "core-module",
            Self::NotWasm => "not-wasm",
        }
    }
}

/// The outward face of a wasm file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// Component, core module, or neither.
    pub kind: WasmKind,
    /// Length in bytes.
    pub size: usize,
    /// SHA-256 of the bytes, lower-case hex.
    pub sha256: String,
    /// Top-level import names (`wasi:cli/stdout@0.2.12`, or `module::name` for a core module).
    pub imports: Vec<String>,
    /// Top-level export names (`ward:auth/authenticator@0.1.0`, ...).
    pub exports: Vec<String>,
}

/// The bytes look like wasm but do not parse or validate.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// Parsing or validation failed.
    #[error("invalid {kind}: {message}")]
    Invalid {
        /// What the header said it was.
        kind: &'static str,
        /// The parser's message.
        message: String,
    },
}

/// Classifies, validates and lists the top-level imports and exports of `bytes`.
pub fn inspect(bytes: &[u8]) -> Result<Inspection, InspectError> {
    let kind = if Parser::is_component(bytes) {
        WasmKind::Component
    } else if Parser::is_core_wasm(bytes) {
        WasmKind::CoreModule
    } else {
        WasmKind::NotWasm
    };
    let mut inspection = Inspection { kind, size: bytes.len(), sha256: hex::encode(Sha256::digest(bytes)), imports: Vec::new(), exports: Vec::new() };
    if kind == WasmKind::NotWasm {
        return Ok(inspection);
    }
    let invalid = |e: wasmparser::BinaryReaderError| InspectError::Invalid { kind: kind.as_str(), message: e.message().to_owned() };
    Validator::new().validate_all(bytes).map_err(invalid)?;
    names(bytes, &mut inspection).map_err(invalid)?;
    Ok(inspection)
}

fn names(bytes: &[u8], out: &mut Inspection) -> Result<(), wasmparser::BinaryReaderError> {
    // Nested modules and components report their own sections in the same
    // payload stream; only depth 0 is the file's outward face.
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload? {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 0 => {
                for import in reader {
                    out.imports.push(import?.name.name.to_owned());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 0 => {
                for export in reader {
                    out.exports.push(export?.name.name.to_owned());
                }
            }
            Payload::ImportSection(reader) if depth == 0 => {
                for import in reader.into_imports() {
                    let import = import?;
                    out.imports.push(format!("{}::{}", import.module, import.name));
                }
            }
            Payload::ExportSection(reader) if depth == 0 => {
                for export in reader {
                    out.exports.push(export?.name.to_owned());
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_wasm_and_empty() {
        for bytes in [&b""[..], b"hello", b"\0asm", b"\0asm\x01\0\0\0\xff"] {
            let result = inspect(bytes);
            assert!(matches!(result.as_ref().map(|i| i.kind), Ok(WasmKind::NotWasm) | Err(_)), "{bytes:?}");
        }
        let empty = inspect(b"").map(|i| (i.kind, i.size));
        assert_eq!(empty.ok(), Some((WasmKind::NotWasm, 0)));
    }

    #[test]
    fn core_module_is_named() {
        let module = b"\0asm\x01\0\0\0";
        let i = inspect(module).ok();
        assert_eq!(i.map(|i| (i.kind, i.imports.len())), Some((WasmKind::CoreModule, 0)));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic fuzz: mutate a valid header plus junk.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..2000usize {
            let mut bytes = b"\0asm\x0d\0\x01\0".to_vec();
            for _ in 0..(len % 97) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                bytes.push(seed as u8);
            }
            let _ = inspect(&bytes);
            let _ = inspect(bytes.get(8..).unwrap_or_default());
        }
    }
}
