//! The header mapped: which column holds which field, and what a header says beyond that (a
//! unit: `Amount (USD)`, `Close Date (DD/MM/YYYY)`).

use super::currency::CURRENCY_MARKS;
use super::date::DateOrder;
use super::fields::{FieldSpec, ACCOUNT_FIELDS, OPPORTUNITY_FIELDS};
use protocol::records::Currency;
use std::collections::HashMap;
use std::sync::LazyLock;

/// What a header says beyond which field its column holds: `Amount (USD)`, `Close Date
/// (DD/MM/YYYY)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unit {
    Currency(Currency),
    /// A currency symbol that names no single currency (`Amount ($)`): the cells decide.
    Symbol,
    Dates(DateOrder),
    /// `Close Date (UTC)`: dates are read as written anyway.
    TimeZone,
}

/// The header mapped: each field's column, the columns no field uses, and the amount column's
/// currency and the close date column's date order when their headers name them.
pub(super) struct Header {
    pub(super) columns: Vec<Option<usize>>,
    pub(super) ignored: Vec<String>,
    /// (field, column) of each further column naming a field already mapped (not read).
    pub(super) doubles: Vec<(usize, usize)>,
    pub(super) currency: Option<Currency>,
    pub(super) date_order: Option<DateOrder>,
}

/// One kind of record's fields with each alias's [`header_key`] and the field it names (the
/// first field naming it, as aliases are listed): one lookup per header column, so mapping a
/// header costs time linear in its columns however many aliases there are (a CRM export can
/// have thousands of columns). Built once per process ([`ACCOUNT_HEADERS`],
/// [`OPPORTUNITY_HEADERS`]): opening a file maps up to [`HEADER_SEARCH_LINES`] candidate lines
/// twice (separator, then header), and building the table for each was most of what opening a
/// small file cost.
///
/// [`HEADER_SEARCH_LINES`]: super::rows::HEADER_SEARCH_LINES
pub(super) struct Aliases {
    pub(super) fields: &'static [FieldSpec],
    keys: HashMap<String, usize>,
}

/// The account fields' [`Aliases`].
pub(super) static ACCOUNT_HEADERS: LazyLock<Aliases> =
    LazyLock::new(|| Aliases::new(ACCOUNT_FIELDS));

/// The opportunity fields' [`Aliases`].
pub(super) static OPPORTUNITY_HEADERS: LazyLock<Aliases> =
    LazyLock::new(|| Aliases::new(OPPORTUNITY_FIELDS));

impl Aliases {
    fn new(fields: &'static [FieldSpec]) -> Aliases {
        let mut keys = HashMap::new();
        for (f, spec) in fields.iter().enumerate() {
            for alias in spec.aliases {
                keys.entry(header_key(alias)).or_insert(f);
            }
        }
        Aliases { fields, keys }
    }

    /// The field a header key names.
    fn find(&self, key: &str) -> Option<usize> {
        self.keys.get(key).copied()
    }
}

/// Maps each field to the first header column that names it; other columns are ignored. A
/// header with a unit in parentheses or brackets (`Amount (USD)`, `Close Date [DD/MM/YYYY]`)
/// maps like its name without it when the unit is a currency code (amount) or a date format
/// (close date); other suffixes (`Amount (converted)`) are not guessed at.
pub(super) fn map_header(headers: &[String], aliases: &Aliases) -> Header {
    let fields = aliases.fields;
    let mut header = Header {
        columns: vec![None; fields.len()],
        ignored: Vec::new(),
        doubles: Vec::new(),
        currency: None,
        date_order: None,
    };
    let find = |key: &str| aliases.find(key);
    for (i, text) in headers.iter().enumerate() {
        let key = header_key(text);
        if key.is_empty() {
            // A column with no header text carries nothing we could name; skip it quietly.
            continue;
        }
        // The unit first: `Amount (€)` compares as `Amount` (a symbol is no letter).
        let mut unit = None;
        let mut field = None;
        if let Some((name, u)) = split_unit(text) {
            let f = find(&header_key(name));
            let name = f.map(|f| fields[f].name);
            if let (Some("amount"), Unit::Currency(_) | Unit::Symbol)
            | (Some("close_date"), Unit::Dates(_) | Unit::TimeZone) = (name, u)
            {
                field = f;
                unit = Some(u);
            }
        }
        let field = field.or_else(|| find(&key).or_else(|| qualified_field(text, aliases)));
        match field {
            Some(f) if header.columns[f].is_none() => {
                header.columns[f] = Some(i);
                match unit {
                    Some(Unit::Currency(c)) => header.currency = Some(c),
                    Some(Unit::Dates(d)) => header.date_order = Some(d),
                    Some(Unit::Symbol | Unit::TimeZone) | None => {}
                }
            }
            Some(f) => {
                header.doubles.push((f, i));
                header.ignored.push(text.clone());
            }
            None => header.ignored.push(text.clone()),
        }
    }
    header
}

