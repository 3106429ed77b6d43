//! Record ids as B-tree keys (schema 3; composite index entries since schema 4): a ULID's 16 bytes, big-endian, so byte order is id
//! (creation) order. Every record table and index holds ids this way, not as their 26-character
//! text: keys are 10 bytes shorter and fixed-width, so more fit a page and each compare is one
//! `memcmp` of 16 bytes (BENCHMARKS.md, foundation: ~a third of an import's insert time).
//!
//! The store's public API still speaks text ids; they are converted here, at its edge.

use anyhow::{anyhow, Result};

/// A record id as stored in keys and index values.
pub(crate) type IdKey = [u8; 16];

/// The key of a text id, or `None` when it is not a ULID (then no record has it: every record
/// the store writes has a ULID id, checked by [`IdKey`]'s writers through [`id_key_for_write`]).
/// ULIDs are case-insensitive: `01j…` names the record `01J…`.
pub(crate) fn id_key(id: &str) -> Option<IdKey> {
    let ulid = ulid::Ulid::from_string(id).ok()?;
    // The decoder drops bits past 128 (`8…` reads as `0…`) and may read look-alike letters:
    // only a text that is the id's own spelling names it, so two texts never share a key.
    let mut canonical = [0u8; ulid::ULID_LEN];
    let text = ulid.array_to_str(&mut canonical);
    text.eq_ignore_ascii_case(id).then(|| ulid.to_bytes())
}

/// The key of the id of a record about to be written; an id that is not a ULID is an error
/// naming the record kind (`what`) and the id.
pub(crate) fn id_key_for_write(what: &str, id: &str) -> Result<IdKey> {
    id_key(id)
        .ok_or_else(|| anyhow!("{what} id '{id}' is not a ULID (26 Crockford base-32 characters)"))
}

/// The canonical text of a stored id.
pub(crate) fn id_text(key: &IdKey) -> String {
    ulid::Ulid::from_bytes(*key).to_string()
}

/// An entry of the (stage, opportunity) index (schema 4): the stage's code, then the id. One
/// fixed-width key compared by one `memcmp`, where a `(u8, id)` tuple key costs redb a decode
/// and a compare per part (BENCHMARKS.md, foundation, "what one redb entry costs").
pub(crate) type StageEntry = [u8; 17];

/// An entry of an (id, id) index such as (account, opportunity) (schema 4): both ids, 32 bytes.
pub(crate) type PairEntry = [u8; 32];

/// The (stage code, id) entry.
pub(crate) fn stage_entry(code: u8, id: &IdKey) -> StageEntry {
    let mut entry = [0u8; 17];
    entry[0] = code;
    entry[1..].copy_from_slice(id);
    entry
}

/// The (first, second) entry.
pub(crate) fn pair_entry(first: &IdKey, second: &IdKey) -> PairEntry {
    let mut entry = [0u8; 32];
    entry[..16].copy_from_slice(first);
    entry[16..].copy_from_slice(second);
    entry
}

/// The id an index entry ends with (its last 16 bytes).
pub(crate) fn entry_id(entry: &[u8]) -> IdKey {
    let mut id = [0u8; 16];
    id.copy_from_slice(&entry[entry.len() - 16..]);
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn key_order_is_id_order_and_text_round_trips(a in any::<u128>(), b in any::<u128>()) {
            // Goal: range scans over keys list records in id order, and a key gives back its id.
            let (ta, tb) = (ulid::Ulid(a).to_string(), ulid::Ulid(b).to_string());
            let (ka, kb) = (id_key(&ta).expect("ulid"), id_key(&tb).expect("ulid"));
            prop_assert_eq!(ka.cmp(&kb), ta.cmp(&tb));
            prop_assert_eq!(id_text(&ka), ta);
        }
    }

    #[test]
    fn text_that_is_not_a_ulid_has_no_key_and_cannot_be_written() {
        assert_eq!(id_key("acc1"), None);
        assert_eq!(id_key("8ZZZZZZZZZZZZZZZZZZZZZZZZZ"), None); // past 128 bits
        let err = id_key_for_write("account", "acc1").expect_err("refused");
        assert!(
            err.to_string().contains("account id 'acc1' is not a ULID"),
            "{err}"
        );
        assert_eq!(
            id_key("01j0000000000000000000000a"),
            id_key("01J0000000000000000000000A")
        );
    }
}
