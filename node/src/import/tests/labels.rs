//! Stage and status labels.

use super::*;

#[test]
fn every_documented_stage_label_maps_in_any_case() {
    for &(label, stage) in STAGE_LABELS {
        assert_eq!(map_stage(label), Ok(stage), "{label}");
        assert_eq!(map_stage(&label.to_uppercase()), Ok(stage), "{label}");
    }
    let hubspot_internal_ids = [
        ("appointmentscheduled", Stage::Prospect),
        ("qualifiedtobuy", Stage::Qualified),
        ("presentationscheduled", Stage::TechnicalValidation),
        ("decisionmakerboughtin", Stage::BusinessValidation),
        ("contractsent", Stage::Committed),
        ("closedwon", Stage::Launched),
        ("closedlost", Stage::ClosedLost),
    ];
    for (id, stage) in hubspot_internal_ids {
        assert_eq!(map_stage(id), Ok(stage), "{id}");
    }
    for (label, stage) in [
        ("Closed Lost", Stage::ClosedLost),
        ("closed-won", Stage::Launched),
        (" Technical Validation ", Stage::TechnicalValidation),
        ("Closed won (Sales Pipeline)", Stage::Launched),
        ("Proposal / Price Quote", Stage::BusinessValidation),
    ] {
        assert_eq!(map_stage(label), Ok(stage), "{label}");
    }
    for stage in Stage::ALL {
        assert_eq!(map_stage(stage.as_str()), Ok(stage));
    }
    assert!(map_stage("Demo Done").is_err());
    assert!(map_stage("").is_err());
    assert!(map_stage("Clösed Won").is_err());
    assert!(map_stage(&"closed".repeat(40)).is_err());
}

#[test]
fn stage_numbers_and_prefixes_are_ignored() {
    for (label, stage) in [
        ("1 - Prospecting", Stage::Prospect),
        ("Stage 3: Proposal", Stage::BusinessValidation),
        ("Stage 2 - Qualification", Stage::Qualified),
        ("10% - Prospecting", Stage::Prospect),
        ("2-Develop", Stage::TechnicalValidation),
        ("05. Negotiation/Review", Stage::Committed),
        ("Prospecting (10%)", Stage::Prospect),
        ("Closed Lost to Competition", Stage::ClosedLost),
        ("Proposal Made", Stage::BusinessValidation),
        ("Identify Decision Makers", Stage::TechnicalValidation),
    ] {
        assert_eq!(map_stage(label), Ok(stage), "{label}");
    }
    for label in ["1", "Stage 3", "3 -", "Stage 9: Custom Thing"] {
        assert!(map_stage(label).is_err(), "{label}");
    }
}

#[test]
fn every_documented_status_label_maps() {
    for &(label, status) in STATUS_LABELS {
        assert_eq!(map_status(label), Ok(status), "{label}");
    }
    for (label, status) in [
        ("Customer", AccountStatus::Customer),
        ("marketingqualifiedlead", AccountStatus::Prospect),
        ("salesqualifiedlead", AccountStatus::Prospect),
        ("Other", AccountStatus::Other),
        ("Prospect", AccountStatus::Prospect),
        ("Partner", AccountStatus::Partner),
    ] {
        assert_eq!(map_status(label), Ok(status), "{label}");
    }
    assert!(map_status("Former Customer").is_err());
}

#[test]
fn a_probability_after_a_stage_is_ignored() {
    assert_eq!(map_stage("Closed Won - 100%"), Ok(Stage::Launched));
    assert_eq!(map_stage("Prospecting 10%"), Ok(Stage::Prospect));
    assert!(map_stage("100%").is_err());
}
