//! Pages of a listing: `limit` and `cursor` in, `X-Next-Cursor` out.

use lambda_http::Request;
use serde_json::Value;

use crate::cursor;
use crate::error::ApiError;
use crate::secret::Secret;
use crate::service::App;
use crate::store::PageKey;

use super::{Params, Reply, params};

/// `limit` (1..=100, default 50) and `cursor` query parameters.
pub fn page_params(params: &Params) -> Result<(usize, Option<String>), ApiError> {
    let limit = match params.value("limit") {
        None | Some(Value::Null) => 50,
        Some(Value::String(s)) => s.trim().parse::<usize>().map_err(|_| bad_limit())?,
        Some(Value::Number(n)) => n.as_u64().ok_or_else(bad_limit)? as usize,
        Some(_) => return Err(bad_limit()),
    };
    if !(1..=100).contains(&limit) {
        return Err(bad_limit());
    }
    let cursor = match params.value("cursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(ApiError::BadRequest("invalid cursor".into())),
    };
    Ok((limit, cursor))
}

fn bad_limit() -> ApiError {
    ApiError::BadRequest("limit must be an integer from 1 to 100".into())
}

/// The page a listing request asks for, read before anything else is
/// checked (a bad `limit` is a 400 whatever the rest); its cursor is
/// verified once the listing's scope is known ([`PageRequest::within`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageRequest {
    /// Items per page (1..=100, default 50).
    pub limit: usize,
    cursor: Option<String>,
}

impl PageRequest {
    /// The `limit` and `cursor` of `req`'s parameters.
    pub fn read(req: &Request) -> Result<Self, ApiError> {
        Self::of(&params(req)?)
    }

    /// The `limit` and `cursor` of `params`.
    pub fn of(params: &Params) -> Result<Self, ApiError> {
        let (limit, cursor) = page_params(params)?;
        Ok(Self { limit, cursor })
    }

    /// The page within the listing `scope` (what it pages through): the
    /// cursor, if any, must have been issued for that scope (else a 400).
    pub fn within(self, app: &App, scope: String) -> Result<Paging, ApiError> {
        // Cursors issued before a rotation keep paging during its overlap
        // (decision 0018); new ones are signed with the signing version.
        let keys = app.config.cursor_keys()?;
        let now = crate::service::now();
        let start = self
            .cursor
            .map(|c| keys.verify(now, |key| cursor::decode(&c, &scope, key)))
            .transpose()?;
        Ok(Paging {
            limit: self.limit,
            start,
            scope,
            secret: keys.signing(now).clone(),
        })
    }
}

/// One page of a listing: where it starts, and how the reply names the next.
#[derive(Debug)]
pub struct Paging {
    /// Items per page.
    pub limit: usize,
    /// Where the page starts (`None`: at the beginning).
    pub start: Option<PageKey>,
    scope: String,
    secret: Secret,
}

impl Paging {
    /// `reply` with `X-Next-Cursor` when another page follows (`next`).
    pub fn reply(&self, reply: Reply, next: Option<&PageKey>) -> Result<Reply, ApiError> {
        Ok(match next {
            Some(next) => reply.header(
                "x-next-cursor",
                cursor::encode(next, &self.scope, &self.secret)?,
            ),
            None => reply,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::test_request as req;

    #[test]
    fn page_parameters_default_and_refuse_out_of_range() {
        let none = params(&req("/x", None, "")).unwrap();
        assert_eq!(page_params(&none).unwrap(), (50, None));
        let ok = params(&req("/x?limit=%2010%20&cursor=abc", None, "")).unwrap();
        assert_eq!(page_params(&ok).unwrap(), (10, Some("abc".into())));
        let empty_cursor = params(&req("/x?cursor=", None, "")).unwrap();
        assert_eq!(page_params(&empty_cursor).unwrap(), (50, None));
        let json = params(&req("/x", Some("application/json"), r#"{"limit":100}"#)).unwrap();
        assert_eq!(page_params(&json).unwrap().0, 100);
        for bad in ["0", "101", "-1", "ten", "1.5"] {
            let p = params(&req(&format!("/x?limit={bad}"), None, "")).unwrap();
            assert!(
                matches!(page_params(&p), Err(ApiError::BadRequest(_))),
                "{bad}"
            );
        }
        let p = params(&req("/x", Some("application/json"), r#"{"cursor":5}"#)).unwrap();
        assert!(matches!(page_params(&p), Err(ApiError::BadRequest(_))));
    }
}
