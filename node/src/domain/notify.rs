//! E-mail notifications to this node's users, each of whom opts in (`PUT /api/v1/me/notifications`):
//! an invitation to a deal arrived, a partner submitted a registration (vendor), the vendor
//! decided one (partner), one is overdue, a comment mentions the user (`@username`). Each mail
//! links into the web UI. A user may take a digest instead: the items wait in the store and go
//! out together every `digest_interval`.
//!
//! The notifier listens on the event bus like the webhook dispatcher. Sending is blocking SMTP
//! (lettre, rustls) on a blocking thread; a failed send is logged and the item is not retried
//! (a mail is a nudge: the web UI's "Needs me" holds the same items).

use crate::domain::events::{Event, EventBus, EventKind};
use crate::store::tables::{NOTIFY_DIGEST, NOTIFY_SENT, NOTIFY_SETTINGS};
use crate::store::Store;
use anyhow::{anyhow, Context, Result};
use redb::{ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// The notifications a user may opt into, by the name the API and the settings page use.
pub const NOTIFICATIONS: &[(&str, &str)] = &[
    ("invitation", "An invitation to a deal arrived"),
    (
        "invitation_declined",
        "A partner declined a deal this node shared with it",
    ),
    (
        "registration_submitted",
        "A partner registered a deal with you",
    ),
    (
        "registration_decided",
        "The vendor approved or rejected your registration",
    ),
    ("registration_overdue", "A registration is overdue"),
    (
        "mention",
        "Someone mentioned you (@username) in a deal's comments",
    ),
    (
        "deal_withdrawn",
        "A partner withdrew a deal it had shared with you",
    ),
];

/// Longest e-mail address accepted.
pub const EMAIL_BYTES_MAX: usize = 254;

/// One user's choices.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Where to send; `None`: no mail at all.
    pub email: Option<String>,
    /// The notifications wanted (names from [`NOTIFICATIONS`]).
    pub events: BTreeSet<String>,
    /// Collect the items and send one mail per digest interval instead of one each.
    pub digest: bool,
}

/// Why settings were refused; each message names the field.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("email: '{0}' is not an e-mail address")]
    Email(String),
    #[error("events: '{0}' is not a notification (one of {1})")]
    Event(String, String),
}

impl Settings {
    /// Checks the address and the notification names.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if let Some(email) = &self.email {
            let ok = email.len() <= EMAIL_BYTES_MAX
                && email.parse::<lettre::Address>().is_ok()
                && !email.chars().any(|c| c.is_control() || c.is_whitespace());
            if !ok {
                return Err(SettingsError::Email(email.clone()));
            }
        }
        for e in &self.events {
            if !NOTIFICATIONS.iter().any(|(n, _)| n == e) {
                let all: Vec<&str> = NOTIFICATIONS.iter().map(|(n, _)| *n).collect();
                return Err(SettingsError::Event(e.clone(), all.join(", ")));
            }
        }
        Ok(())
    }
}

/// The user's settings (the defaults when never set).
pub fn settings(store: &Store, username: &str) -> Result<Settings> {
    let txn = store.read()?;
    let Some(table) = crate::store::open_table_if_exists(&txn, NOTIFY_SETTINGS)? else {
        return Ok(Settings::default());
    };
    match table.get(username)? {
        Some(v) => serde_json::from_slice(v.value()).context("stored notification settings"),
        None => Ok(Settings::default()),
    }
}

/// Stores the user's settings (validated first).
pub fn set_settings(store: &Store, username: &str, s: &Settings) -> Result<()> {
    s.validate()?;
    let txn = store.write()?;
    txn.open_table(NOTIFY_SETTINGS)?
        .insert(username, serde_json::to_vec(s)?.as_slice())?;
    txn.commit()?;
    Ok(())
}

/// Every user with an address and at least one notification.
fn subscribers(store: &Store) -> Result<Vec<(String, Settings)>> {
    let txn = store.read()?;
    let Some(table) = crate::store::open_table_if_exists(&txn, NOTIFY_SETTINGS)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in table.range::<&str>(..)? {
        let (k, v) = entry?;
        let s: Settings = serde_json::from_slice(v.value())?;
        if s.email.is_some() && !s.events.is_empty() {
            out.push((k.value().to_string(), s));
        }
    }
    // Users removed since they opted in get nothing.
    let users: BTreeSet<String> = crate::domain::users::list_users(store)?
        .into_iter()
        .map(|u| u.username)
        .collect();
    out.retain(|(name, _)| users.contains(name));
    Ok(out)
}

