//! The storage encoding of account and opportunity values (schema version 2): a format byte,
//! then the fields in a fixed order, each as compact bytes. The record's id is the table key and
//! is not repeated in the value. Layout in `docs/storage.md`.
//!
//! Why not JSON (schema version 1): a JSON record was 2–3x the bytes, and an import writes (and
//! commits) every byte; encoding and decoding JSON was also a measurable share of an import.
//!
//! Decoding checks every value again through its type's constructor (domain, amount, currency,
//! date), so a corrupt value is an error, never a record that breaks an invariant.

use anyhow::{bail, Result};
use protocol::records::{
    Account, AccountStatus, Amount, Currency, Date, Domain, Opportunity, Stage,
};

/// First byte of every value in this encoding. A JSON value (version 1) starts with `{`.
pub(super) const RECORD_FORMAT: u8 = 1;

/// Appends the value bytes of `account` (without its id) to `out`.
pub(super) fn encode_account(account: &Account, out: &mut Vec<u8>) {
    out.push(RECORD_FORMAT);
    put_opt_str(out, account.external_id.as_deref());
    put_str(out, &account.name);
    put_opt_str(out, account.domain.as_ref().map(Domain::as_str));
    put_opt_str(out, account.industry.as_deref());
    put_opt_str(out, account.country.as_deref());
    out.push(status_code(account.status));
    put_opt_str(out, account.owner.as_deref());
    put_tags(out, &account.tags);
}

/// The account stored under `id` with value `bytes`.
pub(super) fn decode_account(id: &str, bytes: &[u8]) -> Result<Account> {
    let mut r = Reader::new(bytes)?;
    let account = Account {
        id: id.to_string(),
        external_id: r.opt_str()?,
        name: r.str()?,
        domain: r.opt_str()?.map(|d| Domain::parse(&d)).transpose()?,
        industry: r.opt_str()?,
        country: r.opt_str()?,
        status: status_from_code(r.u8()?)?,
        owner: r.opt_str()?,
        tags: r.tags()?,
    };
    r.end()?;
    Ok(account)
}

/// Appends the value bytes of `opp` (without its id) to `out`.
pub(super) fn encode_opportunity(opp: &Opportunity, out: &mut Vec<u8>) {
    out.push(RECORD_FORMAT);
    put_opt_str(out, opp.external_id.as_deref());
    put_str(out, &opp.account_id);
    put_str(out, &opp.name);
    out.push(stage_code(opp.stage));
    match opp.amount {
        // Amounts are never negative, so `+ 1` cannot overflow a u64.
        Some(a) => put_varint(out, a.ten_thousandths() as u64 + 1),
        None => put_varint(out, 0),
    }
    match opp.currency {
        Some(c) => {
            out.push(1);
            out.extend_from_slice(c.as_str().as_bytes());
        }
        None => out.push(0),
    }
    match opp.close_date {
        Some(d) => {
            out.push(1);
            out.extend_from_slice(&d.year().to_be_bytes());
            out.push(d.month());
            out.push(d.day());
        }
        None => out.push(0),
    }
    put_opt_str(out, opp.owner.as_deref());
    put_opt_str(out, opp.next_step.as_deref());
    put_opt_str(out, opp.description.as_deref());
    put_tags(out, &opp.tags);
}

/// The opportunity stored under `id` with value `bytes`.
pub(super) fn decode_opportunity(id: &str, bytes: &[u8]) -> Result<Opportunity> {
    let mut r = Reader::new(bytes)?;
    let external_id = r.opt_str()?;
    let account_id = r.str()?;
    let name = r.str()?;
    let stage = stage_from_code(r.u8()?)?;
    let amount = match r.varint()? {
        0 => None,
        n => Some(Amount::from_ten_thousandths(
            i64::try_from(n - 1).map_err(|_| corrupt("amount"))?,
        )?),
    };
    let currency = match r.u8()? {
        0 => None,
        1 => {
            let code = r.take(3)?;
            Some(Currency::parse(
                std::str::from_utf8(code).map_err(|_| corrupt("currency"))?,
            )?)
        }
        _ => return Err(corrupt("currency")),
    };
    let close_date = match r.u8()? {
        0 => None,
        1 => {
            let b = r.take(4)?;
            Some(Date::new(u16::from_be_bytes([b[0], b[1]]), b[2], b[3])?)
        }
        _ => return Err(corrupt("close date")),
    };
    let opp = Opportunity {
        id: id.to_string(),
        external_id,
        account_id,
        name,
        stage,
        amount,
        currency,
        close_date,
        owner: r.opt_str()?,
        next_step: r.opt_str()?,
        description: r.opt_str()?,
        tags: r.tags()?,
    };
    r.end()?;
    Ok(opp)
}

