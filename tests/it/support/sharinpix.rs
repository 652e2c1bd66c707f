//! SharinPix's recorded examples as test input: reading one
//! (`tests/it/fixtures/sharinpix/<resource>/<name>.json`, a copy of
//! `api/<resource>/<name>.json` of SharinPix's documentation repository),
//! turning its request into an API Gateway event of our handler, and
//! checking our answer against the documented status, headers and body
//! keys and types.

use album_api::api_secrets::ApiSecret;
use album_api::auth;
use album_api::secret::Secret;
use album_api::service::now;
use base64::Engine as _;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use super::calls::{Resp, call};
use super::security::{Endpoint, set_body, set_header, set_query, sign_jwt};
use super::{JWT_SECRET, ORG, TestEnv, bearer};

/// One recorded example: its request and the documented answer.
#[derive(Clone, Debug)]
pub struct Example {
    /// The fixture's path under `fixtures/sharinpix/` (`album/create_an_album`).
    pub name: String,
    /// `request_path` without its query string (`/images/image.jpg`).
    pub path: String,
    /// `request_body` as recorded (a form or JSON text), if any.
    pub body: Option<String>,
    /// `request_content_type`, if any.
    pub content_type: Option<String>,
    /// `request_query_parameters`, as pairs.
    pub query: Vec<(String, String)>,
    /// The claims of the request's token (`Authorization`, else the
    /// `token` query parameter), if any.
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
        let token = auth
            .split("token=")
            .nth(1)
            .map(|t| t.trim_matches('"'))
            .or_else(|| r["request_query_parameters"]["token"].as_str());
        let claims = token
            .and_then(|t| t.split('.').nth(1))
            .and_then(|p| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(p)
                    .ok()
            })
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        let path = r["request_path"].as_str().unwrap_or_default();
        let path = path.split_once('?').map_or(path, |(p, _)| p).to_string();
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
            path,
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

    /// The example's request to `ep` as an HTTP API event, its path's id
    /// as path id and its token in the query string as SharinPix's
    /// embeddable URLs take it: the example's claims (none when it sent no
    /// token) with `iss` our API `secret`'s, signed with it, valid for an
    /// hour; then the example's other query parameters. No
    /// `Authorization` header.
    pub fn integrator_event(&self, ep: Endpoint, secret: &ApiSecret) -> Value {
        let t = now();
        let mut claims = match &self.claims {
            Value::Object(c) => c.clone(),
            _ => serde_json::Map::new(),
        };
        claims.insert("iss".into(), Value::from(secret.id.as_str()));
        claims.insert("exp".into(), Value::from(t + 3600));
        claims.insert("iat".into(), Value::from(t));
        let token = sign_jwt(
            &json!({"typ": "JWT", "alg": "HS256"}),
            &Value::Object(claims),
            secret.key.expose().as_bytes(),
            Algorithm::HS256,
        );
        let id = self.path.rsplit('/').next().filter(|s| !s.is_empty());
        let mut e = ep.event(None, id);
        let mut query: Vec<(&str, &str)> = vec![("token", token.as_str())];
        query.extend(
            self.query
                .iter()
                .filter(|(k, _)| k != "token")
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        set_query(&mut e, &query);
        e
    }

    /// Sends `event` to `ep` and checks the answer against the documented
    /// one ([`Example::assert_answer`]).
    pub async fn replay(&self, env: &TestEnv, ep: Endpoint, event: &Value) -> Resp {
        let r = call(&env.app, ep, event).await;
        self.assert_answer(&r);
        r
    }

    /// The documented status; `X-message` and `Access-Control-Allow-Origin`
    /// when documented; an empty body when the documented one is empty or
    /// not JSON (a redirect's HTML; our JSON error for an error); else every
    /// documented key of the body, with its JSON type.
    pub fn assert_answer(&self, r: &Resp) {
        let name = &self.name;
        assert_eq!(r.status, self.status, "{name}: {}", r.text);
        for header in ["X-message", "Access-Control-Allow-Origin"] {
            if let Some(m) = self.headers[header].as_str() {
                assert_eq!(
                    r.header(&header.to_ascii_lowercase()),
                    Some(m),
                    "{name}: {header}"
                );
            }
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
