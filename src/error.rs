//! The one error type of the API and its mapping to HTTP.
//!
//! Every handler returns `Result<_, ApiError>`; [`ApiError::status`] and
//! [`ApiError::body`] are the only place an error becomes a status code and a
//! JSON body (and [`ApiError::x_message`] the only `X-message`), so the
//! wire format of errors cannot drift between endpoints.

use serde_json::json;

/// The `X-message` of a refusal for a missing ability, as SharinPix sends it.
pub const ACCESS_DENIED: &str = "Access denied";

/// Everything that can go wrong while serving a request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request could not be read (body, query, cursor).
    #[error("{0}")]
    BadRequest(String),
    /// 401: no usable credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 401 with `X-message: Access denied` (SharinPix's answer):
    /// authenticated, but the token's abilities do not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: absent, or belonging to another organization (indistinguishable on purpose).
    #[error("{0}")]
    NotFound(String),
    /// 409: the target exists and belongs to someone else.
    #[error("{0}")]
    Conflict(String),
    /// 413: the body is larger than the endpoint accepts.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 422: readable but invalid parameters.
    #[error("{0}")]
    Unprocessable(String),
    /// 422: an `Idempotency-Key` sent again with another body.
    #[error("{0}")]
    IdempotencyKeyReused(String),
    /// 422 (a size) or 429 (a rate, with `Retry-After`): a quota of the
    /// caller's organization (decision 0015); the body names it.
    #[error("{0}")]
    Quota(crate::quota::Exceeded),
    /// 503: a dependency stayed unavailable after every retry, or the
    /// request's deadline came first; safe to retry (`Retry-After` says when).
    #[error("{0}")]
    Unavailable(String),
    /// 500: a bug or an unexpected dependency answer. The detail is logged,
    /// never sent to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest(_) => 400,
            Self::Unauthorized(_) | Self::Forbidden(_) => 401,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::PayloadTooLarge(_) => 413,
            Self::Unprocessable(_) | Self::IdempotencyKeyReused(_) => 422,
            Self::Quota(q) => q.status(),
            Self::Unavailable(_) => 503,
            Self::Internal(_) => 500,
        }
    }

    /// A stable machine-readable code, for clients to branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::Unprocessable(_) => "unprocessable_entity",
            Self::IdempotencyKeyReused(_) => "idempotency_key_reused",
            Self::Quota(_) => "quota_exceeded",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    /// The message shown to the client: the error's own text for client
    /// errors, a fixed sentence for server errors (details stay in the logs).
    pub fn public_message(&self) -> String {
        match self {
            Self::Internal(_) => "internal error; the request id identifies it in the logs".into(),
            Self::Unavailable(_) => "a dependency is unavailable; retry later".into(),
            other => other.to_string(),
        }
    }

    /// The `X-message` header of this error: SharinPix's `Access denied`
    /// for a missing ability, none otherwise.
    pub fn x_message(&self) -> Option<&'static str> {
        matches!(self, Self::Forbidden(_)).then_some(ACCESS_DENIED)
    }

    /// Seconds after which a retry may pass: a 503's fixed pause, a rate
    /// quota's own; `None` for the rest.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Unavailable(_) => Some(crate::http::RETRY_AFTER_SECONDS),
            Self::Quota(q) => q.retry_after,
            _ => None,
        }
    }

    /// `{"error":{"code":"…","message":"…"}}`, plus `quota` and `limit`
    /// for a quota, so a client can tell which one it met.
    pub fn body(&self) -> serde_json::Value {
        match self {
            Self::Quota(q) => json!({"error": {
                "code": self.code(),
                "message": self.public_message(),
                "quota": q.quota.name(),
                "limit": q.limit,
            }}),
            _ => json!({"error": {"code": self.code(), "message": self.public_message()}}),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_their_detail() {
        let e = ApiError::Internal("table albums-prod: AccessDenied for arn:aws:iam::1".into());
        assert_eq!(e.status(), 500);
        let body = e.body().to_string();
        assert!(!body.contains("AccessDenied"), "{body}");
        assert!(body.contains("internal_error"));
    }

    #[test]
    fn a_missing_ability_is_sharinpixs_401() {
        let e = ApiError::Forbidden("this token may not do that on album a".into());
        assert_eq!(e.status(), 401);
        assert_eq!(e.x_message(), Some("Access denied"));
        assert_eq!(
            ApiError::Unauthorized("token expired".into()).x_message(),
            None
        );
    }

    #[test]
    fn a_quota_names_itself_and_says_when_to_retry_a_rate() {
        use crate::quota::{Exceeded, Quota};
        let rate = ApiError::Quota(Exceeded {
            quota: Quota::JobsAtOnce,
            limit: 2,
            message: "quota jobs_at_once exceeded".into(),
            retry_after: Some(30),
        });
        assert_eq!((rate.status(), rate.retry_after()), (429, Some(30)));
        assert_eq!(rate.body()["error"]["quota"], "jobs_at_once");
        assert_eq!(rate.body()["error"]["limit"], 2);
        let size = ApiError::Quota(Exceeded {
            quota: Quota::ImagesPerAlbum,
            limit: 20,
            message: "quota images_per_album exceeded".into(),
            retry_after: None,
        });
        assert_eq!((size.status(), size.retry_after()), (422, None));
        assert_eq!(size.code(), "quota_exceeded");
    }

    #[test]
    fn client_errors_carry_their_message() {
        let e = ApiError::Unprocessable("destination_id is invalid".into());
        assert_eq!(e.status(), 422);
        assert_eq!(
            e.body(),
            json!({"error":{"code":"unprocessable_entity","message":"destination_id is invalid"}})
        );
    }
}
