//! Amounts as CRMs and spreadsheets write them (the separators of any locale, a currency code
//! or symbol in the cell), checked against the row's currency.

use super::cells::{is_invisible, Cells};
use super::currency::{parse_currency, symbol_candidates, CURRENCY_MARKS};
use super::fields::O;
use protocol::records::{Amount, Currency};

/// The amount and currency columns of one row: the currency column wins; else the code or
/// unambiguous symbol in the amount cell; a contradiction is an error on the amount. A symbol
/// that names no single currency (`$`, `¥`, `kr`) must agree with the currency column, or,
/// without one, with `default_currency` (the one the importer applies); otherwise the row is
/// refused rather than stored in the wrong currency.
pub(super) fn amount_and_currency(
    cells: &mut Cells<'_>,
    c: &[Option<usize>],
    semicolons: bool,
    header_currency: Option<Currency>,
    default_currency: Currency,
) -> (Option<Amount>, Option<Currency>) {
    let amount_column = c[O::Amount as usize];
    let currency = cells
        .value(c[O::Currency as usize], parse_currency)
        .or(header_currency);
    let Some(cell) = cells.typed(amount_column) else {
        return (None, currency);
    };
    if cells.excel_error(amount_column, cell) {
        return (None, currency);
    }
    let (amount, named) = match parse_amount(cell, semicolons) {
        Ok(parsed) => parsed,
        Err(message) => {
            cells.error(amount_column, message);
            return (None, currency);
        }
    };
    let (symbol, candidates) = symbol_candidates(cell);
    let message = match (currency, named) {
        (Some(column), Some(named)) if column != named => Some(format!(
            "'{cell}' is in {named} but the currency column says {column}"
        )),
        (Some(column), None)
            if !candidates.is_empty() && !candidates.contains(&column.as_str()) =>
        {
            Some(format!(
                "'{cell}' is in {symbol} ({}) but the currency column says {column}",
                candidates.join(", ")
            ))
        }
        (None, None)
            if !candidates.is_empty() && !candidates.contains(&default_currency.as_str()) =>
        {
            Some(format!(
                "'{cell}' does not say which currency ({symbol} may be {}) and the default \
                 currency is {default_currency}; add a currency column, or write the code, \
                 e.g. {} {amount}",
                candidates.join(", "),
                candidates[0]
            ))
        }
        _ => None,
    };
    match message {
        Some(message) => {
            cells.error(amount_column, message);
            (None, currency)
        }
        None => (Some(amount), currency.or(named)),
    }
}

/// Parses an amount as CRMs and spreadsheets write it, returning the currency the cell names
/// (`USD 1,200.50`, `1200 EUR`, `€900`, `US$900`, `CHF 1'200.50`; `$`, `¥` and `kr` name no
/// single currency).
///
/// Separators: spaces (also no-break and thin), `'` and `’` group thousands. When both `.` and
/// `,` appear, the last one is the decimal point (`1,200.50`, `1.200,50`); a lone `,` followed
/// by other than three digits is a decimal comma (`1200,50`); several `.` or `,` in groups of
/// three are thousands (`1.200.000`). A lone `.` followed by exactly three digits (`1.200`) is
/// a thousands separator in a semicolon-separated file (European Excel, whose decimal mark is
/// the comma) and refused as ambiguous elsewhere (1200 in Europe, 1.2 in the US); a lone `,`
/// with three digits (`1,200`) is a thousands separator except in a semicolon-separated file,
/// where it is refused as ambiguous. Refused with their reason:
/// negatives (`-5`, `(1,200.00)`, `1200-`), abbreviations (`1.2M`, `15k`) and scientific
/// notation (`1.2E+06`, which Excel writes for a narrow column and which lost digits).
pub(super) fn parse_amount(
    cell: &str,
    semicolons: bool,
) -> Result<(Amount, Option<Currency>), String> {
    let s = cell.trim();
    let (body, named) = strip_currency(s)?;
    if !semicolons {
        if let Some(amount) = plain_us_amount(body) {
            return Ok((amount, named));
        }
    }
    parse_amount_body(s, body, named, semicolons)
}

/// The amount in a cell of the form nearly every US export writes, `12345`, `12,345` or
/// `12,345.50` (commas between groups of three, up to two decimals), read without allocating;
/// `None` for any other form, which [`parse_amount_body`] then reads (and explains when bad).
/// Only for comma-separated files: in a semicolon-separated one `1,200` is ambiguous. A
/// proptest checks it agrees with the general path on every cell it reads.
pub(super) fn plain_us_amount(body: &str) -> Option<Amount> {
    let (whole, fraction) = match body.split_once('.') {
        Some((w, f)) if (1..=2).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()) => {
            (w, f)
        }
        Some(_) => return None,
        None => (body, ""),
    };
    let mut units: i64 = 0;
    let mut group_len = 0usize;
    let mut groups = 0usize;
    for b in whole.bytes() {
        match b {
            b'0'..=b'9' => {
                units = units.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
                group_len += 1;
            }
            // A comma ends a group: the first of 1–3 digits, every later one of exactly 3.
            b',' if (groups == 0 && (1..=3).contains(&group_len)) || group_len == 3 => {
                groups += 1;
                group_len = 0;
            }
            _ => return None,
        }
    }
    // `0,125` is a decimal comma (see `normalize_separators`), never thousands.
    if group_len == 0 || (groups > 0 && (group_len != 3 || whole.starts_with('0'))) {
        return None;
    }
    let mut ten_thousandths = units.checked_mul(10_000)?;
    for (digit, scale) in fraction.bytes().zip([1_000, 100]) {
        ten_thousandths = ten_thousandths.checked_add(i64::from(digit - b'0') * scale)?;
    }
    Amount::from_ten_thousandths(ten_thousandths).ok()
}

