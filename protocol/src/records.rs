//! The CRM records one node holds — accounts and opportunities — and the validated value types
//! their fields are made of. Every value that enters a node (API, CSV import, a partner's deal)
//! goes through one of these parsers, so the rest of the code can trust what it holds: a
//! [`Domain`] is always normalized, an [`Amount`] is exact (no floats for money), a [`Date`] is a
//! real calendar day, a [`Stage`] is one of the AWS ACE stages.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

/// Why a value was refused. The message is UI text: lowercase, no trailing period, and it says
/// what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValueError {
    message: String,
}

impl ValueError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: cut_long_values(&message.into()),
        }
    }

    /// The sentence describing what is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Characters of a quoted value a message keeps; the rest is cut (a 1 MB cell must not come back
/// whole in an error).
pub const QUOTED_VALUE_CHARS_MAX: usize = 80;
/// Characters a whole message keeps.
pub const MESSAGE_CHARS_MAX: usize = 1000;

/// `message` with every single-quoted value longer than [`QUOTED_VALUE_CHARS_MAX`] characters
/// cut to its start, `…` and its length, and the whole cut to [`MESSAGE_CHARS_MAX`] characters:
/// errors quote what was wrong, but a huge value must not be echoed whole.
pub fn cut_long_values(message: &str) -> String {
    let parts: Vec<&str> = message.split('\'').collect();
    let mut out = String::with_capacity(message.len().min(MESSAGE_CHARS_MAX + 64));
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push('\'');
        }
        // Odd parts are inside quotes.
        let count = part.chars().count();
        if i % 2 == 1 && count > QUOTED_VALUE_CHARS_MAX && i + 1 < parts.len() {
            out.extend(part.chars().take(QUOTED_VALUE_CHARS_MAX));
            out.push_str(&format!("… ({count} characters)"));
        } else {
            out.push_str(part);
        }
    }
    if out.chars().count() > MESSAGE_CHARS_MAX {
        let mut cut: String = out.chars().take(MESSAGE_CHARS_MAX).collect();
        cut.push('…');
        return cut;
    }
    out
}

/// Longest free text (next step, description) a record field may hold, in characters: what
/// Salesforce's Description allows (32,000), so an export from it always fits. Counted in
/// characters, not bytes, so accented and other non-Latin text gets the same room; a field is
/// then at most 4 × this many bytes (125 KiB), which bounds memory per record.
pub const TEXT_CHARS_MAX: usize = 32_000;
/// Longest name-like field (names, owners, ids, industry, country, each tag), in characters
/// (so at most 4 × this many bytes).
pub const NAME_CHARS_MAX: usize = 512;
/// Most tags on one record.
pub const TAGS_MAX: usize = 64;

mod domain;
pub use domain::Domain;

// ---------------------------------------------------------------------------------------------
// Amount

/// Money as an exact decimal with up to four fractional digits (stored as ten-thousandths in an
/// `i64`), never a float: a deal of 1,200.50 stays exactly that through import, storage, policy
/// rounding and every partner's copy. Amounts are never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount {
    ten_thousandths: i64,
}

/// Fractional digits an [`Amount`] keeps.
pub const AMOUNT_SCALE_DIGITS: u32 = 4;
const AMOUNT_SCALE: i64 = 10_000;

impl Amount {
    /// The amount of whole units plus ten-thousandths, e.g. `from_ten_thousandths(12_005_000)` is
    /// 1200.5.
    pub fn from_ten_thousandths(ten_thousandths: i64) -> Result<Self, ValueError> {
        if ten_thousandths < 0 {
            return Err(ValueError::new("amount must not be negative"));
        }
        Ok(Amount { ten_thousandths })
    }

    /// A whole-unit amount.
    pub fn from_units(units: i64) -> Result<Self, ValueError> {
        units
            .checked_mul(AMOUNT_SCALE)
            .ok_or_else(|| ValueError::new("amount is too large"))
            .and_then(Self::from_ten_thousandths)
    }

