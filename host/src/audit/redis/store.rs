//! [`RedisStore`]: the [`Store`] over a Redis Stream and head key.

use redis::{Connection, RedisResult};

use super::target::RedisTarget;
use super::{head, read, script};
use crate::audit::AuditError;
use crate::audit::chain::Chain;
use crate::audit::chainer::{Batch, Head, LinkProblem, checked_head};
use crate::audit::store::{Appended, Store};

/// The Redis store. One connection, opened again after any failure.
pub(crate) struct RedisStore {
    target: RedisTarget,
    conn: Option<Connection>,
    chain: Chain,
}

impl RedisStore {
    /// Connects; the first [`Store::head`] reads and checks the head.
    pub(crate) fn connect(target: RedisTarget, chain: Chain) -> Result<Self, AuditError> {
        let conn = target.connect()?;
        Ok(Self { target, conn: Some(conn), chain })
    }

    /// Runs `call` on the connection (opening one if needed); a connection
    /// that failed is dropped, so the next call starts on a fresh one.
    fn with<T>(&mut self, call: impl FnOnce(&mut Connection) -> RedisResult<T>) -> Result<T, AuditError> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => self.conn.insert(self.target.connect()?),
        };
        call(conn).map_err(|e| {
            let err = self.target.error(&e);
            if err.is_transient() {
                self.conn = None;
            }
            err
        })
    }

    /// The head from its key's `value` and the stream's last two entries
    /// (newest first), checked: it names the last entry, and that record
    /// links under the chain key.
    fn checked(&self, value: Option<Vec<u8>>, last_two: redis::Value) -> Result<Option<Head>, AuditError> {
        let entries = read::entries(last_two).ok_or_else(|| self.target.bad_head("unexpected-reply"))?;
        let Some(value) = value else {
            return if entries.is_empty() { Ok(None) } else { Err(self.target.bad_head("head-missing")) };
        };
        let head = head::parse(&value).ok_or_else(|| self.target.bad_head("head-unparsable"))?;
        let (last_id, last) = entries.first().ok_or_else(|| self.target.bad_head("head-without-records"))?;
        if *last_id != head::entry_id(head.seq).into_bytes() {
            return Err(self.target.bad_head("head-not-last"));
        }
        let before = entries.get(1).map(|(_, line)| line.as_slice());
        let found = checked_head(&self.chain, last, before).map_err(|problem| match problem {
            LinkProblem::Corrupt => self.target.bad_head("last-record-corrupt"),
            LinkProblem::KeyMismatch => self.target.bad_head("last-record-key-mismatch"),
        })?;
        if found != head {
            return Err(self.target.bad_head("head-not-last"));
        }
        Ok(Some(head))
    }
}

impl Store for RedisStore {
    fn head(&mut self) -> Result<Option<Head>, AuditError> {
        let (head_key, key) = (self.target.head_key(), self.target.key().to_owned());
        let (value, last_two): (Option<Vec<u8>>, redis::Value) =
            self.with(|c| redis::pipe().cmd("GET").arg(&head_key).cmd("XREVRANGE").arg(&key).arg("+").arg("-").arg("COUNT").arg(2).query(c))?;
        self.checked(value, last_two)
    }

    fn append(&mut self, batch: &Batch) -> Result<Appended, AuditError> {
        if batch.is_empty() {
            return Ok(Appended::Done);
        }
        let base = batch.base();
        let mut invocation = script::APPEND.key(self.target.key());
        invocation
            .key(self.target.head_key())
            .arg(head::format(base))
            .arg(base.map(|h| head::entry_id(h.seq)).unwrap_or_default())
            .arg(head::format(batch.last()));
        for (seq, line) in batch.records() {
            invocation.arg(head::entry_id(seq)).arg(line);
        }
        let answer: redis::Value = self.with(|c| invocation.invoke(c))?;
        match answer {
            redis::Value::Int(script::APPENDED) => Ok(Appended::Done),
            redis::Value::Int(script::INCONSISTENT) => Err(self.target.bad_head("head-not-last")),
            // A lost race: the head and the last two entries, checked as `head` checks them.
            redis::Value::Array(moved) => match <[redis::Value; 3]>::try_from(moved) {
                Ok([redis::Value::Int(0), found, last_two]) => {
                    let value = match found {
                        // Lua's `false` (no head key) reaches the client as nil.
                        redis::Value::Nil => None,
                        redis::Value::BulkString(bytes) => Some(bytes),
                        _ => return Err(self.target.bad_head("unexpected-reply")),
                    };
                    self.checked(value, last_two).map(Appended::Moved)
                }
                _ => Err(self.target.bad_head("unexpected-reply")),
            },
            _ => Err(self.target.bad_head("unexpected-reply")),
        }
    }

    fn holds(&mut self, head: Head) -> Result<bool, AuditError> {
        let (key, id) = (self.target.key().to_owned(), head::entry_id(head.seq));
        let value: redis::Value = self.with(|c| redis::cmd("XRANGE").arg(&key).arg(&id).arg(&id).query(c))?;
        let entries = read::entries(value).ok_or_else(|| self.target.bad_head("unexpected-reply"))?;
        Ok(entries.first().and_then(|(_, line)| crate::audit::canonical::parse_line(line)).is_some_and(|p| p.seq == head.seq && p.mac == head.mac))
    }

    fn sync(&mut self) -> Result<(), AuditError> {
        // Redis's own `appendfsync` decides (docs/audit.md).
        Ok(())
    }

    fn has_unsynced(&self) -> bool {
        false
    }
}
