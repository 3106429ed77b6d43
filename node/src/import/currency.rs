//! Currencies: a currency cell (an ISO code, a name or a symbol), and the symbols an amount cell
//! may carry.

use super::labels::{lookup, normalized_table, LabelTable};
use protocol::records::Currency;
use std::sync::OnceLock;

/// The symbol in an amount cell that names no single currency, and the currencies it may mean:
/// `$` (dollars and pesos), `¥` (yen or yuan), `kr` (Nordic crowns); empty when the cell has
/// none. Only meaningful for a cell [`parse_amount`](super::amount::parse_amount) read without
/// naming a currency (`US$`, `C$` and the like name one).
pub(super) fn symbol_candidates(cell: &str) -> (&'static str, &'static [&'static str]) {
    if cell.contains('$') {
        (
            "$",
            &[
                "USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN", "ARS", "CLP", "COP", "TWD",
            ],
        )
    } else if cell.contains(['¥', '￥']) {
        ("¥", &["JPY", "CNY"])
    } else if cell.to_ascii_lowercase().contains("kr") {
        ("kr", &["SEK", "NOK", "DKK", "ISK"])
    } else {
        ("", &[])
    }
}

/// Currency symbols and prefixes an amount cell may carry, longest first; `None`: names no
/// single currency (`$` is USD, CAD, AUD…; `¥` JPY or CNY; `kr` SEK, NOK, DKK or ISK).
pub(super) const CURRENCY_MARKS: &[(&str, Option<&str>)] = &[
    ("US$", Some("USD")),
    ("USD$", Some("USD")),
    ("CA$", Some("CAD")),
    ("AU$", Some("AUD")),
    ("NZ$", Some("NZD")),
    ("HK$", Some("HKD")),
    ("MX$", Some("MXN")),
    ("C$", Some("CAD")),
    ("A$", Some("AUD")),
    ("S$", Some("SGD")),
    ("R$", Some("BRL")),
    ("kr.", None),
    ("kr", None),
    ("zł", Some("PLN")),
    ("Kč", Some("CZK")),
    ("€", Some("EUR")),
    ("£", Some("GBP")),
    ("₹", Some("INR")),
    ("₩", Some("KRW")),
    ("₺", Some("TRY")),
    ("₪", Some("ILS")),
    ("₱", Some("PHP")),
    ("₫", Some("VND")),
    ("₦", Some("NGN")),
    ("₴", Some("UAH")),
    ("฿", Some("THB")),
    ("$", None),
    ("¥", None),
    ("￥", None),
];

/// A currency cell: an ISO code (`usd`), or a name or symbol as Dynamics and spreadsheets write
/// it (`US Dollar`, `Euro`, `€`).
pub(super) fn parse_currency(cell: &str) -> Result<Currency, String> {
    if let Some(c) = Currency::from_code(cell) {
        return Ok(c);
    }
    // `USD - U.S. Dollar`, `EUR (Euro)`: a code, then its name (a picklist label).
    let trimmed = cell.trim();
    if let Some((code, rest)) = trimmed.split_at_checked(3) {
        let named = rest
            .trim_start_matches(|c: char| c.is_whitespace() || matches!(c, '-' | '–' | '(' | ':'));
        if rest.starts_with([' ', '-', '(', ':']) && !named.is_empty() {
            if let Some(c) = Currency::from_code(code) {
                return match parse_currency(named.trim_end_matches(')')) {
                    Ok(other) if other != c => {
                        Err(format!("'{trimmed}' names two currencies, {c} and {other}"))
                    }
                    _ => Ok(c),
                };
            }
        }
    }
    // `US Dollar (USD)`: a name, then its code in parentheses.
    if let Some((named, code)) = trimmed
        .strip_suffix(')')
        .and_then(|t| t.rsplit_once('('))
        .filter(|(named, code)| !named.trim().is_empty() && code.trim().len() == 3)
    {
        if let Some(c) = Currency::from_code(code.trim()) {
            return match parse_currency(named) {
                Ok(other) if other != c => {
                    Err(format!("'{trimmed}' names two currencies, {other} and {c}"))
                }
                _ => Ok(c),
            };
        }
    }
    static TABLE: OnceLock<LabelTable<&'static str>> = OnceLock::new();
    let table = TABLE.get_or_init(|| normalized_table(CURRENCY_NAMES));
    let symbol = CURRENCY_MARKS
        .iter()
        .find(|(mark, _)| *mark == cell.trim())
        .and_then(|(_, code)| *code);
    let (mark, candidates) = symbol_candidates(cell);
    if symbol.is_none() && !candidates.is_empty() && cell.trim().len() <= 3 {
        return Err(format!(
            "'{}' names no single currency ({mark} may be {}); write its ISO code, e.g. {}",
            cell.trim(),
            candidates.join(", "),
            candidates[0]
        ));
    }
    lookup(table, cell)
        .or(symbol)
        .and_then(Currency::from_code)
        .ok_or_else(|| {
            format!(
                "'{}' is not a currency (expected an ISO 4217 code such as USD or EUR)",
                cell.trim()
            )
        })
}

/// Currency names as Dynamics and spreadsheets write them.
const CURRENCY_NAMES: &[(&str, &str)] = &[
    ("US Dollar", "USD"),
    ("US Dollars", "USD"),
    ("United States Dollar", "USD"),
    ("Euro", "EUR"),
    ("Euros", "EUR"),
    ("British Pound", "GBP"),
    ("Pound Sterling", "GBP"),
    ("British Pound Sterling", "GBP"),
    ("Canadian Dollar", "CAD"),
    ("Australian Dollar", "AUD"),
    ("New Zealand Dollar", "NZD"),
    ("Singapore Dollar", "SGD"),
    ("Hong Kong Dollar", "HKD"),
    ("Japanese Yen", "JPY"),
    ("Chinese Yuan", "CNY"),
    ("Yuan Renminbi", "CNY"),
    ("Swiss Franc", "CHF"),
    ("Swedish Krona", "SEK"),
    ("Norwegian Krone", "NOK"),
    ("Danish Krone", "DKK"),
    ("Polish Zloty", "PLN"),
    ("Czech Koruna", "CZK"),
    ("Indian Rupee", "INR"),
    ("Brazilian Real", "BRL"),
    ("Mexican Peso", "MXN"),
    ("South African Rand", "ZAR"),
    ("Israeli New Shekel", "ILS"),
    ("Turkish Lira", "TRY"),
    ("South Korean Won", "KRW"),
];
