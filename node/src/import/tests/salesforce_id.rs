//! Salesforce ids in their two forms.

use super::*;

#[test]
fn a_salesforce_id_has_a_15_and_an_18_character_form() {
    assert_eq!(
        salesforce_id_other_form("0015000000Gv7qJ").as_deref(),
        Some("0015000000Gv7qJAAR")
    );
    assert_eq!(
        salesforce_id_other_form("0015000000Gv7qJAAR").as_deref(),
        Some("0015000000Gv7qJ")
    );
    // The suffix is case-insensitive; a wrong one is not a Salesforce id.
    assert_eq!(
        salesforce_id_other_form("0015000000Gv7qJaar").as_deref(),
        Some("0015000000Gv7qJ")
    );
    assert_eq!(salesforce_id_other_form("0015000000Gv7qJAAA"), None);
    // An 18-character id upper- or lower-cased by a spreadsheet: its suffix restores the
    // case (bug: it linked to nothing).
    for flattened in ["0015000000GV7QJAAR", "0015000000gv7qjaar"] {
        assert_eq!(
            salesforce_case_restored(flattened).as_deref(),
            Some("0015000000Gv7qJ"),
            "{flattened}"
        );
        assert_eq!(
            salesforce_id_other_form(flattened).as_deref(),
            Some("0015000000Gv7qJ")
        );
    }
    // A suffix that marks a digit as a capital is no Salesforce checksum.
    assert_eq!(salesforce_case_restored("0015000000GV7QJBAR"), None);
    assert_eq!(salesforce_id_other_form("ACC000000001"), None);
    assert_eq!(salesforce_id_other_form("0015000000-v7qJ"), None);
}