/// Stage codes are part of the format: never renumber one, only add.
pub(super) fn stage_code(stage: Stage) -> u8 {
    match stage {
        Stage::Prospect => 0,
        Stage::Qualified => 1,
        Stage::TechnicalValidation => 2,
        Stage::BusinessValidation => 3,
        Stage::Committed => 4,
        Stage::Launched => 5,
        Stage::ClosedLost => 6,
    }
}

pub(super) fn stage_from_code(code: u8) -> Result<Stage> {
    Ok(match code {
        0 => Stage::Prospect,
        1 => Stage::Qualified,
        2 => Stage::TechnicalValidation,
        3 => Stage::BusinessValidation,
        4 => Stage::Committed,
        5 => Stage::Launched,
        6 => Stage::ClosedLost,
        _ => return Err(corrupt("stage")),
    })
}

/// Status codes are part of the format: never renumber one, only add.
fn status_code(status: AccountStatus) -> u8 {
    match status {
        AccountStatus::Customer => 0,
        AccountStatus::Prospect => 1,
        AccountStatus::Partner => 2,
        AccountStatus::Other => 3,
    }
}

fn status_from_code(code: u8) -> Result<AccountStatus> {
    Ok(match code {
        0 => AccountStatus::Customer,
        1 => AccountStatus::Prospect,
        2 => AccountStatus::Partner,
        3 => AccountStatus::Other,
        _ => return Err(corrupt("status")),
    })
}

fn corrupt(what: &str) -> anyhow::Error {
    anyhow::anyhow!("a stored record is corrupt ({what})")
}

/// LEB128: 7 bits a byte, low bits first.
fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Length + 1, or 0 for none.
fn put_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => {
            put_varint(out, s.len() as u64 + 1);
            out.extend_from_slice(s.as_bytes());
        }
        None => put_varint(out, 0),
    }
}

fn put_tags(out: &mut Vec<u8>, tags: &[String]) {
    put_varint(out, tags.len() as u64);
    for t in tags {
        put_str(out, t);
    }
}