/// [`parse_amount`] after the currency is stripped: `s` is the trimmed cell (for messages),
/// `body` the number without its currency.
pub(super) fn parse_amount_body(
    s: &str,
    body: &str,
    named: Option<Currency>,
    semicolons: bool,
) -> Result<(Amount, Option<Currency>), String> {
    let body: String = body
        .chars()
        .filter(|&c| {
            !matches!(
                c,
                ' ' | '\u{a0}' | '\u{202f}' | '\u{2009}' | '\u{2007}' | '\u{2008}' | '\'' | '’'
            ) && !is_invisible(c)
        })
        .collect();
    // `1.200,- €`, `1'200.–`: German and Swiss for "no cents".
    // The separator stays, so `1.200,-` reads like `1.200,00`.
    let body = match ["-", "–", "—"].iter().find_map(|dash| {
        body.strip_suffix(dash)
            .filter(|b| b.ends_with([',', '.']))
            .filter(|b| b[..b.len() - 1].ends_with(|c: char| c.is_ascii_digit()))
    }) {
        Some(whole) => format!("{whole}00"),
        None => body,
    };
    if body == "-" && body.len() < s.len() {
        // Excel's accounting format writes zero as `$ -`.
        return Amount::parse("0")
            .map(|a| (a, named))
            .map_err(|e| e.message().to_string());
    }
    let negative = body.starts_with(['-', '−', '–'])
        || body.ends_with(['-', '−', '–'])
        || (body.starts_with('(') && body.ends_with(')'));
    if negative {
        return Err(format!("'{s}' is negative; amounts must not be negative"));
    }
    let not_a_number = || format!("'{s}' is not an amount (expected a number like 1200.50)");
    if let Some(last) = body.chars().last().filter(char::is_ascii_alphabetic) {
        let digits_before = body
            .trim_end_matches(|c: char| c.is_ascii_alphabetic())
            .ends_with(|c: char| c.is_ascii_digit());
        if digits_before && matches!(last.to_ascii_lowercase(), 'k' | 'm' | 'b' | 'n') {
            return Err(format!(
                "'{s}' is abbreviated; write the whole amount (e.g. 1200000, not 1.2M)"
            ));
        }
        return Err(not_a_number());
    }
    let mantissa_exponent = body.split_once(['e', 'E']);
    if let Some((m, e)) = mantissa_exponent {
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        if digits(m) && digits(e.trim_start_matches(['+', '-'])) {
            return Err(format!(
                "'{s}' is in scientific notation, which may have lost digits; format the column \
                 as a number before exporting"
            ));
        }
    }
    if body.is_empty()
        || !body
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
    {
        return Err(not_a_number());
    }
    let normalized = normalize_separators(&body, s, semicolons)?;
    let amount = Amount::parse(normalized.as_deref().unwrap_or(&body)).map_err(|e| {
        // Amount's own messages quote what it was given; quote the cell instead.
        let message = e.message().to_string();
        match message.split_once("' ") {
            Some((_, why)) => format!("'{s}' {why}"),
            None => message,
        }
    })?;
    Ok((amount, named))
}

