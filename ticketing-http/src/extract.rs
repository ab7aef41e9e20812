//! Extractors that refuse bad input with a problem body instead of axum's plain-text rejections:
//! a JSON body whose error names the field at fault, query strings, and path ids.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::problem::ApiError;

/// A JSON request body. Malformed JSON is a 400 `malformed_json`; a value of the wrong type or
/// a missing or unknown field is a 422 `invalid_field` naming the field by its JSON path; a body
/// over the configured limit is a 413 `payload_too_large`; another content type is a 415.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                let v = v.trim();
                v.eq_ignore_ascii_case("application/json") || v.to_ascii_lowercase().ends_with("+json")
            });
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON (Content-Type: application/json)",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::too_large()
            } else {
                ApiError::bad_request(format!("the body could not be read: {e}"))
            }
        })?;
        parse_json(&bytes).map(Body)
    }
}

/// Parses `bytes` as a JSON object into `T`, with errors that name the field. (Every body of
/// this API is an object; serde would otherwise also take a struct from an array.)
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(match serde_json::from_slice::<serde_json::Value>(bytes) {
            Ok(_) => ApiError::field("body", "must be a JSON object"),
            Err(e) => {
                ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", format!("the body is not valid JSON: {e}"))
            }
        });
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", format!("the body is not valid JSON: {inner}"))
            }
            _ => {
                // A missing field is reported at its parent: name the field itself.
                let message = inner.to_string();
                let named = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next());
                let field = match (named, path.as_str()) {
                    (Some(name), ".") => name.to_owned(),
                    (Some(name), parent) => format!("{parent}.{name}"),
                    (None, ".") => "body".to_owned(),
                    (None, _) => path,
                };
                ApiError::field(field, message)
            }
        }
    })
}

/// Query-string parameters; a bad one is a 422 `invalid_field`.
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Params(value)),
            Err(e) => {
                // axum says `Failed to deserialize query string: <field>: <why>`: name the field.
                let text = e.body_text();
                let field = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .and_then(|rest| rest.split_once(": "))
                    .map(|(field, _)| field)
                    .filter(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or("query")
                    .to_owned();
                Err(ApiError::field(field, text))
            }
        }
    }
}

/// Path parameters; one that does not parse (an id that is not a UUID) names nothing that
/// exists: 404 `not_found`.
#[derive(Debug)]
pub struct Id<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Id<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Id(value)),
            Err(_) => Err(ApiError::not_found("resource")),
        }
    }
}

/// The rows of a page: `(limit, offset)` for `page` (from 1, default 1) of `per_page` (1 to
/// `max`, default `default`); a bad value is a problem naming `page` or `per_page`.
pub fn page_window(page: Option<u32>, per_page: Option<u32>, default: u32, max: u32) -> Result<(u32, u32), ApiError> {
    let per_page = per_page.unwrap_or(default);
    if !(1..=max).contains(&per_page) {
        return Err(ApiError::field("per_page", format!("must be from 1 to {max}")));
    }
    let offset = page
        .unwrap_or(1)
        .checked_sub(1)
        .and_then(|p| p.checked_mul(per_page))
        .ok_or_else(|| ApiError::field("page", "pages count from 1"))?;
    Ok((per_page, offset))
}
