//! The seam between the chain and where its records are kept. The chain —
//! canonical records, macs, `seq` — is built by the core ([`super::chainer`]);
//! a store only answers "what is the head" and "append this batch if the
//! head is still this one", atomically. Two stores: the file
//! ([`super::writer`], one writer holding a lock) and Redis
//! ([`super::redis`], several replicas racing on the head).

use super::AuditError;
use super::chainer::{Batch, Head};

/// What [`Store::append`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Appended {
    /// The batch is in the store, after the head it was chained onto.
    Done,
    /// The head is no longer the batch's base (another writer appended
    /// first); nothing was written. Carries the store's head as of that
    /// answer, checked as [`Store::head`] checks it, to chain again onto
    /// without another round trip.
    Moved(Option<Head>),
}

/// Where the chain is kept.
///
/// Errors: [`AuditError::is_transient`] ones (the store is unreachable for
/// now; an append that failed this way may or may not have been applied,
/// which [`Store::holds`] tells afterwards) and the rest, after which the
/// log refuses further records.
pub(crate) trait Store: Send {
    /// The head as the store has it now, checked: the record it names is
    /// the last one and links under the chain key.
    fn head(&mut self) -> Result<Option<Head>, AuditError>;

    /// Appends `batch` (all or nothing) if the head is still `batch.base()`.
    fn append(&mut self, batch: &Batch) -> Result<Appended, AuditError>;

    /// Whether the record `head.seq` in the store has the mac `head.mac`:
    /// the answer for an append whose outcome was not seen.
    fn holds(&mut self, head: Head) -> Result<bool, AuditError>;

    /// Makes what was appended durable, where the store leaves that to the
    /// writer (a file's `fdatasync`).
    fn sync(&mut self) -> Result<(), AuditError>;

    /// Appended and not yet [`Store::sync`]ed.
    fn has_unsynced(&self) -> bool;
}
