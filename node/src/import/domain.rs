//! A domain or website cell: the company's domain, the key accounts are matched on.

use protocol::records::Domain;

/// A domain or website cell: the first domain it lists, normalized. Refused, because the domain
/// is the key accounts are matched on (here and with partners) and these would make unrelated
/// accounts one: a personal email address (`jane@gmail.com`: a mail provider, not the
/// company), and a page on a social or directory site (`linkedin.com/company/acme`).
pub(super) fn parse_domain(cell: &str) -> Result<Domain, String> {
    Domain::parse_company(first_listed(cell)).map_err(|e| e.message().to_string())
}

/// The first of several values in a cell (`acme.com; acme.de` → `acme.com`).
pub(super) fn first_listed(s: &str) -> &str {
    s.split([';', ',', '|', ' ', '\n'])
        .map(str::trim)
        .find(|v| !v.is_empty())
        .unwrap_or(s)
}
