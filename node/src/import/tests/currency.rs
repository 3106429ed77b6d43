//! Currency cells.

use super::*;

#[test]
fn currency_cells_take_codes_names_and_symbols() {
    for (cell, code) in [
        ("usd", "USD"),
        (" EUR ", "EUR"),
        ("US Dollar", "USD"),
        ("Euro", "EUR"),
        ("Pound Sterling", "GBP"),
        ("€", "EUR"),
        ("£", "GBP"),
    ] {
        assert_eq!(parse_currency(cell).ok(), currency(code), "{cell}");
    }
    for cell in ["$", "dollars", "XYZ"] {
        assert!(parse_currency(cell).is_err(), "{cell}");
    }
}
