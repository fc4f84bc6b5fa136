//! Turning a verified plugin into something callable: shape checks, import
//! policy, compilation from the verified bytes, and a probe instantiation.

use wasmparser::{FunctionBody, Operator, Parser, Payload};

use super::decision::DenyReason;
use super::limits::CodeLimits;

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
    /// The component's code is beyond a [`CodeLimits`] bound; refused before
    /// it is compiled.
    #[error("component code exceeds the limit on {what} ({limit})")]
    CodeLimit {
        /// Which bound: `functions`, `functionBytes`, `locals`, `nesting`,
        /// `localsByBlocks`, `localsByBlocksTotal`, `codeBytes` or `dataBytes` (the config's field
        /// names).
        what: &'static str,
        /// The bound.
        limit: u64,
    },
    /// A JavaScript module the engine refused at load (`sandbox/js`).
    #[error("{0}")]
    JavaScript(super::js::JsRefusal),
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
            Self::CodeLimit { .. } => "code-limit",
            Self::InstantiationFault { reason } => reason.code(),
            Self::LimitsExceedRuntime { .. } => "limits-exceed-runtime",
            Self::JavaScript(refusal) => refusal.code(),
        }
    }
}

/// Cheap checks on the raw bytes before the expensive compile: it must be a
/// component, no memory may start larger than the limit (the pooling
/// allocator would otherwise fail it with a less useful error), and its code
/// must lie within `code` (one pass over the bytes, linear in their size).
pub(crate) fn precheck(bytes: &[u8], memory_limit: usize, code: &CodeLimits) -> Result<(), LoadError> {
    const MALFORMED: LoadError = LoadError::InvalidComponent { why: "malformed component binary" };
    if !Parser::is_component(bytes) {
        return Err(LoadError::InvalidComponent { why: "not a WebAssembly component (core modules and other files are refused)" });
    }
    let mut totals = CodeTotals::default();
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(|_| MALFORMED)? {
            Payload::MemorySection(reader) => {
                for memory in reader {
                    let memory = memory.map_err(|_| LoadError::InvalidComponent { why: "malformed memory section" })?;
                    let page = 1u64.checked_shl(memory.page_size_log2.unwrap_or(16)).unwrap_or(u64::MAX);
                    let bytes = memory.initial.saturating_mul(page);
                    if bytes > memory_limit as u64 {
                        return Err(LoadError::InitialMemoryTooLarge { bytes, limit: memory_limit });
                    }
                }
            }
            Payload::CodeSectionEntry(body) => totals.function(&body, code)?,
            Payload::DataSection(reader) => {
                for data in reader {
                    let data = data.map_err(|_| MALFORMED)?;
                    totals.data_bytes = totals.data_bytes.saturating_add(data.data.len() as u64);
                    over(totals.data_bytes, code.data_bytes, "dataBytes")?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// What the component's functions add up to so far.
#[derive(Default)]
struct CodeTotals {
    functions: u64,
    code_bytes: u64,
    data_bytes: u64,
    locals_by_blocks: u64,
}

impl CodeTotals {
    fn function(&mut self, body: &FunctionBody<'_>, code: &CodeLimits) -> Result<(), LoadError> {
        const MALFORMED: LoadError = LoadError::InvalidComponent { why: "malformed function body" };
        self.functions += 1;
        over(self.functions, code.functions.into(), "functions")?;
        let size = body.range().len() as u64;
        over(size, code.function_bytes.into(), "functionBytes")?;
        self.code_bytes = self.code_bytes.saturating_add(size);
        over(self.code_bytes, code.code_bytes, "codeBytes")?;
        let mut locals = 0u64;
        for group in body.get_locals_reader().map_err(|_| MALFORMED)? {
            let (count, _) = group.map_err(|_| MALFORMED)?;
            locals = locals.saturating_add(count.into());
            over(locals, code.locals.into(), "locals")?;
        }
        let mut operators = body.get_operators_reader().map_err(|_| MALFORMED)?;
        let (mut depth, mut blocks) = (0u64, 0u64);
        // The product changes only when a block opens, so it is checked there.
        let within_product = |blocks: u64| over(locals.saturating_mul(blocks), code.locals_by_blocks, "localsByBlocks");
        while !operators.eof() {
            match operators.read().map_err(|_| MALFORMED)? {
                Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } | Operator::TryTable { .. } | Operator::Try { .. } => {
                    depth += 1;
                    over(depth, code.nesting.into(), "nesting")?;
                    blocks += 1;
                    within_product(blocks)?;
                }
                Operator::Else => {
                    blocks += 1;
                    within_product(blocks)?;
                }
                Operator::End => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        self.locals_by_blocks = self.locals_by_blocks.saturating_add(locals.saturating_mul(blocks));
        over(self.locals_by_blocks, code.locals_by_blocks_total, "localsByBlocksTotal")
    }
}

fn over(value: u64, limit: u64, what: &'static str) -> Result<(), LoadError> {
    if value > limit { Err(LoadError::CodeLimit { what, limit }) } else { Ok(()) }
}
