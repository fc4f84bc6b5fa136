//! The one script that appends: it compares the head and appends a whole
//! batch, atomically (Redis runs a script without interleaving another
//! command). Every check comes before the first write, since Redis does
//! not roll a script back when a later command fails.
//!
//! KEYS[1] the stream, KEYS[2] the head key.
//! ARGV[1] the expected head (`<seq> <mac hex>`, empty for an empty chain),
//! ARGV[2] the expected last entry id (`<seq>-1`, empty for an empty chain),
//! ARGV[3] the new head, then pairs of (entry id, line).
//! Returns 1 (appended); `{0, head, last two entries}` (the head moved:
//! nothing written; the head as GET gives it, `false` when there is none,
//! and the stream's last two entries as XREVRANGE gives them, for the
//! writer to check and chain onto without another round trip); or 2 (the
//! head does not name the stream's last entry: nothing written, refuse).

use std::sync::LazyLock;

pub(super) const APPENDED: i64 = 1;
pub(super) const INCONSISTENT: i64 = 2;

const SOURCE: &str = r"
local found = redis.call('GET', KEYS[2])
local head = found
if not head then head = '' end
if head ~= ARGV[1] then
  return {0, found, redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 2)}
end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if head == '' then
  if #last ~= 0 then return 2 end
else
  if #last ~= 1 or last[1][1] ~= ARGV[2] then return 2 end
end
for i = 4, #ARGV, 2 do
  redis.call('XADD', KEYS[1], ARGV[i], 'r', ARGV[i + 1])
end
redis.call('SET', KEYS[2], ARGV[3])
return 1
";

/// The script, sent by its sha1 (`EVALSHA`, loaded on `NOSCRIPT`).
pub(super) static APPEND: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(SOURCE));
