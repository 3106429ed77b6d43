//! Finding the stored records a row names: a record by its external id in any of its forms (a
//! Salesforce id has two, and a spreadsheet may flatten its case), and an opportunity's account
//! by its id, domain or name.

use crate::import::{self, RowError};
use crate::store::AccountIndexes;
use anyhow::Result;
use std::io::Read;

/// An opportunity row and the id of the account it names, or the row's errors.
pub(super) type ResolvedRow = Result<(import::OpportunityRow, String), Vec<RowError>>;

/// Parses opportunity rows and finds the account each names, on the parser thread.
pub(super) struct Resolved<R: Read> {
    pub(super) reader: import::OpportunityReader<R>,
    pub(super) accounts: AccountIndexes,
}

impl<R: Read> Iterator for Resolved<R> {
    /// The row, or why storage failed (which ends the import).
    type Item = Result<ResolvedRow, anyhow::Error>;
    fn next(&mut self) -> Option<Self::Item> {
        let row = match self.reader.next()? {
            Ok(row) => row,
            Err(errors) => return Some(Ok(Err(errors))),
        };
        let line = self.reader.last_line();
        let columns = self.reader.account_columns();
        Some(match find_account(&self.accounts, &row, line, columns) {
            Ok(Ok(account_id)) => Ok(Ok((row, account_id))),
            Ok(Err(errors)) => Ok(Err(errors)),
            Err(e) => Err(e),
        })
    }
}

/// The record stored under a Salesforce id (15 or 18 characters), found with `lookup`: under
/// the file's own form first, else under its other form, so the upsert updates it (and keeps the
/// file's form) instead of adding a duplicate; `None` for ids of other CRMs (no lookup) and for
/// an id stored in neither form. The file's form comes first because both forms may be stored
/// on two records (written before the API refused that): the row then names the one with its
/// form, and never takes over the other's id.
/// An 18-character id whose case was lost (`0015000000GV7QJAAR`) is tried in its restored
/// 18- and 15-character forms.
pub(super) fn salesforce_other_form(
    external_id: &str,
    mut lookup: impl FnMut(&str) -> Result<Option<String>>,
) -> Result<Option<String>> {
    let restored = import::salesforce_case_restored(external_id)
        .filter(|restored| restored != &external_id[..15]);
    let other = import::salesforce_id_other_form(external_id);
    if restored.is_none() && other.is_none() {
        return Ok(None);
    }
    if let Some(id) = lookup(external_id)? {
        return Ok(Some(id));
    }
    if let Some(restored) = restored {
        let long = format!("{restored}{}", external_id[15..].to_ascii_uppercase());
        if let Some(id) = lookup(&long)? {
            return Ok(Some(id));
        }
        return lookup(&restored);
    }
    match other {
        Some(other) => lookup(&other),
        None => Ok(None),
    }
}

/// The record that holds `external_id` in any of its forms (a Salesforce id counts as one in
/// its 15- and 18-character forms and in a spreadsheet's lost case), found with `lookup`: what
/// the API checks before it gives a record an external id, as the import matches on it.
pub(crate) fn external_id_owner(
    external_id: &str,
    mut lookup: impl FnMut(&str) -> Result<Option<String>>,
) -> Result<Option<String>> {
    match lookup(external_id)? {
        Some(id) => Ok(Some(id)),
        None => salesforce_other_form(external_id, lookup),
    }
}

/// What one account cell of an opportunity row names.
#[derive(Debug, PartialEq, Eq)]
enum Named {
    /// One account.
    One(String),
    /// No account.
    Nothing,
    /// Several accounts have this value (a name two accounts share).
    Shared(String),
    /// A `;`-separated list (HubSpot's associated companies) whose parts name different
    /// accounts: each such part, as written, and the accounts it names.
    Several(Vec<(String, Vec<String>)>),
}

/// The account `ids` one value names.
fn one_of(value: &str, ids: Vec<String>) -> Named {
    let mut ids = ids.into_iter();
    match (ids.next(), ids.next()) {
        (None, _) => Named::Nothing,
        (Some(id), None) => Named::One(id),
        (Some(_), Some(_)) => Named::Shared(value.to_string()),
    }
}

