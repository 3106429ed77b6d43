//! Commented policy files an admin starts from (`cosell policy init --template NAME`).

/// The names of the built-in templates.
pub const NAMES: [&str; 3] = ["minimal", "reseller", "si"];

/// The TOML text of a built-in template, or `None` for an unknown name.
pub fn get(name: &str) -> Option<&'static str> {
    match name {
        "minimal" => Some(MINIMAL),
        "reseller" => Some(RESELLER),
        "si" => Some(SI),
        _ => None,
    }
}

const MINIMAL: &str = r#"# cosell policy: what this node shares with one partner.
# Everything not named here stays on this node. This template shares the least that makes
# co-selling possible: which account a deal is on, its stage, and a rough size and timing.
version = 1

[opportunities]
# The fields a partner receives. Add "next_step" or "description" only if you mean to share
# that free text: it is never sent unless named here.
fields = ["name", "stage", "close_date", "amount", "currency", "account.name", "account.domain"]
# Only deals that are being worked, not early prospects or finished ones.
stages = ["qualified", "technical_validation", "business_validation", "committed"]
# A range instead of the exact amount: "0-50000", "50000-250000", "250000+".
amount = { buckets = [0, 50000, 250000] }
# The quarter instead of the exact day: "2026-Q3".
close_date = "quarter"

[accounts]
# Account mapping: hidden | counts | overlaps | all. "counts" reveals only how many accounts
# you have in common, never which.
sharing = "counts"
statuses = ["customer", "prospect"]
fields = ["name", "domain"]
"#;

const RESELLER: &str = r#"# cosell policy for a reseller that transacts the deals it co-sells with us.
# A reseller needs enough to quote and close: amounts (rounded), timing, owner and next step.
version = 1

[opportunities]
fields = [
  "name", "stage", "amount", "currency", "close_date", "owner", "next_step",
  "account.name", "account.domain", "account.country", "account.industry",
]
# Deals from qualification on; lost deals stay private.
stages = ["qualified", "technical_validation", "business_validation", "committed", "launched"]
# Only deals worth a reseller's time, and only in the countries it covers.
amount_min = 10000
countries = ["US", "CA"]
# Deals tagged "internal" never leave this node, whatever else matches.
tags_exclude = ["internal"]
# Rounded to the nearest 1,000: "124000" instead of "123456.78".
amount = { round_to = 1000 }
# Month precision: "2026-08".
close_date = "month"

[accounts]
# The reseller sees which of our customers and prospects it also works with.
sharing = "overlaps"
statuses = ["customer", "prospect"]
fields = ["name", "domain", "status", "country"]

[accounts.populations]
# Open pipeline overlaps are shared; our customer list only as a count.
customers = "counts"
prospects = "overlaps"
open_opportunities = "overlaps"
"#;

const SI: &str = r#"# cosell policy for a systems integrator (services partner) that delivers projects.
# An SI needs the technical story and the timing, not our pricing.
version = 1

[opportunities]
# No amount: services partners scope their own work. The description carries the technical
# context; next_step tells them when they are needed.
fields = [
  "name", "stage", "close_date", "next_step", "description", "tags",
  "account.name", "account.domain", "account.industry",
]
# From technical validation on, when delivery planning starts.
stages = ["technical_validation", "business_validation", "committed", "launched"]
# Only deals we flagged for services help (any of these tags).
tags_include = ["services", "migration", "implementation"]
tags_exclude = ["confidential"]
close_date = "month"

[accounts]
sharing = "overlaps"
statuses = ["customer"]
fields = ["name", "domain", "industry"]
"#;
