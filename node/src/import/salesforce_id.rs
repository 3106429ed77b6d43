//! Salesforce record ids: a 15-character id and its case-insensitive 18-character form name one
//! record.

/// The characters of a Salesforce id's case checksum: one per 5-bit mask of capitals.
const SALESFORCE_CHECKSUM_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// The other form of a Salesforce record id: the case-insensitive 18-character id for a
/// 15-character one (the 15 plus a 3-character case checksum), the 15-character id for an
/// 18-character one whose checksum holds. `None` for anything else. Salesforce reports show
/// 15-character ids and its API and data exports 18-character ones, so a file may name an
/// account by the form the account was not imported with.
pub fn salesforce_id_other_form(id: &str) -> Option<String> {
    let bytes = id.as_bytes();
    if !bytes.iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    match bytes.len() {
        15 => Some(format!("{id}{}", salesforce_checksum(&bytes[..15]))),
        18 => {
            let (head, tail) = id.split_at(15);
            if salesforce_checksum(head.as_bytes()).eq_ignore_ascii_case(tail) {
                Some(head.to_string())
            } else {
                salesforce_case_restored(id)
            }
        }
        _ => None,
    }
}

/// The 15-character id an 18-character Salesforce id stands for when something upper- or
/// lower-cased it (a spreadsheet's UPPER(), a case-insensitive system): the last three
/// characters say which of the first fifteen are capitals, so the case can be put back. `None`
/// unless the id is 18 characters and the restored id's checksum holds.
pub fn salesforce_case_restored(id: &str) -> Option<String> {
    if id.len() != 18 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let (head, tail) = id.as_bytes().split_at(15);
    // Only a flattened id (every letter of one case) lost its case; a mixed-case one whose
    // checksum fails is simply not a Salesforce id.
    let flattened =
        !head.iter().any(u8::is_ascii_uppercase) || !head.iter().any(u8::is_ascii_lowercase);
    if !flattened {
        return None;
    }
    let mut restored = Vec::with_capacity(15);
    for (chunk, mark) in head.chunks(5).zip(tail) {
        let bits = SALESFORCE_CHECKSUM_ALPHABET
            .iter()
            .position(|a| a == &mark.to_ascii_uppercase())?;
        for (i, c) in chunk.iter().enumerate() {
            restored.push(if bits & (1 << i) != 0 {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            });
        }
    }
    let restored = String::from_utf8(restored).ok()?;
    salesforce_checksum(restored.as_bytes())
        .eq_ignore_ascii_case(std::str::from_utf8(tail).ok()?)
        .then_some(restored)
}

/// The 3-character suffix that makes a 15-character Salesforce id case-insensitive: for each
/// 5 characters, a bit per upper-case letter, as one of 32 characters.
fn salesforce_checksum(id15: &[u8]) -> String {
    id15.chunks(5)
        .map(|chunk| {
            let bits = chunk
                .iter()
                .enumerate()
                .filter(|(_, c)| c.is_ascii_uppercase())
                .fold(0usize, |acc, (i, _)| acc | (1 << i));
            char::from(SALESFORCE_CHECKSUM_ALPHABET[bits])
        })
        .collect()
}
