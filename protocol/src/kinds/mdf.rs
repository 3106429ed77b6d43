//! Market development funds: a partner proposes a marketing activity to a vendor, the vendor
//! approves a budget (possibly lower), rejects it with a reason or asks for changes; the partner
//! proves execution (an attachment whose SHA-256 is signed in the step) and the vendor records
//! the reimbursement. The partner is the document's origin; the vendor its one invitee.

use crate::kind::{FieldSpec, FieldType, Guard, KindSpec, Party, TransitionSpec};

/// Most bytes of one proof-of-execution attachment: it travels inside one signed change, which
/// is at most `limits::CHANGE_BYTES_MAX` (64 KiB) with the step's other values.
pub const PROOF_BYTES_MAX: usize = 48 * 1024;
/// Most characters of an activity description, a reason or a results text.
pub const TEXT_CHARS_MAX: usize = 2000;

const TEXT: FieldType = FieldType::Text {
    chars_max: TEXT_CHARS_MAX,
};
const SHORT: FieldType = FieldType::Text { chars_max: 200 };

/// Activity types a proposal names.
pub const ACTIVITY_TYPES: &[&str] = &[
    "event",
    "webinar",
    "digital",
    "content",
    "training",
    "telemarketing",
    "other",
];

/// The fields a proposal writes (and a revision rewrites).
const PROPOSAL: &[&str] = &[
    "activity",
    "requested",
    "currency",
    "start",
    "end",
    "period",
];
const PROPOSAL_OPTIONAL: &[&str] = &["activity_type", "expected_leads", "expected_pipeline"];

/// The MDF declaration.
pub static MDF: KindSpec = KindSpec {
    name: "mdf",
    states: &[
        "proposed",
        "changes_requested",
        "approved",
        "rejected",
        "claimed",
        "reimbursed",
    ],
    fields: &[
        FieldSpec {
            name: "activity",
            ty: TEXT,
        },
        FieldSpec {
            name: "activity_type",
            ty: FieldType::Choice(ACTIVITY_TYPES),
        },
        FieldSpec {
            name: "requested",
            ty: FieldType::Decimal,
        },
        FieldSpec {
            name: "currency",
            ty: FieldType::Currency,
        },
        FieldSpec {
            name: "start",
            ty: FieldType::Date,
        },
        FieldSpec {
            name: "end",
            ty: FieldType::Date,
        },
        FieldSpec {
            name: "period",
            ty: SHORT,
        },
        FieldSpec {
            name: "expected_leads",
            ty: FieldType::Count,
        },
        FieldSpec {
            name: "expected_pipeline",
            ty: FieldType::Decimal,
        },
        FieldSpec {
            name: "approved_amount",
            ty: FieldType::Decimal,
        },
        FieldSpec {
            name: "reason",
            ty: TEXT,
        },
        FieldSpec {
            name: "results",
            ty: TEXT,
        },
        FieldSpec {
            name: "proof_name",
            ty: SHORT,
        },
        FieldSpec {
            name: "proof_sha256",
            ty: FieldType::Sha256,
        },
        FieldSpec {
            name: "proof",
            ty: FieldType::Bytes {
                bytes_max: PROOF_BYTES_MAX,
            },
        },
        FieldSpec {
            name: "reimbursed_amount",
            ty: FieldType::Decimal,
        },
        FieldSpec {
            name: "reference",
            ty: SHORT,
        },
        FieldSpec {
            name: "paid_on",
            ty: FieldType::Date,
        },
    ],
    transitions: &[
        TransitionSpec {
            name: "propose",
            from: &[],
            to: "proposed",
            by: Party::Partner,
            required: PROPOSAL,
            optional: PROPOSAL_OPTIONAL,
        },
        TransitionSpec {
            name: "revise",
            from: &["changes_requested"],
            to: "proposed",
            by: Party::Partner,
            required: PROPOSAL,
            optional: PROPOSAL_OPTIONAL,
        },
        TransitionSpec {
            name: "approve",
            from: &["proposed"],
            to: "approved",
            by: Party::Vendor,
            required: &["approved_amount"],
            optional: &[],
        },
        TransitionSpec {
            name: "reject",
            from: &["proposed"],
            to: "rejected",
            by: Party::Vendor,
            required: &["reason"],
            optional: &[],
        },
        TransitionSpec {
            name: "ask_changes",
            from: &["proposed"],
            to: "changes_requested",
            by: Party::Vendor,
            required: &["reason"],
            optional: &[],
        },
        TransitionSpec {
            name: "claim",
            from: &["approved"],
            to: "claimed",
            by: Party::Partner,
            required: &["proof_name", "proof_sha256", "proof"],
            optional: &["results"],
        },
        TransitionSpec {
            name: "reimburse",
            from: &["claimed"],
            to: "reimbursed",
            by: Party::Vendor,
            required: &["reimbursed_amount", "reference", "paid_on"],
            optional: &[],
        },
    ],
    guards: &[
        Guard::NotAbove {
            field: "approved_amount",
            limit: "requested",
        },
        Guard::NotAbove {
            field: "reimbursed_amount",
            limit: "approved_amount",
        },
        Guard::HashOf {
            hash: "proof_sha256",
            bytes: "proof",
        },
    ],
    summary: &[
        "activity",
        "period",
        "requested",
        "approved_amount",
        "currency",
    ],
};
