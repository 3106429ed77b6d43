//! Advice on a valid policy: choices the file allows that probably do not mean what their
//! author wanted. Never errors — the policy stays exactly as written — but `policy check`,
//! `policy set` and the policy API show them, so an admin learns before a partner does.

use crate::model::{OpportunityField, Policy};

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
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(toml: &str) -> Policy {
        Policy::from_toml(toml).expect("valid policy")
    }

    #[test]
    fn an_amount_without_its_currency_is_pointed_out_and_nothing_else_is() {
        let bare = policy("[opportunities]\nfields = [\"name\", \"amount\"]\n");
        let said = advice(&bare);
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(said[0].contains("without \"currency\""), "{said:?}");

        let with_currency =
            policy("[opportunities]\nfields = [\"name\", \"amount\", \"currency\"]\n");
        assert_eq!(advice(&with_currency), Vec::<String>::new());
        let no_amount = policy("[opportunities]\nfields = [\"name\", \"stage\"]\n");
        assert_eq!(advice(&no_amount), Vec::<String>::new());
        assert_eq!(advice(&Policy::deny_all()), Vec::<String>::new());
    }
}
