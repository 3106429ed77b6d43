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
        };
        json!({
            "name": self.name,
            "in": "query",
            "required": false,
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
