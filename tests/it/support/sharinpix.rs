//! SharinPix's recorded examples as test input: reading one
//! (`tests/it/fixtures/sharinpix/<resource>/<name>.json`, a copy of
//! `api/<resource>/<name>.json` of SharinPix's documentation repository),
//! turning its request into an API Gateway event of our handler, and
//! checking our answer against the documented status, headers and body
//! keys and types.

use album_api::auth;
use album_api::secret::Secret;
use album_api::service::now;
use base64::Engine as _;
use serde_json::Value;

use super::calls::{Resp, call};
use super::security::{Endpoint, set_body, set_header, set_query};
use super::{JWT_SECRET, ORG, TestEnv, bearer};

/// One recorded example: its request and the documented answer.
#[derive(Clone, Debug)]
pub struct Example {
    /// The fixture's path under `fixtures/sharinpix/` (`album/create_an_album`).
    pub name: String,
    /// `request_body` as recorded (a form or JSON text), if any.
    pub body: Option<String>,
    /// `request_content_type`, if any.
    pub content_type: Option<String>,
    /// `request_query_parameters`, as pairs.
    pub query: Vec<(String, String)>,
    /// The claims of the request's token (`Authorization`), if any.
    pub claims: Value,
    /// The documented status.
    pub status: u16,
    /// The documented response headers.
    pub headers: Value,
    /// The documented response body (`Null` when empty or not JSON).
    pub json: Value,
}

impl Example {
    /// Reads fixture `name` (its first request).
    pub fn load(name: &str) -> Example {
        let path = format!(
            "{}/tests/it/fixtures/sharinpix/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let doc: Value = serde_json::from_str(&text).expect("an example is JSON");
        let r = &doc["requests"][0];
        let auth = r["request_headers"]["Authorization"].as_str().unwrap_or("");
        let claims = auth
            .split("token=")
            .nth(1)
            .map(|t| t.trim_matches('"'))
            .and_then(|t| t.split('.').nth(1))
            .and_then(|p| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(p)
                    .ok()
            })
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        let query = r["request_query_parameters"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        Example {
            name: name.to_string(),
            body: r["request_body"].as_str().map(str::to_string),
            content_type: r["request_content_type"].as_str().map(str::to_string),
            query,
            claims,
            status: r["response_status"].as_u64().expect("a status") as u16,
            headers: r["response_headers"].clone(),
            json: r["response_body"]
                .as_str()
                .and_then(|b| serde_json::from_str(b).ok())
                .unwrap_or(Value::Null),
        }
    }

    /// The `user_id` of the example's token.
    pub fn user(&self) -> &str {
        self.claims["user_id"].as_str().expect("a user token")
    }

    /// A fresh table (see [`TestEnv::new`]) where the example's user is a
    /// user of the seed's organization.
    pub async fn env(&self, tag: &str) -> TestEnv {
        let env = TestEnv::new(tag).await;
        let store = env.direct_store().await;
        store.put_user(self.user(), ORG).await.expect("user put");
        env
    }

    /// `Authorization` with the example's claims (`user_id`, `abilities`),
    /// signed with our key, valid for an hour from now.
    pub fn authorization(&self) -> String {
        let token = auth::issue_user_token(
            self.user(),
            Some(self.claims["abilities"].clone()),
            &Secret::new(JWT_SECRET),
            now(),
            3600,
        )
        .expect("token issued");
        bearer(&token)
    }

    /// The example's request to `ep` (path id `id`) as an HTTP API event:
    /// its token, query string, content type and body, with each example
    /// id of `ids` replaced by ours (`(theirs, ours)`).
    pub fn event(&self, ep: Endpoint, id: Option<&str>, ids: &[(&str, &str)]) -> Value {
        let auth = self.authorization();
        let mut e = ep.event(Some(&auth), id);
        let query: Vec<(&str, &str)> = self
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        set_query(&mut e, &query);
        let body = self.body.as_ref().map(|b| {
            ids.iter()
                .fold(b.clone(), |b, (theirs, ours)| b.replace(theirs, ours))
        });
        set_header(&mut e, "content-type", self.content_type.as_deref());
        set_body(&mut e, body.as_deref().map(str::as_bytes), false);
        e
    }

    /// Sends `event` to `ep` and checks the answer against the documented
    /// one ([`Example::assert_answer`]).
    pub async fn replay(&self, env: &TestEnv, ep: Endpoint, event: &Value) -> Resp {
        let r = call(&env.app, ep, event).await;
        self.assert_answer(&r);
        r
    }

    /// The documented status; `X-message` when one is documented; an empty
    /// body when the documented one is (our JSON error for an error);
    /// else every documented key of the body, with its JSON type.
    pub fn assert_answer(&self, r: &Resp) {
        let name = &self.name;
        assert_eq!(r.status, self.status, "{name}: {}", r.text);
        if let Some(m) = self.headers["X-message"].as_str() {
            assert_eq!(r.header("x-message"), Some(m), "{name}: X-message");
        }
        if self.json.is_null() && self.status >= 400 {
            // SharinPix's errors are empty; ours carry the JSON error body
            // (README, Differences from SharinPix).
            assert!(
                r.json["error"]["code"].is_string(),
                "{name}: not our JSON error: {}",
                r.text
            );
        } else if self.json.is_null() {
            assert!(
                r.text.is_empty(),
                "{name}: documented empty, got {}",
                r.text
            );
        } else {
            assert_keys(name, &r.json, &self.json);
        }
    }
}

/// Every key of `theirs` is in `ours`, with the same JSON type,
/// recursively (`null` on either side matches anything: SharinPix's
/// nullable fields are null or not depending on the data); arrays compare
/// their first elements.
pub fn assert_keys(path: &str, ours: &Value, theirs: &Value) {
    match (ours, theirs) {
        (_, Value::Null) | (Value::Null, _) => {}
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                let mine = a
                    .get(k)
                    .unwrap_or_else(|| panic!("{path}: key {k} missing from {ours}"));
                assert_keys(&format!("{path}.{k}"), mine, v);
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if let (Some(x), Some(y)) = (a.first(), b.first()) {
                assert_keys(&format!("{path}[0]"), x, y);
            }
        }
        (a, b) => assert_eq!(
            std::mem::discriminant(a),
            std::mem::discriminant(b),
            "type of {path}: ours {a}, documented {b}"
        ),
    }
}
