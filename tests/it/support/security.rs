//! Helpers of the security and race tests (`tests/it/hostile_input.rs`,
//! `tests/it/token_suite.rs`, `tests/it/concurrency.rs`): every HTTP endpoint and
//! its event, both API Gateway payload formats, forged JWTs, Cloudinary
//! webhook deliveries, and snapshots of the whole table.

use std::collections::BTreeMap;

use album_api::App;
use album_api::handlers;
use album_api::image::UPLOAD_NAMESPACE;
use album_api::secret::Secret;
use album_api::store::Store;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey};
use lambda_http::http::HeaderMap;
use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value, json};
use sha1::{Digest, Sha1};

use super::{JWT_SECRET, event};

/// The API secret of the test `CLOUDINARY_URL`.
pub const CLD_SECRET: &str = "s3cr3t";

/// Every HTTP function of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /api/v1/albums/{id}/duplicate`
    Duplicate,
    /// `POST /api/v1/albums`
    CreateAlbum,
    /// `GET /api/v1/albums/{id}`
    GetAlbum,
    /// `GET /api/v1/albums`
    ListAlbums,
    /// `GET /api/v1/albums/{id}/images`
    ListImages,
    /// `DELETE /api/v1/images/{id}`
    DeleteImage,
    /// `POST /api/v1/cloudinary?token=…`
    Webhook,
    /// `GET /api/v1/duplications/{job_id}`
    GetDuplication,
    /// `POST /api/v1/tags`
    CreateTag,
    /// `GET /api/v1/tags`
    ListTags,
    /// `POST /api/v1/tags/{tag_id}/tag_images`
    TagImages,
    /// `GET /api/v1/tags/{tag_id}/tag_images`
    ListTagImages,
    /// `DELETE /api/v1/tag_images/{id}`
    DeleteTagImage,
    /// `PUT /api/v1/albums/{id}` (rename, merge)
    UpdateAlbum,
    /// `GET /api/v1/usage`
    GetUsage,
    /// `GET /api/v1/images/{id}`
    GetImage,
    /// `PUT /api/v1/images/{id}`
    UpdateImage,
    /// `DELETE /api/v1/images` (`image_ids[]`)
    DeleteImages,
    /// `GET /api/v1/trashed_images`
    ListTrashedImages,
    /// `DELETE /api/v1/trashed_images/{image_id}` (a restore)
    RestoreTrashedImage,
    /// `GET /api/v1/tag_images`
    QueryTagImages,
    /// `POST /api/v1/images/{id}/duplicate`
    DuplicateImage,
    /// `POST /api/v1/images/move`
    MoveImages,
    /// `POST /api/v1/imports`
    CreateImport,
    /// `GET /api/v1/imports/{id}`
    GetImport,
    /// `GET /images/{image_id}` (the embeddable URL; the token in
    /// `?token=` or `Authorization`)
    EmbedImage,
}

impl Endpoint {
    /// Every HTTP endpoint.
    pub const ALL: [Endpoint; 26] = [
        Endpoint::Duplicate,
        Endpoint::CreateAlbum,
        Endpoint::GetAlbum,
        Endpoint::ListAlbums,
        Endpoint::ListImages,
        Endpoint::DeleteImage,
        Endpoint::Webhook,
        Endpoint::GetDuplication,
        Endpoint::CreateTag,
        Endpoint::ListTags,
        Endpoint::TagImages,
        Endpoint::ListTagImages,
        Endpoint::DeleteTagImage,
        Endpoint::UpdateAlbum,
        Endpoint::GetUsage,
        Endpoint::GetImage,
        Endpoint::UpdateImage,
        Endpoint::DeleteImages,
        Endpoint::ListTrashedImages,
        Endpoint::RestoreTrashedImage,
        Endpoint::QueryTagImages,
        Endpoint::DuplicateImage,
        Endpoint::MoveImages,
        Endpoint::EmbedImage,
        Endpoint::CreateImport,
        Endpoint::GetImport,
    ];
    /// The endpoints authenticated by an `Authorization` header (all but the webhook).
    pub const API: [Endpoint; 24] = [
        Endpoint::Duplicate,
        Endpoint::CreateAlbum,
        Endpoint::GetAlbum,
        Endpoint::ListAlbums,
        Endpoint::ListImages,
        Endpoint::DeleteImage,
        Endpoint::GetDuplication,
        Endpoint::CreateTag,
        Endpoint::ListTags,
        Endpoint::TagImages,
        Endpoint::ListTagImages,
        Endpoint::DeleteTagImage,
        Endpoint::UpdateAlbum,
        Endpoint::GetUsage,
        Endpoint::GetImage,
        Endpoint::UpdateImage,
        Endpoint::DeleteImages,
        Endpoint::ListTrashedImages,
        Endpoint::RestoreTrashedImage,
        Endpoint::QueryTagImages,
        Endpoint::DuplicateImage,
        Endpoint::MoveImages,
        Endpoint::CreateImport,
        Endpoint::GetImport,
    ];

