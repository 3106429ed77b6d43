//! Saved views of the mapping matrix, kept per user on the node (`/api/v1/me/mapping-views`):
//! a name and what the web UI needs to open the view again (partner, cell, search, sort), so a
//! view follows its user from browser to browser. The node does not read the view: it checks
//! its name and size only.

use crate::domain::error::DomainError;
use crate::store::tables::MAPPING_VIEWS;
use crate::store::Store;
use anyhow::{Context, Result};
use redb::ReadableTable;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest view name, in characters.
pub const NAME_CHARS_MAX: usize = 80;
/// Largest view, as compact JSON bytes.
pub const VIEW_BYTES_MAX: usize = 8 * 1024;
/// Most views one user keeps.
pub const VIEWS_MAX: usize = 100;

/// One saved view as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Saved {
    /// What the UI stored (a JSON object).
    pub view: Value,
    /// When it was saved (ms since the epoch).
    pub saved_at_ms: u64,
}

/// Checks a view's name: 1 to [`NAME_CHARS_MAX`] characters, no control characters, no `/`, not
/// starting with `.` (a path segment of dots would name another route), no spaces around.
pub fn check_name(name: &str) -> Result<(), DomainError> {
    let why = if name.is_empty() {
        Some("a view needs a name".to_string())
    } else if name.chars().count() > NAME_CHARS_MAX {
        Some(format!("longer than {NAME_CHARS_MAX} characters"))
    } else if name.chars().any(|c| c.is_control() || c == '/') {
        Some("control characters and '/' are not allowed".into())
    } else if name.starts_with('.') {
        Some("may not start with '.'".into())
    } else if name.trim() != name {
        Some("may not start or end with spaces".into())
    } else {
        None
    };
    match why {
        Some(w) => Err(DomainError::fields(vec![("name", w)])),
        None => Ok(()),
    }
}

/// Checks a view: a JSON object of at most [`VIEW_BYTES_MAX`] bytes.
pub fn check_view(view: &Value) -> Result<(), DomainError> {
    if !view.is_object() {
        return Err(DomainError::fields(vec![(
            "view",
            "a view is a JSON object".into(),
        )]));
    }
    let bytes = serde_json::to_vec(view).map_err(|e| DomainError::Internal(e.into()))?;
    if bytes.len() > VIEW_BYTES_MAX {
        return Err(DomainError::fields(vec![(
            "view",
            format!("{} bytes as JSON; at most {VIEW_BYTES_MAX}", bytes.len()),
        )]));
    }
    Ok(())
}

/// The user's views, by name.
pub fn list(store: &Store, username: &str) -> Result<Vec<(String, Saved)>> {
    let txn = store.read()?;
    let Some(table) = crate::store::open_table_if_exists(&txn, MAPPING_VIEWS)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in table.range((username, "")..)? {
        let (k, v) = entry?;
        let (user, name) = k.value();
        if user != username {
            break;
        }
        let saved: Saved = serde_json::from_slice(v.value())
            .with_context(|| format!("stored mapping view {name:?}"))?;
        out.push((name.to_string(), saved));
    }
    Ok(out)
}

/// Saves (or replaces) the user's view `name`. A new name beyond [`VIEWS_MAX`] is a conflict.
pub fn put(
    store: &Store,
    username: &str,
    name: &str,
    view: &Value,
    now_ms: u64,
) -> Result<Saved, DomainError> {
    check_name(name)?;
    check_view(view)?;
    let saved = Saved {
        view: view.clone(),
        saved_at_ms: now_ms,
    };
    let bytes = serde_json::to_vec(&saved).map_err(|e| DomainError::Internal(e.into()))?;
    let txn = store.write()?;
    {
        let mut table = txn.open_table(MAPPING_VIEWS).map_err(anyhow::Error::from)?;
        let exists = table
            .get((username, name))
            .map_err(anyhow::Error::from)?
            .is_some();
        if !exists {
            let count = table
                .range((username, "")..)
                .map_err(anyhow::Error::from)?
                .take_while(|e| e.as_ref().is_ok_and(|(k, _)| k.value().0 == username))
                .count();
            if count >= VIEWS_MAX {
                return Err(DomainError::Conflict(format!(
                    "{username} already keeps {VIEWS_MAX} saved views: delete one first"
                )));
            }
        }
        table
            .insert((username, name), bytes.as_slice())
            .map_err(anyhow::Error::from)?;
    }
    txn.commit().map_err(anyhow::Error::from)?;
    Ok(saved)
}

/// Deletes the user's view `name`; `false` when there was none.
pub fn delete(store: &Store, username: &str, name: &str) -> Result<bool> {
    let txn = store.write()?;
    let removed = txn
        .open_table(MAPPING_VIEWS)?
        .remove((username, name))?
        .is_some();
    txn.commit()?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn views_are_kept_per_user_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        put(&store, "ann", "Q3 prospects", &json!({"partner": "p"}), 1).unwrap();
        put(&store, "ann", "Q3 prospects", &json!({"partner": "q"}), 2).unwrap();
        put(&store, "bob", "mine", &json!({}), 3).unwrap();
        let ann = list(&store, "ann").unwrap();
        assert_eq!(ann.len(), 1);
        assert_eq!(ann[0].1.view, json!({"partner": "q"}));
        assert_eq!(list(&store, "an").unwrap(), vec![]);
        assert!(delete(&store, "ann", "Q3 prospects").unwrap());
        assert!(!delete(&store, "ann", "Q3 prospects").unwrap());
        assert_eq!(list(&store, "bob").unwrap().len(), 1);
        for bad in ["", " x", "x ", "a/b", ".x", "bell\u{7}", &"n".repeat(81)] {
            assert!(put(&store, "ann", bad, &json!({}), 4).is_err(), "{bad:?}");
        }
        assert!(put(&store, "ann", "list", &json!([1]), 4).is_err());
        let big = json!({"q": "x".repeat(VIEW_BYTES_MAX)});
        assert!(put(&store, "ann", "big", &big, 4).is_err());
        for i in 0..VIEWS_MAX {
            put(&store, "cy", &format!("v{i}"), &json!({}), 5).unwrap();
        }
        assert!(matches!(
            put(&store, "cy", "one more", &json!({}), 6),
            Err(DomainError::Conflict(_))
        ));
        put(&store, "cy", "v0", &json!({"again": true}), 7).unwrap();
    }
}
