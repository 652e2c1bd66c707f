//! Reading a request: its headers, the id in its path, and its parameters
//! from the query string and the body.

use std::collections::HashMap;

use lambda_http::{Body, Request, RequestExt};
use serde_json::Value;

use crate::album::is_valid_id;
use crate::error::ApiError;

/// Largest request body an endpoint reads (API Gateway's own limit is 10 MB;
/// none of ours needs more than a few KB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A header's value as text, if present and readable.
pub fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The path parameter `name` as API Gateway gave it, or else the segment
/// after `after` in the raw path (events without path parameters, a REST
/// stage prefix or a base-path mapping in front).
pub fn path_param(req: &Request, name: &str, after: &str) -> Option<String> {
    if let Some(v) = req.path_parameters_ref().and_then(|p| p.first(name)) {
        return Some(v.to_string());
    }
    let path = req.uri().path().to_string();
    let raw = req.raw_http_path().to_string();
    for p in [path, raw] {
        let segs: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
        if let Some(i) = segs.iter().position(|s| *s == after)
            && let Some(v) = segs.get(i + 1)
        {
            return Some((*v).to_string());
        }
    }
    None
}

/// The id a route names in its path (see [`path_param`]): a 404 saying
/// "`what` not found" when the path names none.
pub fn path_id(req: &Request, name: &str, after: &str, what: &str) -> Result<String, ApiError> {
    path_param(req, name, after).ok_or_else(|| ApiError::NotFound(format!("{what} not found")))
}

/// [`path_id`] for an item looked up by id: an id no item can have is the
/// same 404, before any DynamoDB call (an over-long key would be a
/// DynamoDB error, a 500).
pub fn path_item_id(
    req: &Request,
    name: &str,
    after: &str,
    what: &str,
) -> Result<String, ApiError> {
    path_id(req, name, after, what).and_then(|id| {
        if is_valid_id(&id) {
            Ok(id)
        } else {
            Err(ApiError::NotFound(format!("{what} not found")))
        }
    })
}

/// The raw body bytes, refusing oversized ones.
pub fn body_bytes(req: &Request) -> Result<&[u8], ApiError> {
    let bytes: &[u8] = match req.body() {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge(format!(
            "request body larger than {MAX_BODY_BYTES} bytes"
        )));
    }
    Ok(bytes)
}

/// Request parameters from the query string and the body (form-encoded as
/// in the contract, or a JSON object); the body wins over the query string.
#[derive(Clone, Debug, Default)]
pub struct Params(HashMap<String, Value>);

impl Params {
    /// A string parameter: `None` when absent (or JSON `null`), a 422 when
    /// present with another JSON type.
    pub fn str(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::Unprocessable(format!("{name} must be a string"))),
        }
    }

    /// A yes/no parameter: absent (or `null`) is `false`; `true`/`1` and
    /// `false`/`0` as text (form) or JSON booleans and numbers; anything
    /// else is a 422.
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::Number(n)) if n.as_u64() == Some(1) => Ok(true),
            Some(Value::Number(n)) if n.as_u64() == Some(0) => Ok(false),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(true),
                "false" | "0" | "" => Ok(false),
                _ => Err(flag_error(name)),
            },
            Some(_) => Err(flag_error(name)),
        }
    }

    /// A list of strings: a form's repeated `name[]=…` (or one `name=…`),
    /// or a JSON array of strings; `None` when absent, a 422 for any other
    /// shape.
    pub fn strings(&self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        let bad = || ApiError::Unprocessable(format!("{name} must be a list of strings"));
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string).ok_or_else(bad))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(bad()),
        }
    }

    /// A raw parameter value (numbers stay numbers when sent as JSON).
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// Every parameter's name (forms' `name[key]` pairs keep their brackets).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

/// Reads the parameters of `req` (see [`Params`]); 400 on an unreadable body.
pub fn params(req: &Request) -> Result<Params, ApiError> {
    let mut out: HashMap<String, Value> = HashMap::new();
    if let Some(q) = req.query_string_parameters_ref() {
        for (k, v) in q.iter() {
            add_pair(&mut out, k.to_string(), v.to_string());
        }
    }
    let body = body_bytes(req)?;
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Params(out));
    }
    if std::str::from_utf8(body).is_err() {
        return Err(ApiError::BadRequest("body is not UTF-8 text".into()));
    }
    let content_type = header(req, "content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    let looks_json = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if content_type.starts_with("application/json")
        || (!content_type.contains("form") && looks_json)
    {
        let v: Value = serde_json::from_slice(body)
            .map_err(|_| ApiError::BadRequest("body is not valid JSON".into()))?;
        let Value::Object(map) = v else {
            return Err(ApiError::BadRequest("JSON body must be an object".into()));
        };
        out.extend(map);
    } else if content_type.is_empty()
        || content_type.starts_with("application/x-www-form-urlencoded")
    {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|_| ApiError::BadRequest("body is not valid form data".into()))?;
        for (k, v) in pairs {
            add_pair(&mut out, k, v);
        }
    } else {
        return Err(ApiError::BadRequest(
            "unsupported content type; send application/x-www-form-urlencoded or application/json"
                .into(),
        ));
    }
    Ok(Params(out))
}