/// Rewrites `s` (digits, `.` and `,` only) to the `1200.50` form when its separators are not the
/// US ones; `None` when `Amount::parse` reads it as it is. `cell` is for messages.
fn normalize_separators(s: &str, cell: &str, semicolons: bool) -> Result<Option<String>, String> {
    let last_comma = s.rfind(',');
    let last_dot = s.rfind('.');
    let digits_after = |i: usize| s[i + 1..].bytes().take_while(u8::is_ascii_digit).count();
    let groups_of_three = |sep: char| {
        let mut parts = s.split(sep);
        let first = parts.next().unwrap_or("");
        !first.is_empty() && first.len() <= 3 && parts.all(|g| g.len() == 3)
    };
    let ambiguous = || {
        Err(format!(
            "'{cell}' is ambiguous (a thousands separator or a decimal point?); write it \
             without a thousands separator, e.g. 1200 or 1.2"
        ))
    };
    if is_indian_grouping(s) {
        // 12,34,567.50: lakh and crore groups (India), which nothing else writes.
        return Ok(Some(s.replace(',', "")));
    }
    match (last_comma, last_dot) {
        (Some(comma), dot) if !matches!(dot, Some(d) if d > comma) => {
            let commas = s.matches(',').count();
            if dot.is_none() && commas > 1 {
                // 1,200,000: thousands (Amount::parse checks the grouping).
                return Ok(None);
            }
            // `0,125` groups nothing: a decimal comma whatever the file.
            let zero_whole = s[..comma].trim_start_matches('0').is_empty();
            if dot.is_some() || digits_after(comma) != 3 || zero_whole {
                // 1.200,50 or 1200,5: a decimal comma.
                if commas > 1 {
                    return Err(format!(
                        "'{cell}' is not an amount (expected a number like 1200.50)"
                    ));
                }
                if dot.is_some() && !groups_of_three_before(s, comma, '.') {
                    return Err(format!(
                        "'{cell}' is not an amount (expected a number like 1200.50)"
                    ));
                }
                Ok(Some(s.replace('.', "").replace(',', ".")))
            } else if semicolons {
                ambiguous()
            } else {
                Ok(None)
            }
        }
        (None, Some(dot)) => {
            let dots = s.matches('.').count();
            if dots > 1 {
                return if groups_of_three('.') {
                    Ok(Some(s.replace('.', "")))
                } else {
                    Err(format!(
                        "'{cell}' is not an amount (expected a number like 1200.50)"
                    ))
                };
            }
            let whole = &s[..dot];
            if digits_after(dot) == 3 && !whole.is_empty() && whole.len() <= 3 && whole != "0" {
                if semicolons {
                    // European Excel: the decimal mark is the comma, so this is 48.000 = 48000.
                    Ok(Some(s.replace('.', "")))
                } else {
                    ambiguous()
                }
            } else {
                Ok(None)
            }
        }
        _ => Ok(None),
    }
}

/// `1,23,456` and `12,34,567.50`: the last group of the whole part three digits, the ones
/// before it two (at least two commas), and a decimal point if any.
fn is_indian_grouping(s: &str) -> bool {
    let whole = s
        .split_once('.')
        .map_or(s, |(w, f)| if f.contains([',', '.']) { "" } else { w });
    let groups: Vec<&str> = whole.split(',').collect();
    let [first, middle @ .., last] = groups.as_slice() else {
        return false;
    };
    !middle.is_empty()
        && (1..=2).contains(&first.len())
        && middle.iter().all(|g| g.len() == 2)
        && last.len() == 3
}

/// Whether the part of `s` before `end` groups by three with `sep` (`1.200` before `,50`).
fn groups_of_three_before(s: &str, end: usize, sep: char) -> bool {
    let mut parts = s[..end].split(sep);
    let first = parts.next().unwrap_or("");
    !first.is_empty() && first.len() <= 3 && parts.all(|g| g.len() == 3)
}

/// Strips currency codes and symbols from the start and end of an amount cell; returns the
/// number part and the currency they name, or an error when they name two.
pub(super) fn strip_currency(s: &str) -> Result<(&str, Option<Currency>), String> {
    let body = s.trim();
    // The forms nearly every export writes, `12,345.50` and `$12,345.50`, hold no code or other
    // mark: skip the search (a third of the time an opportunity row took to parse).
    let plain = |t: &str| {
        t.bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
    };
    if plain(body) {
        return Ok((body, None));
    }
    if let Some(rest) = body.strip_prefix('$').filter(|r| plain(r)) {
        return Ok((rest, None));
    }
    strip_currency_marks(s, body)
}

/// [`strip_currency`] for a cell with more than digits, separators and a leading `$`: `s` is the
/// cell (for messages), `body` it trimmed.
pub(super) fn strip_currency_marks<'a>(
    s: &str,
    mut body: &'a str,
) -> Result<(&'a str, Option<Currency>), String> {
    let mut named: Option<Currency> = None;
    let mut note = |c: Currency| -> Result<(), String> {
        match named {
            Some(n) if n != c => Err(format!("'{s}' names two currencies, {n} and {c}")),
            _ => {
                named = Some(c);
                Ok(())
            }
        }
    };
    for _ in 0..4 {
        let before = body;
        // An ISO code: three letters, then something that is not a letter.
        let head = body
            .get(..3)
            .filter(|h| h.bytes().all(|b| b.is_ascii_alphabetic()));
        if let Some(c) = head
            .filter(|_| !body[3..].starts_with(|c: char| c.is_alphabetic()))
            .and_then(Currency::from_code)
        {
            note(c)?;
            body = body[3..].trim_start();
        }
        let tail_start = body.len().saturating_sub(3);
        let tail = body
            .get(tail_start..)
            .filter(|t| t.len() == 3 && t.bytes().all(|b| b.is_ascii_alphabetic()));
        if let Some(c) = tail
            .filter(|_| !body[..tail_start].ends_with(|c: char| c.is_alphabetic()))
            .and_then(Currency::from_code)
        {
            note(c)?;
            body = body[..tail_start].trim_end();
        }
        for (mark, code) in CURRENCY_MARKS {
            if let Some(rest) = body.strip_prefix(mark) {
                body = rest.trim_start();
            } else if let Some(rest) = body.strip_suffix(mark) {
                body = rest.trim_end();
            } else {
                continue;
            }
            if let Some(c) = code.and_then(Currency::from_code) {
                note(c)?;
            }
        }
        if body == before {
            break;
        }
    }
    Ok((body, named))
}
