//! Writing a deal document: the checks and the puts every typed edit shares.

use super::*;

pub(super) fn time_i64(now_ms: u64) -> i64 {
    i64::try_from(now_ms).unwrap_or(i64::MAX)
}

pub(super) fn check_text(text: &str) -> Result<(), DealError> {
    if text.len() > FIELD_BYTES_MAX {
        return Err(DealError::Invalid(format!(
            "a text value is longer than {FIELD_BYTES_MAX} bytes"
        )));
    }
    Ok(())
}

pub(super) fn check_shared(shared: &SharedFields) -> Result<(), DealError> {
    for text in shared
        .title
        .iter()
        .chain(&shared.account_name)
        .chain(shared.other.values().flatten())
    {
        check_text(text)?;
    }
    if let Some(both) = shared.clear.iter().find(|f| f.is_set_in(shared)) {
        return Err(DealError::Invalid(format!(
            "{both:?} is both set and cleared"
        )));
    }
    for key in shared.other.keys() {
        check_text(key)?;
        let reserved = [
            keys::TITLE,
            keys::STAGE,
            keys::AMOUNT,
            keys::CURRENCY,
            keys::CLOSE_DATE,
            keys::ACCOUNT,
        ];
        if reserved.contains(&key.as_str()) || key.is_empty() {
            return Err(DealError::Invalid(format!(
                "'{key}' is not an extra field name"
            )));
        }
    }
    Ok(())
}

pub(super) fn put_participant(
    tx: &mut Transaction<'_>,
    list: &ObjId,
    node: &str,
    name: &str,
    role: Role,
    status: ParticipantStatus,
) -> Result<(), automerge::AutomergeError> {
    let entry = tx.put_object(list, node, ObjType::Map)?;
    tx.put(&entry, keys::NAME, name)?;
    tx.put(&entry, keys::ROLE, role.as_str())?;
    tx.put(&entry, keys::STATUS, status.as_str())
}

pub(super) fn put_opt(
    tx: &mut Transaction<'_>,
    obj: &ObjId,
    key: &str,
    value: Option<&str>,
) -> Result<(), automerge::AutomergeError> {
    match value {
        Some(v) => tx.put(obj, key, v),
        None => Ok(()),
    }
}

pub(super) fn write_shared(
    tx: &mut Transaction<'_>,
    shared: &ObjId,
    fields: &SharedFields,
) -> Result<(), automerge::AutomergeError> {
    put_opt(tx, shared, keys::TITLE, fields.title.as_deref())?;
    put_opt(tx, shared, keys::STAGE, fields.stage.map(|s| s.as_str()))?;
    put_opt(
        tx,
        shared,
        keys::AMOUNT,
        fields.amount.map(|a| a.to_string()).as_deref(),
    )?;
    put_opt(
        tx,
        shared,
        keys::CURRENCY,
        fields.currency.as_ref().map(|c| c.as_str()),
    )?;
    put_opt(
        tx,
        shared,
        keys::CLOSE_DATE,
        fields.close_date.map(|d| d.to_string()).as_deref(),
    )?;
    if fields.account_name.is_some() || fields.account_domain.is_some() {
        let account = match tx.get(shared, keys::ACCOUNT)? {
            Some((Value::Object(ObjType::Map), id)) => id,
            _ => tx.put_object(shared, keys::ACCOUNT, ObjType::Map)?,
        };
        put_opt(tx, &account, keys::NAME, fields.account_name.as_deref())?;
        put_opt(
            tx,
            &account,
            keys::DOMAIN,
            fields.account_domain.as_ref().map(|d| d.as_str()),
        )?;
    }
    for field in &fields.clear {
        let (obj, key) = match field {
            SharedField::Title => (Some(shared.clone()), keys::TITLE),
            SharedField::Stage => (Some(shared.clone()), keys::STAGE),
            SharedField::Amount => (Some(shared.clone()), keys::AMOUNT),
            SharedField::Currency => (Some(shared.clone()), keys::CURRENCY),
            SharedField::CloseDate => (Some(shared.clone()), keys::CLOSE_DATE),
            SharedField::AccountName | SharedField::AccountDomain => (
                match tx.get(shared, keys::ACCOUNT)? {
                    Some((Value::Object(ObjType::Map), id)) => Some(id),
                    _ => None,
                },
                if *field == SharedField::AccountName {
                    keys::NAME
                } else {
                    keys::DOMAIN
                },
            ),
        };
        if let Some(obj) = obj {
            if tx.get(&obj, key)?.is_some() {
                tx.delete(&obj, key)?;
            }
        }
    }
    for (key, value) in &fields.other {
        match value {
            Some(v) => tx.put(shared, key.as_str(), v.as_str())?,
            None => {
                if tx.get(shared, key.as_str())?.is_some() {
                    tx.delete(shared, key.as_str())?;
                }
            }
        }
    }
    Ok(())
}

pub(super) fn write_attribution(
    tx: &mut Transaction<'_>,
    obj: &ObjId,
    sourced_by: &NodeId,
    influenced_by: &[NodeId],
) -> Result<(), automerge::AutomergeError> {
    tx.put(obj, keys::SOURCED_BY, sourced_by.as_str())?;
    let list = tx.put_object(obj, keys::INFLUENCED_BY, ObjType::List)?;
    for (i, node) in influenced_by.iter().enumerate() {
        tx.insert(&list, i, node.as_str())?;
    }
    Ok(())
}
