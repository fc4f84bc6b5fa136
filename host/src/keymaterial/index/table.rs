//! The lookup table under every index: ids and values in one arena, a
//! `hashbrown::HashTable` of entry numbers over it. Per entry that is 16
//! bytes of offsets and about 8 of table, plus the id and value themselves:
//! no allocation per entry, so a million api keys cost one arena.

use std::hash::BuildHasher;

use hashbrown::HashTable;

#[derive(Clone, Copy)]
struct Slot {
    id_at: u32,
    id_len: u32,
    value_at: u32,
    value_len: u32,
}

/// Ids are hashed with a per-table random SipHash key, so no id set an
/// issuer publishes can be chosen to collide.
#[derive(Default)]
pub(super) struct Table {
    arena: Vec<u8>,
    slots: Vec<Slot>,
    lookup: HashTable<u32>,
    hasher: std::hash::RandomState,
}

/// Why an insert was refused.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refused {
    /// The id is already in the table.
    Duplicate,
    /// The arena would pass 4 GiB (u32 offsets). The key-material byte cap
    /// keeps every real set far below it; this refuses rather than wraps.
    Full,
}

impl Table {
    pub(super) fn with_capacity(entries: usize, arena_bytes: usize) -> Self {
        Self {
            arena: Vec::with_capacity(arena_bytes),
            slots: Vec::with_capacity(entries),
            lookup: HashTable::with_capacity(entries),
            hasher: std::hash::RandomState::new(),
        }
    }

    /// Adds `id` → `value`, unless `id` is already there.
    pub(super) fn insert(&mut self, id: &[u8], value: &[u8]) -> Result<(), Refused> {
        let hash = self.hasher.hash_one(id);
        let (arena, slots) = (&self.arena, &self.slots);
        if self.lookup.find(hash, |n| id_of(arena, slots, *n) == Some(id)).is_some() {
            return Err(Refused::Duplicate);
        }
        let offset = |len: usize| u32::try_from(len).map_err(|_| Refused::Full);
        let slot = Slot {
            id_at: offset(self.arena.len())?,
            id_len: offset(id.len())?,
            value_at: offset(self.arena.len() + id.len())?,
            value_len: offset(value.len())?,
        };
        offset(self.arena.len() + id.len() + value.len())?;
        self.arena.extend_from_slice(id);
        self.arena.extend_from_slice(value);
        let number = offset(self.slots.len())?;
        self.slots.push(slot);
        let (arena, slots, hasher) = (&self.arena, &self.slots, &self.hasher);
        self.lookup.insert_unique(hash, number, |n| id_of(arena, slots, *n).map_or(0, |id| hasher.hash_one(id)));
        Ok(())
    }

    pub(super) fn get(&self, id: &[u8]) -> Option<&[u8]> {
        let hash = self.hasher.hash_one(id);
        let number = self.lookup.find(hash, |n| id_of(&self.arena, &self.slots, *n) == Some(id))?;
        let slot = self.slots.get(*number as usize)?;
        self.arena.get(slot.value_at as usize..)?.get(..slot.value_len as usize)
    }

    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Shrinks the arena and slots to what they hold (a build reserves by estimate).
    pub(super) fn shrink(&mut self) {
        self.arena.shrink_to_fit();
        self.slots.shrink_to_fit();
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.arena.capacity() + self.slots.capacity() * size_of::<Slot>() + self.lookup.capacity() * (size_of::<u32>() + 1)
    }
}

fn id_of<'a>(arena: &'a [u8], slots: &[Slot], number: u32) -> Option<&'a [u8]> {
    let slot = slots.get(number as usize)?;
    arena.get(slot.id_at as usize..)?.get(..slot.id_len as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_was_inserted_and_nothing_else() {
        let mut table = Table::with_capacity(4, 64);
        table.insert(b"a", b"1").ok().unwrap();
        table.insert(b"bb", b"").ok().unwrap();
        table.insert(b"", b"empty id").ok().unwrap();
        assert_eq!(table.insert(b"a", b"2"), Err(Refused::Duplicate));
        assert_eq!(table.get(b"a"), Some(&b"1"[..]));
        assert_eq!(table.get(b"bb"), Some(&b""[..]));
        assert_eq!(table.get(b""), Some(&b"empty id"[..]));
        assert_eq!(table.get(b"b"), None);
        assert_eq!(table.get(b"abb"), None);
        assert_eq!(table.len(), 3);
    }

    #[test]
    fn many_ids() {
        let mut table = Table::with_capacity(0, 0);
        for i in 0u32..10_000 {
            table.insert(&i.to_le_bytes(), &i.to_be_bytes()).ok().unwrap();
        }
        for i in 0u32..10_000 {
            assert_eq!(table.get(&i.to_le_bytes()), Some(&i.to_be_bytes()[..]));
        }
        assert_eq!(table.get(&10_000u32.to_le_bytes()), None);
    }
}
