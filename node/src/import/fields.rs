//! Header aliases: each record field and the header names that mean it, in cosell's own files
//! and in CRM exports (Salesforce, HubSpot, Pipedrive, Dynamics 365, Zoho).

/// One record field and the header names that mean it. Aliases compare case-insensitively and
/// ignoring everything but letters and digits, so `Close Date`, `close_date` and `CloseDate` are
/// one name.
pub(super) struct FieldSpec {
    /// The canonical field name (first alias too).
    pub(super) name: &'static str,
    /// What the field is, for "no column for …" messages.
    pub(super) what: &'static str,
    /// Header names, canonical first, then Salesforce, HubSpot and API names.
    pub(super) aliases: &'static [&'static str],
}

/// Account fields, indexing [`ACCOUNT_FIELDS`].
#[derive(Clone, Copy)]
pub(super) enum A {
    ExternalId,
    Name,
    Domain,
    Industry,
    Country,
    Status,
    Owner,
    Tags,
}

pub(super) const ACCOUNT_FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "external_id",
        what: "the account's CRM id",
        aliases: &[
            "external_id",
            "Account ID",
            "Record ID",
            "Company ID",
            "id",
            "hs_object_id",
            "Organization - ID",
            "(Do Not Modify) Account",
        ],
    },
    FieldSpec {
        name: "name",
        what: "the account name",
        aliases: &[
            "name",
            "Account Name",
            "Company name",
            "Company",
            "Account",
            "Organization",
            "Organization Name",
            "Organisation",
            "Organisation Name",
            "Company Name (Primary)",
        ],
    },
    FieldSpec {
        name: "domain",
        what: "the domain",
        aliases: &[
            "domain",
            "Website",
            "Company Domain Name",
            "Website URL",
            "Domain Name",
            "Company Domain",
            "Account Domain",
            "Account Website",
            "Organization - Website",
            "Website Address",
        ],
    },
    FieldSpec {
        name: "industry",
        what: "the industry",
        aliases: &["industry", "Account Industry", "Organization - Industry"],
    },
    FieldSpec {
        name: "country",
        what: "the country",
        aliases: &[
            "country",
            "Billing Country",
            "Country/Region",
            "Shipping Country",
            "Billing Country/Region",
            "Address 1: Country/Region",
            "Address 1: Country",
            "Organization - Country",
            "Organization - Address - Country",
        ],
    },
    FieldSpec {
        name: "status",
        what: "the account status",
        aliases: &[
            "status",
            "Type",
            "Account Type",
            "Lifecycle Stage",
            "Company Type",
            "Account Status",
            "Relationship Type",
        ],
    },
    FieldSpec {
        name: "owner",
        what: "the owner",
        aliases: &[
            "owner",
            "Account Owner",
            "Company owner",
            "Owner Name",
            "Organization - Owner",
        ],
    },
    FieldSpec {
        name: "tags",
        what: "the tags",
        aliases: &[
            "tags",
            "Labels",
            "Tag",
            "Organization - Labels",
            "Organization - Label",
        ],
    },
];

/// Opportunity fields, indexing [`OPPORTUNITY_FIELDS`].
#[derive(Clone, Copy)]
pub(super) enum O {
    ExternalId,
    AccountExternalId,
    AccountDomain,
    AccountName,
    Name,
    Stage,
    Amount,
    Currency,
    CloseDate,
    Owner,
    NextStep,
    Description,
    Tags,
    Outcome,
}

