//! Sizing an Automerge change chunk before Automerge parses it.
//!
//! Automerge stores a change's operations in run-length encoded columns, so a change of a hundred
//! bytes can declare 2^60 operations, or one operation with 2^60 predecessors, and
//! `automerge::Change::try_from` walks every one of them before anything else can look at the
//! change. [`declared_size`] reads the chunk header and the column metadata and adds up the run
//! lengths of every column without expanding any run: time linear in the chunk's length, no
//! allocation. The caller compares the totals with [`crate::limits`] and refuses the change
//! before Automerge reads it. Encodings Automerge would mishandle (a run length whose negation
//! overflows, a null run longer than `isize`, an actor index past the change's actors, which
//! `Change::decode` unwraps, an operation counter over `u32::MAX`, which the parser and apply
//! unwrap) are refused here too.
//!
//! Layout (<https://alexjg.github.io/automerge-storage-docs/#change-chunks>): magic bytes,
//! checksum (4 bytes), chunk type, uLEB128 data length, then in the data: dependencies (count,
//! 32-byte hashes), actor (length, bytes), seq, start op, time (sLEB128), message (length, bytes),
//! other actors (count, each length and bytes), column metadata (count, then uLEB128 spec and
//! length per column) and the column data. A column spec is `id << 4 | deflate << 3 | type`.

/// What a change chunk declares, read without expanding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Declared {
    /// Operations: the values of the action column, which drives Automerge's walk.
    pub ops: u64,
    /// Predecessors over all operations: the sum of the predecessor group column's values.
    pub preds: u64,
    /// The counter of the change's first operation.
    pub start_op: u64,
}

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const CHUNK_TYPE_CHANGE: u8 = 1;
const HASH_BYTES: usize = 32;

/// The action column: id 4, type integer.
const ACTION_COLUMN: u64 = 4 << 4 | TYPE_INTEGER;
/// The counters of the objects operations write to: id 0, type integer.
const OBJECT_COUNTER_COLUMN: u64 = TYPE_INTEGER;
const DEFLATE_BIT: u64 = 1 << 3;
const TYPE_GROUP: u64 = 0;
const TYPE_ACTOR: u64 = 1;
const TYPE_INTEGER: u64 = 2;
const TYPE_DELTA: u64 = 3;
const TYPE_BOOLEAN: u64 = 4;
const TYPE_STRING: u64 = 5;
const TYPE_VALUE_META: u64 = 6;

/// Reads the declared operation and predecessor counts of an uncompressed change chunk. Counts
/// saturate at `u64::MAX`. Fails (with what is wrong) on anything that is not a well-formed
/// uncompressed change chunk as far as the columns go; Automerge checks the rest.
pub(crate) fn declared_size(chunk: &[u8]) -> Result<Declared, &'static str> {
    let mut r = Reader(chunk);
    if r.take(4)? != MAGIC {
        return Err("not an Automerge chunk");
    }
    r.take(4)?; // checksum
    if r.byte()? != CHUNK_TYPE_CHANGE {
        return Err("not an uncompressed change chunk");
    }
    let len = r.len()?;
    let mut r = Reader(r.take(len)?);
    let deps = r.len()?;
    for _ in 0..deps {
        r.take(HASH_BYTES)?;
    }
    let actor = r.len()?;
    r.take(actor)?;
    r.uleb()?; // seq
    let start_op = r.uleb()?;
    r.sleb()?; // time
    let message = r.len()?;
    r.take(message)?;
    let others = r.len()?;
    for _ in 0..others {
        let actor = r.len()?;
        r.take(actor)?;
    }
    // Actor columns index the change's actor (0) and its other actors (1…).
    let actors = (others as u64).saturating_add(1);
    // The column metadata, then the column data. Each (spec, length) pair takes at least two
    // bytes, so the loops over them are bounded by the chunk's length.
    let columns = r.uleb()?;
    let mut skip = Reader(r.0);
    for _ in 0..columns {
        skip.uleb()?;
        skip.uleb()?;
    }
    let mut data = skip;
    let mut specs = r;
    let mut declared = Declared::default();
    for _ in 0..columns {
        let spec = specs.uleb()?;
        if spec > u64::from(u32::MAX) {
            return Err("column spec out of range");
        }
        if spec & DEFLATE_BIT != 0 {
            return Err("compressed column");
        }
        let len = specs.len()?;
        let column = data.take(len)?;
        let items = match spec & 0b111 {
            TYPE_BOOLEAN => boolean_items(column)?,
            TYPE_GROUP => {
                let (items, sum) = rle_items(column, Value::Uint)?;
                declared.preds = declared.preds.saturating_add(sum);
                items
            }
            TYPE_ACTOR => rle_items(column, Value::Actor(actors))?.0,
            TYPE_INTEGER if spec == OBJECT_COUNTER_COLUMN => rle_items(column, Value::Counter)?.0,
            TYPE_INTEGER | TYPE_VALUE_META => rle_items(column, Value::Uint)?.0,
            // Element and predecessor counters, as deltas.
            TYPE_DELTA => delta_items(column)?,
            TYPE_STRING => rle_items(column, Value::Str)?.0,
            // Raw values: read by length from value metadata, never expanded.
            _ => 0,
        };
        if spec == ACTION_COLUMN {
            declared.ops = declared.ops.saturating_add(items);
        }
    }
    declared.start_op = start_op;
    Ok(declared)
}

