//! Bodies in and out, in either `/v1` encoding.
//!
//! [`Wire`] reads a request body: checks `Content-Type`, reads at most the
//! configured number of bytes (whatever `Content-Length` claims, so a
//! chunked body cannot slip past), and decodes it. [`Reply`] encodes a
//! response in the encoding the request's `Accept` asked for.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use outpost_protocol::v1::Encoding;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::ApiError;
use crate::AppState;

/// A decoded request body.
#[derive(Debug)]
pub struct Wire<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Wire<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.config.limits.max_body_bytes;
        let encoding = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(Encoding::from_content_type)
            .ok_or(ApiError::UnsupportedMediaType)?;
        let declared =
            req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(ApiError::BodyTooLarge { limit });
        }
        let body = axum::body::to_bytes(req.into_body(), limit).await.map_err(|e| {
            if is_length_limit(&e) {
                ApiError::BodyTooLarge { limit }
            } else {
                ApiError::MalformedBody("could not read the request body".into())
            }
        })?;
        encoding.decode(&body).map(Wire).map_err(|e| ApiError::MalformedBody(e.to_string()))
    }
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// The encoding the client wants answers in, from `Accept`.
#[derive(Clone, Copy, Debug)]
pub struct Accept(pub Encoding);

impl<S: Send + Sync> FromRequestParts<S> for Accept {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let accept = parts.headers.get(ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
        Ok(Accept(Encoding::from_accept(accept)))
    }
}

/// A response body in the negotiated encoding.
#[derive(Debug)]
pub struct Reply<T>(pub Encoding, pub T);

impl<T: Serialize> IntoResponse for Reply<T> {
    fn into_response(self) -> Response {
        match self.0.encode(&self.1) {
            Ok(bytes) => {
                let mut r = bytes.into_response();
                r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(self.0.media_type()));
                r
            }
            Err(e) => ApiError::internal(e).into_response(),
        }
    }
}