pub(super) const OPPORTUNITY_FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "external_id",
        what: "the opportunity's CRM id",
        aliases: &[
            "external_id",
            "Opportunity ID",
            "Deal ID",
            "Record ID",
            "id",
            "hs_object_id",
            "(Do Not Modify) Opportunity",
        ],
    },
    FieldSpec {
        name: "account_external_id",
        what: "the account's CRM id",
        aliases: &[
            "account_external_id",
            "Account ID",
            "Company ID",
            "Associated Company IDs",
            "Associated Company ID",
            "Associated Company IDs (Primary)",
            "Organization - ID",
            "Deal - Organization ID",
        ],
    },
    FieldSpec {
        name: "account_domain",
        what: "the account domain",
        aliases: &[
            "account_domain",
            "Website",
            "Account Website",
            "Company Domain Name",
            "Company Domain",
            "Domain",
            "Website URL",
            "Organization - Website",
        ],
    },
    FieldSpec {
        name: "account_name",
        what: "the account name",
        aliases: &[
            "account_name",
            "Account",
            "Company name",
            "Company",
            "Associated Company",
            "Associated Company (Primary)",
            "Associated Company Name",
            "Organization",
            "Organization - Name",
            "Deal - Organization",
            "Potential Customer",
        ],
    },
    FieldSpec {
        name: "name",
        what: "the opportunity name",
        aliases: &[
            "name",
            "Opportunity Name",
            "Deal Name",
            "Opportunity",
            "Deal",
            "Deal - Title",
            "Title",
            "Topic",
            "Potential Name",
        ],
    },
    FieldSpec {
        name: "stage",
        what: "the stage",
        aliases: &[
            "stage",
            "Deal Stage",
            "Stage Name",
            "Opportunity Stage",
            "Sales Stage",
            "Pipeline Phase",
        ],
    },
    FieldSpec {
        name: "amount",
        what: "the amount",
        aliases: &[
            "amount",
            "Deal Amount",
            "Opportunity Amount",
            "Deal - Value",
            "Value",
            "Est. Revenue",
            "Estimated Revenue",
        ],
    },
    FieldSpec {
        name: "currency",
        what: "the currency",
        aliases: &[
            "currency",
            "Opportunity Currency",
            "Amount Currency",
            "Deal Currency",
            "Deal Currency Code",
            "Currency Code",
            "CurrencyIsoCode",
            "Deal - Currency of Value",
        ],
    },
    FieldSpec {
        name: "close_date",
        what: "the close date",
        aliases: &[
            "close_date",
            "Expected Close Date",
            "Closing Date",
            "Deal - Expected close date",
            "Est. Close Date",
            "Estimated Close Date",
        ],
    },
    FieldSpec {
        name: "owner",
        what: "the owner",
        aliases: &[
            "owner",
            "Opportunity Owner",
            "Deal Owner",
            "Owner Name",
            "Owner Full Name",
            "Potential Owner",
        ],
    },
    FieldSpec {
        name: "next_step",
        what: "the next step",
        aliases: &["next_step", "Next Steps", "Deal - Next activity subject"],
    },
    FieldSpec {
        name: "description",
        what: "the description",
        aliases: &[
            "description",
            "Opportunity Description",
            "Deal Description",
            "Deal - Notes",
        ],
    },
    FieldSpec {
        name: "tags",
        what: "the tags",
        aliases: &["tags", "Labels", "Tag", "Deal - Label", "Deal - Labels"],
    },
    FieldSpec {
        name: "status",
        what: "the deal status (open, won or lost)",
        aliases: &["status", "Deal - Status", "Opportunity Status"],
    },
];

/// Whether a line, mapped as a header of an accounts file, names what every account row needs:
/// its name. The line that does is the header (see
/// [`Rows::read_header`](super::rows::Rows::read_header)).
pub(super) fn names_an_account(columns: &[Option<usize>]) -> bool {
    columns[A::Name as usize].is_some()
}

/// The account columns of an opportunities file: its id, domain and name.
pub(super) const ACCOUNT_REFERENCES: [O; 3] =
    [O::AccountExternalId, O::AccountDomain, O::AccountName];

/// Whether a line, mapped as a header of an opportunities file, names the opportunity's name
/// and an account column (id, domain or name), as
/// [`read_opportunities_with`](super::reader::read_opportunities_with) requires. (The stage is
/// checked after: a header without one is then refused naming its own line.)
pub(super) fn names_an_opportunity(columns: &[Option<usize>]) -> bool {
    columns[O::Name as usize].is_some()
        && ACCOUNT_REFERENCES
            .iter()
            .any(|&f| columns[f as usize].is_some())
}

pub(super) fn present_fields(columns: &[Option<usize>], fields: &[FieldSpec]) -> Vec<&'static str> {
    fields
        .iter()
        .zip(columns)
        .filter(|(_, c)| c.is_some())
        .map(|(f, _)| f.name)
        .collect()
}