    /// The sample event of the endpoint in `events/` (HTTP API 2.0).
    pub fn event_file(self) -> &'static str {
        match self {
            Endpoint::Duplicate => "duplicate-album.json",
            Endpoint::CreateAlbum => "create-album.json",
            Endpoint::GetAlbum => "get-album.json",
            Endpoint::ListAlbums => "list-albums.json",
            Endpoint::ListImages => "list-images.json",
            Endpoint::DeleteImage => "delete-image.json",
            Endpoint::Webhook => "cloudinary-notification.json",
            Endpoint::GetDuplication => "get-duplication.json",
            Endpoint::CreateTag => "create-tag.json",
            Endpoint::ListTags => "list-tags.json",
            Endpoint::TagImages => "tag-images.json",
            Endpoint::ListTagImages => "list-tag-images.json",
            Endpoint::DeleteTagImage => "delete-tag-image.json",
            Endpoint::UpdateAlbum => "update-album.json",
            Endpoint::GetUsage => "get-usage.json",
            Endpoint::GetImage => "get-image.json",
            Endpoint::UpdateImage => "update-image.json",
            Endpoint::DeleteImages => "delete-images.json",
            Endpoint::ListTrashedImages => "list-trashed-images.json",
            Endpoint::RestoreTrashedImage => "restore-trashed-image.json",
            Endpoint::QueryTagImages => "query-tag-images.json",
            Endpoint::DuplicateImage => "duplicate-image.json",
            Endpoint::MoveImages => "move-images.json",
            Endpoint::CreateImport => "create-import.json",
            Endpoint::GetImport => "get-import.json",
            Endpoint::EmbedImage => "embed-image.json",
        }
    }

    /// The route's path template and its path parameter, if any.
    pub fn route(self) -> (&'static str, Option<&'static str>) {
        match self {
            Endpoint::Duplicate => ("/api/v1/albums/{id}/duplicate", Some("id")),
            Endpoint::CreateAlbum => ("/api/v1/albums", None),
            Endpoint::GetAlbum => ("/api/v1/albums/{id}", Some("id")),
            Endpoint::ListAlbums => ("/api/v1/albums", None),
            Endpoint::ListImages => ("/api/v1/albums/{id}/images", Some("id")),
            Endpoint::DeleteImage | Endpoint::GetImage | Endpoint::UpdateImage => {
                ("/api/v1/images/{id}", Some("id"))
            }
            Endpoint::Webhook => ("/api/v1/cloudinary", None),
            Endpoint::GetDuplication => ("/api/v1/duplications/{job_id}", Some("job_id")),
            Endpoint::CreateTag | Endpoint::ListTags => ("/api/v1/tags", None),
            Endpoint::TagImages | Endpoint::ListTagImages => {
                ("/api/v1/tags/{tag_id}/tag_images", Some("tag_id"))
            }
            Endpoint::DeleteTagImage => ("/api/v1/tag_images/{id}", Some("id")),
            Endpoint::UpdateAlbum => ("/api/v1/albums/{id}", Some("id")),
            Endpoint::GetUsage => ("/api/v1/usage", None),
            Endpoint::DeleteImages => ("/api/v1/images", None),
            Endpoint::ListTrashedImages => ("/api/v1/trashed_images", None),
            Endpoint::QueryTagImages => ("/api/v1/tag_images", None),
            Endpoint::DuplicateImage => ("/api/v1/images/{id}/duplicate", Some("id")),
            Endpoint::MoveImages => ("/api/v1/images/move", None),
            Endpoint::CreateImport => ("/api/v1/imports", None),
            Endpoint::GetImport => ("/api/v1/imports/{id}", Some("id")),
            Endpoint::RestoreTrashedImage => {
                ("/api/v1/trashed_images/{image_id}", Some("image_id"))
            }
            Endpoint::EmbedImage => ("/images/{image_id}", Some("image_id")),
        }
    }

    /// Whether the handler reads the request body.
    pub fn reads_body(self) -> bool {
        matches!(
            self,
            Endpoint::Duplicate
                | Endpoint::CreateAlbum
                | Endpoint::ListAlbums
                | Endpoint::ListImages
                | Endpoint::Webhook
                | Endpoint::CreateTag
                | Endpoint::ListTags
                | Endpoint::TagImages
                | Endpoint::ListTagImages
                | Endpoint::UpdateAlbum
                | Endpoint::UpdateImage
                | Endpoint::DeleteImages
                | Endpoint::ListTrashedImages
                | Endpoint::QueryTagImages
                | Endpoint::DuplicateImage
                | Endpoint::MoveImages
                | Endpoint::CreateImport
        )
    }

    /// Runs the endpoint's handler on `req`.
    pub async fn call(self, app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
        match self {
            Endpoint::Duplicate => handlers::duplicate_album::handle(app, req).await,
            Endpoint::CreateAlbum => handlers::create_album::handle(app, req).await,
            Endpoint::GetAlbum => handlers::get_album::handle(app, req).await,
            Endpoint::ListAlbums => handlers::list_albums::handle(app, req).await,
            Endpoint::ListImages => handlers::list_images::handle(app, req).await,
            Endpoint::DeleteImage => handlers::delete_image::handle(app, req).await,
            Endpoint::Webhook => handlers::cloudinary_notification::handle(app, req).await,
            Endpoint::GetDuplication => handlers::get_duplication::handle(app, req).await,
            Endpoint::CreateTag => handlers::create_tag::handle(app, req).await,
            Endpoint::ListTags => handlers::list_tags::handle(app, req).await,
            Endpoint::TagImages => handlers::tag_images::handle(app, req).await,
            Endpoint::ListTagImages => handlers::list_tag_images::handle(app, req).await,
            Endpoint::DeleteTagImage => handlers::delete_tag_image::handle(app, req).await,
            Endpoint::UpdateAlbum => handlers::update_album::handle(app, req).await,
            Endpoint::GetUsage => handlers::get_usage::handle(app, req).await,
            Endpoint::GetImage => handlers::get_image::handle(app, req).await,
            Endpoint::UpdateImage => handlers::update_image::handle(app, req).await,
            Endpoint::DeleteImages => handlers::delete_images::handle(app, req).await,
            Endpoint::ListTrashedImages => handlers::list_trashed_images::handle(app, req).await,
            Endpoint::RestoreTrashedImage => {
                handlers::restore_trashed_image::handle(app, req).await
            }
            Endpoint::QueryTagImages => handlers::query_tag_images::handle(app, req).await,
            Endpoint::DuplicateImage => handlers::duplicate_image::handle(app, req).await,
            Endpoint::MoveImages => handlers::move_images::handle(app, req).await,
            Endpoint::CreateImport => handlers::create_import::handle(app, req).await,
            Endpoint::GetImport => handlers::get_import::handle(app, req).await,
            Endpoint::EmbedImage => handlers::embed_image::handle(app, req).await,
        }
    }

    /// The endpoint's HTTP API 2.0 event with `authorization` (removed when
    /// `None`), the path parameter set to `id` (when the route has one) and
    /// no query string.
    pub fn event(self, authorization: Option<&str>, id: Option<&str>) -> Value {
        let mut e = event(self.event_file());
        let (template, param) = self.route();
        set_header(&mut e, "authorization", authorization);
        if let (Some(param), Some(id)) = (param, id) {
            let path = template.replace(&format!("{{{param}}}"), id);
            e["rawPath"] = Value::from(path.clone());
            e["requestContext"]["http"]["path"] = Value::from(path);
            e["pathParameters"] = json!({ param: id });
        }
        set_query(&mut e, &[]);
        e
    }
}

