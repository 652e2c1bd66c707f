//! Calling the HTTP handlers with API Gateway events and reading their
//! answers: the events of any endpoint with a path id, a query string and a
//! form or JSON body, in either payload format; the answer's status,
//! headers and body; the contract's error shape; pages followed through
//! `X-Next-Cursor`.

use std::collections::BTreeSet;

use album_api::App;
use album_api::album::AlbumKey;
use album_api::auth;
use album_api::secret::Secret;
use album_api::service::now;
use album_api::store::Store;
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::http::HeaderMap;
use serde_json::{Map, Value, json};

use super::security::{Endpoint, raw_parts, set_body, set_header, set_query, to_rest};
use super::{JWT_SECRET, request};

/// A request body.
#[derive(Clone, Debug)]
pub enum Payload {
    /// `application/x-www-form-urlencoded`, pairs in order (repeated keys kept).
    Form(Vec<(String, String)>),
    /// `application/json`.
    Json(Value),
    /// Any text with the given content type (`None`: no content-type header).
    Raw(Option<String>, String),
}

impl Payload {
    /// A form body of `pairs`.
    pub fn form(pairs: &[(&str, &str)]) -> Payload {
        Payload::Form(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }
}

/// The API Gateway payload format of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// HTTP API, payload 2.0 (the template's default).
    Http,
    /// REST API, payload 1.0, stage `Prod`.
    Rest,
}

impl Format {
    /// Both formats.
    pub const BOTH: [Format; 2] = [Format::Http, Format::Rest];
}

/// The event of `ep` (from its sample in `events/`) with `authorization`
/// (removed when `None`), the path id (when the route has one), the query
/// string and the body, in `format`.
pub fn api_event(
    ep: Endpoint,
    authorization: Option<&str>,
    id: Option<&str>,
    query: &[(&str, &str)],
    body: Option<&Payload>,
    format: Format,
) -> Value {
    let mut e = ep.event(authorization, id);
    set_query(&mut e, query);
    match body {
        None => {
            set_body(&mut e, None, false);
            set_header(&mut e, "content-type", None);
        }
        Some(Payload::Form(pairs)) => {
            let text = serde_urlencoded::to_string(pairs).expect("encodable form");
            set_header(
                &mut e,
                "content-type",
                Some("application/x-www-form-urlencoded"),
            );
            set_body(&mut e, Some(text.as_bytes()), false);
        }
        Some(Payload::Json(v)) => {
            set_header(&mut e, "content-type", Some("application/json"));
            set_body(&mut e, Some(v.to_string().as_bytes()), false);
        }
        Some(Payload::Raw(content_type, text)) => {
            set_header(&mut e, "content-type", content_type.as_deref());
            set_body(&mut e, Some(text.as_bytes()), false);
        }
    }
    match format {
        Format::Http => e,
        Format::Rest => to_rest(&e),
    }
}

/// A handler's answer: status, headers, raw body text and the body as JSON
/// (`Null` when it is not JSON).
#[derive(Clone, Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Resp {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as an array (fails the test otherwise).
    pub fn array(&self) -> &Vec<Value> {
        self.json
            .as_array()
            .unwrap_or_else(|| panic!("a JSON array: {} {}", self.status, self.text))
    }

    /// The `id` of every element of an array body.
    pub fn ids(&self) -> Vec<String> {
        self.array()
            .iter()
            .map(|v| v["id"].as_str().expect("an id").to_string())
            .collect()
    }

    /// The ids of an album body's thumbnails.
    pub fn thumbnail_ids(&self) -> Vec<String> {
        self.json["thumbnails"]
            .as_array()
            .unwrap_or_else(|| panic!("thumbnails: {}", self.text))
            .iter()
            .map(|t| t["id"].as_str().expect("an id").to_string())
            .collect()
    }
}

/// Runs `ep`'s handler on `event`, as the Lambda runtime would hand it over.
pub async fn call(app: &App, ep: Endpoint, event: &Value) -> Resp {
    let resp = ep
        .call(app, request(event))
        .await
        .expect("a handler answers every request with an HTTP response");
    let (status, headers, text) = raw_parts(resp);
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        text,
        json,
    }
}

/// Sends `event` again while it answers 503 (at most `attempts` times), as
/// a client honouring `Retry-After` would (without the wait).
pub async fn call_retrying_503(app: &App, ep: Endpoint, event: &Value, attempts: u32) -> Resp {
    let mut r = call(app, ep, event).await;
    for _ in 1..attempts {
        if r.status != 503 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        r = call(app, ep, event).await;
    }
    r
}

/// An error answer of the API: the status, the code, a message, the
/// contract's headers and no refreshed token.
pub fn assert_error(r: &Resp, status: u16, code: &str, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.text);
    assert_eq!(r.json["error"]["code"], code, "{what}: {}", r.text);
    super::security::check_error_response(r.status, &r.headers, &r.text)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
}

