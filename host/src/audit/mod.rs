//! The tamper-evident audit log: what ward loaded, refused and denied, in a
//! form an operator can check afterwards.
//!
//! Guarantees of this room:
//! - Records are typed [`Event`]s whose fields are ids, codes, digests, enums
//!   and numbers: no field takes free text, so no credential, subject, claim or
//!   guest output can be recorded.
//! - JSON Lines; each record has `seq`, `ts` and
//!   `mac = HMAC-SHA256(audit key, previous mac ‖ canonical record)`;
//!   [`verify_files`] finds the first broken link and its kind.
//! - [`AuditLog::lifecycle`] writes and syncs before returning; on error the
//!   action must not happen. [`AuditLog::request`] is bounded and batched,
//!   with an explicit [`OverflowPolicy`]; drops are recorded as `audit.dropped`.
//! - A torn last line is cut at start-up and recorded as `audit.recovered`;
//!   rotation keeps the chain across files; a second process is refused.
//!
//! The format and what the chain cannot show are in `docs/audit.md`.

mod appender;
mod canonical;
mod chain;
mod chainer;
mod error;
mod event;
mod key;
mod log;
mod redis;
mod store;
mod verify;
mod writer;

pub use error::AuditError;
pub use event::{
    BreakerState, Code, Event, IdentityId, KeyId, KeyMaterialName, PluginId, ReplicaId, Sha256Digest, TrapKind, UnloadCause, Verdict as ConformanceVerdict,
    Version,
};
pub use key::{AuditKey, KeyError, MAX_KEY_BYTES, MIN_KEY_BYTES};
pub use log::{AuditLog, AuditOptions, AuditStats, Enqueued, OverflowPolicy, RequestQueue, WouldWait};
pub use redis::{ChainReader, DEFAULT_KEY as REDIS_DEFAULT_KEY, Exported, RedisTarget, TargetError, export_chain, verify_chain};
pub use verify::{Break, BreakKind, MAX_LINE_BYTES, Verdict, VerifyError, verify_file, verify_files};
pub use writer::rotated_path;
