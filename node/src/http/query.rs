//! Query parameters, each route's declared once ([`query_params!`]): the one declaration makes
//! the struct the handler deserializes, the `parameters` the OpenAPI document lists for the route
//! (`openapi.rs`), and the error a bad value gets, which names the parameter and what it takes
//! instead of serde's text (`limit: invalid digit found in string`).

use super::{ApiError, PAGE_LIMIT_MAX};
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::Uri;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

/// What values a query parameter takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takes {
    /// Any text.
    Text,
    /// A whole number; the handler checks the range (the document says it).
    Number {
        /// Least value.
        min: u64,
        /// Greatest value.
        max: u64,
    },
    /// One of these words, as the document lists them. The handler checks it, with its own
    /// sentence: some take other spellings too (a stage in any case, `Technical Validation`).
    OneOf(&'static [&'static str]),
    /// A `next_cursor` of the route's list: checked against its shape before the handler runs,
    /// and documented as a `pattern`, so what the document allows is what the node takes.
    Cursor(Cursor),
    /// Text of this shape (a regular expression, as the document states it); the handler
    /// checks it, with its own sentence.
    Pattern(&'static str),
    /// A required text matching this pattern (a JSON Schema `pattern`, searched as ECMA-262
    /// does); the handler checks it with its own sentence.
    Required(&'static str),
    /// A day `YYYY-MM-DD` or a UTC time `YYYY-MM-DDTHH:MM:SS[.fff]Z` (`audit_export::parse_time`).
    Time,
}

/// The shape of a list's `next_cursor`. A cursor is a position in the list's order, so one of
/// the right shape that no page gave is still a position (the page after it); one of another
/// shape is a 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// A record id: a ULID (26 Crockford base-32 characters, any case, the first 0–7).
    RecordId,
    /// A partner's node id (an Ed25519 libp2p peer id: `12D3KooW` and 44 base-58 characters),
    /// or empty for the first page.
    NodeId,
    /// A deal id (64 hex digits), or empty for the first page.
    DealId,
    /// An audit sequence number, or empty for the first page.
    Seq,
    /// `<milliseconds>-<deal id>`: the time and deal of the last item.
    AtDeal,
}

const BASE58: &str = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

impl Cursor {
    /// The JSON Schema `pattern` of the shape.
    pub const fn pattern(self) -> &'static str {
        match self {
            Cursor::RecordId => "^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$",
            Cursor::NodeId => "^(12D3KooW[1-9A-HJ-NP-Za-km-z]{44})?$",
            Cursor::DealId => "^([0-9a-fA-F]{64})?$",
            Cursor::Seq => "^(0|[1-9][0-9]{0,18})?$",
            Cursor::AtDeal => "^(0|[1-9][0-9]{0,18})-[0-9a-fA-F]{64}$",
        }
    }

    /// Whether `value` has the shape ([`Cursor::pattern`], written out).
    pub fn accepts(self, value: &str) -> bool {
        let hex64 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
        // 0, or up to 19 digits without a leading zero: always a u64.
        let number = |s: &str| {
            s == "0"
                || (!s.is_empty()
                    && s.len() <= 19
                    && !s.starts_with('0')
                    && s.bytes().all(|b| b.is_ascii_digit()))
        };
        match self {
            Cursor::RecordId => {
                let crockford = |b: u8| {
                    b.is_ascii_digit()
                        || (b.is_ascii_alphabetic()
                            && !matches!(b.to_ascii_uppercase(), b'I' | b'L' | b'O' | b'U'))
                };
                value.len() == 26
                    && matches!(value.as_bytes()[0], b'0'..=b'7')
                    && value.bytes().all(crockford)
            }
            Cursor::NodeId => {
                value.is_empty()
                    || value.strip_prefix("12D3KooW").is_some_and(|rest| {
                        rest.len() == 44 && rest.bytes().all(|b| BASE58.as_bytes().contains(&b))
                    })
            }
            Cursor::DealId => value.is_empty() || hex64(value),
            Cursor::Seq => value.is_empty() || number(value),
            Cursor::AtDeal => value
                .split_once('-')
                .is_some_and(|(at, deal)| number(at) && hex64(deal)),
        }
    }
}