impl Declared {
    /// Whether the counters of the change's own operations (from its start op) fit: Automerge
    /// counts them in a `u32` and unwraps the conversion when it applies the change.
    pub(crate) fn counters_fit(&self) -> bool {
        self.start_op.saturating_add(self.ops) <= COUNTER_MAX
    }
}

/// The value type of a run-length column.
#[derive(Clone, Copy)]
enum Value {
    Uint,
    Str,
    /// An operation counter.
    Counter,
    /// An actor index, below the number of actors the change names.
    Actor(u64),
}

/// Number of items in a run-length column (null runs included), and the sum of its values
/// (saturating; meaningful for unsigned columns).
fn rle_items(column: &[u8], value: Value) -> Result<(u64, u64), &'static str> {
    let mut r = Reader(column);
    let (mut items, mut sum) = (0u64, 0u64);
    let read_value = |r: &mut Reader<'_>| -> Result<u64, &'static str> {
        match value {
            Value::Uint => r.uleb(),
            Value::Actor(actors) => match r.uleb()? {
                index if index < actors => Ok(0),
                _ => Err("actor index out of range"),
            },
            Value::Counter => match r.uleb()? {
                counter if counter <= COUNTER_MAX => Ok(0),
                _ => Err("operation counter out of range"),
            },
            Value::Str => {
                let len = r.len()?;
                r.take(len).map(|_| 0)
            }
        }
    };
    while !r.0.is_empty() {
        let count = r.sleb()?;
        if count > 0 {
            let count = count.unsigned_abs();
            let v = read_value(&mut r)?;
            items = items.saturating_add(count);
            sum = sum.saturating_add(count.saturating_mul(v));
        } else if count < 0 {
            // A literal run: as many values follow as the count says, so this loop is bounded
            // by the column's bytes. Automerge negates the count, which overflows at i64::MIN.
            if count == i64::MIN {
                return Err("run length out of range");
            }
            for _ in 0..count.unsigned_abs() {
                let v = read_value(&mut r)?;
                items = items.saturating_add(1);
                sum = sum.saturating_add(v);
            }
        } else {
            // A null run. Automerge keeps its length in an `isize`.
            let nulls = r.uleb()?;
            if nulls > i64::MAX as u64 {
                return Err("null run length out of range");
            }
            items = items.saturating_add(nulls);
        }
    }
    Ok((items, sum))
}

/// Largest operation counter: Automerge keeps counters in a `u32` and unwraps the conversion.
const COUNTER_MAX: u64 = u32::MAX as u64;

/// Number of items in a delta column, whose values (the running sums of the deltas) are
/// operation counters: each must be in `0..=COUNTER_MAX`. A run repeats one delta, so its values
/// are in range when its first and last are.
fn delta_items(column: &[u8]) -> Result<u64, &'static str> {
    let mut r = Reader(column);
    let (mut items, mut value) = (0u64, 0i128);
    let check = |v: i128| {
        if (0..=i128::from(COUNTER_MAX)).contains(&v) {
            Ok(())
        } else {
            Err("operation counter out of range")
        }
    };
    while !r.0.is_empty() {
        let count = r.sleb()?;
        if count > 0 {
            let delta = i128::from(r.sleb()?);
            check(value + delta)?;
            // At most 2^63 × 2^63: exact in an i128.
            value += i128::from(count) * delta;
            check(value)?;
            items = items.saturating_add(count.unsigned_abs());
        } else if count < 0 {
            if count == i64::MIN {
                return Err("run length out of range");
            }
            for _ in 0..count.unsigned_abs() {
                value += i128::from(r.sleb()?);
                check(value)?;
                items = items.saturating_add(1);
            }
        } else {
            let nulls = r.uleb()?;
            if nulls > i64::MAX as u64 {
                return Err("null run length out of range");
            }
            items = items.saturating_add(nulls);
        }
    }
    Ok(items)
}

