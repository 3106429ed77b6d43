//! A partner's standing in the vendor's program, as the vendor computed it: one document per
//! partner between the vendor (origin) and that partner only, so no partner ever holds another's
//! standing. The vendor signs a new `update` step when the tier or what the next tier lacks
//! changes; the partner only reads.

use crate::kind::{FieldSpec, FieldType, KindSpec, Party, TransitionSpec};

/// Most characters of a tier's name.
pub const TIER_CHARS_MAX: usize = 64;
/// Most characters of the lacks or benefits text.
pub const TEXT_CHARS_MAX: usize = 4000;

const TEXT: FieldType = FieldType::Text {
    chars_max: TEXT_CHARS_MAX,
};
const TIER: FieldType = FieldType::Text {
    chars_max: TIER_CHARS_MAX,
};
const FIELDS: &[&str] = &["tier", "next_tier", "lacks", "benefits"];

/// The standing declaration.
pub static STANDING: KindSpec = KindSpec {
    name: "standing",
    states: &["current"],
    fields: &[
        FieldSpec {
            name: "tier",
            ty: TIER,
        },
        FieldSpec {
            name: "next_tier",
            ty: TIER,
        },
        // JSON: a list of {"metric", "have", "need", "text"}.
        FieldSpec {
            name: "lacks",
            ty: TEXT,
        },
        // JSON: the benefits object of the tier reached.
        FieldSpec {
            name: "benefits",
            ty: TEXT,
        },
        FieldSpec {
            name: "program_version",
            ty: FieldType::Count,
        },
    ],
    transitions: &[
        TransitionSpec {
            name: "publish",
            from: &[],
            to: "current",
            by: Party::Origin,
            required: &["program_version"],
            optional: FIELDS,
        },
        TransitionSpec {
            name: "update",
            from: &["current"],
            to: "current",
            by: Party::Origin,
            required: &["program_version"],
            optional: FIELDS,
        },
    ],
    guards: &[],
    summary: &["tier"],
};
