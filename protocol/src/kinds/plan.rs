//! Mutual account plans: one customer account planned by a vendor and its partners together.
//! The origin opens the plan for an account and invites the other companies; every company then
//! keeps its own goals (targets with amounts and dates), stakeholders (people on the account:
//! personal data) and tasks (owner person, due date, done or not). Each item's id is
//! `<owner's node id>/<rest>`, and every item transition is [`Party::ItemOwner`]: a company
//! adds, changes and completes only its own items; anyone may add a note to the timeline.

use crate::kind::{FieldSpec, FieldType, KindSpec, Party, TransitionSpec};

/// Most characters of a title, a name, a role, a company or an account name.
pub const SHORT_CHARS_MAX: usize = 200;
/// Most characters of a timeline note.
pub const NOTE_CHARS_MAX: usize = 2000;
/// Most characters of an account domain.
pub const DOMAIN_CHARS_MAX: usize = 253;
/// Most characters of an item id (`<node id>/<rest>`).
pub const ITEM_CHARS_MAX: usize = 200;

const SHORT: FieldType = FieldType::Text {
    chars_max: SHORT_CHARS_MAX,
};

const fn field(name: &'static str, ty: FieldType) -> FieldSpec {
    FieldSpec { name, ty }
}

const fn edit(
    name: &'static str,
    by: Party,
    required: &'static [&'static str],
    optional: &'static [&'static str],
) -> TransitionSpec {
    TransitionSpec {
        name,
        from: &["open"],
        to: "open",
        by,
        required,
        optional,
    }
}

/// The plan declaration.
pub static PLAN: KindSpec = KindSpec {
    name: "plan",
    states: &["open"],
    fields: &[
        field(
            "account_domain",
            FieldType::Text {
                chars_max: DOMAIN_CHARS_MAX,
            },
        ),
        field("account_name", SHORT),
        field(
            "item",
            FieldType::Text {
                chars_max: ITEM_CHARS_MAX,
            },
        ),
        field("title", SHORT),
        field("amount", FieldType::Decimal),
        field("currency", FieldType::Currency),
        field("due", FieldType::Date),
        field("name", SHORT),
        field("role", SHORT),
        field("company", SHORT),
        field("person", SHORT),
        field(
            "text",
            FieldType::Text {
                chars_max: NOTE_CHARS_MAX,
            },
        ),
    ],
    transitions: &[
        TransitionSpec {
            name: "create",
            from: &[],
            to: "open",
            by: Party::Origin,
            required: &["account_domain"],
            optional: &["account_name"],
        },
        edit(
            "goal",
            Party::ItemOwner,
            &["item", "title"],
            &["amount", "currency", "due"],
        ),
        edit(
            "stakeholder",
            Party::ItemOwner,
            &["item", "name"],
            &["role", "company"],
        ),
        edit("stakeholder_removed", Party::ItemOwner, &["item"], &[]),
        edit(
            "task",
            Party::ItemOwner,
            &["item", "title", "due"],
            &["person"],
        ),
        edit("task_done", Party::ItemOwner, &["item"], &[]),
        edit("note", Party::Any, &["text"], &[]),
    ],
    guards: &[],
    summary: &["account_domain", "account_name"],
};