    /// The amount in ten-thousandths of a unit.
    pub fn ten_thousandths(self) -> i64 {
        self.ten_thousandths
    }

    /// Parses amounts as CRM exports write them: `1200.5`, `$1,200.50`, `€ 1 200`, `USD 900`,
    /// `1200 EUR`. A comma is a thousands separator; more than four decimals is an error, not a
    /// silent rounding.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let trimmed = input.trim();
        let bad = || {
            ValueError::new(format!(
                "'{trimmed}' is not an amount (expected a number like 1200.50)"
            ))
        };
        let mut body: String = trimmed
            .chars()
            .filter(|c| !matches!(c, '$' | '€' | '£' | '¥' | '_' | '\'' | ' ' | '\u{a0}'))
            .collect();
        // A currency code before or after the number ("USD 900", "900 EUR").
        if body.len() > 3 && body.is_char_boundary(3) && Currency::from_code(&body[..3]).is_some() {
            body.drain(..3);
        }
        let n = body.len();
        if n > 3 && body.is_char_boundary(n - 3) && Currency::from_code(&body[n - 3..]).is_some() {
            body.truncate(n - 3);
        }
        if body.starts_with('-') {
            return Err(ValueError::new(format!(
                "'{trimmed}' is negative; amounts must not be negative"
            )));
        }
        let (whole, fraction) = match body.split_once('.') {
            Some((w, f)) => (w, f),
            None => (body.as_str(), ""),
        };
        // Commas are thousands separators only where they group by three ("1,200,000"); a
        // decimal comma ("1200,50") is refused rather than read as 120050.
        if !whole.bytes().all(|b| b.is_ascii_digit() || b == b',')
            || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let whole_groups: Vec<&str> = whole.split(',').collect();
        if whole_groups.len() > 1
            && (whole_groups[0].is_empty()
                || whole_groups[0].len() > 3
                || whole_groups[1..].iter().any(|g| g.len() != 3))
        {
            return Err(ValueError::new(format!(
                "'{trimmed}' is ambiguous: use a dot for decimals and commas only between thousands (1,200.50)"
            )));
        }
        let whole = whole.replace(',', "");
        let whole = whole.as_str();
        if whole.is_empty() && fraction.is_empty() {
            return Err(bad());
        }
        if !whole.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        if fraction.len() > AMOUNT_SCALE_DIGITS as usize {
            return Err(ValueError::new(format!(
                "'{trimmed}' has more than {AMOUNT_SCALE_DIGITS} decimal places"
            )));
        }
        let too_large = || ValueError::new(format!("'{trimmed}' is too large an amount"));
        let whole_units: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| too_large())?
        };
        let mut frac_units: i64 = 0;
        for (i, digit) in fraction.bytes().enumerate() {
            frac_units += i64::from(digit - b'0') * 10i64.pow(AMOUNT_SCALE_DIGITS - 1 - i as u32);
        }
        let total = whole_units
            .checked_mul(AMOUNT_SCALE)
            .and_then(|w| w.checked_add(frac_units))
            .ok_or_else(too_large)?;
        Ok(Amount {
            ten_thousandths: total,
        })
    }

    /// Rounds to the nearest multiple of `step` whole units (half up), as a policy's
    /// `amount = { round_to = 10000 }` does. A `step` of 0 leaves the amount as it is.
    pub fn round_to_units(self, step: i64) -> Self {
        if step <= 0 {
            return self;
        }
        let Some(step_scaled) = step.checked_mul(AMOUNT_SCALE) else {
            return Amount { ten_thousandths: 0 };
        };
        let q = self.ten_thousandths / step_scaled;
        let r = self.ten_thousandths % step_scaled;
        let down = q * step_scaled;
        let rounded = if r * 2 >= step_scaled {
            down.checked_add(step_scaled).unwrap_or(down)
        } else {
            down
        };
        Amount {
            ten_thousandths: rounded,
        }
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.ten_thousandths / AMOUNT_SCALE;
        let frac = self.ten_thousandths % AMOUNT_SCALE;
        if frac == 0 {
            write!(f, "{whole}")
        } else {
            let digits = format!("{frac:04}");
            write!(f, "{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

impl FromStr for Amount {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Amount::parse(s)
    }
}

// ---------------------------------------------------------------------------------------------
// Currency

/// An ISO 4217 currency code, upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency([u8; 3]);

/// Active ISO 4217 codes (2024 list, plus the precious metals and SDR that CRMs rarely use).
const ISO_4217: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ",
    "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD",
    "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR",
    "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN",
    "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR",
    "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB",
    "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS",
    "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XDR", "XOF", "XPF", "YER", "ZAR", "ZMW",
    "ZWG",
];

impl Currency {
    /// Parses an ISO 4217 code in any case (`usd`, ` EUR `).
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        Currency::from_code(input).ok_or_else(|| {
            ValueError::new(format!(
                "'{}' is not an ISO 4217 currency code (e.g. USD, EUR)",
                input.trim()
            ))
        })
    }

    /// [`Currency::parse`] without the error: whether a text is a code, for parsers that try
    /// a piece of a cell (`USD 900`) and must not pay for an error message when it is not.
    pub fn from_code(input: &str) -> Option<Self> {
        let [a, b, c] = input.trim().as_bytes() else {
            return None;
        };
        let code = [
            a.to_ascii_uppercase(),
            b.to_ascii_uppercase(),
            c.to_ascii_uppercase(),
        ];
        let text = std::str::from_utf8(&code).ok()?;
        ISO_4217.binary_search(&text).ok().map(|_| Currency(code))
    }

    /// US dollars, the default where a CRM export names no currency.
    pub const USD: Currency = Currency(*b"USD");

    /// The three-letter code.
    pub fn as_str(&self) -> &str {
        // Only constructed from ASCII codes in ISO_4217.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---------------------------------------------------------------------------------------------
// Date

/// A calendar day (proleptic Gregorian), as close dates are: no time, no zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    /// A checked calendar date.
    pub fn new(year: u16, month: u8, day: u8) -> Result<Self, ValueError> {
        if !(1..=9999).contains(&year) {
            return Err(ValueError::new(format!("year {year} is out of range")));
        }
        if !(1..=12).contains(&month) {
            return Err(ValueError::new(format!("month {month} does not exist")));
        }
        if day == 0 || day > days_in_month(year, month) {
            return Err(ValueError::new(format!(
                "{year:04}-{month:02}-{day:02} is not a day of the calendar"
            )));
        }
        Ok(Date { year, month, day })
    }

    /// Parses `YYYY-MM-DD`, the one form the API and shared documents use (an ISO timestamp's
    /// date part too: `2026-03-31T00:00:00Z`). Other forms, `03/04/2026` above all, are refused
    /// rather than guessed: that one is March 4 in the US and April 3 elsewhere. (CSV import
    /// reads the forms exports write, with a stated day or month order: `import::parse_date`.)
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let s = input.trim();
        let bad = || ValueError::new(format!("'{s}' is not a date in the form YYYY-MM-DD"));
        let date_part = s.split_once(['T', ' ']).map_or(s, |(d, _)| d);
        let bytes = date_part.as_bytes();
        let digits = |r: std::ops::Range<usize>| bytes[r].iter().all(u8::is_ascii_digit);
        if bytes.len() != 10
            || bytes[4] != b'-'
            || bytes[7] != b'-'
            || !digits(0..4)
            || !digits(5..7)
            || !digits(8..10)
        {
            return Err(bad());
        }
        let num = |r: std::ops::Range<usize>| date_part[r].parse::<u16>().map_err(|_| bad());
        Date::new(num(0..4)?, num(5..7)? as u8, num(8..10)? as u8)
    }

    /// The year.
    pub fn year(self) -> u16 {
        self.year
    }
    /// The month, 1 to 12.
    pub fn month(self) -> u8 {
        self.month
    }
    /// The day of the month, 1 to 31.
    pub fn day(self) -> u8 {
        self.day
    }

    /// The first day of this date's month (a policy's `close_date = "month"` coarsening).
    pub fn month_start(self) -> Date {
        Date { day: 1, ..self }
    }

    /// The first day of this date's calendar quarter.
    pub fn quarter_start(self) -> Date {
        Date {
            month: (self.month - 1) / 3 * 3 + 1,
            day: 1,
            ..self
        }
    }

    /// Days since 1970-01-01 (negative before), for windows like "protected for 90 days".
    pub fn days_since_epoch(self) -> i64 {
        // Howard Hinnant's days_from_civil.
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` after 1970-01-01.
    pub fn from_days_since_epoch(days: i64) -> Result<Date, ValueError> {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        if !(1..=9999).contains(&y) {
            return Err(ValueError::new("date is out of range"));
        }
        Date::new(y as u16, m as u8, d as u8)
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            let leap =
                (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
            if leap {
                29
            } else {
                28
            }
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl FromStr for Date {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Date::parse(s)
    }
}

// ---------------------------------------------------------------------------------------------
// Enums

/// Where an opportunity stands, in AWS ACE's stages (the co-sell lingua franca).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// Identified, not yet qualified.
    Prospect,
    /// Qualified: budget, need and timing are known.
    Qualified,
    /// The technical fit is being proven.
    TechnicalValidation,
    /// The commercial case is being agreed.
    BusinessValidation,
    /// The customer has committed.
    Committed,
    /// Won and live.
    Launched,
    /// Lost or abandoned.
    ClosedLost,
}

impl Stage {
    /// Every stage, in pipeline order.
    pub const ALL: [Stage; 7] = [
        Stage::Prospect,
        Stage::Qualified,
        Stage::TechnicalValidation,
        Stage::BusinessValidation,
        Stage::Committed,
        Stage::Launched,
        Stage::ClosedLost,
    ];

    /// The contract's name for the stage (`technical_validation`).
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Prospect => "prospect",
            Stage::Qualified => "qualified",
            Stage::TechnicalValidation => "technical_validation",
            Stage::BusinessValidation => "business_validation",
            Stage::Committed => "committed",
            Stage::Launched => "launched",
            Stage::ClosedLost => "closed_lost",
        }
    }

    /// Parses a stage name in any case, with spaces, hyphens or underscores (`Technical
    /// Validation`, `closed-lost`).
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let key = canonical_key(input);
        Stage::ALL
            .into_iter()
            .find(|s| s.as_str() == key)
            .ok_or_else(|| {
                ValueError::new(format!(
                    "'{}' is not a stage (one of: {})",
                    input.trim(),
                    Stage::ALL.map(Stage::as_str).join(", ")
                ))
            })
    }

    /// Whether the opportunity is still being worked (not launched, not lost).
    pub fn is_open(self) -> bool {
        !matches!(self, Stage::Launched | Stage::ClosedLost)
    }
}

