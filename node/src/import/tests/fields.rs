//! The alias tables: unambiguous, and listed in docs/import.md.

use super::*;

#[test]
fn aliases_are_unambiguous_within_each_file_kind() {
    for fields in [ACCOUNT_FIELDS, OPPORTUNITY_FIELDS] {
        let mut seen = std::collections::HashSet::new();
        for spec in fields {
            assert_eq!(spec.aliases[0], spec.name);
            for alias in spec.aliases {
                assert!(seen.insert(header_key(alias)), "{alias} appears twice");
            }
        }
    }
    for table in [
        normalized_table(STAGE_LABELS)
            .into_iter()
            .map(|(k, _)| k)
            .collect::<Vec<_>>(),
        normalized_table(STATUS_LABELS)
            .into_iter()
            .map(|(k, _)| k)
            .collect(),
    ] {
        let unique: std::collections::HashSet<_> = table.iter().collect();
        assert_eq!(unique.len(), table.len());
    }
}

#[test]
fn docs_list_every_alias_and_label() {
    let docs =
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/import.md")).to_lowercase();
    let aliases = ACCOUNT_FIELDS
        .iter()
        .chain(OPPORTUNITY_FIELDS)
        .flat_map(|f| f.aliases.iter().copied());
    let labels = STAGE_LABELS
        .iter()
        .map(|(l, _)| *l)
        .chain(STATUS_LABELS.iter().map(|(l, _)| *l));
    for name in aliases.chain(labels) {
        assert!(
            docs.contains(&name.to_lowercase()),
            "docs/import.md does not mention {name}"
        );
    }
}