/// What a cell names, with `lookup` giving the accounts one value names (at most two): the
/// whole value; else, when it is a `;`-separated list (HubSpot writes every company a deal is
/// associated with, `Acme Inc;Globex`), the parts that name an account: one such part names
/// its account, several name [`Named::Several`] (unless they all name the same account, as a
/// Salesforce id in both its forms does).
fn named(value: &str, mut lookup: impl FnMut(&str) -> Result<Vec<String>>) -> Result<Named> {
    let whole = lookup(value)?;
    if !whole.is_empty() || !value.contains(';') {
        return Ok(one_of(value, whole));
    }
    let mut matched: Vec<(String, Vec<String>)> = Vec::new();
    for part in value.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        if matched.iter().any(|(p, _)| p == part) {
            continue;
        }
        let ids = lookup(part)?;
        if !ids.is_empty() {
            matched.push((part.to_string(), ids));
        }
    }
    let mut accounts: Vec<&String> = matched.iter().flat_map(|(_, ids)| ids).collect();
    accounts.sort();
    accounts.dedup();
    Ok(match (matched.len(), accounts.as_slice()) {
        (0, _) => Named::Nothing,
        (_, [one]) => Named::One((*one).clone()),
        (1, _) => Named::Shared(matched.swap_remove(0).0),
        _ => Named::Several(matched),
    })
}

/// The account a row refers to, or the row errors saying why there is none (naming the column
/// as the file's header writes it). The account's id is tried first, then its domain, then its
/// name. A `;`-separated list of ids or names links to the one account its parts name; when
/// they name several, a later column settles which only by naming one of them, else each such
/// list is an error: an opportunity belongs to one account.
fn find_account(
    tables: &AccountIndexes,
    row: &import::OpportunityRow,
    line: u64,
    columns: &import::AccountColumns,
) -> Result<std::result::Result<String, Vec<RowError>>> {
    let error = |column: &str, message: String| RowError {
        row: row.row,
        line,
        column: column.to_string(),
        message,
    };
    let several = |column: &str, parts: &[(String, Vec<String>)]| {
        let names: Vec<&str> = parts.iter().map(|(part, _)| part.as_str()).collect();
        error(
            column,
            format!(
                "names {} companies ({}); keep one",
                names.len(),
                names.join("; ")
            ),
        )
    };
    // The accounts lists in earlier columns named, when they named several.
    let mut listed: Vec<String> = Vec::new();
    let mut errors: Vec<RowError> = Vec::new();
    let settles = |listed: &[String], id: &String| listed.is_empty() || listed.contains(id);
    if let Some(x) = &row.account_external_id {
        let by_external = |x: &str| -> Result<Vec<String>> {
            Ok(match tables.account_id_by_external(x)? {
                Some(id) => vec![id],
                None => salesforce_other_form(x, |o| tables.account_id_by_external(o))?
                    .into_iter()
                    .collect(),
            })
        };
        match named(x, by_external)? {
            Named::One(id) => return Ok(Ok(id)),
            Named::Several(parts) => {
                errors.push(several(&columns.external_id, &parts));
                listed.extend(parts.into_iter().flat_map(|(_, ids)| ids));
            }
            Named::Nothing | Named::Shared(_) => {
                if row.account_domain.is_none() && row.account_name.is_none() {
                    return Ok(Err(vec![error(
                        &columns.external_id,
                        format!("no account with external id '{x}' (import accounts first)"),
                    )]));
                }
            }
        }
    }
    if let Some(d) = &row.account_domain {
        match one_of(d.as_str(), tables.account_ids_by_domain(d.as_str(), 2)?) {
            Named::One(id) if settles(&listed, &id) => return Ok(Ok(id)),
            Named::Nothing if row.account_name.is_none() && errors.is_empty() => {
                return Ok(Err(vec![error(
                    &columns.domain,
                    format!("no account with domain '{d}' (import accounts first)"),
                )]))
            }
            Named::Shared(_) if errors.is_empty() => {
                return Ok(Err(vec![error(
                    &columns.domain,
                    format!("several accounts have domain '{d}': give the account's external id"),
                )]))
            }
            _ => {}
        }
    }
    if let Some(name) = &row.account_name {
        let mut found = named(name, |n| tables.account_ids_by_name(n, 2))?;
        if matches!(found, Named::Nothing) {
            // `umbrella corp` for `Umbrella Corp`: a name written in another case still names
            // the one account that has it.
            found = named(name, |n| tables.account_ids_by_name_ignoring_case(n, 2))?;
        }
        match found {
            Named::One(id) if settles(&listed, &id) => return Ok(Ok(id)),
            Named::Several(parts) => errors.push(several(&columns.name, &parts)),
            Named::Nothing if errors.is_empty() => errors.push(error(
                &columns.name,
                format!("no account named '{name}' (import accounts first)"),
            )),
            Named::Shared(part) if errors.is_empty() => errors.push(error(
                &columns.name,
                format!(
                    "several accounts are named '{part}': give the account's external id or domain"
                ),
            )),
            _ => {}
        }
    }
    if errors.is_empty() {
        errors.push(error(
            columns.first(),
            "no account: give the account's external id, domain or name".to_string(),
        ));
    }
    Ok(Err(errors))
}
