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
//!
//! Rows without an external id are matched on a key (an account's domain, else its exact name;
//! an opportunity's name within its account), and a file may repeat that key on two rows that
//! match nothing stored yet (both would insert, or the second would update what the first
//! inserted, depending on what the store holds). So those rows' keys are remembered too
//! ([`MatchKey`]): memory for the rows without ids only, none for a file whose rows all have one.

use std::collections::HashMap;

/// What a row without an external id is matched on; two such rows of one file with the same
/// key describe one record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MatchKey {
    /// An account row's normalized domain.
    Domain(Box<str>),
    /// An account row with neither id nor domain: its exact name.
    AccountName(Box<str>),
    /// An opportunity row: the id of its account and its exact name.
    OpportunityName {
        /// The account the row belongs to.
        account_id: Box<str>,
        /// The opportunity's name.
        name: Box<str>,
    },
}

/// How a row found the record it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoundBy {
    /// By its external id.
    ExternalId,
    /// A row without an external id, by its [`MatchKey`].
    Key,
}

/// The earlier row of this file that wrote a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Earlier {
    /// Its row number.
    pub row: u64,
    /// How it found the record, for a record that existed before the import. A record this
    /// import added says [`FoundBy::ExternalId`]: a later row can find it by an external id only
    /// when the row that added it had one.
    pub found_by: FoundBy,
}

/// The rows of this file that wrote each record so far, and the ids of the records it adds.
pub struct OncePerFile {
    /// The first id this import gives a new record; the i-th new record gets `first + i`.
    first: u128,
    /// The row of the i-th new record.
    new_rows: Vec<u32>,
    /// Records that existed before the import → the row that updated them and how it found
    /// them (the flag costs nothing: the entry is padded to the u128's alignment anyway).
    updated: HashMap<u128, (u32, FoundBy)>,
    /// The keys of the rows without an external id → the first row with each.
    keys: HashMap<MatchKey, u32>,
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
            keys: HashMap::new(),
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
    /// (then it is remembered as the record's writer, found `found_by`). Call it for each
    /// existing record a row is about to update; records added by this import are recognised by
    /// their id.
    pub fn earlier_row(&mut self, id: &str, row: u64, found_by: FoundBy) -> Option<Earlier> {
        let id = ulid::Ulid::from_string(id).ok()?.0;
        let row = u32::try_from(row).unwrap_or(u32::MAX);
        if let Some(i) = id.checked_sub(self.first) {
            if let Some(&earlier) = usize::try_from(i).ok().and_then(|i| self.new_rows.get(i)) {
                return Some(Earlier {
                    row: u64::from(earlier),
                    found_by: FoundBy::ExternalId,
                });
            }
        }
        match self.updated.entry(id) {
            std::collections::hash_map::Entry::Occupied(e) => {
                let (earlier, found_by) = *e.get();
                Some(Earlier {
                    row: u64::from(earlier),
                    found_by,
                })
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert((row, found_by));
                None
            }
        }
    }

    /// The earlier row without an external id that had `key`, or `None` when `row` is the first
    /// (then it is remembered). Call it for every row without an external id, whatever it
    /// matched: two such rows that match nothing stored would otherwise both be inserted, or
    /// merged, without a word.
    pub fn earlier_row_with_key(&mut self, key: MatchKey, row: u64) -> Option<u64> {
        let row = u32::try_from(row).unwrap_or(u32::MAX);
        match self.keys.entry(key) {
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

    const BY_ID: FoundBy = FoundBy::ExternalId;

    #[test]
    fn a_record_added_by_an_earlier_row_names_that_row() {
        let mut file = OncePerFile::new();
        let a = file.new_id(1);
        let b = file.new_id(3);
        assert!(a < b, "ids sort in the order rows added them");
        assert_eq!(file.earlier_row(&b, 7, BY_ID).map(|e| e.row), Some(3));
        assert_eq!(file.earlier_row(&a, 9, BY_ID).map(|e| e.row), Some(1));
        assert_eq!(
            file.earlier_row(&a.to_lowercase(), 9, BY_ID).map(|e| e.row),
            Some(1)
        );
    }

    #[test]
    fn an_existing_record_updated_twice_names_the_first_row_that_updated_it() {
        let mut file = OncePerFile::new();
        let existing = ulid::Ulid::from_parts(1_000, 42).to_string();
        let other = ulid::Ulid::new().to_string();
        file.new_id(1);
        assert_eq!(file.earlier_row(&existing, 2, BY_ID), None);
        assert_eq!(file.earlier_row(&other, 3, BY_ID), None);
        assert_eq!(
            file.earlier_row(&existing, 5, BY_ID).map(|e| e.row),
            Some(2)
        );
        assert_eq!(
            file.earlier_row(&existing, 6, BY_ID).map(|e| e.row),
            Some(2)
        );
    }

    #[test]
    fn ids_just_outside_the_range_are_not_taken_for_new_records() {
        let mut file = OncePerFile::new();
        let first = file.new_id(1);
        let past = ulid::Ulid(ulid::Ulid::from_string(&first).unwrap().0 + 1).to_string();
        let before = ulid::Ulid(ulid::Ulid::from_string(&first).unwrap().0 - 1).to_string();
        assert_eq!(
            file.earlier_row(&past, 2, BY_ID),
            None,
            "not added by this file"
        );
        assert_eq!(file.earlier_row(&before, 3, BY_ID), None);
        assert_eq!(file.earlier_row("not a ulid", 4, BY_ID), None);
    }

    #[test]
    fn an_existing_record_remembers_how_its_first_writer_found_it() {
        let mut file = OncePerFile::new();
        let existing = ulid::Ulid::from_parts(1_000, 7).to_string();
        assert_eq!(file.earlier_row(&existing, 1, FoundBy::Key), None);
        assert_eq!(
            file.earlier_row(&existing, 2, BY_ID),
            Some(Earlier {
                row: 1,
                found_by: FoundBy::Key
            })
        );
    }

    #[test]
    fn a_key_of_a_row_without_an_id_names_the_first_row_that_had_it() {
        let mut file = OncePerFile::new();
        let domain = |d: &str| MatchKey::Domain(d.into());
        assert_eq!(file.earlier_row_with_key(domain("acme.com"), 1), None);
        assert_eq!(
            file.earlier_row_with_key(MatchKey::AccountName("acme.com".into()), 2),
            None
        );
        assert_eq!(file.earlier_row_with_key(domain("acme.com"), 3), Some(1));
        assert_eq!(file.earlier_row_with_key(domain("acme.com"), 4), Some(1));
        let renewal = |account: &str| MatchKey::OpportunityName {
            account_id: account.into(),
            name: "Renewal".into(),
        };
        assert_eq!(file.earlier_row_with_key(renewal("A"), 5), None);
        assert_eq!(
            file.earlier_row_with_key(renewal("B"), 6),
            None,
            "another account"
        );
        assert_eq!(file.earlier_row_with_key(renewal("A"), 7), Some(5));
    }
}