/// An embeddable URL's request for image `id`: `token` in the query string
/// (none when `None`), then `query`; no `Authorization` header.
pub fn embed_event(token: Option<&str>, id: &str, query: &[(&str, &str)]) -> Value {
    let mut e = Endpoint::EmbedImage.event(None, Some(id));
    let mut pairs: Vec<(&str, &str)> = token.map(|t| ("token", t)).into_iter().collect();
    pairs.extend_from_slice(query);
    set_query(&mut e, &pairs);
    e
}

/// Sets (or removes, with `None`) a header of an HTTP API 2.0 event.
pub fn set_header(e: &mut Value, name: &str, value: Option<&str>) {
    if !e["headers"].is_object() {
        e["headers"] = json!({});
    }
    let headers = e["headers"].as_object_mut().expect("headers");
    match value {
        Some(v) => {
            headers.insert(name.to_string(), Value::from(v));
        }
        None => {
            headers.remove(name);
        }
    }
}

/// Sets the query string of an HTTP API 2.0 event (both `rawQueryString`,
/// which lambda_http reads, and `queryStringParameters`).
pub fn set_query(e: &mut Value, pairs: &[(&str, &str)]) {
    e["rawQueryString"] = Value::from(serde_urlencoded::to_string(pairs).expect("encodable"));
    if pairs.is_empty() {
        if let Some(o) = e.as_object_mut() {
            o.remove("queryStringParameters");
        }
    } else {
        let map: Map<String, Value> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect();
        e["queryStringParameters"] = Value::Object(map);
    }
}

