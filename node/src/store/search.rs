//! The `?q=` search of accounts and opportunities, answered from an index instead of a scan of
//! every record.
//!
//! A record matches `q` when `q` (any case) starts its name or a word of its name, or starts
//! its external id, its domain (accounts) or its owner (opportunities): `deal 17` finds
//! "Deal 17" and "Deal 170", `platform` finds "Deal 9 - Platform", `opp0001` finds the external
//! ids `OPP0001…`. The index tables ([`super::tables::ACCOUNTS_SEARCH`],
//! [`super::tables::OPPORTUNITIES_SEARCH`]) hold one (term, record id) entry per distinct term,
//! written in the transaction that writes the record, so the index is never behind it. Terms
//! are cut to [`TERM_BYTES_MAX`]: a longer `q` is looked up by its cut and each candidate is
//! checked against the whole terms ([`account_matches`], [`opportunity_matches`]), which are
//! made by the same function as the indexed ones.

use super::id_key::IdKey;
use anyhow::Result;
use protocol::records::{Account, Opportunity};
use redb::ReadableTable;
use std::ops::Bound;

/// Longest indexed term, in bytes: enough to tell 100,000 names apart, short enough that the
/// index stays a fraction of the records.
pub(super) const TERM_BYTES_MAX: usize = 32;

/// Index entries a search reads before it gives up on the index for this `q` and reads the
/// records in id order instead, checking each: a `q` this common (a single letter, "deal")
/// matches most records, so a page is found within a few hundred of them, while collecting the
/// ids would read a large part of the index. Below it, matches may cluster anywhere in id order
/// (an external id prefix of an import: `opp00005` is 10,000 records in a row), which the index
/// finds at once and a scan would not. Unit tests use a smaller bound, so the same two paths
/// run on a few thousand records.
pub(super) const SEARCH_ENTRIES_MAX: usize = if cfg!(test) { 4_000 } else { 50_000 };

/// The search terms of an account: its name and each word of it, its domain, its external id;
/// lower case, each cut to `cut` bytes, sorted, each once.
pub(super) fn account_terms(account: &Account, cut: usize) -> Vec<String> {
    let mut terms = Vec::new();
    word_starts(&account.name, cut, &mut terms);
    if let Some(d) = &account.domain {
        terms.push(term(d.as_str(), cut));
    }
    if let Some(x) = &account.external_id {
        terms.push(term(x, cut));
    }
    terms.sort_unstable();
    terms.dedup();
    terms
}

/// The search terms of an opportunity: its name and each word of it, its external id and its
/// owner; as [`account_terms`].
pub(super) fn opportunity_terms(opp: &Opportunity, cut: usize) -> Vec<String> {
    let mut terms = Vec::new();
    word_starts(&opp.name, cut, &mut terms);
    if let Some(x) = &opp.external_id {
        terms.push(term(x, cut));
    }
    if let Some(o) = &opp.owner {
        terms.push(term(o, cut));
    }
    terms.sort_unstable();
    terms.dedup();
    terms
}

/// Whether `account` matches the lower-case query `q`.
pub(super) fn account_matches(account: &Account, q: &str) -> bool {
    account_terms(account, usize::MAX)
        .iter()
        .any(|t| t.starts_with(q))
}

/// Whether `opp` matches the lower-case query `q`.
pub(super) fn opportunity_matches(opp: &Opportunity, q: &str) -> bool {
    opportunity_terms(opp, usize::MAX)
        .iter()
        .any(|t| t.starts_with(q))
}

/// The query as the index compares it: lower case.
pub(super) fn normalize_query(q: &str) -> String {
    q.to_lowercase()
}

/// `text` from its start and from each word's start (a letter or digit after anything else).
fn word_starts(text: &str, cut: usize, out: &mut Vec<String>) {
    let mut previous_alphanumeric = false;
    for (i, c) in text.char_indices() {
        let alphanumeric = c.is_alphanumeric();
        if i == 0 || (alphanumeric && !previous_alphanumeric) {
            out.push(term(&text[i..], cut));
        }
        previous_alphanumeric = alphanumeric;
    }
}

/// `text` in lower case, cut to at most `cut` bytes at a character boundary.
fn term(text: &str, cut: usize) -> String {
    let mut lower = text.to_lowercase();
    if lower.len() > cut {
        let mut end = cut;
        while !lower.is_char_boundary(end) {
            end -= 1;
        }
        lower.truncate(end);
    }
    lower
}

/// What the index says about `q` ([`candidates`]).
pub(super) enum Candidates {
    /// Every record id after the cursor that has a term starting with `q`'s cut, in id order,
    /// each once (records whose whole terms do not match `q` may be among them).
    Ids(Vec<IdKey>),
    /// More than [`SEARCH_ENTRIES_MAX`] entries match: scan the records instead.
    Common,
}

/// The records after `after` whose indexed terms start with the lower-case query `q`.
pub(super) fn candidates(
    index: &impl ReadableTable<(&'static str, &'static IdKey), ()>,
    q: &str,
    after: Bound<IdKey>,
) -> Result<Candidates> {
    let cut = term(q, TERM_BYTES_MAX);
    let mut ids = Vec::new();
    for (read, entry) in index.range((cut.as_str(), &[0u8; 16])..)?.enumerate() {
        if read == SEARCH_ENTRIES_MAX {
            return Ok(Candidates::Common);
        }
        let (k, _) = entry?;
        let (t, id) = k.value();
        if !t.starts_with(cut.as_str()) {
            break;
        }
        if let Bound::Excluded(a) = after {
            if *id <= a {
                continue;
            }
        }
        ids.push(*id);
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(Candidates::Ids(ids))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        word_starts(text, usize::MAX, &mut out);
        out
    }

    #[test]
    fn a_name_is_found_from_its_start_and_from_each_word() {
        assert_eq!(
            terms("Deal 9 - Platform"),
            ["deal 9 - platform", "9 - platform", "platform"]
        );
        assert_eq!(
            terms("ACME/Éclair co"),
            ["acme/éclair co", "éclair co", "co"]
        );
        assert_eq!(terms("  x"), ["  x", "x"]);
        assert!(terms("").is_empty());
    }

    #[test]
    fn terms_are_cut_at_a_character_boundary() {
        assert_eq!(term("ééé", 5), "éé");
        assert_eq!(term("ABC", 2), "ab");
        assert_eq!(term("abc", 32), "abc");
    }
}
