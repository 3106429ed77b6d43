//! Reading a hub's JSON with the path of every value, so each problem names the item and the
//! JSON path it is about (`[2].LifeCycle.Stage`), and the small value rules both hubs share
//! (decimal amounts, currencies, company websites, ISO-8601 timestamps read as their UTC date,
//! country codes).

use protocol::records::{Amount, Currency, Date, Domain};
use serde_json::Value;
use std::fmt;

/// A problem with one item of a hub file, or with an export: where (JSON path, starting with
/// the item's index in brackets) and what.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// `[2].LifeCycle.Stage`.
    pub path: String,
    /// What is wrong, naming the value.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// A JSON value and where it sits in the file.
#[derive(Clone)]
pub struct At<'a> {
    /// The value (`Value::Null` when absent).
    pub value: &'a Value,
    path: String,
}

static NULL: Value = Value::Null;

impl<'a> At<'a> {
    /// The root of item `path` (`[2]`).
    pub fn root(value: &'a Value, path: &str) -> Self {
        At {
            value,
            path: path.to_string(),
        }
    }

    /// The member `key` of this object (null when absent or when this is no object).
    pub fn field(&self, key: &str) -> At<'a> {
        At {
            value: self.value.get(key).unwrap_or(&NULL),
            path: format!("{}.{key}", self.path),
        }
    }

    /// Element `i` of this array (null when absent).
    pub fn index(&self, i: usize) -> At<'a> {
        At {
            value: self.value.get(i).unwrap_or(&NULL),
            path: format!("{}[{i}]", self.path),
        }
    }

    /// This value's JSON path.
    pub fn path(&self) -> String {
        self.path.clone()
    }

    /// A problem about this value.
    pub fn problem(&self, message: impl Into<String>) -> Problem {
        Problem {
            path: self.path(),
            message: message.into(),
        }
    }

    /// Whether the value is absent (or null).
    pub fn is_absent(&self) -> bool {
        self.value.is_null()
    }

    /// The text, trimmed; `None` when absent, null or blank; a problem when not a string.
    pub fn text(&self) -> Result<Option<String>, Problem> {
        match self.value {
            Value::Null => Ok(None),
            Value::String(s) if s.trim().is_empty() => Ok(None),
            Value::String(s) => Ok(Some(protocol::records::nfc(s.trim()))),
            other => Err(self.problem(format!("{other} is not a text"))),
        }
    }

    /// [`At::text`] that must be there.
    pub fn required_text(&self) -> Result<String, Problem> {
        self.text()?.ok_or_else(|| self.problem("is required"))
    }

    /// An amount written as a decimal string (`"1200.50"`) or a JSON number (`412500.5`),
    /// read exactly: a number's shortest decimal spelling is the one that reads back to it, so
    /// a number written with up to 15 significant digits keeps every digit.
    pub fn amount(&self) -> Result<Option<Amount>, Problem> {
        let text = match self.value {
            Value::Null => return Ok(None),
            Value::String(s) if s.trim().is_empty() => return Ok(None),
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            other => return Err(self.problem(format!("{other} is not an amount"))),
        };
        Amount::parse(&text)
            .map(Some)
            .map_err(|e| self.problem(e.message().to_string()))
    }

    /// An ISO 4217 currency code.
    pub fn currency(&self) -> Result<Option<Currency>, Problem> {
        self.parsed(Currency::parse)
    }

    /// The company domain of a website URL (`https://www.acme.example/` → `acme.example`).
    pub fn website(&self) -> Result<Option<Domain>, Problem> {
        self.parsed(Domain::parse_company)
    }

    /// The text read by `parse`; its refusal is the problem here.
    fn parsed<T>(
        &self,
        parse: fn(&str) -> Result<T, protocol::records::ValueError>,
    ) -> Result<Option<T>, Problem> {
        match self.text()? {
            Some(text) => parse(&text)
                .map(Some)
                .map_err(|e| self.problem(e.message().to_string())),
            None => Ok(None),
        }
    }

    /// A date: `YYYY-MM-DD`, or an ISO-8601 timestamp read as its UTC date.
    pub fn date(&self) -> Result<Option<Date>, Problem> {
        let Some(text) = self.text()? else {
            return Ok(None);
        };
        utc_date(&text).map(Some).ok_or_else(|| {
            self.problem(format!(
                "'{text}' is not a date (YYYY-MM-DD) or an ISO-8601 timestamp"
            ))
        })
    }
}