/// `Amount (USD)` → (`Amount`, USD); `Close Date [DD/MM/YYYY]` → (`Close Date`, day first).
pub(super) fn split_unit(header: &str) -> Option<(&str, Unit)> {
    let h = header.trim_end();
    let close = h.chars().last()?;
    let open = match close {
        ')' => '(',
        ']' => '[',
        _ => return None,
    };
    let (name, unit) = h[..h.len() - 1].rsplit_once(open)?;
    let unit = unit.trim();
    let symbol = CURRENCY_MARKS.iter().find(|(mark, _)| *mark == unit);
    let parsed = if let Some((_, code)) = symbol {
        match code.and_then(Currency::from_code) {
            Some(c) => Unit::Currency(c),
            None => Unit::Symbol,
        }
    } else if ["UTC", "GMT", "Z"]
        .iter()
        .any(|z| unit.eq_ignore_ascii_case(z))
    {
        Unit::TimeZone
    } else if unit.len() == 3 && unit.bytes().all(|b| b.is_ascii_alphabetic()) {
        Unit::Currency(Currency::from_code(unit)?)
    } else {
        Unit::Dates(DateOrder::from_format(unit)?)
    };
    Some((name, parsed))
}

/// A Salesforce custom report type names each column `Object: Field` (`Account: Account
/// Name`, `Opportunity Owner: Full Name`). When the whole header names no field, this maps
/// the field part: of the file's own object (`Account:` in an accounts file, `Opportunity:` or
/// `Deal:` in an opportunities file); the owner's name (`Opportunity Owner: Full Name`, but not
/// `Account Owner: …` in an opportunities file, which is not the opportunity's owner); and in an
/// opportunities file the account's name, id or website (`Account: Website`, `Account Name:
/// Account Name`). Other objects' fields (`Parent Account: Account Name`, `Account: Industry`
/// in an opportunities file) are not the record's own and stay ignored.
fn qualified_field(header: &str, aliases: &Aliases) -> Option<usize> {
    let fields = aliases.fields;
    let (object, field) = header.split_once(':')?;
    let (object, field) = (header_key(object), header_key(field));
    let position = |name: &str| fields.iter().position(|f| f.name == name);
    let find = |key: &str| aliases.find(key);
    let opportunities = position("account_name").is_some();
    let (own, owners): (&[&str], &[&str]) = if opportunities {
        (
            &["opportunity", "deal"],
            &["opportunityowner", "dealowner", "owner"],
        )
    } else {
        (
            &["account", "accountname", "company", "organization"],
            &["accountowner", "companyowner", "owner"],
        )
    };
    if own.contains(&object.as_str()) {
        return find(&field);
    }
    if owners.contains(&object.as_str()) {
        return matches!(field.as_str(), "fullname" | "name").then(|| position("owner"))?;
    }
    let accounts = [
        "account",
        "accountname",
        "company",
        "associatedcompany",
        "organization",
    ];
    if opportunities && accounts.contains(&object.as_str()) {
        let name = match field.as_str() {
            "name" | "accountname" | "companyname" | "organizationname" => "account_name",
            "id" | "accountid" | "companyid" | "recordid" => "account_external_id",
            _ => {
                let f = find(&field)?;
                let name = fields[f].name;
                ["account_domain", "account_name", "account_external_id"]
                    .contains(&name)
                    .then_some(name)?
            }
        };
        return position(name);
    }
    None
}

/// "no column for …" for each required field without a column, joined; empty when none.
pub(super) fn missing(
    columns: &[Option<usize>],
    fields: &[FieldSpec],
    required: &[usize],
) -> String {
    required
        .iter()
        .filter(|&&f| columns[f].is_none())
        .map(|&f| {
            let spec = &fields[f];
            let examples: Vec<&str> = spec.aliases.iter().take(4).copied().collect();
            format!(
                "no column for {} (expected one of: {}, …)",
                spec.what,
                examples.join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A header's comparison key: lowercase letters and digits only.
pub(super) fn header_key(header: &str) -> String {
    header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}