/// Adds one `name=value` pair of a form or a query string: `name[]=a&name[]=b`
/// is a list under `name`; otherwise the last value wins.
fn add_pair(out: &mut HashMap<String, Value>, k: String, v: String) {
    if let Some(list) = k.strip_suffix("[]") {
        match out
            .entry(list.to_string())
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            Value::Array(items) => items.push(Value::String(v)),
            other => *other = Value::Array(vec![Value::String(v)]),
        }
        return;
    }
    out.insert(k, Value::String(v));
}

fn flag_error(name: &str) -> ApiError {
    ApiError::Unprocessable(format!("{name} must be true, false, 1 or 0"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::test_request as req;
    use lambda_http::http::Request as HttpRequest;

    #[test]
    fn a_form_body_wins_over_the_query_string() {
        let p = params(&req(
            "/x?destination_id=from_query&other=q",
            Some("application/x-www-form-urlencoded"),
            "destination_id=from_body",
        ))
        .unwrap();
        assert_eq!(p.str("destination_id").unwrap(), Some("from_body"));
        assert_eq!(p.str("other").unwrap(), Some("q"));
        assert_eq!(p.str("absent").unwrap(), None);
    }

    #[test]
    fn a_json_body_keeps_its_types_and_a_wrong_type_is_422() {
        let p = params(&req(
            "/x",
            Some("application/json"),
            r#"{"limit": 7, "destination_id": 3}"#,
        ))
        .unwrap();
        assert_eq!(p.value("limit"), Some(&Value::from(7)));
        assert!(matches!(
            p.str("destination_id"),
            Err(ApiError::Unprocessable(_))
        ));
        // No content type, but it looks like JSON.
        let p = params(&req("/x", None, r#" {"destination_id":"d"}"#)).unwrap();
        assert_eq!(p.str("destination_id").unwrap(), Some("d"));
    }

    #[test]
    fn a_query_string_holds_lists_too() {
        let p = params(&req("/x?image_ids[]=a&image_ids[]=b&tag_name=t", None, "")).unwrap();
        assert_eq!(
            p.strings("image_ids").unwrap(),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(p.str("tag_name").unwrap(), Some("t"));
    }

    #[test]
    fn lists_and_flags_read_from_forms_and_json() {
        let p = params(&req(
            "/x",
            Some("application/x-www-form-urlencoded"),
            "image_ids[]=a&image_ids[]=b&tags=1&merge=false",
        ))
        .unwrap();
        assert_eq!(
            p.strings("image_ids").unwrap(),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert!(p.flag("tags").unwrap());
        assert!(!p.flag("merge").unwrap());
        assert!(!p.flag("absent").unwrap());
        let p = params(&req(
            "/x",
            Some("application/json"),
            r#"{"image_ids":["a",3],"tags":"yes","merge":true}"#,
        ))
        .unwrap();
        assert!(matches!(
            p.strings("image_ids"),
            Err(ApiError::Unprocessable(_))
        ));
        assert!(matches!(p.flag("tags"), Err(ApiError::Unprocessable(_))));
        assert!(p.flag("merge").unwrap());
    }

    #[test]
    fn unreadable_bodies_are_400_and_oversized_ones_413() {
        for (ct, body) in [
            (Some("application/json"), "{not json"),
            (Some("application/json"), "[1,2]"),
            (Some("text/plain"), "a=b"),
        ] {
            assert!(
                matches!(params(&req("/x", ct, body)), Err(ApiError::BadRequest(_))),
                "{ct:?} {body}"
            );
        }
        let binary = HttpRequest::builder()
            .uri("/x")
            .body(Body::Binary(vec![0xff, 0xfe, b'a']))
            .unwrap();
        assert!(matches!(params(&binary), Err(ApiError::BadRequest(_))));
        let big = "a".repeat(MAX_BODY_BYTES + 1);
        assert!(matches!(
            params(&req("/x", Some("application/x-www-form-urlencoded"), &big)),
            Err(ApiError::PayloadTooLarge(_))
        ));
        // Whitespace only: the query string alone.
        let p = params(&req("/x?a=1", Some("application/json"), "  \n")).unwrap();
        assert_eq!(p.str("a").unwrap(), Some("1"));
    }

    #[test]
    fn path_parameters_come_from_api_gateway_or_the_raw_path() {
        let given = req("/whatever", None, "")
            .with_path_parameters(HashMap::from([("id".to_string(), "alb1".to_string())]));
        assert_eq!(path_param(&given, "id", "albums").as_deref(), Some("alb1"));
        let raw = req("/Prod/api/v1/albums/alb2/duplicate", None, "");
        assert_eq!(path_param(&raw, "id", "albums").as_deref(), Some("alb2"));
        let none = req("/api/v1/albums", None, "");
        assert_eq!(path_param(&none, "id", "albums"), None);
    }
}