/// A problem of an export at `at`: its path without the leading dot of the unindexed root
/// (`Customer.Account.Industry`).
pub fn export_problem(at: &At, message: &str) -> Problem {
    let path = at.path();
    Problem {
        path: path.strip_prefix('.').unwrap_or(&path).to_string(),
        message: message.to_string(),
    }
}

/// Notes an export problem unless `at` is absent or an ISO 3166-1 alpha-2 country code (upper
/// case), as both hubs take them.
pub fn check_country_code(at: &At, hub: &str, p: &mut Vec<Problem>) {
    if let Some(code) = at.value.as_str() {
        if !(code.len() == 2
            && code.bytes().all(|b| b.is_ascii_uppercase())
            && policy::country::is_country(code))
        {
            p.push(export_problem(
                at,
                &format!("\"{code}\" is no ISO 3166-1 alpha-2 code {hub} takes"),
            ));
        }
    }
}

/// Notes an export problem unless `at` is one of `allowed` (or absent and not `required`);
/// `hub` names who requires it.
pub fn one_of(at: &At, allowed: &[&str], required: bool, hub: &str, p: &mut Vec<Problem>) {
    match at.value {
        Value::Null if required => p.push(export_problem(
            at,
            &format!("is required by {hub} (one of: {})", allowed.join(", ")),
        )),
        Value::Null => {}
        Value::String(s) if allowed.contains(&s.as_str()) => {}
        other => p.push(export_problem(
            at,
            &format!("{other} is not one of: {}", allowed.join(", ")),
        )),
    }
}

/// The UTC date of `YYYY-MM-DD` or an ISO-8601 timestamp (`2025-09-30T23:00:00-01:00` is
/// 1 October; no zone is read as UTC; fractions of a second of any length are taken).
pub fn utc_date(text: &str) -> Option<Date> {
    let text = text.trim();
    if text.len() == 10 {
        return Date::parse(text)
            .ok()
            .filter(|_| text.as_bytes()[4] == b'-');
    }
    let (day, time) = text.split_once(['T', 't', ' '])?;
    let date = Date::parse(day).ok().filter(|_| day.len() == 10)?;
    let (clock, offset_minutes) = split_zone(time)?;
    let mut parts = clock.split(':');
    let hour: i64 = two_digits(parts.next()?)?;
    let minute: i64 = two_digits(parts.next()?)?;
    if let Some(seconds) = parts.next() {
        let (whole, fraction) = seconds.split_once('.').unwrap_or((seconds, "0"));
        let s = two_digits(whole)?;
        if s > 60 || fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    if parts.next().is_some() || hour > 24 || minute > 59 {
        return None;
    }
    let minutes = hour * 60 + minute - offset_minutes;
    let days = date.days_since_epoch() + minutes.div_euclid(24 * 60);
    Date::from_days_since_epoch(days).ok()
}

fn two_digits(s: &str) -> Option<i64> {
    (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// The clock part and the zone's offset east of UTC in minutes.
fn split_zone(time: &str) -> Option<(&str, i64)> {
    if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        return Some((clock, 0));
    }
    if let Some(i) = time.rfind(['+', '-']) {
        let (clock, zone) = time.split_at(i);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
        if digits.len() != 4 {
            return None;
        }
        let h = two_digits(&digits[..2])?;
        let m = two_digits(&digits[2..])?;
        return Some((clock, sign * (h * 60 + m)));
    }
    Some((time, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_read_as_their_utc_date() {
        for (text, date) in [
            ("2025-05-30", "2025-05-30"),
            ("2025-05-30T00:00:00Z", "2025-05-30"),
            ("2025-05-30T00:00:00.0000000Z", "2025-05-30"),
            ("2025-09-30T23:00:00-01:00", "2025-10-01"),
            ("2025-10-01T00:30:00+01:00", "2025-09-30"),
            ("2025-12-31T23:59:59-0500", "2026-01-01"),
            ("2025-05-30T12:00", "2025-05-30"),
        ] {
            assert_eq!(
                utc_date(text).map(|d| d.to_string()),
                Some(date.into()),
                "{text}"
            );
        }
        for bad in [
            "30/05/2025",
            "2025-5-30",
            "2025-05-30T25",
            "2025-13-01",
            "soon",
            "2025-05-30T10:00:00+1",
        ] {
            assert_eq!(utc_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn paths_name_item_and_keys() {
        let v = serde_json::json!({"A": [{"B": 1}]});
        let root = At::root(&v, "[2]");
        let a = root.field("A");
        let first = a.index(0);
        let b = first.field("B");
        assert_eq!(b.path(), "[2].A[0].B");
        assert_eq!(
            b.text().unwrap_err().to_string(),
            "[2].A[0].B: 1 is not a text"
        );
    }
}
