//! A hash table from event names to values, looked up once per decoded record.
//!
//! Names are short (`sched_switch`, `sys_enter_openat`), so each is summed up by its length
//! and its first and last eight bytes: for a name of up to 16 bytes those cover every byte,
//! so equal keys mean equal names and a lookup compares three words, no bytes; longer
//! names compare their bytes after the key matches. The general `HashMap` hashed every
//! byte and called `memcmp` for each hit, which showed in profiles of `tprobe replay`.

/// A name summed up: its length and its first and last eight bytes (fewer bytes, packed,
/// for names under eight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NameKey {
    len: usize,
    head: u64,
    tail: u64,
}

impl NameKey {
    fn of(name: &[u8]) -> Self {
        let len = name.len();
        let word = |bytes: &[u8]| {
            let mut le = [0u8; 8];
            le[..bytes.len()].copy_from_slice(bytes);
            u64::from_le_bytes(le)
        };
        let (head, tail) = if len >= 8 {
            (word(&name[..8]), word(&name[len - 8..]))
        } else if len >= 4 {
            (word(&name[..4]), word(&name[len - 4..]))
        } else {
            (word(name), 0)
        };
        Self { len, head, tail }
    }

    /// Whether equal keys are enough to know the names are equal.
    fn covers_name(self) -> bool {
        self.len <= 16
    }

    fn hash(self) -> u64 {
        let mixed = (self.head ^ self.tail.rotate_left(32) ^ self.len as u64)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        mixed ^ (mixed >> 29)
    }
}

/// Names and their values, in the order they were first inserted.
#[derive(Debug, Clone)]
pub(crate) struct NameTable<V> {
    entries: Vec<(Box<[u8]>, V)>,
    /// Open addressing with linear probing: the key and the entry's index plus one, or
    /// `None` for a free slot. Its length is a power of two, at least twice the entries.
    slots: Vec<Option<(NameKey, u32)>>,
}

impl<V> Default for NameTable<V> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            slots: Vec::new(),
        }
    }
}

impl<V> NameTable<V> {
    /// The value for `name`.
    #[inline]
    pub(crate) fn get(&self, name: &[u8]) -> Option<&V> {
        let key = NameKey::of(name);
        self.position(key, name).map(|index| &self.entries[index].1)
    }

    /// The value for `name`, inserted with `make` when absent.
    pub(crate) fn get_or_insert_with(&mut self, name: &[u8], make: impl FnOnce() -> V) -> &mut V {
        let key = NameKey::of(name);
        let index = match self.position(key, name) {
            Some(index) => index,
            None => {
                if (self.entries.len() + 1) * 2 > self.slots.len() {
                    self.grow();
                }
                let index = self.entries.len();
                self.entries.push((name.into(), make()));
                self.place(key, index);
                index
            }
        };
        &mut self.entries[index].1
    }

    /// Every name and value, in insertion order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.entries.iter().map(|(name, value)| (&name[..], value))
    }

    /// The names and values, in insertion order.
    pub(crate) fn into_entries(self) -> impl Iterator<Item = (Box<[u8]>, V)> {
        self.entries.into_iter()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, key: NameKey, name: &[u8]) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut slot = key.hash() as usize & mask;
        // The table is never more than half full, so a free slot ends every probe.
        loop {
            let (stored, index) = self.slots[slot]?;
            if stored == key {
                let index = index as usize;
                if key.covers_name() || *self.entries[index].0 == *name {
                    return Some(index);
                }
            }
            slot = (slot + 1) & mask;
        }
    }

    fn place(&mut self, key: NameKey, index: usize) {
        let mask = self.slots.len() - 1;
        let mut slot = key.hash() as usize & mask;
        while self.slots[slot].is_some() {
            slot = (slot + 1) & mask;
        }
        // Event catalogs hold thousands of names at most, far below u32::MAX.
        self.slots[slot] = Some((key, u32::try_from(index).unwrap_or(u32::MAX)));
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(16);
        self.slots = vec![None; size];
        for index in 0..self.entries.len() {
            let key = NameKey::of(&self.entries[index].0);
            self.place(key, index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_name_and_only_those() {
        let mut table = NameTable::default();
        // Names of every length around the key's word boundaries, and long names that
        // share their first and last eight bytes and their length.
        let mut names: Vec<Vec<u8>> = (0..40).map(|n| vec![b'a'; n]).collect();
        names.push(b"sys_enter_openat".to_vec());
        names.push(b"sys_exit_openat".to_vec());
        names.push(b"long_prefix_X_middle_suffix".to_vec());
        names.push(b"long_prefix_Y_middle_suffix".to_vec());
        names.push(b"ab\0".to_vec());
        names.push(b"ab".to_vec());
        for (i, name) in names.iter().enumerate() {
            *table.get_or_insert_with(name, || i) = i;
        }
        for (i, name) in names.iter().enumerate() {
            assert_eq!(table.get(name), Some(&i), "{name:?}");
        }
        assert_eq!(table.get(b"long_prefix_Z_middle_suffix"), None);
        assert_eq!(table.get(b"sys_enter_opena"), None);
        assert_eq!(table.get(&[b'a'; 40]), None);
        assert_eq!(table.iter().count(), names.len());
        assert_eq!(
            table.iter().map(|(n, _)| n.to_vec()).collect::<Vec<_>>(),
            names
        );
    }

    #[test]
    fn an_empty_table_finds_nothing() {
        let table: NameTable<()> = NameTable::default();
        assert!(table.get(b"x").is_none());
        assert!(table.is_empty());
    }
}