/// How to reach the SMTP server, and what the mails say about this node.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `smtp://host:port` (no TLS: a local relay), `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS) or `smtps://user:pass@host:465`, as lettre reads it.
    pub smtp_url: String,
    /// The From address.
    pub from: String,
    /// The web UI's address in links (`https://cosell.example.com`).
    pub public_url: String,
    /// The company's name, in subjects.
    pub node_name: String,
    /// How often a digest goes out.
    pub digest_interval: Duration,
}

/// One notification for one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// The notification's name ([`NOTIFICATIONS`]).
    pub kind: String,
    /// One line: what happened.
    pub subject: String,
    /// Where in the web UI (a `#/…` route).
    pub route: String,
    /// More text for the mail's body (the origin's message with an invitation, the invitee's
    /// reason with a decline), signed by the partner that wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The items `event` means for a user with `settings` (`username`), given this node's id and
/// (for deal updates) the deal's view.
fn items_for(me: &str, event: &Event, deal: Option<&Value>, username: &str) -> Vec<Item> {
    let d = &event.data;
    let text = |k: &str| d[k].as_str().unwrap_or_default().to_string();
    let item = |kind: &str, subject: String, route: String| Item {
        kind: kind.into(),
        subject,
        route,
        detail: None,
    };
    match event.kind {
        EventKind::DealInvited => vec![Item {
            detail: d["message"]
                .as_str()
                .filter(|m| !m.is_empty())
                .map(|m| format!("Their message:\n{m}")),
            ..item(
                "invitation",
                format!(
                    "{} invites you to a deal: {}",
                    non_empty(&text("from_name"), "A partner"),
                    non_empty(&text("title"), &text("account_domain"))
                ),
                format!("#/deals/{}", text("deal_id")),
            )
        }],
        // The origin hears of an invitee's decline (not the invitee of its own).
        EventKind::DealDeclined if d["node"] != me => {
            let reason = d["reason"].as_str().filter(|r| !r.is_empty());
            // The subject names the reason's first line, cut; the body carries all of it.
            let short: String = reason
                .and_then(|r| r.lines().next())
                .unwrap_or("no reason given")
                .chars()
                .take(80)
                .collect();
            vec![Item {
                detail: reason.map(|r| format!("Their reason:\n{r}")),
                ..item(
                    "invitation_declined",
                    format!(
                        "{} declined the deal {}: {short}",
                        non_empty(&text("name"), "A partner"),
                        non_empty(&text("title"), &text("deal_id"))
                    ),
                    format!("#/deals/{}", text("deal_id")),
                )
            }]
        }
        EventKind::RegistrationSubmitted if d["vendor"] == me => vec![item(
            "registration_submitted",
            format!(
                "A partner registered {} with you: approve or reject it",
                non_empty(&text("account_domain"), "an account")
            ),
            "#/registrations?status=pending".into(),
        )],
        EventKind::RegistrationApproved
        | EventKind::RegistrationRejected
        | EventKind::RegistrationRevoked
            if d["partner"] == me =>
        {
            let decided = if event.kind == EventKind::RegistrationApproved {
                "approved".to_string()
            } else if event.kind == EventKind::RegistrationRevoked {
                format!(
                    "revoked ({})",
                    non_empty(&text("reason"), "no reason given")
                )
            } else {
                format!(
                    "rejected ({})",
                    non_empty(&text("reason"), "no reason given")
                )
            };
            vec![item(
                "registration_decided",
                format!(
                    "Your registration of {} was {decided}",
                    non_empty(&text("account_domain"), "an account")
                ),
                "#/registrations".into(),
            )]
        }
        EventKind::RegistrationOverdue => vec![item(
            "registration_overdue",
            format!(
                "The registration of {} is overdue: the vendor has not answered in time",
                non_empty(&text("account_domain"), "an account")
            ),
            "#/registrations?status=pending".into(),
        )],
        EventKind::DealWithdrawn => vec![item(
            "deal_withdrawn",
            format!(
                "{} withdrew the deal {}: {}",
                non_empty(&text("by"), "A partner"),
                // The withdrawal cleared the shared title: the short id names the deal.
                text("deal_id").chars().take(12).collect::<String>(),
                non_empty(&text("why"), "no reason given")
            ),
            format!("#/deals/{}", text("deal_id")),
        )],
        EventKind::DealUpdated | EventKind::DealStageChanged => {
            mentions(deal, username).into_iter().collect()
        }
        _ => Vec::new(),
    }
}

