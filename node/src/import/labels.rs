//! Label tables (stages, statuses): CRM stage and status labels mapped to ACE stages and
//! account statuses, compared ignoring case and everything but letters and digits.

use super::cells::is_padding;
use super::header::header_key;
use protocol::records::{AccountStatus, Stage};
use std::sync::OnceLock;

/// Maps a CRM stage label to an ACE stage: ACE names in any case or spacing, Salesforce's default
/// opportunity stages, HubSpot's default deal stages (labels and internal ids), and `Won`/`Lost`.
/// The table is in docs/import.md.
pub fn map_stage(label: &str) -> Result<Stage, String> {
    static TABLE: OnceLock<Vec<(Box<[u8]>, Stage)>> = OnceLock::new();
    let table = TABLE.get_or_init(|| normalized_table(STAGE_LABELS));
    // HubSpot can suffix the pipeline: `Closed Won (Sales Pipeline)`.
    let without_pipeline = label
        .trim_end()
        .strip_suffix(')')
        .and_then(|s| s.rsplit_once('('))
        .map(|(stage, _)| stage);
    let found = lookup(table, label)
        .or_else(|| lookup(table, without_pipeline?))
        .or_else(|| lookup(table, strip_stage_probability(label)?))
        .or_else(|| {
            lookup(
                table,
                strip_stage_number(without_pipeline.unwrap_or(label))?,
            )
        });
    found.ok_or_else(|| {
        let label = label.trim();
        // A custom HubSpot pipeline's stages export as numeric ids unless labels are chosen.
        let hint = if !label.is_empty() && label.bytes().all(|b| b.is_ascii_digit()) {
            "; a number is a custom pipeline's stage id (HubSpot): export the stage labels, or \
             replace the ids with the stages they stand for"
        } else {
            ""
        };
        format!(
            "'{label}' is not a known stage (use an ACE stage: prospect, qualified, \
             technical_validation, business_validation, committed, launched, closed_lost; \
             or a Salesforce, HubSpot, Pipedrive, Dynamics or Zoho default stage){hint}"
        )
    })
}

/// `Closed Won - 100%`, `Prospecting 10%` → the name before the probability; `None` when there
/// is no such suffix.
fn strip_stage_probability(label: &str) -> Option<&str> {
    let s = label.trim_end().strip_suffix('%')?.trim_end();
    let rest = s.trim_end_matches(|c: char| c.is_ascii_digit());
    if rest.len() == s.len() {
        return None;
    }
    let rest = rest
        .trim_end_matches(|c: char| c.is_whitespace() || matches!(c, '-' | ':' | '|' | '–' | '—'));
    (!rest.is_empty()).then_some(rest)
}

/// `1 - Prospecting`, `Stage 3: Proposal`, `10% - Prospecting`, `2-Develop` → the name after the
/// number; `None` when there is no such prefix or nothing after it.
fn strip_stage_number(label: &str) -> Option<&str> {
    let s = label.trim_start();
    let s = match s.get(..5) {
        Some(word) if word.eq_ignore_ascii_case("stage") => s[5..].trim_start(),
        _ => s,
    };
    let rest = s.trim_start_matches(|c: char| c.is_ascii_digit());
    if rest.len() == s.len() {
        return None;
    }
    let rest = rest.trim_start_matches(|c: char| {
        c.is_whitespace() || matches!(c, '%' | '-' | ':' | '.' | ')' | '–' | '—' | '_' | '|')
    });
    (!rest.is_empty() && rest.starts_with(|c: char| c.is_alphabetic())).then_some(rest)
}

/// A deal status column (Pipedrive's `Deal - Status`, Dynamics' `Status`): `won` and `lost` set
/// the stage; `open` (or empty) leaves it to the stage column.
pub(super) fn map_outcome(label: &str) -> Result<Option<Stage>, String> {
    match label.trim().to_ascii_lowercase().as_str() {
        "won" | "closed won" | "closed-won" => Ok(Some(Stage::Launched)),
        "lost" | "closed lost" | "closed-lost" => Ok(Some(Stage::ClosedLost)),
        "open" | "active" | "in progress" => Ok(None),
        _ => Err(format!(
            "'{}' is not a deal status (expected open, won or lost)",
            label.trim()
        )),
    }
}

/// Maps a CRM account type or lifecycle stage to an account status: the contract's names,
/// Salesforce account types, HubSpot lifecycle stages and company types. The table is in
/// docs/import.md.
pub fn map_status(label: &str) -> Result<AccountStatus, String> {
    static TABLE: OnceLock<Vec<(Box<[u8]>, AccountStatus)>> = OnceLock::new();
    lookup(TABLE.get_or_init(|| normalized_table(STATUS_LABELS)), label).ok_or_else(|| {
        format!(
            "'{}' is not a known account status (use customer, prospect, partner or other, \
             a Salesforce account type or a HubSpot lifecycle stage)",
            label.trim()
        )
    })
}

/// An accounts file's status cell: [`map_status`], except that `Active` and `Inactive` (the
/// record's state, as Dynamics 365 exports it in its `Status` column) are no status at all.
pub(super) fn account_status(label: &str) -> Result<Option<AccountStatus>, String> {
    let state = label.trim();
    if state.eq_ignore_ascii_case("active") || state.eq_ignore_ascii_case("inactive") {
        return Ok(None);
    }
    map_status(label).map(Some)
}