/// Sets the body of an event: text as is, or base64 with `isBase64Encoded`.
pub fn set_body(e: &mut Value, body: Option<&[u8]>, base64: bool) {
    match body {
        None => {
            e["body"] = Value::Null;
            e["isBase64Encoded"] = Value::Bool(false);
        }
        Some(b) if base64 => {
            e["body"] = Value::from(base64::engine::general_purpose::STANDARD.encode(b));
            e["isBase64Encoded"] = Value::Bool(true);
        }
        Some(b) => {
            e["body"] = Value::from(String::from_utf8_lossy(b).into_owned());
            e["isBase64Encoded"] = Value::Bool(false);
        }
    }
}

/// The same request as a REST API (payload 1.0) event, stage `Prod`: built
/// on `events/duplicate-album-rest.json` from an HTTP API 2.0 event.
/// Fields the 2.0 event lacks (or holds with the wrong type) are carried
/// over as they are, so a mutated 2.0 event stays mutated.
pub fn to_rest(v2: &Value) -> Value {
    let mut r = event("duplicate-album-rest.json");
    let method = v2["requestContext"]["http"]["method"].clone();
    let path = v2["rawPath"].clone();
    let resource = v2["routeKey"]
        .as_str()
        .and_then(|k| k.split_once(' '))
        .map(|(_, p)| Value::from(p))
        .unwrap_or(Value::Null);
    r["resource"] = resource.clone();
    r["path"] = path.clone();
    r["httpMethod"] = method.clone();
    r["headers"] = v2.get("headers").cloned().unwrap_or(Value::Null);
    r["multiValueHeaders"] = match v2.get("headers") {
        Some(Value::Object(h)) => Value::Object(
            h.iter()
                .map(|(k, v)| (k.clone(), Value::Array(vec![v.clone()])))
                .collect(),
        ),
        other => other.cloned().unwrap_or(Value::Null),
    };
    // lambda_http reads the 2.0 query from rawQueryString: carry those pairs.
    let pairs: Vec<(String, String)> = v2["rawQueryString"]
        .as_str()
        .map(|q| serde_urlencoded::from_str(q).unwrap_or_default())
        .unwrap_or_default();
    if pairs.is_empty() {
        r["queryStringParameters"] = Value::Null;
        r["multiValueQueryStringParameters"] = Value::Null;
    } else {
        let mut single = Map::new();
        let mut multi: Map<String, Value> = Map::new();
        for (k, v) in pairs {
            single.insert(k.clone(), Value::from(v.clone()));
            match multi.get_mut(&k) {
                Some(Value::Array(a)) => a.push(Value::from(v)),
                _ => {
                    multi.insert(k, Value::Array(vec![Value::from(v)]));
                }
            }
        }
        r["queryStringParameters"] = Value::Object(single);
        r["multiValueQueryStringParameters"] = Value::Object(multi);
    }
    r["pathParameters"] = v2.get("pathParameters").cloned().unwrap_or(Value::Null);
    r["requestContext"]["httpMethod"] = method;
    r["requestContext"]["path"] = match path.as_str() {
        Some(p) => Value::from(format!("/Prod{p}")),
        None => path,
    };
    r["requestContext"]["resourcePath"] = resource;
    r["body"] = v2.get("body").cloned().unwrap_or(Value::Null);
    r["isBase64Encoded"] = v2
        .get("isBase64Encoded")
        .cloned()
        .unwrap_or(Value::Bool(false));
    r
}