/// A mention of `@username` in a deal's comments (the newest one), if any.
fn mentions(deal: Option<&Value>, username: &str) -> Option<Item> {
    let deal = deal?;
    let needle = format!("@{username}");
    for sec in deal["sections"].as_object()?.values() {
        for note in sec["notes"].as_array().into_iter().flatten().rev() {
            let Some(text) = note.as_str() else { continue };
            let hit = text.match_indices(&needle).any(|(i, _)| {
                let after = text[i + needle.len()..].chars().next();
                !after.is_some_and(|c| c.is_alphanumeric() || "._-".contains(c))
            });
            if hit {
                let name = deal["fields"]["name"].as_str().unwrap_or("a deal");
                let first: String = text
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(120)
                    .collect();
                return Some(Item {
                    kind: "mention".into(),
                    subject: format!("You were mentioned in {name}: \"{first}\""),
                    route: format!("#/deals/{}", deal["id"].as_str().unwrap_or_default()),
                    detail: None,
                });
            }
        }
    }
    None
}

fn non_empty(s: &str, fallback: &str) -> String {
    if s.trim().is_empty() {
        fallback.to_string()
    } else {
        s.to_string()
    }
}

/// Records that `key` was sent; false when it already was (a mention is mailed once).
fn first_time(store: &Store, key: &str, now_ms: u64) -> Result<bool> {
    let txn = store.write()?;
    let fresh = {
        let mut table = txn.open_table(NOTIFY_SENT)?;
        let seen = table.get(key)?.is_some();
        if !seen {
            table.insert(key, now_ms)?;
        }
        !seen
    };
    txn.commit()?;
    Ok(fresh)
}

/// Sends one mail now.
fn send(mail: &MailSettings, to: &str, subject: &str, body: String) -> Result<()> {
    use lettre::Transport;
    let message = lettre::Message::builder()
        .from(
            mail.from
                .parse()
                .map_err(|e| anyhow!("smtp_from '{}': {e}", mail.from))?,
        )
        .to(to.parse().map_err(|e| anyhow!("'{to}': {e}"))?)
        .subject(subject)
        .header(lettre::message::header::ContentType::TEXT_PLAIN)
        .body(body)?;
    let transport = lettre::SmtpTransport::from_url(&mail.smtp_url)
        .map_err(|e| anyhow!("smtp_url: {e}"))?
        .timeout(Some(Duration::from_secs(20)))
        .build();
    transport
        .send(&message)
        .map_err(|e| anyhow!("cannot send to {to}: {e}"))?;
    Ok(())
}

fn link(mail: &MailSettings, route: &str) -> String {
    format!("{}/{}", mail.public_url.trim_end_matches('/'), route)
}

fn footer(mail: &MailSettings) -> String {
    format!(
        "\n\n--\ncosell at {}. Choose what you get by e-mail: {}\n",
        mail.node_name,
        link(mail, "#/settings")
    )
}

/// Mails one item to a user, or keeps it for the user's digest.
fn deliver(
    store: &Store,
    mail: &MailSettings,
    user: &str,
    s: &Settings,
    item: &Item,
    now_ms: u64,
) -> Result<()> {
    let Some(to) = &s.email else { return Ok(()) };
    if s.digest {
        let txn = store.write()?;
        {
            let mut table = txn.open_table(NOTIFY_DIGEST)?;
            let n = table.len()?;
            let key = format!("{user}\u{0}{now_ms:020}\u{0}{n:010}");
            table.insert(key.as_str(), serde_json::to_vec(item)?.as_slice())?;
        }
        txn.commit()?;
        return Ok(());
    }
    let body = format!(
        "{}\n{}\nOpen it: {}{}",
        item.subject,
        item.detail
            .as_deref()
            .map(|d| format!("\n{d}\n"))
            .unwrap_or_default(),
        link(mail, &item.route),
        footer(mail)
    );
    send(
        mail,
        to,
        &format!("[{}] {}", mail.node_name, item.subject),
        body,
    )
}

