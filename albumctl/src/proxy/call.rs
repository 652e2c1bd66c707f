//! One client request, read whole before its layer sees it.

use hyper::body::Bytes;
use hyper::http::request::Parts;
use serde_json::{Map, Value};

/// A request as the client sent it: its head, its body, and the DynamoDB
/// operation its `X-Amz-Target` names.
#[derive(Debug)]
pub struct Call {
    /// Method, URI and headers.
    pub parts: Parts,
    /// The body, as received.
    pub body: Bytes,
    op: Option<String>,
}

impl Call {
    pub(crate) fn new(parts: Parts, body: Bytes) -> Self {
        let op = parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .map(|t| t.rsplit('.').next().unwrap_or(t).trim().to_string());
        Self { parts, body, op }
    }

    /// The operation (`PutItem`, …) without its `DynamoDB_20120810.`
    /// prefix; `None` when the request is no DynamoDB call.
    pub fn op(&self) -> Option<&str> {
        self.op.as_deref()
    }

    /// The body as a JSON object; `None` when it is anything else, which a
    /// layer then passes through untouched rather than guess at.
    pub fn json(&self) -> Option<Map<String, Value>> {
        match serde_json::from_slice(&self.body) {
            Ok(Value::Object(m)) => Some(m),
            _ => None,
        }
    }
}