/// One query parameter as the API documents it.
#[derive(Debug, Clone, Copy)]
pub struct ParamDoc {
    /// The name in the query string (the struct field's name).
    pub name: &'static str,
    /// What it takes.
    pub takes: Takes,
    /// One line for people.
    pub description: &'static str,
}

impl ParamDoc {
    /// The parameter as an OpenAPI parameter object.
    pub fn openapi(&self) -> Value {
        let schema = match self.takes {
            Takes::Text => json!({"type": "string"}),
            Takes::Number { min, max } => {
                json!({"type": "integer", "minimum": min, "maximum": max})
            }
            Takes::OneOf(words) => json!({"type": "string", "enum": words}),
            Takes::Cursor(cursor) => json!({"type": "string", "pattern": cursor.pattern()}),
            Takes::Pattern(pattern) => json!({"type": "string", "pattern": pattern}),
            Takes::Required(pattern) => json!({"type": "string", "pattern": pattern}),
            Takes::Time => {
                // ASCII digits (a regex's \d may match other scripts' digits), years 0001–9999.
                let day = "(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-[0-9]{2}-[0-9]{2}";
                json!({"type": "string", "anyOf": [
                    {"format": "date", "pattern": format!("^{day}$")},
                    {"format": "date-time",
                     "pattern": format!("^{day}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]+)?Z$")},
                ]})
            }
        };
        json!({
            "name": self.name,
            "in": "query",
            "required": matches!(self.takes, Takes::Required(_)),
            "description": self.description,
            "schema": schema,
        })
    }
}

/// A query struct made by [`query_params!`]: its parameters, documented.
pub trait QueryParams: DeserializeOwned {
    /// The struct's name, for the test that checks each route documents the parameters its
    /// handler reads.
    const NAME: &'static str;
    /// Every parameter, in declaration order.
    const PARAMS: &'static [ParamDoc];
}

/// `limit` of every paged list.
pub const LIMIT: Takes = Takes::Number {
    min: 1,
    max: PAGE_LIMIT_MAX as u64,
};
/// What `limit` is, for the document.
pub const LIMIT_DOC: &str = "Items per page, 1 to 1000 (default 100)";
/// What `cursor` is, for the document.
pub const CURSOR_DOC: &str = "The next_cursor of the previous page; absent for the first page";
/// The stages a `stage` filter names (any case; spaces or hyphens for underscores).
pub const STAGES: Takes = Takes::OneOf(&[
    "prospect",
    "qualified",
    "technical_validation",
    "business_validation",
    "committed",
    "launched",
    "closed_lost",
]);

/// A required text with something besides white space (Rust's `trim`: Unicode White_Space).
pub const NOT_BLANK: Takes = Takes::Required(
    r"[^\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]",
);
/// A required comma-separated list naming at least one item (something besides white space
/// and commas).
pub const NOT_BLANK_LIST: Takes = Takes::Required(
    r"[^,\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]",
);

/// Declares a query struct and its documentation in one place:
/// `query_params! { pub struct Q { limit: Option<usize> = LIMIT, "what it is"; } }`.
/// Every field must be an `Option` (a parameter may always be left out).
macro_rules! query_params {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $field:ident : $ty:ty = $takes:expr, $description:expr; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, serde::Deserialize)]
        $vis struct $name {
            $( $field: $ty, )*
        }

        impl $crate::http::query::QueryParams for $name {
            const NAME: &'static str = stringify!($name);
            const PARAMS: &'static [$crate::http::query::ParamDoc] = &[
                $( $crate::http::query::ParamDoc {
                    name: stringify!($field),
                    takes: $takes,
                    description: $description,
                }, )*
            ];
        }
    };
}
pub(crate) use query_params;

