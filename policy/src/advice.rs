//! Advice on a valid policy: choices the file allows that probably do not mean what their
//! author wanted. Never errors — the policy stays exactly as written — but `policy check`,
//! `policy set` and the policy API show them, so an admin learns before a partner does.

use crate::model::{OpportunityField, Policy};
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
    out
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
}
