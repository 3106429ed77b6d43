//! Dates: close dates as CRMs and spreadsheets write them, and how to read a day and month that
//! could be either.

use protocol::records::Date;

/// How to read a date like `03/04/2026` whose day and month could be either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateOrder {
    /// `MM/DD/YYYY` (US; Salesforce and HubSpot in US locales).
    MonthFirst,
    /// `DD/MM/YYYY` (most of Europe, Latin America, India…).
    DayFirst,
    /// `YYYY-MM-DD`: the file's dates are ISO, so a date like `03/04/2026`, whose day and month
    /// could be either, is refused rather than guessed (`23/11/2026` still reads one way only).
    YearFirst,
}

/// The date formats a user may name (`--date-format`, `?date_format=`), for messages.
pub const DATE_FORMATS: &str = "DD/MM/YYYY (day first), MM/DD/YYYY (month first) or YYYY-MM-DD";

impl DateOrder {
    /// From a format as a header or setting names it: `DD/MM/YYYY`, `MM/DD/YYYY`, `D.M.YY`,
    /// `dd-mm-yyyy`, `YYYY-MM-DD`; `None` for anything else.
    pub fn from_format(format: &str) -> Option<DateOrder> {
        let letters: String = format
            .chars()
            .filter(char::is_ascii_alphabetic)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let collapsed: String = letters.chars().fold(String::new(), |mut acc, c| {
            if !acc.ends_with(c) {
                acc.push(c);
            }
            acc
        });
        match collapsed.as_str() {
            "dmy" => Some(DateOrder::DayFirst),
            "mdy" => Some(DateOrder::MonthFirst),
            "ymd" => Some(DateOrder::YearFirst),
            _ => None,
        }
    }

    /// The format's canonical spelling (`DD/MM/YYYY`).
    pub fn format(self) -> &'static str {
        match self {
            DateOrder::MonthFirst => "MM/DD/YYYY",
            DateOrder::DayFirst => "DD/MM/YYYY",
            DateOrder::YearFirst => "YYYY-MM-DD",
        }
    }

    /// Parses a date format a user names (`--date-format`, `?date_format=`), or says which are
    /// accepted.
    pub fn parse_setting(format: &str) -> Result<DateOrder, String> {
        DateOrder::from_format(format).ok_or_else(|| {
            format!(
                "'{}' is not a date format this import knows; use {DATE_FORMATS}",
                format.trim()
            )
        })
    }
}

/// `2026年1月15日` (Japanese, Chinese) and `2026. 1. 15.` (Korean), as Excel in those locales
/// writes a date, rewritten `2026-1-15`; `None` for any other form.
fn east_asian_date(s: &str) -> Option<String> {
    let (year, rest) = match s.split_once('年') {
        Some((year, rest)) => {
            let (month, rest) = rest.split_once('月')?;
            let day = rest
                .trim_start()
                .strip_suffix('日')
                .or_else(|| rest.split_once('日').map(|(d, _)| d))?;
            return Some(format!("{}-{}-{}", year.trim(), month.trim(), day.trim()));
        }
        None => s.split_once(". ")?,
    };
    // Korean: `2026. 1. 15.`, maybe with a time after it.
    let (month, rest) = rest.split_once(". ")?;
    let day = rest.split_once('.').map_or(rest, |(d, _)| d);
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    (year.len() == 4 && all_digits(year) && all_digits(month) && all_digits(day.trim()))
        .then(|| format!("{year}-{month}-{}", day.trim()))
}

/// English month names and abbreviations (`Sept` too), 1-based.
fn month_number(word: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let w = word.trim_end_matches('.').to_ascii_lowercase();
    if w.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| m.starts_with(&w) || (w == "sept" && m.starts_with("sep")))
        .map(|i| i as u32 + 1)
}