/// Extracts a [`QueryParams`] struct from the query string; a bad value is a 400 naming the
/// parameter and what it takes (see [`parse`]).
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: QueryParams> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parse(&parts.uri).map(Params)
    }
}

/// The query of `uri` as `T`. Each documented parameter is checked before serde reads it, so
/// what the caller sees is a sentence about the parameter: a number that is not one, or a
/// parameter given twice. Parameters `T` does not declare are ignored, as before (a
/// cache-buster `_=…` must not fail a list).
pub fn parse<T: QueryParams>(uri: &Uri) -> Result<T, ApiError> {
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map_err(|e| ApiError::bad_request(format!("the query string cannot be read: {e}")))?;
    for (i, (name, value)) in pairs.iter().enumerate() {
        let Some(param) = T::PARAMS.iter().find(|p| p.name == name) else {
            continue;
        };
        if pairs[..i].iter().any(|(earlier, _)| earlier == name) {
            return Err(bad(param.name, "given twice; give it once".to_string()));
        }
        if let Takes::Number { min, max } = param.takes {
            if value.parse::<u64>().is_err() {
                return Err(bad(
                    param.name,
                    format!("'{value}' is not a whole number ({min} to {max})"),
                ));
            }
        }
        if let Takes::Cursor(cursor) = param.takes {
            if !cursor.accepts(value) {
                return Err(bad(
                    param.name,
                    format!("'{value}' is not a next_cursor from a page"),
                ));
            }
        }
    }
    // What is left for serde to refuse is a bug in a declaration; still a sentence, not a panic.
    let Query(params) = Query::<T>::try_from_uri(uri).map_err(|e| {
        ApiError::bad_request(format!(
            "the query string cannot be read: {}",
            e.body_text()
        ))
    })?;
    Ok(params)
}

/// A 400 about one parameter: `{"error": "limit: …", "details": [{"parameter", "message"}]}`.
pub fn bad(parameter: &str, message: String) -> ApiError {
    ApiError::bad_request(format!("{parameter}: {message}"))
        .with_details(vec![json!({"parameter": parameter, "message": message})])
}

#[cfg(test)]
mod tests {
    use super::*;

    query_params! {
        /// A query of every kind of parameter.
        struct Sample {
            limit: Option<usize> = LIMIT, LIMIT_DOC;
            cursor: Option<String> = Takes::Text, CURSOR_DOC;
            status: Option<String> = Takes::OneOf(&["open", "closed"]), "Only these";
        }
    }

    /// The query `query` as a [`Sample`], or the error's sentence and details.
    fn check(query: &str) -> Result<Sample, (String, Value)> {
        let uri: Uri = format!("/x?{query}").parse().expect("a uri");
        parse::<Sample>(&uri).map_err(|e| {
            let body = e.body();
            (
                body["error"].as_str().unwrap_or_default().to_string(),
                body["details"].clone(),
            )
        })
    }

    #[test]
    fn a_bad_value_names_the_parameter_and_what_it_takes() {
        let (sentence, details) = check("limit=abc").expect_err("not a number");
        assert_eq!(sentence, "limit: 'abc' is not a whole number (1 to 1000)");
        assert_eq!(
            details,
            json!([{"parameter": "limit", "message": "'abc' is not a whole number (1 to 1000)"}])
        );
        for query in ["limit=-1", "limit=1.5", "limit=", "limit=%20"] {
            let (sentence, _) = check(query).expect_err(query);
            assert!(sentence.starts_with("limit: '"), "{query}: {sentence}");
        }
        let (sentence, _) = check("limit=1&cursor=a&limit=2").expect_err("twice");
        assert_eq!(sentence, "limit: given twice; give it once");
    }

    #[test]
    fn good_numbers_any_words_and_unknown_parameters_pass() {
        // Words are the handler's to check (it may take other spellings).
        let q = check("limit=5&cursor=x%20y&status=Maybe&_=123").expect("good");
        assert_eq!(q.limit, Some(5));
        assert_eq!(q.cursor.as_deref(), Some("x y"));
        assert_eq!(q.status.as_deref(), Some("Maybe"));
        let q = check("").expect("nothing given");
        assert!(q.limit.is_none() && q.cursor.is_none() && q.status.is_none());
    }