/// Reads a value, every step bounds-checked.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Result<Self> {
        match bytes.split_first() {
            Some((&RECORD_FORMAT, rest)) => Ok(Reader { bytes: rest }),
            Some((other, _)) => bail!("a stored record has an unknown format {other}"),
            None => Err(corrupt("empty")),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.bytes.len() {
            return Err(corrupt("truncated"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn varint(&mut self) -> Result<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(corrupt("varint"))
    }

    fn len(&mut self) -> Result<usize> {
        let n = self.varint()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.bytes.len())
            .ok_or_else(|| corrupt("length"))
    }

    fn str(&mut self) -> Result<String> {
        let n = self.len()?;
        let bytes = self.take(n)?;
        Ok(std::str::from_utf8(bytes)
            .map_err(|_| corrupt("text"))?
            .to_string())
    }

    fn opt_str(&mut self) -> Result<Option<String>> {
        match self.varint()? {
            0 => Ok(None),
            n => {
                let n = usize::try_from(n - 1)
                    .ok()
                    .filter(|&n| n <= self.bytes.len())
                    .ok_or_else(|| corrupt("length"))?;
                let bytes = self.take(n)?;
                Ok(Some(
                    std::str::from_utf8(bytes)
                        .map_err(|_| corrupt("text"))?
                        .to_string(),
                ))
            }
        }
    }

    fn tags(&mut self) -> Result<Vec<String>> {
        let n = self.len()?;
        let mut tags = Vec::with_capacity(n.min(protocol::records::TAGS_MAX));
        for _ in 0..n {
            tags.push(self.str()?);
        }
        Ok(tags)
    }

    fn end(&self) -> Result<()> {
        if !self.bytes.is_empty() {
            return Err(corrupt("trailing bytes"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn opt_text() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(".{0,40}")
    }

    fn tags() -> impl Strategy<Value = Vec<String>> {
        proptest::collection::vec("[a-z0-9 ]{0,12}", 0..5)
    }

    fn domain() -> impl Strategy<Value = Option<Domain>> {
        proptest::option::of("[a-z][a-z0-9-]{0,20}[a-z0-9]\\.[a-z]{2,6}")
            .prop_map(|d| d.and_then(|d| Domain::parse(&d).ok()))
    }

    fn account() -> impl Strategy<Value = Account> {
        (
            "[0-9A-Z]{26}",
            opt_text(),
            ".{0,60}",
            domain(),
            (opt_text(), opt_text()),
            prop::sample::select(AccountStatus::ALL.to_vec()),
            opt_text(),
            tags(),
        )
            .prop_map(
                |(id, external_id, name, domain, (industry, country), status, owner, tags)| {
                    Account {
                        id,
                        external_id,
                        name,
                        domain,
                        industry,
                        country,
                        status,
                        owner,
                        tags,
                    }
                },
            )
    }

    fn opportunity() -> impl Strategy<Value = Opportunity> {
        let amount = proptest::option::of(prop_oneof![0..1_000i64, 0..i64::MAX])
            .prop_map(|a| a.map(|a| Amount::from_ten_thousandths(a).expect("non-negative")));
        let currency = proptest::option::of(prop::sample::select(vec!["USD", "EUR", "JPY", "CHF"]))
            .prop_map(|c| c.map(|c| Currency::parse(c).expect("a currency")));
        let date = proptest::option::of((1u16..=9999, 1u8..=12, 1u8..=28))
            .prop_map(|d| d.map(|(y, m, day)| Date::new(y, m, day).expect("a date")));
        (
            ("[0-9A-Z]{26}", opt_text(), "[0-9A-Z]{26}", ".{0,60}"),
            prop::sample::select(Stage::ALL.to_vec()),
            (amount, currency, date),
            (opt_text(), opt_text(), opt_text()),
            tags(),
        )
            .prop_map(
                |(
                    (id, external_id, account_id, name),
                    stage,
                    (amount, currency, close_date),
                    (owner, next_step, description),
                    tags,
                )| Opportunity {
                    id,
                    external_id,
                    account_id,
                    name,
                    stage,
                    amount,
                    currency,
                    close_date,
                    owner,
                    next_step,
                    description,
                    tags,
                },
            )
    }

    proptest! {
        #[test]
        fn an_account_decodes_to_what_was_encoded(a in account()) {
            let mut bytes = Vec::new();
            encode_account(&a, &mut bytes);
            prop_assert_eq!(decode_account(&a.id, &bytes).expect("decodes"), a);
        }

        #[test]
        fn an_opportunity_decodes_to_what_was_encoded(o in opportunity()) {
            let mut bytes = Vec::new();
            encode_opportunity(&o, &mut bytes);
            prop_assert_eq!(decode_opportunity(&o.id, &bytes).expect("decodes"), o);
        }

        #[test]
        fn a_truncated_or_extended_value_is_an_error_not_a_panic(o in opportunity(), cut in 0usize..200) {
            let mut bytes = Vec::new();
            encode_opportunity(&o, &mut bytes);
            let cut = cut.min(bytes.len() - 1);
            prop_assert!(decode_opportunity(&o.id, &bytes[..cut]).is_err());
            bytes.push(0);
            prop_assert!(decode_opportunity(&o.id, &bytes).is_err());
        }

        #[test]
        fn arbitrary_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_account("id", &bytes);
            let _ = decode_opportunity("id", &bytes);
        }
    }

    #[test]
    fn the_same_record_always_gives_the_same_bytes() {
        let a = Account {
            id: "01J00000000000000000000000".into(),
            external_id: Some("ACC1".into()),
            name: "Acme".into(),
            domain: Some(Domain::parse("acme.com").expect("domain")),
            industry: None,
            country: Some("DE".into()),
            status: AccountStatus::Customer,
            owner: None,
            tags: vec!["x".into()],
        };
        let mut bytes = Vec::new();
        encode_account(&a, &mut bytes);
        assert_eq!(
            bytes,
            [
                &[1, 5][..],
                b"ACC1",
                &[4],
                b"Acme",
                &[9],
                b"acme.com",
                &[0, 3],
                b"DE",
                &[0, 0, 1, 1],
                b"x"
            ]
            .concat()
        );
    }
}