/// Parses a close date as CRMs and spreadsheets write it:
///
/// - `2026-11-23`, `2026/11/23`, `2026.11.23`, with any time after it (`2026-11-23 10:00:00`,
///   `2026-11-23T10:00:00Z`);
/// - `23.11.2026` (a dot always means day first);
/// - `11/23/2026`, `11-23-2026`, `11/23/26` in `order` (month first unless the file or header
///   says otherwise), with any time after it; a date that only reads the other way round
///   (`23/11/2026` month first) is refused, never silently swapped; `order` year first reads
///   only dates that read one way (`23/11/2026`) and refuses the others (`03/04/2026`);
/// - `2026年11月23日` and `2026. 11. 23.` (Japanese, Chinese and Korean Excel);
/// - month names: `Nov 23, 2026`, `November 23 2026`, `23 Nov 2026`, `23-Nov-2026`, `23-Nov-26`;
/// - Excel serial day numbers (`46349`, a date column exported as a number: 1970–2099 only;
///   `46349.375` with a time of day) and compact `20261123` (1970–2099);
/// - Unix timestamps in seconds or milliseconds (`1795392000`, `1795392000000`).
///
/// Two-digit years are 2000–2099.
pub(super) fn parse_date(cell: &str, order: DateOrder) -> Result<Date, String> {
    let s = cell.trim();
    if let Some(iso) = east_asian_date(s) {
        return parse_date(&iso, DateOrder::YearFirst).map_err(|_| {
            format!("'{s}' is not a date (expected YYYY-MM-DD, or 2026年1月15日 as written)")
        });
    }
    let bad = || {
        format!(
            "'{s}' is not a date (expected YYYY-MM-DD, {}DD.MM.YYYY or Nov 23, 2026)",
            match order {
                DateOrder::YearFirst => "",
                DateOrder::MonthFirst => "MM/DD/YYYY, ",
                DateOrder::DayFirst => "DD/MM/YYYY, ",
            }
        )
    };
    let check = |y: u32, m: u32, d: u32| -> Result<Date, String> {
        if y > 9999 || m > 12 || d > 31 || m == 0 || d == 0 {
            return Err(bad());
        }
        Date::new(y as u16, m as u8, d as u8).map_err(|e| format!("'{s}': {}", e.message()))
    };
    let year = |t: &str| -> Option<u32> {
        let n: u32 = t.parse().ok()?;
        match t.len() {
            4 => Some(n),
            2 => Some(2000 + n),
            _ => None,
        }
    };
    let small =
        |t: &str| -> Option<u32> { (1..=2).contains(&t.len()).then(|| t.parse().ok()).flatten() };
    // Numbers only: an Excel serial day (with a time of day as a fraction: `46349.375`), a
    // compact `YYYYMMDD` (ERP exports) or a Unix timestamp.
    let serial = match s.split_once('.') {
        Some((day, time)) if day.len() == 5 && !time.is_empty() => {
            time.bytes().all(|b| b.is_ascii_digit()).then_some(day)
        }
        _ => Some(s),
    };
    if let Some(s) = serial.filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())) {
        let n: i64 = s.parse().map_err(|_| bad())?;
        let days = match s.len() {
            5 if (25_569..=73_050).contains(&n) => n - 25_569,
            8 => {
                let (y, m, d) = (n / 10_000, n / 100 % 100, n % 100);
                return if (1970..=2099).contains(&y) {
                    check(y as u32, m as u32, d as u32)
                } else {
                    Err(bad())
                };
            }
            10 => n / 86_400,
            13 => n / 86_400_000,
            _ => return Err(bad()),
        };
        return Date::from_days_since_epoch(days).map_err(|_| bad());
    }
    // The date part: up to a `T` after a digit, or the first space after the date's digits.
    let tokens: Vec<&str> = s
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '/' | '-' | '.'))
        .filter(|t| !t.is_empty())
        .collect();
    let is_time = |t: &str| {
        t.contains(':')
            || t.eq_ignore_ascii_case("am")
            || t.eq_ignore_ascii_case("pm")
            || t.eq_ignore_ascii_case("z")
            || t.eq_ignore_ascii_case("utc")
            || t.eq_ignore_ascii_case("gmt")
    };
    // Month names anywhere among the first three tokens.
    if let Some(month_at) = tokens
        .iter()
        .take(3)
        .position(|t| t.bytes().all(|b| b.is_ascii_alphabetic()) && month_number(t).is_some())
    {
        let month = month_number(tokens[month_at]).ok_or_else(bad)?;
        let numbers: Vec<&str> = tokens
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != month_at)
            .map(|(_, t)| *t)
            .take_while(|t| !is_time(t))
            .collect();
        // A weekday before the date (`Mon, Nov 23, 2026`) is skipped.
        let numbers: Vec<&str> = numbers
            .into_iter()
            .filter(|t| !t.bytes().all(|b| b.is_ascii_alphabetic()))
            .collect();
        return match numbers[..] {
            [a, b] => {
                let day =
                    small(a.trim_end_matches(|c: char| c.is_ascii_alphabetic())).ok_or_else(bad)?;
                check(year(b).ok_or_else(bad)?, month, day)
            }
            _ => Err(bad()),
        };
    }
    // The first date-like token, split on -, /, . (a time part after it is ignored).
    let date_part = s
        .split(|c: char| c.is_whitespace() || c == 'T')
        .next()
        .unwrap_or("");
    let rest: Vec<&str> = tokens.iter().skip(3).copied().collect();
    if rest
        .first()
        .is_some_and(|t| !is_time(t) && !t.starts_with(|c: char| c.is_ascii_digit()))
    {
        return Err(bad());
    }
    let parts: Vec<&str> = date_part.split(['-', '/', '.']).collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    let num = |p: &str| p.parse::<u32>().map_err(|_| bad());
    if parts[0].len() == 4 {
        return check(num(parts[0])?, num(parts[1])?, num(parts[2])?);
    }
    let (Some(a), Some(b), Some(y)) = (small(parts[0]), small(parts[1]), year(parts[2])) else {
        return Err(bad());
    };
    let order = if date_part.contains('.') {
        DateOrder::DayFirst
    } else {
        order
    };
    let (m, d) = match order {
        DateOrder::MonthFirst => (a, b),
        DateOrder::DayFirst => (b, a),
        // Only a date that reads one way is read: `23/11/2026`.
        DateOrder::YearFirst if a > 12 => (b, a),
        DateOrder::YearFirst if b > 12 => (a, b),
        DateOrder::YearFirst => {
            return Err(format!(
                "'{s}' is not a YYYY-MM-DD date, and its day and month could be either; write \
                 it as YYYY-MM-DD, or name the file's date format with --date-format (API: \
                 ?date_format=) DD/MM/YYYY or MM/DD/YYYY"
            ))
        }
    };
    if m > 12 && d <= 12 && Date::new(y as u16, d as u8, m as u8).is_ok() {
        let (other, header) = match order {
            DateOrder::MonthFirst => ("DD/MM/YYYY", "Close Date (DD/MM/YYYY)"),
            DateOrder::DayFirst | DateOrder::YearFirst => ("MM/DD/YYYY", "Close Date (MM/DD/YYYY)"),
        };
        return Err(format!(
            "'{s}' is not a {} date (it reads as {other}); write dates as YYYY-MM-DD, or if the \
             whole column is {other}, import with --date-format {other} (API: ?date_format=\
             {other}) or name the column \"{header}\"",
            order.format()
        ));
    }
    check(y, m, d)
}