/// What an account is to this company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum AccountStatus {
    /// Buys from us.
    Customer,
    /// We are trying to sell to them.
    Prospect,
    /// A partner company.
    Partner,
    /// Anything else (the default when a CRM says nothing).
    #[default]
    Other,
}

impl AccountStatus {
    /// Every status.
    pub const ALL: [AccountStatus; 4] = [
        AccountStatus::Customer,
        AccountStatus::Prospect,
        AccountStatus::Partner,
        AccountStatus::Other,
    ];

    /// The contract's name for the status.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Customer => "customer",
            AccountStatus::Prospect => "prospect",
            AccountStatus::Partner => "partner",
            AccountStatus::Other => "other",
        }
    }

    /// Parses a status name in any case.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let key = canonical_key(input);
        AccountStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == key)
            .ok_or_else(|| {
                ValueError::new(format!(
                    "'{}' is not an account status (one of: customer, prospect, partner, other)",
                    input.trim()
                ))
            })
    }
}

/// Lowercase, trimmed, with runs of spaces and hyphens turned into one underscore.
fn canonical_key(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for word in input
        .trim()
        .split(|c: char| c.is_whitespace() || c == '-' || c == '_')
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push('_');
        }
        out.push_str(&word.to_lowercase());
    }
    out
}