/// Sends every waiting digest: one mail per user with all their items, then forgets them.
pub fn send_digests(store: &Store, mail: &MailSettings) -> Result<usize> {
    let waiting: Vec<(String, Item)> = {
        let txn = store.read()?;
        let Some(table) = crate::store::open_table_if_exists(&txn, NOTIFY_DIGEST)? else {
            return Ok(0);
        };
        let mut out = Vec::new();
        for entry in table.range::<&str>(..)? {
            let (k, v) = entry?;
            out.push((k.value().to_string(), serde_json::from_slice(v.value())?));
        }
        out
    };
    let mut by_user: std::collections::BTreeMap<String, Vec<(String, Item)>> = Default::default();
    for (key, item) in waiting {
        let user = key.split('\u{0}').next().unwrap_or_default().to_string();
        by_user.entry(user).or_default().push((key, item));
    }
    let mut sent = 0;
    for (user, items) in by_user {
        let s = settings(store, &user)?;
        if let Some(to) = s.email.as_deref() {
            let mut body = format!("{} new for you on cosell:\n", items.len());
            for (_, item) in &items {
                body.push_str(&format!("\n- {}\n", item.subject));
                if let Some(detail) = &item.detail {
                    for line in detail.lines() {
                        body.push_str(&format!("  {line}\n"));
                    }
                }
                body.push_str(&format!("  {}\n", link(mail, &item.route)));
            }
            body.push_str(&footer(mail));
            let subject = format!(
                "[{}] Your digest: {} new item{}",
                mail.node_name,
                items.len(),
                if items.len() == 1 { "" } else { "s" }
            );
            if let Err(e) = send(mail, to, &subject, body) {
                tracing::warn!(user, error = %format!("{e:#}"), "cannot send a digest; kept for the next one");
                continue;
            }
            sent += 1;
        }
        let txn = store.write()?;
        {
            let mut table = txn.open_table(NOTIFY_DIGEST)?;
            for (key, _) in &items {
                table.remove(key.as_str())?;
            }
        }
        txn.commit()?;
    }
    Ok(sent)
}

/// Mails what each event means to the users who opted in; runs until the bus closes. Needs
/// the deal engine to read a deal's comments for mentions.
pub async fn run(
    store: Arc<Store>,
    bus: Arc<EventBus>,
    deals: Arc<crate::domain::deals::Deals>,
    mail: MailSettings,
) {
    let mut rx = bus.subscribe();
    let mail = Arc::new(mail);
    {
        let (store, mail) = (store.clone(), mail.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(mail.digest_interval);
            tick.tick().await;
            loop {
                tick.tick().await;
                let (store, mail) = (store.clone(), mail.clone());
                let done = tokio::task::spawn_blocking(move || send_digests(&store, &mail)).await;
                if let Ok(Err(e)) = done {
                    tracing::warn!(error = %format!("{e:#}"), "cannot send digests");
                }
            }
        });
    }
    let closed = bus.closed();
    tokio::pin!(closed);
    loop {
        let event = tokio::select! {
            _ = &mut closed => return,
            received = rx.recv() => match received {
                Ok(e) => e,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "the notifier fell behind; some e-mails are not sent");
                    continue;
                }
                Err(_) => return,
            },
        };
        let (store, mail, deals) = (store.clone(), mail.clone(), deals.clone());
        let done = tokio::task::spawn_blocking(move || handle(&store, &mail, &deals, &event)).await;
        if let Ok(Err(e)) = done {
            tracing::warn!(error = %format!("{e:#}"), "cannot send a notification");
        }
    }
}

