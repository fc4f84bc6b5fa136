//! Per-plugin resource limits and the store limiter that enforces them.

use std::time::Duration;

use wasmtime::ResourceLimiter;

/// The longest `timeout` the configuration accepts. Longer ones are mistakes,
/// not policy: a minute-long auth call would hold a proxy's connection and a
/// pool slot far too long.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);

/// What one call of one plugin may consume. Defaults suit a token check that
/// takes microseconds; an operator raises them per plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Fuel (roughly wasm instructions) per call, instantiation included.
    pub fuel: u64,
    /// Wall-clock budget per call, instantiation included.
    pub timeout: Duration,
    /// Linear memory per instance, in bytes.
    pub memory_bytes: usize,
    /// Table elements per table.
    pub table_elements: usize,
    /// Credentials longer than this are refused before any guest code runs.
    pub max_credential_bytes: usize,
    /// Calls in flight at once; the next one is refused with `over-capacity`.
    pub max_concurrent: usize,
    /// What the component may ask the compiler to do, checked before compiling.
    pub code: CodeLimits,
}

/// Bounds on a component's code, checked on the raw bytes before the
/// compiler sees them (`code-limit` at load). Cranelift's time and memory
/// grow faster than linearly in a function's locals and control nesting: a
/// signed 1.2 MB component of one function with 50 000 locals in deep blocks
/// took a minute and gigabytes to compile. Inside the defaults the worst
/// shape measured compiles in about 10 s of CPU and half a gigabyte
/// (release build, 2026-12-06; the shapes in docs/performance.md, "Compile
/// bounds"), while QuickJS
/// compiled for wasm uses a sixth of `codeBytes` and 2 % of
/// `localsByBlocksTotal`. This bounds compiling by shape, not by a clock: a
/// superlinear path in Cranelift that no bound here measures would not be
/// caught (docs/SECURITY.md says so).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeLimits {
    /// Functions defined across all core modules of the component.
    pub functions: u32,
    /// Bytes of one function body.
    pub function_bytes: u32,
    /// Locals of one function (parameters not counted).
    pub locals: u32,
    /// Nesting of `block`/`loop`/`if`/`try_table` in one function.
    pub nesting: u32,
    /// One function's locals times its control blocks (`block`, `loop`,
    /// `if`, `else`, `try_table`): what SSA construction and register
    /// allocation grow with when every local is live across every block.
    pub locals_by_blocks: u64,
    /// `locals_by_blocks` summed over every function: without it, copies
    /// of one function just inside the per-function bound add up to
    /// minutes of compiling.
    pub locals_by_blocks_total: u64,
    /// Bytes of all function bodies together.
    pub code_bytes: u64,
    /// Bytes of all data segments together.
    pub data_bytes: u64,
}

impl Default for CodeLimits {
    fn default() -> Self {
        Self {
            functions: 20_000,
            function_bytes: 512 << 10,
            locals: 2_000,
            nesting: 1_000,
            locals_by_blocks: 4_000_000,
            locals_by_blocks_total: 16_000_000,
            code_bytes: 8 << 20,
            data_bytes: 16 << 20,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            fuel: 50_000_000,
            timeout: Duration::from_millis(100),
            memory_bytes: 16 << 20,
            table_elements: 10_000,
            max_credential_bytes: 8 << 10,
            max_concurrent: 64,
            code: CodeLimits::default(),
        }
    }
}

/// The most result bytes the host copies out of a guest per call (wasmtime's
/// hostcall fuel, charged per string byte and per list element before the
/// copy). The largest claims the sanitizer accepts come to about 22 KiB
/// (1 KiB subject and issuer, 64 × 256-byte scopes, 32 labels, list slots);
/// anything beyond is refused as `invalid-claims` without being copied.
pub(crate) const MAX_RESULT_BYTES: usize = 64 << 10;

/// Instances a component may create: a wit-bindgen guest has one or two core
/// instances; a preview1-adapted one a handful. Anything beyond is suspect.
pub(crate) const MAX_INSTANCES: usize = 16;
pub(crate) const MAX_TABLES: usize = 16;
pub(crate) const MAX_MEMORIES: usize = 4;

/// Enforces [`Limits`] on one store and remembers whether a growth was
/// refused, so that a trap which follows (a guest's allocator aborting) is
/// reported as `memory-limit` rather than a generic `trap`.
pub(crate) struct GuestLimiter {
    memory_bytes: usize,
    table_elements: usize,
    pub(crate) hit_limit: bool,
}

impl GuestLimiter {
    pub(crate) fn new(limits: &Limits) -> Self {
        Self { memory_bytes: limits.memory_bytes, table_elements: limits.table_elements, hit_limit: false }
    }
}

impl ResourceLimiter for GuestLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = desired <= self.memory_bytes;
        self.hit_limit |= !allowed;
        Ok(allowed)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = desired <= self.table_elements;
        self.hit_limit |= !allowed;
        Ok(allowed)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}