    /// A minimal matcher for the patterns [`Cursor::pattern`] uses (anchors, classes with
    /// ranges, `{n}`/`{m,n}` counts, a `(...)` or `(...)?` group and `|` inside it or at the top), so
    /// the test checks the documented pattern, not a copy of `accepts`.
    fn matches(pattern: &str, value: &str) -> bool {
        let body = pattern
            .strip_prefix('^')
            .and_then(|p| p.strip_suffix('$'))
            .unwrap();
        alternatives(body).iter().any(|alt| seq(alt, value))
    }

    fn alternatives(p: &str) -> Vec<String> {
        let (mut out, mut cur, mut depth, mut class) = (Vec::new(), String::new(), 0, false);
        for c in p.chars() {
            match c {
                '[' => class = true,
                ']' => class = false,
                '(' if !class => depth += 1,
                ')' if !class => depth -= 1,
                '|' if !class && depth == 0 => {
                    out.push(std::mem::take(&mut cur));
                    continue;
                }
                _ => {}
            }
            cur.push(c);
        }
        out.push(cur);
        out
    }

    /// Matches a sequence of atoms (`[class]{n}`, `[class]{m,n}`, a literal, `(group)?`).
    fn seq(p: &str, v: &str) -> bool {
        if p.is_empty() {
            return v.is_empty();
        }
        if let Some(rest) = p.strip_prefix('(') {
            // The group's end (groups do not nest in these patterns), and whether it is optional.
            let close = rest.find(')').unwrap();
            let inner = &rest[..close];
            let (optional, after) = match rest[close + 1..].strip_prefix('?') {
                Some(after) => (true, after),
                None => (false, &rest[close + 1..]),
            };
            return (0..=v.len()).filter(|&i| v.is_char_boundary(i)).any(|i| {
                let (head, tail) = v.split_at(i);
                ((optional && head.is_empty()) || alternatives(inner).iter().any(|a| seq(a, head)))
                    && seq(after, tail)
            });
        }
        let (set, rest): (Box<dyn Fn(char) -> bool>, &str) = if let Some(r) = p.strip_prefix('[') {
            let end = r.find(']').unwrap();
            let class: Vec<char> = r[..end].chars().collect();
            let ranges: Vec<(char, char)> = {
                let mut out = Vec::new();
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == '-' {
                        out.push((class[i], class[i + 2]));
                        i += 3;
                    } else {
                        out.push((class[i], class[i]));
                        i += 1;
                    }
                }
                out
            };
            (
                Box::new(move |c| ranges.iter().any(|&(a, b)| a <= c && c <= b)),
                &r[end + 1..],
            )
        } else {
            let first = p.chars().next().unwrap();
            (Box::new(move |c| c == first), &p[first.len_utf8()..])
        };
        let (min, max, rest) = match rest.strip_prefix('{') {
            Some(r) => {
                let end = r.find('}').unwrap();
                let (a, b) = r[..end].split_once(',').unwrap_or((&r[..end], &r[..end]));
                (a.parse().unwrap(), b.parse().unwrap(), &r[end + 1..])
            }
            None => (1, 1, rest),
        };
        let chars: Vec<(usize, char)> = v.char_indices().collect();
        let mut n = 0;
        while n < chars.len() && set(chars[n].1) {
            n += 1;
        }
        (min..=max.min(n)).any(|k| {
            let at = chars.get(k).map_or(v.len(), |&(i, _)| i);
            seq(rest, &v[at..])
        })
    }

    #[test]
    fn cursor_shapes_are_their_documented_patterns() {
        let deal = "ab".repeat(32);
        let cases: &[(Cursor, &[&str], &[&str])] = &[
            (
                Cursor::RecordId,
                &["01KBX4Y8S1V1Q1ZJ0M7Y3V5N2P", "7zzzzzzzzzzzzzzzzzzzzzzzzz"],
                &[
                    "",
                    "81KBX4Y8S1V1Q1ZJ0M7Y3V5N2P",
                    "01KBX4Y8S1V1Q1ZJ0M7Y3V5N2",
                    "01KBX4Y8S1V1Q1ZJ0M7Y3V5N2I",
                    "01KBX4Y8S1V1Q1ZJ0M7Y3V5N2PP",
                ],
            ),
            (
                Cursor::NodeId,
                &["", "12D3KooWPEVBeJMZdJu682JoXBAiMBu8eHdEjM2CXsen3ZWdbZwf"],
                &[
                    "G",
                    "12D3KooWPEVBeJMZdJu682JoXBAiMBu8eHdEjM2CXsen3ZWdbZw0",
                    "12D3KooWPEVBeJMZdJu682JoXBAiMBu8eHdEjM2CXsen3ZWdbZw",
                ],
            ),
            (
                Cursor::DealId,
                &["", &deal, &deal.to_uppercase()],
                &["x", &deal[1..], "𨳐"],
            ),
            (
                Cursor::Seq,
                &["", "0", "7", "1234567890123456789"],
                &["__main__", "007", "+5", "-1", "12345678901234567890"],
            ),
            (
                Cursor::AtDeal,
                &[&format!("0-{deal}"), &format!("1765000000000-{deal}")],
                &[
                    "",
                    "1-x",
                    &format!("01-{deal}"),
                    &format!("-{deal}"),
                    &format!("1-{deal}-"),
                ],
            ),
        ];
        for (cursor, good, bad) in cases {
            for v in *good {
                assert!(cursor.accepts(v), "{cursor:?} refuses {v:?}");
                assert!(
                    matches(cursor.pattern(), v),
                    "{cursor:?}'s pattern refuses {v:?}"
                );
            }
            for v in *bad {
                assert!(!cursor.accepts(v), "{cursor:?} takes {v:?}");
                assert!(
                    !matches(cursor.pattern(), v),
                    "{cursor:?}'s pattern takes {v:?}"
                );
            }
        }
        // Every ULID the node makes and every u64 are cursors.
        assert!(Cursor::RecordId.accepts(&ulid::Ulid::new().to_string()));
        assert!(Cursor::Seq.accepts(&u64::MAX.to_string()[..19]));
    }

    #[test]
    fn a_cursor_of_another_shape_is_a_400_naming_it() {
        query_params! {
            struct Listed {
                cursor: Option<String> = Takes::Cursor(Cursor::Seq), CURSOR_DOC;
            }
        }
        let uri: Uri = "/x?cursor=%2B5".parse().expect("a uri");
        let body = parse::<Listed>(&uri).expect_err("+5").body();
        assert_eq!(
            body["error"],
            "cursor: '+5' is not a next_cursor from a page"
        );
        let uri: Uri = "/x?cursor=12".parse().expect("a uri");
        assert_eq!(
            parse::<Listed>(&uri).expect("12").cursor.as_deref(),
            Some("12")
        );
    }

    #[test]
    fn the_documented_stages_are_the_contracts() {
        let names = protocol::records::Stage::ALL.map(protocol::records::Stage::as_str);
        let Takes::OneOf(documented) = STAGES else {
            panic!("stages are words: {STAGES:?}");
        };
        assert_eq!(documented, names);
    }

    #[test]
    fn the_declaration_is_the_documentation() {
        let names: Vec<&str> = Sample::PARAMS.iter().map(|p| p.name).collect();
        assert_eq!(names, ["limit", "cursor", "status"]);
        assert_eq!(Sample::NAME, "Sample");
        assert_eq!(
            Sample::PARAMS[0].openapi(),
            json!({"name": "limit", "in": "query", "required": false, "description": LIMIT_DOC,
                   "schema": {"type": "integer", "minimum": 1, "maximum": 1000}})
        );
    }
}
