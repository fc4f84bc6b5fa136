//! The Redis store: one fleet-wide chain in a Redis Stream plus a head key,
//! written by several ward replicas.
//!
//! Layout under a key `K` (default `ward:audit`): the stream `K` holds one
//! entry per record, with the entry id `<seq>-1` and one field `r`, the
//! record's line exactly as the file store writes it (without the newline);
//! the string `K:head` holds `<seq> <mac hex>` of the last record. One Lua
//! script ([`script`]) compares the head and appends a whole batch.
//!
//! The client is the `redis` crate's blocking connection with socket
//! timeouts: only the audit writer thread and lifecycle callers (never a
//! tokio I/O thread) talk to Redis, and a lifecycle record must be durable
//! before its call returns, so nothing here needs the async client.

mod head;
mod read;
mod script;
mod store;
mod target;

pub use read::{ChainReader, Exported, export_chain, verify_chain};
pub(crate) use store::RedisStore;
pub use target::{DEFAULT_KEY, RedisTarget, TargetError};
