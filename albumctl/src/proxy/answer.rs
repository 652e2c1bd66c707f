//! What goes back to the client: the upstream's answer, as it came or
//! rewritten, or one the proxy makes itself in DynamoDB's form.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::{Value, json};

use super::AMZ_JSON;
use super::headers::copy_headers;

/// A response to the client, its body whole.
pub type Reply = Response<Full<Bytes>>;

/// An upstream answer, collected.
#[derive(Debug)]
pub struct Answer {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: Bytes,
    /// It answers a `HEAD`, whose `Content-Length` is not its body's.
    pub(super) head: bool,
}

impl Answer {
    /// The body as JSON, when the call succeeded.
    pub fn json(&self) -> Option<Value> {
        if !self.status.is_success() {
            return None;
        }
        serde_json::from_slice(&self.body).ok()
    }

    /// The error type of an error answer (`…#ConditionalCheckFailedException`);
    /// empty when there is none.
    pub fn error_type(&self) -> String {
        serde_json::from_slice::<Value>(&self.body)
            .ok()
            .and_then(|v| v.get("__type").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_default()
    }

    /// The answer for the client, unchanged.
    pub fn respond(self) -> Reply {
        let body = self.body.clone();
        self.reply(body, false)
    }

    /// The answer for the client with a body the layer rewrote (headers
    /// that vouch for the old body's bytes dropped).
    pub fn respond_with(self, body: Bytes) -> Reply {
        self.reply(body, true)
    }

    fn reply(self, body: Bytes, rewritten: bool) -> Reply {
        let mut resp = Response::new(Full::new(Bytes::new()));
        *resp.status_mut() = self.status;
        copy_headers(&self.headers, resp.headers_mut(), rewritten);
        if !self.head {
            resp.headers_mut().remove(header::CONTENT_LENGTH);
            resp.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        *resp.body_mut() = Full::new(body);
        resp
    }
}

/// A plain-text answer: the proxy's own word, for a person to read.
pub fn plain(status: StatusCode, message: String) -> Reply {
    let mut resp = Response::new(Full::new(Bytes::from(message)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// 502: the upstream could not be reached or read; `who` names the layer.
pub fn bad_gateway(who: &str, message: String) -> Reply {
    plain(StatusCode::BAD_GATEWAY, format!("{who}: {message}"))
}

/// A JSON answer in DynamoDB's content type.
pub fn json_response(status: StatusCode, body: &Value) -> Reply {
    let bytes = Bytes::from(serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec()));
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(AMZ_JSON));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    *resp.body_mut() = Full::new(bytes);
    resp
}

/// An error as DynamoDB sends one: `{"__type": "…#Name", "message": …}`
/// plus `extra`'s fields (such as `ThrottlingReasons`).
pub fn aws_error(status: StatusCode, type_: &str, message: &str, extra: Value) -> Reply {
    let mut body = json!({ "__type": type_, "message": message });
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    json_response(status, &body)
}
