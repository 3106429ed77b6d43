//! Announcements: the vendor (the document's origin) tells one partner (its one invitee)
//! something — one document per recipient, so a partner outside the audience holds nothing of
//! it. Every step is a signed change like any other, checked on receipt. The partner's `read`
//! step is the read receipt the vendor counts.

use crate::kind::{FieldSpec, FieldType, KindSpec, Party, TransitionSpec};

/// Most characters of a title.
pub const TITLE_CHARS_MAX: usize = 200;
/// Most characters of a body.
pub const BODY_CHARS_MAX: usize = 10_000;

/// The announcement declaration.
pub static ANNOUNCEMENT: KindSpec = KindSpec {
    name: "announcement",
    states: &["received", "read"],
    fields: &[
        FieldSpec {
            name: "title",
            ty: FieldType::Text {
                chars_max: TITLE_CHARS_MAX,
            },
        },
        FieldSpec {
            name: "body",
            ty: FieldType::Text {
                chars_max: BODY_CHARS_MAX,
            },
        },
        FieldSpec {
            name: "ref",
            ty: FieldType::Text { chars_max: 64 },
        },
    ],
    transitions: &[
        TransitionSpec {
            name: "announce",
            from: &[],
            to: "received",
            by: Party::Origin,
            required: &["title", "body", "ref"],
            optional: &[],
        },
        TransitionSpec {
            name: "read",
            from: &["received"],
            to: "read",
            by: Party::Partner,
            required: &[],
            optional: &[],
        },
    ],
    guards: &[],
    summary: &["title"],
};
