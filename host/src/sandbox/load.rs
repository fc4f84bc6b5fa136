//! Turning a verified plugin into something callable: shape checks, import
//! policy, compilation from the verified bytes, and a probe instantiation.

use wasmparser::{Parser, Payload};

use super::decision::DenyReason;

/// Why a verified plugin could not be loaded. `code()` is stable. Messages
/// never quote wasmtime's error text, which may contain names from the binary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// Not a component, not compilable, or not exporting exactly the authenticator.
    #[error("invalid component: {why}")]
    InvalidComponent {
        /// Which rule it broke.
        why: &'static str,
    },
    /// It imports something the sandbox does not serve.
    #[error("forbidden import {name}")]
    ForbiddenImport {
        /// The import, or a placeholder if its name is not printable.
        name: String,
    },
    /// A memory's initial size is already above the plugin's memory limit.
    #[error("initial memory of {bytes} bytes exceeds the limit of {limit} bytes")]
    InitialMemoryTooLarge {
        /// Declared initial size.
        bytes: u64,
        /// The plugin's limit.
        limit: usize,
    },
    /// The probe instantiation at load faulted (a start function that loops, say).
    #[error("plugin faulted while instantiating: {}", reason.code())]
    InstantiationFault {
        /// How it faulted.
        reason: DenyReason,
    },
    /// The plugin's limits ask for more than the engine was built for.
    #[error("plugin limits exceed the runtime's: {why}")]
    LimitsExceedRuntime {
        /// Which limit.
        why: &'static str,
    },
}

impl LoadError {
    /// The stable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidComponent { .. } => "invalid-component",
            Self::ForbiddenImport { .. } => "forbidden-import",
            Self::InitialMemoryTooLarge { .. } => "memory-limit",
            Self::InstantiationFault { reason } => reason.code(),
            Self::LimitsExceedRuntime { .. } => "limits-exceed-runtime",
        }
    }
}

/// Cheap checks on the raw bytes before the expensive compile: it must be a
/// component, and no memory may start larger than the limit (the pooling
/// allocator would otherwise fail it with a less useful error).
pub(crate) fn precheck(bytes: &[u8], memory_limit: usize) -> Result<(), LoadError> {
    if !Parser::is_component(bytes) {
        return Err(LoadError::InvalidComponent { why: "not a WebAssembly component (core modules and other files are refused)" });
    }
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|_| LoadError::InvalidComponent { why: "malformed component binary" })?;
        if let Payload::MemorySection(reader) = payload {
            for memory in reader {
                let memory = memory.map_err(|_| LoadError::InvalidComponent { why: "malformed memory section" })?;
                let page = 1u64.checked_shl(memory.page_size_log2.unwrap_or(16)).unwrap_or(u64::MAX);
                let bytes = memory.initial.saturating_mul(page);
                if bytes > memory_limit as u64 {
                    return Err(LoadError::InitialMemoryTooLarge { bytes, limit: memory_limit });
                }
            }
        }
    }
    Ok(())
}