macro_rules! serde_as_string {
    ($ty:ty, $expecting:literal) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$ty, E> {
                        <$ty>::from_str(v).map_err(E::custom)
                    }
                    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<$ty, E> {
                        <$ty>::from_str(&v.to_string()).map_err(E::custom)
                    }
                    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<$ty, E> {
                        <$ty>::from_str(&v.to_string()).map_err(E::custom)
                    }
                    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<$ty, E> {
                        <$ty>::from_str(&v.to_string()).map_err(E::custom)
                    }
                }
                deserializer.deserialize_any(V)
            }
        }
    };
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
impl FromStr for Stage {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stage::parse(s)
    }
}
impl fmt::Display for AccountStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
impl FromStr for AccountStatus {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AccountStatus::parse(s)
    }
}
impl FromStr for Currency {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s)
    }
}

serde_as_string!(Domain, "a domain name");
serde_as_string!(Amount, "an amount as a decimal string");
serde_as_string!(Currency, "an ISO 4217 currency code");
serde_as_string!(Date, "a date as YYYY-MM-DD");
serde_as_string!(Stage, "an ACE stage name");
serde_as_string!(AccountStatus, "customer, prospect, partner or other");

// ---------------------------------------------------------------------------------------------
// Records

/// A company in this node's CRM data. `domain` is the key it is matched on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// This node's id for the account (a ULID: sortable by creation time).
    pub id: String,
    /// The CRM's id, the key imports upsert on.
    #[serde(default)]
    pub external_id: Option<String>,
    /// The company's name.
    pub name: String,
    /// The company's normalized web domain.
    #[serde(default)]
    pub domain: Option<Domain>,
    /// Industry, as the CRM names it.
    #[serde(default)]
    pub industry: Option<String>,
    /// Country, as the CRM names it.
    #[serde(default)]
    pub country: Option<String>,
    /// What the account is to this company.
    #[serde(default)]
    pub status: AccountStatus,
    /// Who owns the account.
    #[serde(default)]
    pub owner: Option<String>,
    /// Free labels.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A deal in this node's own pipeline. Private unless shared through a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opportunity {
    /// This node's id for the opportunity (a ULID).
    pub id: String,
    /// The CRM's id, the key imports upsert on.
    #[serde(default)]
    pub external_id: Option<String>,
    /// The account the opportunity is with.
    pub account_id: String,
    /// The opportunity's name.
    pub name: String,
    /// Where it stands.
    pub stage: Stage,
    /// Expected value.
    #[serde(default)]
    pub amount: Option<Amount>,
    /// Currency of `amount`.
    #[serde(default)]
    pub currency: Option<Currency>,
    /// Expected close.
    #[serde(default)]
    pub close_date: Option<Date>,
    /// Who owns it.
    #[serde(default)]
    pub owner: Option<String>,
    /// The next step, free text.
    #[serde(default)]
    pub next_step: Option<String>,
    /// Description, free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Free labels.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A field that failed validation, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The record field (`domain`, `close_date`).
    pub field: &'static str,
    /// Why, as UI text.
    pub message: String,
}