fn handle(
    store: &Store,
    mail: &MailSettings,
    deals: &crate::domain::deals::Deals,
    event: &Event,
) -> Result<()> {
    let relevant = matches!(
        event.kind,
        EventKind::DealInvited
            | EventKind::DealDeclined
            | EventKind::RegistrationSubmitted
            | EventKind::RegistrationApproved
            | EventKind::RegistrationRejected
            | EventKind::RegistrationRevoked
            | EventKind::RegistrationOverdue
            | EventKind::DealWithdrawn
            | EventKind::DealUpdated
            | EventKind::DealStageChanged
    );
    if !relevant {
        return Ok(());
    }
    let users = subscribers(store)?;
    if users.is_empty() {
        return Ok(());
    }
    let me = deals.me().to_string();
    let deal = match event.data["deal_id"].as_str() {
        Some(id)
            if matches!(
                event.kind,
                EventKind::DealUpdated | EventKind::DealStageChanged
            ) =>
        {
            protocol::deal::DealId::parse(id)
                .ok()
                .and_then(|id| deals.view(id, false).ok().flatten())
        }
        _ => None,
    };
    let now = event.at_ms;
    for (user, s) in users {
        for item in items_for(&me, event, deal.as_ref(), &user) {
            if !s.events.contains(&item.kind) {
                continue;
            }
            // The same item once per user: an event seen again (a resync) sends nothing.
            let key = format!("{user}\u{0}{}\u{0}{}", item.kind, item.subject);
            if !first_time(store, &key, now)? {
                continue;
            }
            deliver(store, mail, &user, &s, &item, now)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(kind: EventKind, data: Value) -> Event {
        Event {
            seq: 1,
            kind,
            at_ms: 0,
            data,
        }
    }

    #[test]
    fn a_registration_is_news_for_the_vendor_and_its_decision_for_the_partner() {
        let submitted = event(
            EventKind::RegistrationSubmitted,
            json!({"vendor": "me", "partner": "p", "account_domain": "acme.example"}),
        );
        assert_eq!(
            items_for("me", &submitted, None, "u")[0].kind,
            "registration_submitted"
        );
        assert!(items_for("p", &submitted, None, "u").is_empty());
        let rejected = event(
            EventKind::RegistrationRejected,
            json!({"vendor": "v", "partner": "me", "account_domain": "acme.example", "reason": "ours"}),
        );
        let items = items_for("me", &rejected, None, "u");
        assert_eq!(
            items[0].subject,
            "Your registration of acme.example was rejected (ours)"
        );
        assert!(items_for("v", &rejected, None, "u").is_empty());
    }

    #[test]
    fn an_invitation_carries_its_message_and_a_decline_its_reason_to_the_origin_only() {
        let invited = event(
            EventKind::DealInvited,
            json!({"deal_id": "d1", "from_name": "Vendor Co", "title": "Acme", "message": "Call me"}),
        );
        let items = items_for("me", &invited, None, "u");
        assert_eq!(items[0].detail.as_deref(), Some("Their message:\nCall me"));
        let declined = event(
            EventKind::DealDeclined,
            json!({"deal_id": "d1", "node": "p", "name": "Reseller Co", "title": "Acme",
                   "reason": "No budget\nuntil Q3"}),
        );
        let items = items_for("me", &declined, None, "u");
        assert_eq!(items[0].kind, "invitation_declined");
        assert_eq!(
            items[0].subject,
            "Reseller Co declined the deal Acme: No budget"
        );
        assert_eq!(
            items[0].detail.as_deref(),
            Some("Their reason:\nNo budget\nuntil Q3")
        );
        // The invitee's own node publishes its decline too: no mail for it.
        assert!(items_for("p", &declined, None, "u").is_empty());
    }

    #[test]
    fn a_mention_names_the_whole_username_only() {
        let deal = json!({"id": "d1", "fields": {"name": "Acme"},
            "sections": {"n": {"notes": ["call @paula tomorrow\n— alice"]}}});
        let e = event(EventKind::DealUpdated, json!({"deal_id": "d1"}));
        assert_eq!(
            items_for("me", &e, Some(&deal), "paula")[0].route,
            "#/deals/d1"
        );
        assert!(items_for("me", &e, Some(&deal), "paul").is_empty());
        assert!(items_for("me", &e, Some(&deal), "alice").is_empty());
    }

    #[test]
    fn settings_name_what_is_wrong() {
        let bad = Settings {
            email: Some("not an address".into()),
            ..Settings::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("email: "));
        let bad = Settings {
            email: Some("a@example.com".into()),
            events: ["nope".to_string()].into(),
            digest: false,
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("events: 'nope'"));
    }
}