/// Number of items in a boolean column: alternating run lengths of false and true.
fn boolean_items(column: &[u8]) -> Result<u64, &'static str> {
    let mut r = Reader(column);
    let mut items = 0u64;
    while !r.0.is_empty() {
        items = items.saturating_add(r.uleb()?);
    }
    Ok(items)
}

/// A cursor over bytes; every read checks the bytes are there.
pub(crate) struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader(bytes)
    }

    /// The bytes not read yet.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.0
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        if n > self.0.len() {
            return Err("truncated");
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, &'static str> {
        Ok(self.take(1)?[0])
    }

    /// A uLEB128 length or count (anything over the remaining bytes fails at its use).
    fn len(&mut self) -> Result<usize, &'static str> {
        usize::try_from(self.uleb()?).map_err(|_| "length out of range")
    }

    /// Unsigned LEB128, as the `leb128` crate Automerge uses reads it (overlong forms allowed,
    /// at most 64 bits).
    pub(crate) fn uleb(&mut self) -> Result<u64, &'static str> {
        let mut result = 0u64;
        let mut shift = 0u32;
        loop {
            let byte = self.byte()?;
            if shift == 63 && byte > 1 {
                return Err("integer out of range");
            }
            result |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(result);
            }
            shift += 7;
        }
    }

    /// Signed LEB128, as the `leb128` crate reads it.
    fn sleb(&mut self) -> Result<i64, &'static str> {
        let mut result = 0i64;
        let mut shift = 0u32;
        loop {
            let byte = self.byte()?;
            if shift == 63 && byte != 0 && byte != 0x7f {
                return Err("integer out of range");
            }
            result |= i64::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                if shift < 64 && byte & 0x40 != 0 {
                    result |= !0 << shift;
                }
                return Ok(result);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{ObjType, ROOT};

    fn uleb(value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut v = value;
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }

    #[test]
    fn declared_sizes_of_real_changes_match_what_automerge_reads() {
        let mut doc = automerge::Automerge::new();
        let mut tx = doc.transaction();
        let map = tx.put_object(ROOT, "m", ObjType::Map).unwrap();
        for i in 0..300u64 {
            tx.put(&map, format!("k{}", i % 7), i).unwrap();
        }
        let list = tx.put_object(ROOT, "l", ObjType::List).unwrap();
        for i in 0..50usize {
            tx.insert(&list, i, "x").unwrap();
        }
        tx.delete(&list, 3).unwrap();
        tx.commit();
        let mut tx = doc.transaction();
        tx.put(ROOT, "m", "replaced").unwrap();
        tx.put(&map, "k1", "again").unwrap();
        tx.commit();
        for change in doc.get_changes(&[]) {
            let declared = declared_size(change.raw_bytes()).unwrap();
            let expanded = change.decode();
            assert_eq!(declared.ops, change.len() as u64);
            let preds: usize = expanded.operations.iter().map(|op| op.pred.len()).sum();
            assert_eq!(declared.preds, preds as u64);
        }
    }

    #[test]
    fn leb128_reads_like_the_leb128_crate() {
        for value in [0u64, 1, 127, 128, 300, 1 << 35, u64::MAX] {
            assert_eq!(Reader(&uleb(value)).uleb(), Ok(value));
        }
        // Overlong forms are allowed; an eleventh byte or a 65th bit is not.
        assert_eq!(Reader(&[0x81, 0x80, 0x00]).uleb(), Ok(1));
        let mut too_wide = vec![0xff; 9];
        too_wide.push(0x02);
        assert!(Reader(&too_wide).uleb().is_err());
        for value in [0i64, 1, -1, 63, 64, -64, -65, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            let mut v = value;
            loop {
                let byte = (v & 0x7f) as u8;
                v >>= 7;
                if (v == 0 && byte & 0x40 == 0) || (v == -1 && byte & 0x40 != 0) {
                    out.push(byte);
                    break;
                }
                out.push(byte | 0x80);
            }
            assert_eq!(Reader(&out).sleb(), Ok(value), "{value}");
        }
        assert!(Reader(&[0x80]).uleb().is_err());
    }

    #[test]
    fn anything_but_an_uncompressed_change_chunk_is_refused() {
        assert!(declared_size(&[]).is_err());
        assert!(declared_size(&[0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 2, 0]).is_err());
        assert!(declared_size(&[0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 1, 5, 0]).is_err());
    }
}