/// Checks a free-text field's length, in characters, and trims it; empty becomes `None`.
pub fn clean_text(
    field: &'static str,
    value: Option<&str>,
    chars_max: usize,
) -> Result<Option<String>, FieldError> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let v = nfc(v);
    if longer_than(&v, chars_max) {
        return Err(FieldError {
            field,
            message: format!("longer than {chars_max} characters"),
        });
    }
    if v.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(FieldError {
            field,
            message: "contains control characters".into(),
        });
    }
    Ok(Some(v))
}

/// `s` in Unicode normalization form C (composed), the form every stored text is in: macOS
/// apps write `ü` decomposed (`u` + combining diaeresis), and the same name must be the same
/// bytes to link and compare. ASCII text is NFC already and costs only the `is_ascii` scan.
pub fn nfc(s: &str) -> String {
    if s.is_ascii() || is_nfc_quick(s.chars()) == IsNormalized::Yes {
        s.to_string()
    } else {
        s.nfc().collect()
    }
}

/// `s` has more than `chars_max` characters. A string of at most `chars_max` bytes never
/// does, so the common short value costs one comparison.
fn longer_than(s: &str, chars_max: usize) -> bool {
    s.len() > chars_max && s.chars().count() > chars_max
}

/// Splits a tag list as CRMs write it (`a; b, c`), trimmed, deduplicated, order kept.
pub fn parse_tags(value: &str) -> Result<Vec<String>, FieldError> {
    let mut tags: Vec<String> = Vec::new();
    for t in value
        .split([';', ',', '|'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        if longer_than(t, NAME_CHARS_MAX) {
            return Err(FieldError {
                field: "tags",
                message: format!(
                    "tag '{}…' is longer than {NAME_CHARS_MAX} characters",
                    &t[..t.floor_char_boundary_compat(32)]
                ),
            });
        }
        let t = nfc(t);
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    if tags.len() > TAGS_MAX {
        return Err(FieldError {
            field: "tags",
            message: format!("more than {TAGS_MAX} tags"),
        });
    }
    Ok(tags)
}

trait FloorCharBoundary {
    fn floor_char_boundary_compat(&self, index: usize) -> usize;
}

impl FloorCharBoundary for str {
    fn floor_char_boundary_compat(&self, index: usize) -> usize {
        let mut i = index.min(self.len());
        while !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}

impl Account {
    /// Checks the invariants a stored account must hold (lengths, no control characters).
    pub fn validate(&self) -> Result<(), FieldError> {
        require_name("name", &self.name)?;
        for (field, v) in [
            ("external_id", &self.external_id),
            ("industry", &self.industry),
            ("country", &self.country),
            ("owner", &self.owner),
        ] {
            clean_text(field, v.as_deref(), NAME_CHARS_MAX)?;
        }
        check_tags(&self.tags)
    }
}

impl Opportunity {
    /// Checks the invariants a stored opportunity must hold.
    pub fn validate(&self) -> Result<(), FieldError> {
        require_name("name", &self.name)?;
        for (field, v) in [("external_id", &self.external_id), ("owner", &self.owner)] {
            clean_text(field, v.as_deref(), NAME_CHARS_MAX)?;
        }
        for (field, v) in [
            ("next_step", &self.next_step),
            ("description", &self.description),
        ] {
            clean_text(field, v.as_deref(), TEXT_CHARS_MAX)?;
        }
        if self.amount.is_some() && self.currency.is_none() {
            return Err(FieldError {
                field: "currency",
                message: "an amount needs a currency".into(),
            });
        }
        check_tags(&self.tags)
    }
}

fn require_name(field: &'static str, v: &str) -> Result<(), FieldError> {
    match clean_text(field, Some(v), NAME_CHARS_MAX)? {
        Some(_) => Ok(()),
        None => Err(FieldError {
            field,
            message: "is required".into(),
        }),
    }
}

fn check_tags(tags: &[String]) -> Result<(), FieldError> {
    if tags.len() > TAGS_MAX {
        return Err(FieldError {
            field: "tags",
            message: format!("more than {TAGS_MAX} tags"),
        });
    }
    for t in tags {
        clean_text("tags", Some(t), NAME_CHARS_MAX)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn domain_normalization_strips_scheme_www_path_port_and_case() {
        for (input, want) in [
            ("https://www.Acme.com/about?x=1", "acme.com"),
            ("acme.com.", "acme.com"),
            ("HTTP://WWW.ACME.CO.UK:8080/", "acme.co.uk"),
            ("jane@acme.io", "acme.io"),
            ("Bücher.de", "xn--bcher-kva.de"),
            ("www.www.example.org", "example.org"),
        ] {
            assert_eq!(Domain::parse(input).unwrap().as_str(), want, "{input}");
        }
    }

    #[test]
    fn domain_rejects_what_is_no_domain() {
        for input in [
            "",
            "   ",
            "localhost",
            "acme..com",
            "-acme.com",
            "ac me.com",
            "http://",
        ] {
            assert!(Domain::parse(input).is_err(), "{input:?} was accepted");
        }
    }

    #[test]
    fn amount_parses_crm_formats_exactly() {
        for (input, want) in [
            ("1200.5", 12_005_000),
            ("$1,200.50", 12_005_000),
            ("€ 1 200", 12_000_000),
            ("USD 900", 9_000_000),
            ("900 EUR", 9_000_000),
            (".25", 2_500),
            ("0", 0),
        ] {
            assert_eq!(
                Amount::parse(input).unwrap().ten_thousandths(),
                want,
                "{input}"
            );
        }
        assert_eq!(Amount::parse("1200.50").unwrap().to_string(), "1200.5");
    }

    #[test]
    fn amount_refuses_negative_garbage_and_extra_decimals() {
        assert_eq!(
            Amount::parse("-5").unwrap_err().message(),
            "'-5' is negative; amounts must not be negative"
        );
        assert!(Amount::parse("12abc").is_err());
        assert!(
            Amount::parse("1200,50").is_err(),
            "a decimal comma must not become 120050"
        );
        assert_eq!(Amount::parse("1,200,000").unwrap().to_string(), "1200000");
        assert!(Amount::parse("1.23456").is_err());
        assert!(Amount::parse("").is_err());
        assert!(Amount::parse("99999999999999999999").is_err());
    }

    #[test]
    fn amount_rounds_half_up_to_step() {
        let a = Amount::parse("123456").unwrap();
        assert_eq!(a.round_to_units(10_000).to_string(), "120000");
        assert_eq!(
            Amount::parse("125000")
                .unwrap()
                .round_to_units(10_000)
                .to_string(),
            "130000"
        );
        assert_eq!(a.round_to_units(0), a);
    }

    #[test]
    fn an_ip_address_is_not_a_domain() {
        for ip in ["192.168.1.1", "http://10.0.0.7:8080/x", "1.2.3.4."] {
            let e = Domain::parse(ip).unwrap_err();
            assert!(e.message().contains("IP address"), "{ip}: {}", e.message());
        }
        assert_eq!(
            Domain::parse("1password.com").unwrap().as_str(),
            "1password.com"
        );
        assert_eq!(Domain::parse("123.co").unwrap().as_str(), "123.co");
    }

    #[test]
    fn a_company_domain_is_not_a_mail_provider_address_or_a_profile_page() {
        // Bug: the API stored `jane@gmail.com` as the account's domain `gmail.com`, which the
        // import refused.
        assert!(Domain::parse_company("jane@gmail.com").is_err());
        assert!(Domain::parse_company("https://linkedin.com/company/acme").is_err());
        assert_eq!(
            Domain::parse_company("gmail.com").unwrap().as_str(),
            "gmail.com"
        );
        assert_eq!(
            Domain::parse_company("jane@acme.example").unwrap().as_str(),
            "acme.example"
        );
    }

    #[test]
    fn dates_are_iso_and_nothing_is_guessed() {
        assert_eq!(Date::parse("2026-03-31").unwrap().to_string(), "2026-03-31");
        // Bug: `03/04/2026` was read month first without a word; it is ambiguous.
        for other in [
            "3/31/2026",
            "03/04/2026",
            "2026/03/31",
            "2026-3-31",
            "31.03.2026",
            "",
        ] {
            let e = Date::parse(other).unwrap_err();
            assert!(
                e.message().contains("YYYY-MM-DD"),
                "{other}: {}",
                e.message()
            );
        }
        assert_eq!(
            Date::parse("2026-03-31T10:00:00Z").unwrap().to_string(),
            "2026-03-31"
        );
        assert!(Date::parse("2026-02-30").is_err());
        assert!(Date::parse("31/03/2026").is_err());
        assert!(Date::parse("tomorrow").is_err());
        assert_eq!(
            Date::parse("2026-08-17")
                .unwrap()
                .quarter_start()
                .to_string(),
            "2026-07-01"
        );
    }

    #[test]
    fn stage_names_are_forgiving_about_case_and_separators() {
        assert_eq!(
            Stage::parse("Technical Validation").unwrap(),
            Stage::TechnicalValidation
        );
        assert_eq!(Stage::parse("closed-lost").unwrap(), Stage::ClosedLost);
        assert!(Stage::parse("won").is_err());
    }

    #[test]
    fn currency_is_checked_against_iso_4217() {
        assert_eq!(Currency::parse("eur").unwrap().as_str(), "EUR");
        assert!(Currency::parse("EURO").is_err());
        assert!(Currency::parse("ABC").is_err());
        assert_eq!(Currency::from_code(" usd "), Some(Currency::USD));
        for not_a_code in ["", "US", "USDX", "ABC", "12,", "€€", "ÜSD"] {
            assert_eq!(Currency::from_code(not_a_code), None, "{not_a_code}");
        }
        let mut sorted = ISO_4217.to_vec();
        sorted.sort_unstable();
        assert_eq!(
            sorted, ISO_4217,
            "ISO_4217 must stay sorted for binary search"
        );
    }

    proptest! {
        #[test]
        fn domain_normalization_is_idempotent(
            scheme in prop::option::of(prop::sample::select(vec!["http://", "https://", "HTTPS://"])),
            www in any::<bool>(),
            labels in prop::collection::vec("[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?", 2..4),
            path in prop::option::of("/[a-z0-9/]{0,8}"),
        ) {
            let raw = format!("{}{}{}{}", scheme.unwrap_or(""), if www { "www." } else { "" }, labels.join("."), path.unwrap_or_default());
            if let Ok(once) = Domain::parse(&raw) {
                let twice = Domain::parse(once.as_str()).unwrap();
                prop_assert_eq!(once, twice);
            }
        }

        #[test]
        fn amount_display_parse_round_trips(v in 0i64..i64::MAX) {
            let a = Amount::from_ten_thousandths(v).unwrap();
            prop_assert_eq!(Amount::parse(&a.to_string()).unwrap(), a);
            let json = serde_json::to_string(&a).unwrap();
            prop_assert_eq!(serde_json::from_str::<Amount>(&json).unwrap(), a);
        }

        #[test]
        fn date_days_round_trip(days in -700_000i64..2_900_000) {
            if let Ok(d) = Date::from_days_since_epoch(days) {
                prop_assert_eq!(d.days_since_epoch(), days);
                prop_assert_eq!(Date::parse(&d.to_string()).unwrap(), d);
            }
        }
    }
}

#[cfg(test)]
mod cut_tests {
    use super::*;

    #[test]
    fn a_long_quoted_value_is_cut_in_a_message() {
        let long = "x".repeat(1_100_000);
        let e = Domain::parse_company(&format!("https://{long}.com")).unwrap_err();
        assert!(e.message().len() < 300, "{}", e.message().len());
        assert!(
            e.message().contains("(1100012 characters)"),
            "{}",
            e.message()
        );
        assert_eq!(cut_long_values("'short' is fine"), "'short' is fine");
        assert_eq!(cut_long_values("it's 'a'"), "it's 'a'");
    }
}