/// Parses an event the way the Lambda runtime does. `None` when lambda_http
/// refuses it (an error, or one of its own panics on input API Gateway never
/// sends): no handler would ever see such an event.
pub fn try_request(event_json: &str) -> Option<Request> {
    std::panic::catch_unwind(|| lambda_http::request::from_str(event_json))
        .ok()?
        .ok()
}

// ---------------------------------------------------------------- tokens

/// URL-safe base64 without padding, as in JWTs.
pub fn b64url(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The test `JWT_SECRET`.
pub fn jwt_secret() -> Secret {
    Secret::new(JWT_SECRET)
}

/// The key of notification tokens, derived from the test
/// `NOTIFICATION_SECRET` as the functions derive it.
pub fn notification_key() -> Secret {
    Secret::new(super::NOTIFICATION_SECRET).derive(album_api::secret::Purpose::NotificationToken)
}

/// A JWT with exactly `header` and `claims`, signed with `key` by the HMAC
/// algorithm `alg` (whatever the header says).
pub fn sign_jwt(header: &Value, claims: &Value, key: &[u8], alg: Algorithm) -> String {
    let signing_input = format!(
        "{}.{}",
        b64url(header.to_string()),
        b64url(claims.to_string())
    );
    let sig = jsonwebtoken::crypto::sign(
        signing_input.as_bytes(),
        &EncodingKey::from_secret(key),
        alg,
    )
    .expect("HMAC signing");
    format!("{signing_input}.{sig}")
}

/// A JWT with `claims`, a standard HS256 header, signed with the test secret.
pub fn hs256(claims: &Value) -> String {
    sign_jwt(
        &json!({"typ": "JWT", "alg": "HS256"}),
        claims,
        JWT_SECRET.as_bytes(),
        Algorithm::HS256,
    )
}

/// The three dot-separated parts of a JWT.
pub fn jwt_parts(token: &str) -> (String, String, String) {
    let mut it = token.splitn(3, '.');
    let h = it.next().unwrap_or_default().to_string();
    let c = it.next().unwrap_or_default().to_string();
    let s = it.next().unwrap_or_default().to_string();
    (h, c, s)
}

// ---------------------------------------------------------------- webhook

/// Cloudinary's webhook signature: hex SHA-1 of raw body, timestamp and secret.
pub fn cld_signature(body: &[u8], timestamp: &str, secret: &str) -> String {
    let mut h = Sha1::new();
    h.update(body);
    h.update(timestamp.as_bytes());
    h.update(secret.as_bytes());
    hex::encode(h.finalize())
}

/// A webhook delivery: notification token in the query string (none when
/// `None`), `X-Cld-Timestamp` / `X-Cld-Signature` (absent when `None`).
pub fn webhook_event(
    token: Option<&str>,
    body: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
) -> Value {
    let mut e = Endpoint::Webhook.event(None, None);
    if let Some(t) = token {
        set_query(&mut e, &[("token", t)]);
    }
    set_header(&mut e, "x-cld-timestamp", timestamp);
    set_header(&mut e, "x-cld-signature", signature);
    e["body"] = Value::from(body);
    e
}

/// A webhook delivery of `body`, signed now with the test Cloudinary secret.
pub fn signed_webhook_event(token: Option<&str>, body: &str) -> Value {
    let ts = album_api::service::now().to_string();
    let sig = cld_signature(body.as_bytes(), &ts, CLD_SECRET);
    webhook_event(token, body, Some(&ts), Some(&sig))
}

/// A realistic upload notification (the shape of
/// `events/cloudinary-notification.json`) of upload `n` into `album`, created
/// at `created` (Unix seconds): its `asset_id` and its raw body.
pub fn upload_notification(album: &str, n: u64, created: i64) -> (String, String) {
    let mut h = Sha1::new();
    h.update(format!("asset/{album}/{n}").as_bytes());
    let asset_id = hex::encode(h.finalize())[..32].to_string();
    let created_at = time::OffsetDateTime::from_unix_timestamp(created)
        .expect("a valid time")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formattable");
    let mut body: Value = serde_json::from_str(
        event("cloudinary-notification.json")["body"]
            .as_str()
            .expect("a body"),
    )
    .expect("JSON body");
    let public_id = format!("albums/{album}/upload-{n}");
    body["asset_id"] = Value::from(asset_id.clone());
    body["public_id"] = Value::from(public_id.clone());
    body["version"] = Value::from(created);
    body["created_at"] = Value::from(created_at.clone());
    body["timestamp"] = Value::from(created_at);
    body["tags"] = json!([album]);
    body["original_filename"] = Value::from(format!("upload-{n}"));
    body["secure_url"] = Value::from(format!(
        "https://res.cloudinary.com/sadaasdasd/image/authenticated/s--abcdefgh--/v{created}/{public_id}.jpg"
    ));
    (asset_id, body.to_string())
}

/// The id the API gives the image of an upload (UUIDv5 of album and asset).
pub fn upload_image_id(album: &str, asset_id: &str) -> String {
    uuid::Uuid::new_v5(&UPLOAD_NAMESPACE, format!("{album}/{asset_id}").as_bytes()).to_string()
}

// ---------------------------------------------------------------- data

/// Every item of the table, `pk|sk` → every attribute (sorted, debug-printed):
/// two equal snapshots mean nothing at all was written in between.
pub async fn table_snapshot(store: &Store) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut start = None;
    loop {
        let page = store
            .client()
            .scan()
            .table_name(store.table())
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        for item in page.items() {
            let key = format!(
                "{}|{}",
                item.get("pk")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default(),
                item.get("sk")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default()
            );
            let attrs: BTreeMap<&String, String> =
                item.iter().map(|(k, v)| (k, format!("{v:?}"))).collect();
            out.insert(key, format!("{attrs:?}"));
        }
        match page.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return out,
        }
    }
}

