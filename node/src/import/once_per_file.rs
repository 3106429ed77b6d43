//! Each record once per file, checked where the rows are written: an import is all or nothing,
//! so two rows that name one record (the second would silently overwrite the first) are a row
//! error on the later row, naming the earlier one.
//!
//! Memory, not a copy of the file's ids: the records this import adds get ids from one
//! contiguous range (a ULID made at the start, counted up), so "this record was added by an
//! earlier row" is a range check and the row is 4 bytes an id. Only records that existed before
//! the import and are updated by it are remembered one by one (a re-import), by their 16-byte
//! id. A Salesforce id in its 15- and 18-character forms finds the same record, so it counts
//! as one without any extra work.

use std::collections::HashMap;

/// The rows of this file that wrote each record so far, and the ids of the records it adds.
pub struct OncePerFile {
    /// The first id this import gives a new record; the i-th new record gets `first + i`.
    first: u128,
    /// The row of the i-th new record.
    new_rows: Vec<u32>,
    /// Records that existed before the import → the row that updated them.
    updated: HashMap<u128, u32>,
}

impl OncePerFile {
    /// Starts a file: new ids begin at a fresh ULID (now, random) whose random part has its top
    /// bit clear, so counting up never reaches the timestamp bits.
    pub fn new() -> Self {
        let start = ulid::Ulid::new().0 & !(1u128 << 79);
        OncePerFile {
            first: start,
            new_rows: Vec::new(),
            updated: HashMap::new(),
        }
    }

    /// The id for a new record written by `row`: a ULID from this import's range, strictly
    /// increasing, so new records (and their entries in id-ordered indexes) are appended to
    /// their B-trees rather than scattered.
    pub fn new_id(&mut self, row: u64) -> String {
        let id = self.first + self.new_rows.len() as u128;
        self.new_rows.push(u32::try_from(row).unwrap_or(u32::MAX));
        ulid::Ulid(id).to_string()
    }

    /// The earlier row of this file that wrote record `id`, or `None` when `row` is the first
    /// (then it is remembered as the record's writer). Call it for each existing record a row
    /// is about to update; records added by this import are recognised by their id.
    pub fn earlier_row(&mut self, id: &str, row: u64) -> Option<u64> {
        let id = ulid::Ulid::from_string(id).ok()?.0;
        let row = u32::try_from(row).unwrap_or(u32::MAX);
        if let Some(i) = id.checked_sub(self.first) {
            if let Some(&earlier) = usize::try_from(i).ok().and_then(|i| self.new_rows.get(i)) {
                return Some(u64::from(earlier));
            }
        }
        match self.updated.entry(id) {
            std::collections::hash_map::Entry::Occupied(e) => Some(u64::from(*e.get())),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(row);
                None
            }
        }
    }
}

impl Default for OncePerFile {
    fn default() -> Self {
        OncePerFile::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_added_by_an_earlier_row_names_that_row() {
        let mut file = OncePerFile::new();
        let a = file.new_id(1);
        let b = file.new_id(3);
        assert!(a < b, "ids sort in the order rows added them");
        assert_eq!(file.earlier_row(&b, 7), Some(3));
        assert_eq!(file.earlier_row(&a, 9), Some(1));
        assert_eq!(file.earlier_row(&a.to_lowercase(), 9), Some(1));
    }

    #[test]
    fn an_existing_record_updated_twice_names_the_first_row_that_updated_it() {
        let mut file = OncePerFile::new();
        let existing = ulid::Ulid::from_parts(1_000, 42).to_string();
        let other = ulid::Ulid::new().to_string();
        file.new_id(1);
        assert_eq!(file.earlier_row(&existing, 2), None);
        assert_eq!(file.earlier_row(&other, 3), None);
        assert_eq!(file.earlier_row(&existing, 5), Some(2));
        assert_eq!(file.earlier_row(&existing, 6), Some(2));
    }

    #[test]
    fn ids_just_outside_the_range_are_not_taken_for_new_records() {
        let mut file = OncePerFile::new();
        let first = file.new_id(1);
        let past = ulid::Ulid(ulid::Ulid::from_string(&first).unwrap().0 + 1).to_string();
        let before = ulid::Ulid(ulid::Ulid::from_string(&first).unwrap().0 - 1).to_string();
        assert_eq!(file.earlier_row(&past, 2), None, "not added by this file");
        assert_eq!(file.earlier_row(&before, 3), None);
        assert_eq!(file.earlier_row("not a ulid", 4), None);
    }
}
