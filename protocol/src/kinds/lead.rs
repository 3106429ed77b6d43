//! Lead distribution: the vendor offers one inbound lead to one partner (the vendor is the
//! document's origin, the partner its one invitee); the partner accepts or rejects it, or the
//! vendor withdraws it when the partner let the SLA pass (and routes the lead to the next partner
//! in a new document the first partner never sees).

use crate::kind::{FieldSpec, FieldType, KindSpec, Party, TransitionSpec};

/// Most characters of a company, a contact, a country, a region or a reason.
pub const SHORT_CHARS_MAX: usize = 200;
/// Most characters of a lead's note.
pub const NOTE_CHARS_MAX: usize = 2000;

const SHORT: FieldType = FieldType::Text {
    chars_max: SHORT_CHARS_MAX,
};

/// The lead declaration.
pub static LEAD: KindSpec = KindSpec {
    name: "lead",
    states: &["offered", "accepted", "rejected", "withdrawn"],
    fields: &[
        FieldSpec {
            name: "company",
            ty: SHORT,
        },
        FieldSpec {
            name: "country",
            ty: SHORT,
        },
        FieldSpec {
            name: "region",
            ty: SHORT,
        },
        FieldSpec {
            name: "tags",
            ty: SHORT,
        },
        FieldSpec {
            name: "contact_name",
            ty: SHORT,
        },
        FieldSpec {
            name: "contact_email",
            ty: SHORT,
        },
        FieldSpec {
            name: "note",
            ty: FieldType::Text {
                chars_max: NOTE_CHARS_MAX,
            },
        },
        FieldSpec {
            name: "respond_by_ms",
            ty: FieldType::Count,
        },
        FieldSpec {
            name: "reason",
            ty: SHORT,
        },
    ],
    transitions: &[
        TransitionSpec {
            name: "offer",
            from: &[],
            to: "offered",
            by: Party::Origin,
            required: &["company", "country", "respond_by_ms"],
            optional: &["region", "tags", "contact_name", "contact_email", "note"],
        },
        TransitionSpec {
            name: "accept",
            from: &["offered"],
            to: "accepted",
            by: Party::Partner,
            required: &[],
            optional: &[],
        },
        TransitionSpec {
            name: "reject",
            from: &["offered"],
            to: "rejected",
            by: Party::Partner,
            required: &[],
            optional: &["reason"],
        },
        TransitionSpec {
            name: "withdraw",
            from: &["offered"],
            to: "withdrawn",
            by: Party::Origin,
            required: &["reason"],
            optional: &[],
        },
    ],
    guards: &[],
    summary: &["company", "country", "region", "tags"],
};
