//! Advice on a valid policy: choices the file allows that probably do not mean what their
//! author wanted. Never errors — the policy stays exactly as written — but `policy check`,
//! `policy set` and the policy API show them, so an admin learns before a partner does.

use crate::model::{AccountPolicy, OpportunityField, OpportunityPolicy, Policy, SharingLevel};
use protocol::limits::FIELD_BYTES_MAX;

/// Sentences, one per thing worth a second look, in a stable order; empty for most policies.
pub fn advice(policy: &Policy) -> Vec<String> {
    let o = policy.opportunities();
    let mut out = Vec::new();
    if o.shares(OpportunityField::Amount) && !o.shares(OpportunityField::Currency) {
        // "Nothing not named is sent" holds for the currency too, so a partner would see
        // 250000 without knowing whether it is dollars or yen.
        out.push(
            "opportunities: \"amount\" is shared without \"currency\", so a partner sees amounts without their currency; add \"currency\" to fields if you mean to share it"
                .to_string(),
        );
    }
    let long_texts: Vec<&str> = [OpportunityField::Description, OpportunityField::NextStep]
        .into_iter()
        .filter(|&f| o.shares(f))
        .map(OpportunityField::as_str)
        .collect();
    if !long_texts.is_empty() {
        // A CRM description may hold 32,000 characters; a deal field holds 16 KiB of UTF-8.
        out.push(format!(
            "opportunities: {} longer than {} KiB (about {} Latin characters) reach partners cut, ending in \"…\"",
            long_texts.join(" and "),
            FIELD_BYTES_MAX / 1024,
            FIELD_BYTES_MAX / 1000 * 1000
        ));
    }
    out.extend(unknown_countries(o));
    out.extend(every_account_without_fields(policy.accounts()));
    out
}

/// The `countries` filter's values that name no country: an account's country is free text,
/// so such a value matches only accounts whose country reads exactly so (a typo, or a region
/// like "EMEA", shares nothing, or not what was meant).
fn unknown_countries(o: &OpportunityPolicy) -> Option<String> {
    let unknown: Vec<String> = o
        .countries
        .iter()
        .flatten()
        .filter(|c| !crate::country::is_country(c))
        .map(|c| format!("{c:?}"))
        .collect();
    let (list, verb) = match unknown.as_slice() {
        [] => return None,
        [one] => (one.clone(), "names"),
        [first @ .., last] => (format!("{} and {last}", first.join(", ")), "name"),
    };
    Some(format!(
        "opportunities: countries {list} {verb} no country (no ISO 3166 code or name), so only accounts whose country reads exactly so are shared; write an ISO code such as \"US\" or the country's name"
    ))
}

/// `all` (for every population, or one) with no account fields: every account is sent with
/// nothing in it, so the partner learns a count (which `counts` says plainly). `overlaps` with
/// no fields still tells the partner which of its own accounts overlap, so it is not pointed out.
fn every_account_without_fields(a: &AccountPolicy) -> Option<String> {
    if !a.fields().is_empty() {
        return None;
    }
    let key = if a.sharing() == SharingLevel::All {
        "sharing".to_string()
    } else {
        let population = a
            .populations
            .iter()
            .find(|(_, &level)| level == SharingLevel::All)?
            .0;
        format!("populations.{}", population.as_str())
    };
    Some(format!(
        "accounts: {key} \"all\" sends every account but fields is empty, so a partner learns how many accounts there are and nothing about them; add fields (e.g. \"name\", \"domain\") or share \"overlaps\""
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(toml: &str) -> Policy {
        Policy::from_toml(toml).expect("valid policy")
    }

    #[test]
    fn an_amount_without_its_currency_and_long_shared_texts_are_pointed_out_and_nothing_else_is() {
        let bare = policy("[opportunities]\nfields = [\"name\", \"amount\"]\n");
        let said = advice(&bare);
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(said[0].contains("without \"currency\""), "{said:?}");

        let with_currency =
            policy("[opportunities]\nfields = [\"name\", \"amount\", \"currency\"]\n");
        assert_eq!(advice(&with_currency), Vec::<String>::new());
        let no_amount = policy("[opportunities]\nfields = [\"name\", \"stage\"]\n");
        assert_eq!(advice(&no_amount), Vec::<String>::new());
        let texts = policy("[opportunities]\nfields = [\"name\", \"description\"]\n");
        let said = advice(&texts);
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(
            said[0].contains("description longer than 16 KiB"),
            "{said:?}"
        );
        assert_eq!(advice(&Policy::deny_all()), Vec::<String>::new());
    }

    #[test]
    fn a_countries_filter_naming_no_country_is_pointed_out() {
        // Bug: `countries = ["Narnia"]` was taken silently; it matches only accounts whose
        // country reads "Narnia", which is likely none.
        let odd = policy(
            "[opportunities]\nfields = [\"name\"]\ncountries = [\"US\", \"Narnia\", \"Atlantis\"]\n",
        );
        assert_eq!(
            advice(&odd),
            [
                "opportunities: countries \"Atlantis\" and \"Narnia\" name no country (no ISO \
              3166 code or name), so only accounts whose country reads exactly so are shared; \
              write an ISO code such as \"US\" or the country's name"
            ]
        );
        // Codes, names and spellings of any ISO country are countries, also those the
        // matching knows no other spelling of.
        let fine = policy(
            "[opportunities]\nfields = [\"name\"]\ncountries = [\"U.S.A.\", \"Deutschland\", \"LK\", \"Sri Lanka\", \"civ\", \"Bolivia\"]\n",
        );
        assert_eq!(advice(&fine), Vec::<String>::new());
    }

    #[test]
    fn sharing_every_account_with_no_fields_is_pointed_out() {
        let empty = policy("[accounts]\nsharing = \"all\"\n");
        assert_eq!(
            advice(&empty),
            [
                "accounts: sharing \"all\" sends every account but fields is empty, so a partner \
              learns how many accounts there are and nothing about them; add fields (e.g. \
              \"name\", \"domain\") or share \"overlaps\""
            ]
        );
        let one_population = policy(
            "[accounts]\nsharing = \"counts\"\n[accounts.populations]\ncustomers = \"all\"\n",
        );
        let said = advice(&one_population);
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(
            said[0].starts_with("accounts: populations.customers \"all\" sends"),
            "{said:?}"
        );
        for fine in [
            "[accounts]\nsharing = \"all\"\nfields = [\"name\"]\n",
            "[accounts]\nsharing = \"overlaps\"\n",
            "[accounts]\nsharing = \"counts\"\n",
        ] {
            assert_eq!(advice(&policy(fine)), Vec::<String>::new(), "{fine}");
        }
    }
}
