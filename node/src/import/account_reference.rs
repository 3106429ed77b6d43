//! The account an opportunity row names: its CRM id, domain or name, any of them (the writer
//! finds the account).

use super::cells::{is_padding, Cells};
use super::domain::parse_domain;
use super::fields::O;
use protocol::records::{Domain, NAME_CHARS_MAX};

/// The three account references of an opportunity row; an error when all their cells are empty.
pub(super) fn account_reference(
    cells: &mut Cells<'_>,
    c: &[Option<usize>],
) -> (Option<String>, Option<Domain>, Option<String>) {
    let id_column = c[O::AccountExternalId as usize];
    let domain_column = c[O::AccountDomain as usize];
    let name_column = c[O::AccountName as usize];
    let references = [id_column, domain_column, name_column];
    if references.iter().all(|&col| cells.typed(col).is_none()) {
        let present: Vec<usize> = references.iter().flatten().copied().collect();
        let names: Vec<&str> = present.iter().map(|&i| cells.header(i)).collect();
        let message = format!("no account: give {}", or_list(&names));
        cells.error(present.first().copied(), message);
        return (None, None, None);
    }
    // HubSpot lists every associated company's id, `;`-separated: each is checked as an id, and
    // the importer links the one that names an account (see [`OpportunityRow`]).
    let external_id = cells.typed(id_column).and_then(|cell| {
        let ids: Vec<String> = cell
            .split(';')
            .map(|id| id.trim_matches(is_padding))
            .filter(|id| !id.is_empty())
            .filter_map(|id| cells.id(id_column, id, "account_external_id"))
            .collect();
        (!ids.is_empty()).then(|| ids.join(";"))
    });
    let domain = cells.value(domain_column, parse_domain);
    let name = cells.text(name_column, "account_name", NAME_CHARS_MAX);
    (external_id, domain, name)
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}