/// What differs between two snapshots (for failure messages).
pub fn snapshot_diff(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> String {
    let mut out = Vec::new();
    for (k, v) in after {
        match before.get(k) {
            None => out.push(format!("added {k}")),
            Some(b) if b != v => out.push(format!("changed {k}")),
            _ => {}
        }
    }
    for k in before.keys() {
        if !after.contains_key(k) {
            out.push(format!("removed {k}"));
        }
    }
    out.join(", ")
}

/// The response's status, headers and raw body text.
pub fn raw_parts(resp: Response<Body>) -> (u16, HeaderMap, String) {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = match resp.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    (status, headers, text)
}

/// Checks an error answer: the contract's headers (no `X-token`), and a
/// JSON body `{"error": {"code", "message"}}` whose code fits the status.
pub fn check_error_response(status: u16, headers: &HeaderMap, text: &str) -> Result<(), String> {
    if !(400..600).contains(&status) {
        return Err(format!("status {status} is not an error"));
    }
    for (name, value) in album_api::http::STATIC_HEADERS {
        let got = headers.get(*name).and_then(|v| v.to_str().ok());
        if got != Some(*value) {
            return Err(format!("header {name}: {got:?}, expected {value:?}"));
        }
    }
    for name in ["x-request-id", "x-runtime", "content-length"] {
        if !headers.contains_key(name) {
            return Err(format!("header {name} missing"));
        }
    }
    if headers.contains_key("x-token") {
        return Err("an error answer carries X-token".into());
    }
    if headers.get("content-length").and_then(|v| v.to_str().ok()) != Some(&text.len().to_string())
    {
        return Err("content-length does not match the body".into());
    }
    let body: Value =
        serde_json::from_str(text).map_err(|e| format!("error body is not JSON ({e}): {text}"))?;
    let code = body["error"]["code"]
        .as_str()
        .ok_or_else(|| format!("no error.code: {text}"))?;
    let message = body["error"]["message"]
        .as_str()
        .ok_or_else(|| format!("no error.message: {text}"))?;
    if message.is_empty() {
        return Err("empty error message".into());
    }
    if body.as_object().map(Map::len) != Some(1) {
        return Err(format!("unexpected keys in the error body: {text}"));
    }
    // A missing ability is SharinPix's 401 with `X-message: Access denied`;
    // a missing or bad token is a plain 401.
    if status == 401 && code == "forbidden" {
        return match headers.get("x-message").and_then(|v| v.to_str().ok()) {
            Some("Access denied") => Ok(()),
            other => Err(format!("a missing ability's 401 with X-message {other:?}")),
        };
    }
    let expected = match status {
        400 => "bad_request",
        401 => "unauthorized",
        404 => "not_found",
        409 => "conflict",
        413 => "payload_too_large",
        422 => "unprocessable_entity",
        503 => "unavailable",
        500 => "internal_error",
        other => return Err(format!("unexpected error status {other}")),
    };
    if code != expected {
        return Err(format!("status {status} with code {code}"));
    }
    Ok(())
}