/// ACE stage for each label [`map_stage`] accepts (compared case-insensitively, ignoring
/// everything but letters and digits). Public so docs and tests can list it.
pub const STAGE_LABELS: &[(&str, Stage)] = &[
    // ACE (cosell's own names).
    ("prospect", Stage::Prospect),
    ("qualified", Stage::Qualified),
    ("technical_validation", Stage::TechnicalValidation),
    ("business_validation", Stage::BusinessValidation),
    ("committed", Stage::Committed),
    ("launched", Stage::Launched),
    ("closed_lost", Stage::ClosedLost),
    // Salesforce default opportunity stages.
    ("Prospecting", Stage::Prospect),
    ("Qualification", Stage::Qualified),
    ("Needs Analysis", Stage::Qualified),
    ("Value Proposition", Stage::TechnicalValidation),
    ("Id. Decision Makers", Stage::TechnicalValidation),
    ("Perception Analysis", Stage::BusinessValidation),
    ("Proposal/Price Quote", Stage::BusinessValidation),
    ("Negotiation/Review", Stage::Committed),
    ("Closed Won", Stage::Launched),
    // ("Closed Lost" is the ACE name already.)
    // HubSpot default deal stages; the internal ids normalize to the same keys as the labels
    // (appointmentscheduled, qualifiedtobuy, …, closedwon, closedlost).
    ("Appointment Scheduled", Stage::Prospect),
    ("Qualified To Buy", Stage::Qualified),
    ("Presentation Scheduled", Stage::TechnicalValidation),
    ("Decision Maker Bought-In", Stage::BusinessValidation),
    ("Contract Sent", Stage::Committed),
    // Other CRMs' won/lost.
    ("Won", Stage::Launched),
    ("Lost", Stage::ClosedLost),
    ("Closed Lost to Competition", Stage::ClosedLost),
    // Zoho CRM default stages (the others are Salesforce's names).
    ("Identify Decision Makers", Stage::TechnicalValidation),
    // Pipedrive default pipeline.
    ("Lead In", Stage::Prospect),
    ("Contact Made", Stage::Qualified),
    ("Demo Scheduled", Stage::TechnicalValidation),
    ("Needs Defined", Stage::TechnicalValidation),
    ("Proposal Made", Stage::BusinessValidation),
    ("Negotiations Started", Stage::Committed),
    // Dynamics 365 sales process stages (`1-Qualify` … `4-Close` in Pipeline Phase).
    ("Qualify", Stage::Qualified),
    ("Develop", Stage::TechnicalValidation),
    ("Propose", Stage::BusinessValidation),
    ("Close", Stage::Committed),
    // Common custom pipeline names.
    ("Discovery", Stage::Qualified),
    ("Demo", Stage::TechnicalValidation),
    ("Proposal", Stage::BusinessValidation),
    ("Negotiation", Stage::Committed),
];

/// Account status for each label [`map_status`] accepts (compared like [`STAGE_LABELS`]).
pub const STATUS_LABELS: &[(&str, AccountStatus)] = &[
    // cosell's own names.
    ("customer", AccountStatus::Customer),
    ("prospect", AccountStatus::Prospect),
    ("partner", AccountStatus::Partner),
    ("other", AccountStatus::Other),
    // Salesforce account types.
    ("Customer - Direct", AccountStatus::Customer),
    ("Customer - Channel", AccountStatus::Customer),
    ("Channel Partner / Reseller", AccountStatus::Partner),
    ("Installation Partner", AccountStatus::Partner),
    ("Technology Partner", AccountStatus::Partner),
    // HubSpot lifecycle stages (labels and internal ids normalize alike).
    ("Subscriber", AccountStatus::Prospect),
    ("Lead", AccountStatus::Prospect),
    ("Marketing Qualified Lead", AccountStatus::Prospect),
    ("Sales Qualified Lead", AccountStatus::Prospect),
    ("MQL", AccountStatus::Prospect),
    ("SQL", AccountStatus::Prospect),
    ("Opportunity", AccountStatus::Prospect),
    ("Evangelist", AccountStatus::Customer),
    // HubSpot company types.
    ("Reseller", AccountStatus::Partner),
    ("Vendor", AccountStatus::Other),
    // Zoho account types and Dynamics relationship types.
    ("Distributor", AccountStatus::Partner),
    ("Integrator", AccountStatus::Partner),
    ("Analyst", AccountStatus::Other),
    ("Competitor", AccountStatus::Other),
    ("Investor", AccountStatus::Other),
    ("Press", AccountStatus::Other),
    ("Consultant", AccountStatus::Other),
    ("Influencer", AccountStatus::Other),
    ("Supplier", AccountStatus::Other),
];

/// Longest label key compared; longer cells match nothing.
const LABEL_KEY_BYTES_MAX: usize = 64;

/// Labels normalized for [`lookup`].
pub(super) type LabelTable<T> = Vec<(Box<[u8]>, T)>;

pub(super) fn normalized_table<T: Copy>(labels: &[(&str, T)]) -> LabelTable<T> {
    labels
        .iter()
        .map(|(label, value)| (header_key(label).into_bytes().into_boxed_slice(), *value))
        .collect()
}

/// Finds `label` in a normalized table without allocating: the key (ASCII letters and digits,
/// lowercased) is built on the stack. Non-ASCII spaces and invisible characters (`Closed\u{a0}Won`,
/// as copy-paste from a web page writes it) separate words like ASCII punctuation; any other
/// non-ASCII character (`Qualifié`) matches nothing.
pub(super) fn lookup<T: Copy>(table: &[(Box<[u8]>, T)], label: &str) -> Option<T> {
    let mut key = [0u8; LABEL_KEY_BYTES_MAX];
    let mut n = 0;
    for c in label.chars() {
        if c.is_ascii_alphanumeric() {
            *key.get_mut(n)? = c.to_ascii_lowercase() as u8;
            n += 1;
        } else if !c.is_ascii() && !is_padding(c) {
            return None;
        }
    }
    table
        .iter()
        .find(|(k, _)| **k == key[..n])
        .map(|&(_, value)| value)
}
