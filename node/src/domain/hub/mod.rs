//! Hub interchange: AWS ACE opportunities (Partner Central Selling API) and Microsoft Partner
//! Center referrals, both ways (docs/hubs.md). A hub's JSON is read into this node's records
//! ([`ace`], [`ms`]: pure mapping, every problem naming the item and JSON path), written all or
//! nothing ([`write`]); an opportunity is exported as the hub's JSON and checked against the
//! hub's published model ([`ace::validate`], [`ms::validate`]) before anyone sees it.
//! Invitations from a hub (ACE opportunity invitations, incoming MS referrals) wait in the
//! inbox until accepted (the opportunity is created) or declined ([`invitations`]).

pub mod ace;
pub mod invitations;
pub mod ms;
pub mod path;
#[cfg(test)]
mod tests;
pub mod write;

pub use path::Problem;
use protocol::records::{Account, Opportunity};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The hubs cosell exchanges with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Hub {
    /// AWS Partner Central ("ACE").
    Ace,
    /// Microsoft Partner Center referrals.
    Ms,
}

impl Hub {
    /// Every hub.
    pub const ALL: [Hub; 2] = [Hub::Ace, Hub::Ms];

    /// `ace` or `ms`, as the CLI and the routes name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Hub::Ace => "ace",
            Hub::Ms => "ms",
        }
    }

    /// `ace` or `ms` (any case).
    pub fn parse(s: &str) -> Result<Hub, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ace" | "aws" => Ok(Hub::Ace),
            "ms" | "microsoft" => Ok(Hub::Ms),
            _ => Err(format!("'{s}' is no hub (ace or ms)")),
        }
    }
}

/// Where an opportunity came from in a hub: shown as `source` on the opportunity and kept for
/// the export (the hub's id and concurrency token go back unchanged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// `ace` or `ms`.
    pub format: Hub,
    /// The hub's id (ACE `Id` or invitation id, MS referral `id`).
    pub external_id: String,
    /// ACE `LastModifiedDate` / snapshot `Revision`, MS `eTag`.
    pub version: Option<String>,
    /// Hub fields with no place in the internal model that the export needs back (ACE
    /// `Catalog`, `ClosedLostReason`, `OpportunityType`; MS `type`, `consent`,
    /// `statusReason`, ...).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

/// An invitation from a hub, held back from the records until this node accepts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationFrom {
    /// Who sends it (ACE `SenderCompanyName`, else "AWS"; MS "Microsoft").
    pub from: String,
    /// When it was sent, as the hub wrote it.
    pub invited_at: Option<String>,
    /// When it expires, as the hub wrote it.
    pub expires_at: Option<String>,
}

/// One item of a hub file as this node's records. Ids are empty: [`write`] assigns or finds
/// them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    /// The customer's account.
    pub account: Account,
    /// The opportunity (`external_id`: the partner's own CRM id the hub carries).
    pub opportunity: Opportunity,
    /// Where it came from.
    pub source: Source,
    /// `Some` when the item is an invitation to answer, not a record to import.
    pub invitation: Option<InvitationFrom>,
}

/// The items of a hub file: one object or an array of them.
pub fn items(document: &Value) -> Vec<&Value> {
    match document {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

/// Reads every item of a hub file, or every problem (each naming item and path).
pub fn read(hub: Hub, document: &Value) -> Result<Vec<Mapped>, Vec<Problem>> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (i, item) in items(document).into_iter().enumerate() {
        let path = format!("[{i}]");
        let read = match hub {
            Hub::Ace => ace::read(item, &path),
            Hub::Ms => ms::read(item, &path),
        };
        match read {
            Ok(m) => out.push(m),
            Err(mut p) => problems.append(&mut p),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// The opportunity as the hub's JSON, valid against the hub's model, or what the model
/// requires that the record lacks (paths in the hub's JSON).
pub fn export(
    hub: Hub,
    opportunity: &Opportunity,
    account: &Account,
    source: Option<&Source>,
) -> Result<Value, Vec<Problem>> {
    let source = source.filter(|s| s.format == hub);
    let value = match hub {
        Hub::Ace => ace::write(opportunity, account, source),
        Hub::Ms => ms::write(opportunity, account, source),
    };
    let problems = match hub {
        Hub::Ace => ace::validate(&value),
        Hub::Ms => ms::validate(&value),
    };
    if problems.is_empty() {
        Ok(value)
    } else {
        Err(problems)
    }
}

/// An empty account and opportunity to fill from a hub item.
fn blank_records() -> (Account, Opportunity) {
    (
        Account {
            id: String::new(),
            external_id: None,
            name: String::new(),
            domain: None,
            industry: None,
            country: None,
            status: protocol::records::AccountStatus::Prospect,
            owner: None,
            tags: Vec::new(),
        },
        Opportunity {
            id: String::new(),
            external_id: None,
            account_id: String::new(),
            name: String::new(),
            stage: protocol::records::Stage::Prospect,
            amount: None,
            currency: None,
            close_date: None,
            owner: None,
            next_step: None,
            description: None,
            tags: Vec::new(),
        },
    )
}

/// Collects the problems of reading one item: `take(result)` keeps the value or notes the
/// problem, so one pass reports every bad field of the item.
#[derive(Default)]
struct Collect(Vec<Problem>);

impl Collect {
    fn take<T: Default>(&mut self, r: Result<T, Problem>) -> T {
        r.unwrap_or_else(|p| {
            self.0.push(p);
            T::default()
        })
    }
    fn push(&mut self, p: Problem) {
        self.0.push(p);
    }
}

/// Checks the mapped records as the store would (lengths, texts), naming `path` for each field.
fn check_records(account: &Account, opportunity: &Opportunity, path: &str, c: &mut Collect) {
    if let Err(e) = account.validate() {
        c.push(Problem {
            path: path.to_string(),
            message: format!("the account's {}: {}", e.field, e.message),
        });
    }
    if let Err(e) = opportunity.validate() {
        c.push(Problem {
            path: path.to_string(),
            message: format!("the opportunity's {}: {}", e.field, e.message),
        });
    }
}

/// Whether `s` is an e-mail address as both hubs take one (`local@domain.tld`, no spaces).
fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && !domain.contains('@')
}

/// The ISO 3166-1 alpha-2 code (upper case) for a country as the CRM wrote it, if it names one.
fn country_code(country: &str) -> Option<String> {
    let code = policy::country::canonical(country);
    (code.len() == 2
        && code.bytes().all(|b| b.is_ascii_lowercase())
        && policy::country::is_country(&code))
    .then(|| code.to_ascii_uppercase())
}