/// A success with `status`, carrying `X-token`: the caller's token
/// re-signed for `user`.
pub fn assert_success(r: &Resp, status: u16, user: &str, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.text);
    let t = r
        .header("x-token")
        .unwrap_or_else(|| panic!("{what}: no X-token"));
    let v = auth::verify_api_token(t, &Secret::new(JWT_SECRET), now())
        .unwrap_or_else(|e| panic!("{what}: X-token is not a valid API token: {e:?}"));
    assert_eq!(v.user_id, user, "{what}: X-token's user");
}

/// `{"Access": {flag: true, …}}`.
pub fn access(flags: &[&str]) -> Value {
    let map: Map<String, Value> = flags
        .iter()
        .map(|f| ((*f).to_string(), Value::Bool(true)))
        .collect();
    json!({ "Access": map })
}

/// Every flag a token may hold on an album, `rename` included.
pub const ALL_FLAGS: [&str; 5] = [
    "see",
    "image_list",
    "image_upload",
    "image_delete",
    "rename",
];

/// Follows `X-Next-Cursor` from the first page: every page's answer (each
/// a 200), in order. `event_for` builds the request for a cursor.
pub async fn follow_pages<F>(app: &App, ep: Endpoint, mut event_for: F) -> Vec<Resp>
where
    F: FnMut(Option<&str>) -> Value,
{
    let mut pages: Vec<Resp> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let r = call(app, ep, &event_for(cursor.as_deref())).await;
        assert_eq!(r.status, 200, "page {}: {}", pages.len() + 1, r.text);
        let next = r.header("x-next-cursor").map(str::to_string);
        pages.push(r);
        match next {
            Some(c) => cursor = Some(c),
            None => return pages,
        }
        assert!(pages.len() <= 200, "pagination never ends");
    }
}

/// Same keys, same order, same JSON types, recursively (arrays of the same
/// length).
pub fn assert_same_shape(path: &str, ours: &Value, theirs: &Value) {
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            let ka: Vec<_> = a
                .keys()
                .filter(|k| !crate::support::is_signed_limit(path, k))
                .collect();
            let kb: Vec<_> = b.keys().collect();
            assert_eq!(ka, kb, "keys of {path}");
            for (k, v) in b {
                assert_same_shape(&format!("{path}.{k}"), &a[k], v);
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "length of {path}");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert_same_shape(&format!("{path}[{i}]"), x, y);
            }
        }
        (Value::Number(a), Value::Number(b)) => {
            assert_eq!(a.is_f64(), b.is_f64(), "number kind of {path}: {a} vs {b}");
        }
        (a, b) => assert_eq!(
            std::mem::discriminant(a),
            std::mem::discriminant(b),
            "type of {path}: {a} vs {b}"
        ),
    }
}

// ---------------------------------------------------------------- the table

/// Every image id of an album, read from its items (strongly consistent);
/// fails the test if one is stored twice.
pub async fn album_image_ids(store: &Store, album: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for sk in partition_sort_keys(store, album, "I#").await {
        let id = sk.rsplit_once('#').expect("an image key").1.to_string();
        assert!(out.insert(id), "{album}: image stored twice ({sk})");
    }
    out
}

/// The sort keys of album `album`'s partitions that begin with `prefix`
/// (`""`: every item, the album item included).
pub async fn partition_sort_keys(store: &Store, album: &str, prefix: &str) -> Vec<String> {
    partition_items(store, album, prefix)
        .await
        .iter()
        .map(|i| i["sk"].as_s().expect("sk").clone())
        .collect()
}

/// The partitions album `album` (of [`crate::support::ORG`]) may hold items in: its own and its image
/// shards' (decision 0012), as many as its album item says, or every one an
/// album may have when there is no album item (a moved album must have left
/// nothing in any of them).
pub async fn album_partitions(store: &Store, album: &str) -> Vec<String> {
    album_partitions_of(store, &crate::support::key(album)).await
}

/// [`album_partitions`] of the album at `key` (any organization's).
pub async fn album_partitions_of(store: &Store, key: &AlbumKey) -> Vec<String> {
    let shards = match store.get_album(key).await.expect("GetItem") {
        Some(a) => a.shards.max(1),
        None => album_api::store::keys::MAX_SHARDS,
    };
    (0..shards)
        .map(|k| album_api::store::keys::shard_pk(key, k))
        .collect()
}

/// The items of album `album`'s partitions whose sort key begins with
/// `prefix`, strongly consistent, in key order within each partition.
pub async fn partition_items(
    store: &Store,
    album: &str,
    prefix: &str,
) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    let mut out = Vec::new();
    for pk in album_partitions(store, album).await {
        out.extend(pk_items(store, &pk, prefix).await);
    }
    out
}

/// The items of partition `pk` whose sort key begins with `prefix`.
async fn pk_items(
    store: &Store,
    pk: &str,
    prefix: &str,
) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let query = store
            .client()
            .query()
            .table_name(store.table())
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_string()));
        // An empty prefix is the whole partition (DynamoDB refuses an empty key value).
        let query = if prefix.is_empty() {
            query.key_condition_expression("pk = :pk")
        } else {
            query
                .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
                .expression_attribute_values(":p", AttributeValue::S(prefix.into()))
        };
        let page = query
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("Query");
        out.extend(page.items().iter().cloned());
        match page.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return out,
        }
    }
}
