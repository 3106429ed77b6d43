//! Each record once per file: an import is all or nothing, so two rows with one external id
//! (the second would silently overwrite the first) are a row error, not a last-row-wins guess.
//!
//! A million-row file must not be held in memory, so the ids are not kept: each is kept as a
//! 96-bit keyed hash (SipHash under two random keys per import) with the row that had it,
//! 16 bytes an id. Two different ids share a hash with a probability below 10⁻¹⁷ in a
//! million-row file, and the keys are random, so a file cannot be made to collide on purpose.

use super::salesforce_id_other_form;
use std::collections::hash_map::{Entry, HashMap};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};

/// The external ids an import has read so far.
pub(super) struct SeenIds {
    first_row: HashMap<(u64, u32), u32, BuildHasherDefault<Prehashed>>,
    keys: (RandomState, RandomState),
}

impl SeenIds {
    pub(super) fn new() -> Self {
        SeenIds {
            first_row: HashMap::default(),
            keys: (RandomState::new(), RandomState::new()),
        }
    }

    /// The row that had `id` before, or `None` when this is its first row (now remembered).
    /// A Salesforce id counts as one in both its forms (15 and 18 characters): the import
    /// matches a stored record by either.
    pub(super) fn earlier_row(&mut self, id: &str, row: u64) -> Option<u64> {
        let canonical = match id.len() {
            18 => salesforce_id_other_form(id),
            _ => None,
        };
        let id = canonical.as_deref().unwrap_or(id);
        let key = (self.keys.0.hash_one(id), self.keys.1.hash_one(id) as u32);
        let row = u32::try_from(row).unwrap_or(u32::MAX);
        match self.first_row.entry(key) {
            Entry::Occupied(earlier) => Some(u64::from(*earlier.get())),
            Entry::Vacant(slot) => {
                slot.insert(row);
                None
            }
        }
    }
}

/// The map's keys are keyed hashes already: their first word is the bucket hash.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only reached through `write_u64`/`write_u32` below in practice; fold anything else.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
    fn write_u32(&mut self, _: u32) {
        // The second part of the key adds no spread the first lacks.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_seen_again_names_its_first_row() {
        let mut seen = SeenIds::new();
        assert_eq!(seen.earlier_row("X1", 1), None);
        assert_eq!(seen.earlier_row("X2", 2), None);
        assert_eq!(seen.earlier_row("X1", 3), Some(1));
        assert_eq!(seen.earlier_row("X1", 4), Some(1));
        assert_eq!(seen.earlier_row("x1", 5), None, "ids are case-sensitive");
    }

    #[test]
    fn a_salesforce_id_is_one_id_in_both_its_forms() {
        let mut seen = SeenIds::new();
        assert_eq!(seen.earlier_row("0015g00000000QXAAY", 1), None);
        assert_eq!(seen.earlier_row("0015g00000000QX", 2), Some(1));
    }

    #[test]
    fn a_hundred_thousand_distinct_ids_are_all_first_seen() {
        let mut seen = SeenIds::new();
        for i in 0..100_000u64 {
            assert_eq!(seen.earlier_row(&format!("OPP{i:09}"), i + 1), None);
        }
    }
}
