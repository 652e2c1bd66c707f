//! The album lifecycle end to end: create, Cloudinary upload notifications,
//! get, list (albums and images), duplicate, delete, and every 4xx of those
//! endpoints. Each call is a real API Gateway HTTP API 2.0 event from
//! `events/` through the handler, against the local DynamoDB.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::security::{Endpoint, set_header, set_query};
use crate::support::*;
use album_api::auth;
use album_api::image::UPLOAD_NAMESPACE;
use album_api::secret::Secret;
use album_api::service::now;
use album_api::store::StoredImage;
use albumctl::seed::sample_image;
use lambda_http::Body;
use lambda_http::http::HeaderMap;
use serde_json::{Map, Value, json};
use sha1::{Digest, Sha1};

/// The API secret of the test `CLOUDINARY_URL`.
const CLD_SECRET: &str = "s3cr3t";

// ---------------------------------------------------------------- calling

/// A response: status, headers, raw body text and the body as JSON.
struct Resp {
    status: u16,
    headers: HeaderMap,
    text: String,
    json: Value,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn ids(&self) -> Vec<String> {
        self.json
            .as_array()
            .unwrap_or_else(|| panic!("a JSON array: {}", self.text))
            .iter()
            .map(|i| i["id"].as_str().expect("an id").to_string())
            .collect()
    }

    fn thumbnail_ids(&self) -> Vec<String> {
        self.json["thumbnails"]
            .as_array()
            .unwrap_or_else(|| panic!("thumbnails: {}", self.text))
            .iter()
            .map(|i| i["id"].as_str().expect("an id").to_string())
            .collect()
    }
}

async fn call(env: &TestEnv, endpoint: Endpoint, event: &Value) -> Resp {
    let app = &env.app;
    let req = request(event);
    let resp = endpoint
        .call(app, req)
        .await
        .expect("a handler answers every request with an HTTP response");
    let text = match resp.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    let (status, headers, json) = parts(resp);
    Resp {
        status,
        headers,
        text,
        json,
    }
}

/// An error answer of the API: status, code, a message, no refreshed token.
fn assert_error(r: &Resp, status: u16, code: &str, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.text);
    assert_eq!(r.json["error"]["code"], code, "{what}: {}", r.text);
    assert!(
        r.json["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{what}: {}",
        r.text
    );
    assert!(
        r.header("x-token").is_none(),
        "{what}: no X-token on errors"
    );
}

/// A success carries `X-token`: the caller's token with a fresh expiry.
fn assert_refreshed_token(r: &Resp, user: &str) {
    let t = r.header("x-token").expect("X-token on every success");
    let v = auth::verify_api_token(t, &Secret::new(JWT_SECRET), now()).expect("a valid API token");
    assert_eq!(v.user_id, user);
    let exp = v.claims["exp"].as_i64().expect("exp");
    assert!(exp >= now() + 14_400 - 60, "fresh exp {exp}");
}

// ---------------------------------------------------------------- events

/// An HTTP API 2.0 event from `events/<file>` with its authorization, path,
/// path parameter `id`, query string and body replaced.
fn api_event(
    file: &str,
    authorization: Option<&str>,
    path: &str,
    id: Option<&str>,
    query: &[(&str, &str)],
    body: Option<&str>,
) -> Value {
    let mut e = event(file);
    set_header(&mut e, "authorization", authorization);
    e["rawPath"] = Value::from(path);
    e["requestContext"]["http"]["path"] = Value::from(path);
    let obj = e.as_object_mut().expect("event");
    match id {
        Some(id) => {
            obj.insert("pathParameters".into(), json!({ "id": id }));
        }
        None => {
            obj.remove("pathParameters");
        }
    }
    match body {
        Some(b) => {
            obj.insert("body".into(), Value::from(b));
        }
        None => {
            obj.remove("body");
        }
    }
    set_query(&mut e, query);
    e
}

fn create_event(authorization: Option<&str>, body: Option<&str>) -> Value {
    api_event(
        "create-album.json",
        authorization,
        "/api/v1/albums",
        None,
        &[],
        body,
    )
}

fn get_event(authorization: Option<&str>, album: &str) -> Value {
    api_event(
        "get-album.json",
        authorization,
        &format!("/api/v1/albums/{album}"),
        Some(album),
        &[],
        None,
    )
}

fn list_albums_event(authorization: Option<&str>, query: &[(&str, &str)]) -> Value {
    api_event(
        "list-albums.json",
        authorization,
        "/api/v1/albums",
        None,
        query,
        None,
    )
}

fn list_images_event(authorization: Option<&str>, album: &str, query: &[(&str, &str)]) -> Value {
    api_event(
        "list-images.json",
        authorization,
        &format!("/api/v1/albums/{album}/images"),
        Some(album),
        query,
        None,
    )
}

fn delete_event(authorization: Option<&str>, image: &str) -> Value {
    api_event(
        "delete-image.json",
        authorization,
        &format!("/api/v1/images/{image}"),
        Some(image),
        &[],
        None,
    )
}

/// A Cloudinary delivery to the webhook: notification token in the query,
/// `X-Cld-Timestamp` / `X-Cld-Signature` headers (absent when `None`).
fn webhook_event(
    token: Option<&str>,
    body: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
) -> Value {
    let mut e = event("cloudinary-notification.json");
    match token {
        Some(t) => set_query(&mut e, &[("token", t)]),
        None => set_query(&mut e, &[]),
    }
    let headers = e["headers"].as_object_mut().expect("headers");
    headers.remove("authorization");
    for (name, value) in [
        ("x-cld-timestamp", timestamp),
        ("x-cld-signature", signature),
    ] {
        if let Some(v) = value {
            headers.insert(name.into(), Value::from(v));
        } else {
            headers.remove(name);
        }
    }
    e["body"] = Value::from(body);
    e
}

/// `X-Cld-Timestamp` and `X-Cld-Signature` of a delivery (absent when `None`).
type Headers<'a> = (Option<&'a str>, Option<&'a str>);

/// Cloudinary's webhook signature: hex SHA-1 of body, timestamp and secret.
fn cld_signature(body: &str, timestamp: &str, secret: &str) -> String {
    let mut h = Sha1::new();
    h.update(body.as_bytes());
    h.update(timestamp.as_bytes());
    h.update(secret.as_bytes());
    hex::encode(h.finalize())
}

/// Delivers `body` now, correctly signed.
async fn deliver(env: &TestEnv, token: &str, body: &str) -> Resp {
    let ts = now().to_string();
    let sig = cld_signature(body, &ts, CLD_SECRET);
    call(
        env,
        Endpoint::Webhook,
        &webhook_event(Some(token), body, Some(&ts), Some(&sig)),
    )
    .await
}

// ---------------------------------------------------------------- data

fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .expect("a valid time")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formattable")
}

fn hex_of(seed: &str, len: usize) -> String {
    let mut h = Sha1::new();
    h.update(seed.as_bytes());
    hex::encode(h.finalize())[..len].to_string()
}

/// One upload as Cloudinary reports it, and what the API should make of it.
struct Upload {
    asset_id: String,
    public_id: String,
    version: i64,
    created_at: String,
    original_filename: String,
    /// The raw notification body.
    body: String,
}

impl Upload {
    /// The id the API gives the image in `album` (UUIDv5 of album and asset).
    fn image_id(&self, album: &str) -> String {
        uuid::Uuid::new_v5(
            &UPLOAD_NAMESPACE,
            format!("{album}/{}", self.asset_id).as_bytes(),
        )
        .to_string()
    }
}

/// A realistic upload notification (the shape of events/cloudinary-notification.json)
/// for upload number `n` into `album`, created at `created` (Unix seconds).
fn upload_notification(album: &str, n: u64, created: i64) -> Upload {
    let asset_id = hex_of(&format!("asset/{album}/{n}"), 32);
    let public_id = format!("albums/{album}/photo-{n}");
    let created_at = rfc3339(created);
    let original_filename = format!("IMG_{}", 4000 + n);
    let url_tail = format!("v{created}/{public_id}.jpg");
    let body = json!({
        "notification_type": "upload",
        "timestamp": created_at,
        "request_id": hex_of(&format!("request/{album}/{n}"), 32),
        "asset_id": asset_id,
        "public_id": public_id,
        "version": created,
        "version_id": hex_of(&format!("version/{album}/{n}"), 32),
        "width": 4032 - n as i64 * 10,
        "height": 3024,
        "format": "jpg",
        "resource_type": "image",
        "created_at": created_at,
        "tags": [album],
        "bytes": 2_838_512 + n as i64 * 1_000,
        "type": "authenticated",
        "etag": hex_of(&format!("etag/{album}/{n}"), 32),
        "placeholder": false,
        "url": format!("http://res.cloudinary.com/sadaasdasd/image/authenticated/s--abcdefgh--/{url_tail}"),
        "secure_url": format!("https://res.cloudinary.com/sadaasdasd/image/authenticated/s--abcdefgh--/{url_tail}"),
        "original_filename": original_filename,
        "colors": [["#3A6B8C", 31.2], ["#E0D4B8", 22.5]],
        "predominant": {"google": [["blue", 48.1], ["white", 21.3]]},
        "faces": [],
        "phash": hex_of(&format!("phash/{n}"), 16),
        "image_metadata": {"Make": "Apple", "Model": "iPhone 15", "DateTimeOriginal": "2026:11:26 18:02:11"}
    })
    .to_string();
    Upload {
        asset_id,
        public_id,
        version: created,
        created_at,
        original_filename,
        body,
    }
}

/// An error notification: everything an upload has, plus the error. It
/// must create nothing.
fn error_notification(album: &str, created: i64) -> String {
    let mut v: Value = serde_json::from_str(&upload_notification(album, 99, created).body)
        .expect("JSON notification");
    v["notification_type"] = json!("error");
    v["error"] = json!({"message": "Invalid image file"});
    v.to_string()
}

async fn seed_album(env: &TestEnv, id: &str, org: &str, n: u64) -> Vec<StoredImage> {
    crate::support::seed_album(&env.direct_store().await, id, org, n).await
}

/// Ids of sample images, newest first (sample images are created in order).
fn newest_first(images: &[StoredImage]) -> Vec<String> {
    images.iter().rev().map(|i| i.id.clone()).collect()
}

/// Every item of the table, keyed by `pk|sk`: "nothing written" means equal snapshots.
async fn snapshot(env: &TestEnv) -> BTreeMap<String, String> {
    crate::support::security::table_snapshot(&env.direct_store().await).await
}

/// The stored `images_count` and the number of image items of an album.
async fn counts(env: &TestEnv, album: &str) -> (u64, u64) {
    counts_in(env, ORG, album).await
}

/// [`counts`] of album `album` of organization `org`.
async fn counts_in(env: &TestEnv, org: &str, album: &str) -> (u64, u64) {
    let key = album_api::album::AlbumKey::new(org, album);
    let store = env.direct_store().await;
    let stored = store
        .get_album(&key)
        .await
        .expect("get album")
        .unwrap_or_else(|| panic!("album {album} exists"))
        .images_count;
    (stored, store.count_images(&key).await.expect("count"))
}

/// Follows `x-next-cursor` through `list`, returning the pages' ids.
async fn pages_of<F>(env: &TestEnv, endpoint: Endpoint, mut event_for: F) -> Vec<Vec<String>>
where
    F: FnMut(Option<&str>) -> Value,
{
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let r = call(env, endpoint, &event_for(cursor.as_deref())).await;
        assert_eq!(r.status, 200, "page {}: {}", pages.len() + 1, r.text);
        pages.push(r.ids());
        match r.header("x-next-cursor") {
            Some(c) => cursor = Some(c.to_string()),
            None => return pages,
        }
        assert!(pages.len() <= 50, "pagination never ends");
    }
}

fn tamper(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let mid = bytes.len() / 2;
    bytes[mid] = if bytes[mid] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).expect("ASCII")
}

fn access(flags: &[&str]) -> Value {
    let map: Map<String, Value> = flags
        .iter()
        .map(|f| ((*f).to_string(), Value::Bool(true)))
        .collect();
    json!({ "Access": map })
}

// ---------------------------------------------------------------- the loop

#[tokio::test]
async fn an_album_lives_through_uploads_listing_duplication_and_deletion_with_exact_counts() {
    let env = TestEnv::new("life").await;
    let authz = bearer(&env.token(USER, None));

    // Create.
    let created = call(
        &env,
        Endpoint::CreateAlbum,
        &create_event(Some(&authz), Some("{}")),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_refreshed_token(&created, USER);
    let album = created.json["id"].as_str().expect("id").to_string();
    assert_eq!(
        uuid::Uuid::parse_str(&album)
            .expect("a UUID")
            .get_version_num(),
        4
    );
    assert_eq!(created.json["public_id"], album.as_str());
    assert_eq!(created.json["images_count"], 0);
    assert_eq!(created.json["organization_id"], ORG);
    assert_eq!(created.json["thumbnails"], json!([]));
    assert_eq!(
        created.header("location"),
        Some(format!("/api/v1/albums/{album}").as_str())
    );
    assert_eq!(counts(&env, &album).await, (0, 0));
    let form = &created.json["upload_form"];
    assert!(form.is_object(), "upload_form present: {}", created.text);
    assert_eq!(form["name"], album.as_str());
    assert_eq!(form["id"], format!("{ORG}-{album}"));
    assert_eq!(form["params"]["tags"], album.as_str());

    // The notification token, from the upload form's notification_url.
    let url = form["params"]["notification_url"]
        .as_str()
        .expect("notification_url");
    let query = url
        .strip_prefix(&format!("{PUBLIC_API_URL}/api/v1/cloudinary?"))
        .unwrap_or_else(|| panic!("notification_url {url}"));
    let note_token = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .expect("query string")
        .into_iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v)
        .expect("a token parameter");
    let claims = auth::verify_notification_token(
        &note_token,
        &crate::support::security::notification_key(),
        now(),
    )
    .expect("a notification token");
    assert_eq!(
        (claims.album_id.as_str(), claims.organization_id.as_str()),
        (album.as_str(), ORG)
    );

    // Seven notifications: six uploads a few seconds apart, delivered out of
    // order, one of them twice, and an error notification.
    let base = now() - 600;
    let uploads: Vec<Upload> = (0..6u64)
        .map(|n| upload_notification(&album, n, base + 3 * n as i64))
        .collect();
    let error = error_notification(&album, base + 30);
    let deliveries: Vec<&str> = vec![
        &uploads[3].body,
        &uploads[0].body,
        &uploads[5].body,
        &error,
        &uploads[1].body,
        &uploads[0].body, // Cloudinary retries: the same body again
        &uploads[4].body,
        &uploads[2].body,
    ];
    for (i, body) in deliveries.iter().enumerate() {
        let r = deliver(&env, &note_token, body).await;
        assert_eq!(r.status, 201, "delivery {i}: {}", r.text);
        assert!(r.text.is_empty(), "delivery {i} answers an empty body");
    }
    let distinct: BTreeSet<&str> = deliveries
        .iter()
        .copied()
        .filter(|b| *b != error.as_str())
        .collect();
    let n = distinct.len() as u64;
    assert_eq!(n, uploads.len() as u64);
    assert_eq!(counts(&env, &album).await, (n, n));

    // Expected order: newest first by created_at.
    let mut newest: Vec<&Upload> = uploads.iter().collect();
    newest.sort_by(|a, b| b.created_at.cmp(&a.created_at));
    let expected_ids: Vec<String> = newest.iter().map(|u| u.image_id(&album)).collect();

    // Get: 6 images, the 4 newest as thumbnails, each rendered from its upload.
    let got = call(&env, Endpoint::GetAlbum, &get_event(Some(&authz), &album)).await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_refreshed_token(&got, USER);
    assert_eq!(got.json["images_count"], n);
    assert_eq!(got.thumbnail_ids(), expected_ids[..4].to_vec());
    for (t, u) in got.json["thumbnails"]
        .as_array()
        .expect("thumbnails")
        .iter()
        .zip(&newest)
    {
        assert_eq!(t["album_id"], album.as_str());
        assert_eq!(t["created_at"], u.created_at.as_str());
        assert_eq!(
            t["infos"]["original_filename"],
            u.original_filename.as_str()
        );
        let original = t["original_url"].as_str().expect("original_url");
        assert!(
            original.ends_with(&format!(
                "/fl_attachment/v{}/{}.jpg",
                u.version, u.public_id
            )),
            "{original}"
        );
    }

    // List images, 4 per page, following the cursor.
    let pages = pages_of(&env, Endpoint::ListImages, |cursor| {
        let mut q = vec![("limit", "4")];
        q.extend(cursor.map(|c| ("cursor", c)));
        list_images_event(Some(&authz), &album, &q)
    })
    .await;
    let expected_pages: Vec<Vec<String>> = expected_ids.chunks(4).map(|c| c.to_vec()).collect();
    assert_eq!(pages, expected_pages, "newest first, 4 then the rest");
    let listed: Vec<String> = pages.concat();
    assert_eq!(
        listed.iter().collect::<BTreeSet<_>>().len(),
        listed.len(),
        "no image listed twice"
    );

    // Duplicate into a new album.
    let dup = call(
        &env,
        Endpoint::Duplicate,
        &duplicate_event("duplicate-album.json", Some(&authz), &album, None),
    )
    .await;
    assert_eq!(dup.status, 200, "{}", dup.text);
    let copy = dup.json["id"].as_str().expect("copy id").to_string();
    assert_ne!(copy, album);
    assert_eq!(dup.json["images_count"], n);
    let copy_list = call(
        &env,
        Endpoint::ListImages,
        &list_images_event(Some(&authz), &copy, &[("limit", "100")]),
    )
    .await;
    assert_eq!(copy_list.status, 200, "{}", copy_list.text);
    let copy_ids = copy_list.ids();
    assert_eq!(copy_ids.len() as u64, n);
    let created_of = |r: &Resp| -> Vec<String> {
        r.json
            .as_array()
            .expect("images")
            .iter()
            .map(|i| i["created_at"].as_str().expect("created_at").to_string())
            .collect()
    };
    assert_eq!(
        created_of(&copy_list),
        newest
            .iter()
            .map(|u| u.created_at.clone())
            .collect::<Vec<_>>(),
        "copies keep created_at and the order"
    );
    assert!(
        copy_ids.iter().all(|id| !listed.contains(id)),
        "copies get their own ids"
    );

    // Delete one image of the copy.
    let victim = copy_ids[1].clone();
    let del = call(
        &env,
        Endpoint::DeleteImage,
        &delete_event(Some(&authz), &victim),
    )
    .await;
    assert_eq!(del.status, 204, "{}", del.text);
    assert!(del.text.is_empty());
    assert_refreshed_token(&del, USER);

    let remaining: Vec<String> = copy_ids.iter().filter(|i| **i != victim).cloned().collect();
    for (id, expected_count, expected_thumbs) in [
        (&album, n, expected_ids[..4].to_vec()),
        (&copy, n - 1, remaining[..4].to_vec()),
    ] {
        let r = call(&env, Endpoint::GetAlbum, &get_event(Some(&authz), id)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["images_count"], expected_count, "album {id}");
        assert_eq!(r.thumbnail_ids(), expected_thumbs, "album {id}");
        assert_eq!(
            counts(&env, id).await,
            (expected_count, expected_count),
            "album {id}: images_count equals its items"
        );
    }
    let after = call(
        &env,
        Endpoint::ListImages,
        &list_images_event(Some(&authz), &copy, &[("limit", "100")]),
    )
    .await;
    assert_eq!(after.ids(), remaining);

    // Deleting it again: 404, nothing changes.
    let again = call(
        &env,
        Endpoint::DeleteImage,
        &delete_event(Some(&authz), &victim),
    )
    .await;
    assert_error(&again, 404, "not_found", "second delete");
    assert_eq!(counts(&env, &copy).await, (n - 1, n - 1));
    let r = call(&env, Endpoint::GetAlbum, &get_event(Some(&authz), &copy)).await;
    assert_eq!(r.json["images_count"], n - 1);
}

// ---------------------------------------------------------------- 4xx

#[tokio::test]
async fn create_album_refuses_bad_tokens_restricted_tokens_and_unreadable_bodies_writing_nothing() {
    let env = TestEnv::new("create4xx").await;
    let t = now();
    let secret = Secret::new(JWT_SECRET);
    let wrong_key =
        auth::issue_user_token(USER, None, &Secret::new("not-the-jwt-secret-0123"), t, 600)
            .unwrap();
    let expired = auth::issue_user_token(USER, None, &secret, t - 7200, 60).unwrap();
    let notification = auth::issue_notification_token(
        USER,
        "x",
        ORG,
        &crate::support::security::notification_key(),
        t,
        600,
    )
    .unwrap();
    let unknown_user = auth::issue_user_token("ghost", None, &secret, t, 600).unwrap();
    let before = snapshot(&env).await;

    for (what, authz) in [
        ("no Authorization", None),
        (
            "garbage token",
            Some("Token token=\"not.a.jwt\"".to_string()),
        ),
        ("Basic scheme", Some("Basic dXNlcjpwYXNz".to_string())),
        ("another key", Some(bearer(&wrong_key))),
        ("expired", Some(bearer(&expired))),
        ("notification token", Some(bearer(&notification))),
        ("unknown user", Some(bearer(&unknown_user))),
    ] {
        let r = call(
            &env,
            Endpoint::CreateAlbum,
            &create_event(authz.as_deref(), Some("{}")),
        )
        .await;
        assert_error(&r, 401, "unauthorized", what);
    }

    let restricted = env.token(
        USER,
        Some(json!({
            "some-album": access(&["see", "image_list", "image_upload", "image_delete"])
        })),
    );
    let r = call(
        &env,
        Endpoint::CreateAlbum,
        &create_event(Some(&bearer(&restricted)), Some("{}")),
    )
    .await;
    assert_error(&r, 401, "forbidden", "restricted token");

    let good = bearer(&env.token(USER, None));
    let r = call(
        &env,
        Endpoint::CreateAlbum,
        &create_event(Some(&good), Some("{\"name\": ")),
    )
    .await;
    assert_error(&r, 400, "bad_request", "unreadable JSON");

    assert_eq!(
        snapshot(&env).await,
        before,
        "refused requests wrote nothing"
    );

    // The same request with a readable body is accepted (the 400 was the body).
    let r = call(
        &env,
        Endpoint::CreateAlbum,
        &create_event(Some(&good), Some("{}")),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.json["id"].as_str().unwrap();
    let album = env
        .direct_store()
        .await
        .get_album(&crate::support::key(id))
        .await
        .unwrap();
    assert_eq!(album.map(|a| a.organization_id), Some(ORG.to_string()));
}

#[tokio::test]
async fn get_album_is_404_across_organizations_403_without_see_and_has_an_upload_form_only_with_image_upload()
 {
    let env = TestEnv::new("get4xx").await;
    let own = "own_album";
    let foreign = "foreign_album";
    let images = seed_album(&env, own, ORG, 5).await;
    seed_album(&env, foreign, OTHER_ORG, 1).await;
    let authz = bearer(&env.token(USER, None));

    for (what, a) in [
        ("no Authorization", None),
        ("garbage token", Some("Bearer abc.def.ghi".to_string())),
    ] {
        let r = call(&env, Endpoint::GetAlbum, &get_event(a.as_deref(), own)).await;
        assert_error(&r, 401, "unauthorized", what);
    }

    let unknown = call(
        &env,
        Endpoint::GetAlbum,
        &get_event(Some(&authz), "never_created"),
    )
    .await;
    assert_error(&unknown, 404, "not_found", "unknown album");
    let other = call(&env, Endpoint::GetAlbum, &get_event(Some(&authz), foreign)).await;
    assert_error(&other, 404, "not_found", "another organization's album");
    assert_eq!(
        unknown.json["error"]["message"]
            .as_str()
            .unwrap()
            .replace("never_created", "X"),
        other.json["error"]["message"]
            .as_str()
            .unwrap()
            .replace(foreign, "X"),
        "absent and foreign look the same"
    );
    // Its own organization does see it: the 404 was about the organization.
    let theirs = call(
        &env,
        Endpoint::GetAlbum,
        &get_event(Some(&bearer(&env.token(OTHER_USER, None))), foreign),
    )
    .await;
    assert_eq!(theirs.status, 200, "{}", theirs.text);

    let no_see = env.token(
        USER,
        Some(json!({ own: access(&["image_list", "image_upload", "image_delete"]) })),
    );
    let r = call(
        &env,
        Endpoint::GetAlbum,
        &get_event(Some(&bearer(&no_see)), own),
    )
    .await;
    assert_error(&r, 401, "forbidden", "token without see");

    let see_only = env.token(USER, Some(json!({ own: access(&["see"]) })));
    let r = call(
        &env,
        Endpoint::GetAlbum,
        &get_event(Some(&bearer(&see_only)), own),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_refreshed_token(&r, USER);
    assert!(
        r.json.as_object().unwrap().contains_key("upload_form") && r.json["upload_form"].is_null(),
        "upload_form is null without image_upload: {}",
        r.text
    );
    assert_eq!(r.json["images_count"], images.len());
    assert_eq!(r.thumbnail_ids(), newest_first(&images)[..4].to_vec());

    let see_upload = env.token(USER, Some(json!({ own: access(&["see", "image_upload"]) })));
    let r = call(
        &env,
        Endpoint::GetAlbum,
        &get_event(Some(&bearer(&see_upload)), own),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["upload_form"]["name"], own, "{}", r.text);
}

#[tokio::test]
async fn list_albums_validates_its_parameters_and_pages_through_exactly_the_albums_the_caller_may_see()
 {
    let env = TestEnv::new("listalbums").await;
    let authz = bearer(&env.token(USER, None));
    let other_authz = bearer(&env.token(OTHER_USER, None));

    // Five albums of ORG (one with images), two of OTHER_ORG, all created through the API.
    let mut own = BTreeSet::new();
    for _ in 0..5 {
        let r = call(
            &env,
            Endpoint::CreateAlbum,
            &create_event(Some(&authz), None),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        own.insert(r.json["id"].as_str().unwrap().to_string());
    }
    let mut theirs = BTreeSet::new();
    for _ in 0..2 {
        let r = call(
            &env,
            Endpoint::CreateAlbum,
            &create_event(Some(&other_authz), None),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        theirs.insert(r.json["id"].as_str().unwrap().to_string());
    }
    let with_images = own.iter().next().unwrap().clone();
    let images: Vec<StoredImage> = (0..6).map(|i| sample_image(&with_images, i)).collect();
    env.direct_store()
        .await
        .put_images(&crate::support::key(&with_images), &images)
        .await
        .unwrap();

    for (what, q) in [
        ("limit 0", "0"),
        ("limit 101", "101"),
        ("limit abc", "abc"),
        ("limit -1", "-1"),
    ] {
        let r = call(
            &env,
            Endpoint::ListAlbums,
            &list_albums_event(Some(&authz), &[("limit", q)]),
        )
        .await;
        assert_error(&r, 400, "bad_request", what);
    }
    let r = call(
        &env,
        Endpoint::ListAlbums,
        &list_albums_event(None, &[("limit", "2")]),
    )
    .await;
    assert_error(&r, 401, "unauthorized", "no Authorization");

    // Pages of 2 over 5 albums: every album exactly once, the last page without a cursor.
    let pages = pages_of(&env, Endpoint::ListAlbums, |cursor| {
        let mut q = vec![("limit", "2")];
        q.extend(cursor.map(|c| ("cursor", c)));
        list_albums_event(Some(&authz), &q)
    })
    .await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    let expected_sizes: Vec<usize> = (0..own.len())
        .collect::<Vec<_>>()
        .chunks(2)
        .map(<[usize]>::len)
        .collect();
    assert_eq!(sizes, expected_sizes);
    let listed: Vec<String> = pages.concat();
    let listed_set: BTreeSet<String> = listed.iter().cloned().collect();
    assert_eq!(listed_set.len(), listed.len(), "no album listed twice");
    assert_eq!(listed_set, own, "exactly the organization's albums");

    // The summaries: exact counts and the newest images as thumbnails.
    let all = call(
        &env,
        Endpoint::ListAlbums,
        &list_albums_event(Some(&authz), &[("limit", "100")]),
    )
    .await;
    assert_eq!(all.status, 200, "{}", all.text);
    assert!(all.header("x-next-cursor").is_none());
    assert_refreshed_token(&all, USER);
    for summary in all.json.as_array().unwrap() {
        let id = summary["id"].as_str().unwrap();
        assert_eq!(summary["public_id"], id);
        let (stored, items) = counts(&env, id).await;
        assert_eq!(summary["images_count"], items);
        assert_eq!(stored, items);
        let thumbs: Vec<&str> = summary["thumbnails"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap())
            .collect();
        let expected: Vec<String> = if id == with_images {
            newest_first(&images)[..4].to_vec()
        } else {
            Vec::new()
        };
        assert_eq!(thumbs, expected, "thumbnails of {id}");
    }

    // A cursor that was tampered with, or issued to someone else, is a 400.
    let first = call(
        &env,
        Endpoint::ListAlbums,
        &list_albums_event(Some(&authz), &[("limit", "2")]),
    )
    .await;
    let cursor = first.header("x-next-cursor").expect("a cursor").to_string();
    let their_first = call(
        &env,
        Endpoint::ListAlbums,
        &list_albums_event(Some(&other_authz), &[("limit", "1")]),
    )
    .await;
    let their_cursor = their_first
        .header("x-next-cursor")
        .expect("a cursor")
        .to_string();
    for (what, c) in [
        ("tampered cursor", tamper(&cursor)),
        ("garbage cursor", "garbage".to_string()),
        ("another user's cursor", their_cursor),
    ] {
        let r = call(
            &env,
            Endpoint::ListAlbums,
            &list_albums_event(Some(&authz), &[("limit", "2"), ("cursor", &c)]),
        )
        .await;
        assert_error(&r, 400, "bad_request", what);
    }

    // Each organization sees only its own albums.
    let other_pages = pages_of(&env, Endpoint::ListAlbums, |cursor| {
        let mut q = vec![("limit", "1")];
        q.extend(cursor.map(|c| ("cursor", c)));
        list_albums_event(Some(&other_authz), &q)
    })
    .await;
    let other_listed: Vec<String> = other_pages.concat();
    assert_eq!(
        other_listed.iter().cloned().collect::<BTreeSet<_>>(),
        theirs
    );
    assert_eq!(other_listed.len(), theirs.len());

    // A restricted token lists the albums it may see: named with `see`, in
    // its organization, existing.
    let own_vec: Vec<&String> = own.iter().collect();
    let foreign = theirs.iter().next().unwrap();
    let abilities = json!({
        own_vec[0].as_str(): access(&["see"]),
        own_vec[1].as_str(): access(&["image_list", "image_upload", "image_delete"]),
        own_vec[2].as_str(): access(&["see", "image_upload"]),
        foreign.as_str(): access(&["see", "image_list"]),
        "never_created": access(&["see"]),
    });
    let restricted = bearer(&env.token(USER, Some(abilities.clone())));
    let expected: BTreeSet<String> = abilities
        .as_object()
        .unwrap()
        .iter()
        .filter(|(id, a)| a["Access"]["see"] == json!(true) && own.contains(*id))
        .map(|(id, _)| id.clone())
        .collect();
    let one_page = call(
        &env,
        Endpoint::ListAlbums,
        &list_albums_event(Some(&restricted), &[("limit", "10")]),
    )
    .await;
    assert_eq!(one_page.status, 200, "{}", one_page.text);
    assert_eq!(
        one_page.ids().into_iter().collect::<BTreeSet<_>>(),
        expected
    );
    assert_eq!(one_page.ids().len(), expected.len());
    let restricted_pages = pages_of(&env, Endpoint::ListAlbums, |cursor| {
        let mut q = vec![("limit", "1")];
        q.extend(cursor.map(|c| ("cursor", c)));
        list_albums_event(Some(&restricted), &q)
    })
    .await;
    let sizes: Vec<usize> = restricted_pages.iter().map(Vec::len).collect();
    assert_eq!(
        sizes,
        vec![1; expected.len()],
        "no short or empty page while albums remain"
    );
    let restricted_listed = restricted_pages.concat();
    assert_eq!(
        restricted_listed.iter().cloned().collect::<BTreeSet<_>>(),
        expected
    );
    assert_eq!(restricted_listed.len(), expected.len());

    // A restricted token's cursor does not page an unrestricted listing (nor
    // the reverse): 400, not a DynamoDB error.
    let restricted_first = call(
        &env,
        Endpoint::ListAlbums,
        &list_albums_event(Some(&restricted), &[("limit", "1")]),
    )
    .await;
    let restricted_cursor = restricted_first
        .header("x-next-cursor")
        .expect("a cursor")
        .to_string();
    let r = call(
        &env,
        Endpoint::ListAlbums,
        &list_albums_event(
            Some(&authz),
            &[("limit", "2"), ("cursor", &restricted_cursor)],
        ),
    )
    .await;
    assert_error(&r, 400, "bad_request", "a restricted token's cursor");
    let r = call(
        &env,
        Endpoint::ListAlbums,
        &list_albums_event(Some(&restricted), &[("limit", "2"), ("cursor", &cursor)]),
    )
    .await;
    assert_error(&r, 400, "bad_request", "an unrestricted token's cursor");
}

#[tokio::test]
async fn list_images_refuses_bad_limits_and_cursors_tokens_without_image_list_and_other_organizations()
 {
    let env = TestEnv::new("listimages").await;
    let a = "album_a";
    let b = "album_b";
    let foreign = "album_foreign";
    let a_images = seed_album(&env, a, ORG, 6).await;
    seed_album(&env, b, ORG, 6).await;
    seed_album(&env, foreign, OTHER_ORG, 3).await;
    let authz = bearer(&env.token(USER, None));

    for limit in ["0", "101", "abc", "2.5"] {
        let r = call(
            &env,
            Endpoint::ListImages,
            &list_images_event(Some(&authz), a, &[("limit", limit)]),
        )
        .await;
        assert_error(&r, 400, "bad_request", &format!("limit {limit}"));
    }

    let first = call(
        &env,
        Endpoint::ListImages,
        &list_images_event(Some(&authz), a, &[("limit", "4")]),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.ids(), newest_first(&a_images)[..4].to_vec());
    let cursor = first.header("x-next-cursor").expect("a cursor").to_string();
    // The cursor works where it was issued…
    let second = call(
        &env,
        Endpoint::ListImages,
        &list_images_event(Some(&authz), a, &[("limit", "4"), ("cursor", &cursor)]),
    )
    .await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(second.ids(), newest_first(&a_images)[4..].to_vec());
    // …and nowhere else; tampered or foreign cursors are 400.
    let albums_cursor = call(
        &env,
        Endpoint::ListAlbums,
        &list_albums_event(Some(&authz), &[("limit", "1")]),
    )
    .await
    .header("x-next-cursor")
    .expect("an albums cursor")
    .to_string();
    for (what, album, c) in [
        ("tampered cursor", a, tamper(&cursor)),
        ("garbage cursor", a, "garbage".to_string()),
        ("cursor of another album", b, cursor.clone()),
        ("cursor of the albums listing", a, albums_cursor),
    ] {
        let r = call(
            &env,
            Endpoint::ListImages,
            &list_images_event(Some(&authz), album, &[("limit", "4"), ("cursor", &c)]),
        )
        .await;
        assert_error(&r, 400, "bad_request", what);
    }

    let no_list = env.token(
        USER,
        Some(json!({ a: access(&["see", "image_upload", "image_delete"]) })),
    );
    let r = call(
        &env,
        Endpoint::ListImages,
        &list_images_event(Some(&bearer(&no_list)), a, &[]),
    )
    .await;
    assert_error(&r, 401, "forbidden", "token without image_list");
    let list_only = env.token(USER, Some(json!({ a: access(&["image_list"]) })));
    let r = call(
        &env,
        Endpoint::ListImages,
        &list_images_event(Some(&bearer(&list_only)), a, &[]),
    )
    .await;
    assert_eq!(r.status, 200, "image_list is enough: {}", r.text);
    assert_eq!(r.ids(), newest_first(&a_images));

    let r = call(
        &env,
        Endpoint::ListImages,
        &list_images_event(Some(&authz), foreign, &[]),
    )
    .await;
    assert_error(&r, 404, "not_found", "another organization's album");
    let r = call(
        &env,
        Endpoint::ListImages,
        &list_images_event(Some(&authz), "never_created", &[]),
    )
    .await;
    assert_error(&r, 404, "not_found", "unknown album");
    let r = call(&env, Endpoint::ListImages, &list_images_event(None, a, &[])).await;
    assert_error(&r, 401, "unauthorized", "no Authorization");
}

#[tokio::test]
async fn delete_image_is_404_for_unknown_and_foreign_images_403_without_image_delete_and_401_without_a_token()
 {
    let env = TestEnv::new("delete4xx").await;
    let own = "own_album";
    let foreign = "foreign_album";
    let own_images = seed_album(&env, own, ORG, 3).await;
    let foreign_images = seed_album(&env, foreign, OTHER_ORG, 2).await;
    let authz = bearer(&env.token(USER, None));
    let before = snapshot(&env).await;

    let unknown = uuid::Uuid::new_v4().to_string();
    let r = call(
        &env,
        Endpoint::DeleteImage,
        &delete_event(Some(&authz), &unknown),
    )
    .await;
    assert_error(&r, 404, "not_found", "unknown image id");
    let r = call(
        &env,
        Endpoint::DeleteImage,
        &delete_event(Some(&authz), "not.an.id"),
    )
    .await;
    assert_error(&r, 404, "not_found", "malformed image id");

    let target = &foreign_images[0].id;
    let r = call(
        &env,
        Endpoint::DeleteImage,
        &delete_event(Some(&authz), target),
    )
    .await;
    assert_error(&r, 404, "not_found", "image of another organization");

    let no_delete = env.token(
        USER,
        Some(json!({ own: access(&["see", "image_list", "image_upload"]) })),
    );
    let r = call(
        &env,
        Endpoint::DeleteImage,
        &delete_event(Some(&bearer(&no_delete)), &own_images[0].id),
    )
    .await;
    assert_error(&r, 401, "forbidden", "token without image_delete");

    for (what, a) in [
        ("no Authorization", None),
        ("garbage token", Some("Token token=\"x.y.z\"".to_string())),
    ] {
        let r = call(
            &env,
            Endpoint::DeleteImage,
            &delete_event(a.as_deref(), &own_images[0].id),
        )
        .await;
        assert_error(&r, 401, "unauthorized", what);
    }

    assert_eq!(
        snapshot(&env).await,
        before,
        "refused deletes wrote nothing"
    );
    let n_foreign = foreign_images.len() as u64;
    assert_eq!(
        counts_in(&env, OTHER_ORG, foreign).await,
        (n_foreign, n_foreign)
    );

    // The owners can delete: the refusals were about who asked.
    let r = call(
        &env,
        Endpoint::DeleteImage,
        &delete_event(Some(&bearer(&env.token(OTHER_USER, None))), target),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(
        counts_in(&env, OTHER_ORG, foreign).await,
        (n_foreign - 1, n_foreign - 1)
    );
    let only_delete = env.token(USER, Some(json!({ own: access(&["image_delete"]) })));
    let r = call(
        &env,
        Endpoint::DeleteImage,
        &delete_event(Some(&bearer(&only_delete)), &own_images[0].id),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let n_own = own_images.len() as u64;
    assert_eq!(counts(&env, own).await, (n_own - 1, n_own - 1));
}

#[tokio::test]
async fn the_webhook_refuses_unauthenticated_or_unsigned_deliveries_and_writes_nothing() {
    let env = TestEnv::new("webhook4xx").await;
    let authz = bearer(&env.token(USER, None));
    let created = call(
        &env,
        Endpoint::CreateAlbum,
        &create_event(Some(&authz), None),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let album = created.json["id"].as_str().unwrap().to_string();
    let url = created.json["upload_form"]["params"]["notification_url"]
        .as_str()
        .unwrap();
    let note_token = url.split_once("token=").expect("a token").1.to_string();

    let t = now();
    let upload = upload_notification(&album, 0, t - 60);
    let body = upload.body.as_str();
    let ts = t.to_string();
    let good_sig = cld_signature(body, &ts, CLD_SECRET);
    let stale_ts = (t - 3 * 3600).to_string();
    let stale_sig = cld_signature(body, &stale_ts, CLD_SECRET);
    let other_body = upload_notification(&album, 1, t - 30).body;
    let other_key_token = auth::issue_notification_token(
        USER,
        &album,
        ORG,
        &Secret::new("another-jwt-secret-0123456"),
        t,
        3600,
    )
    .unwrap();
    let api_token = env.token(USER, None);
    let forged = cld_signature(body, &ts, "not-the-cloudinary-secret");
    let signed_other = cld_signature(&other_body, &ts, CLD_SECRET);
    let before = snapshot(&env).await;

    // (what, notification token, X-Cld-Timestamp, X-Cld-Signature)
    let cases: Vec<(&str, Option<&str>, Headers)> = vec![
        ("missing token", None, (Some(&ts), Some(&good_sig))),
        ("API token", Some(&api_token), (Some(&ts), Some(&good_sig))),
        (
            "token signed with another key",
            Some(&other_key_token),
            (Some(&ts), Some(&good_sig)),
        ),
        (
            "forged signature",
            Some(&note_token),
            (Some(&ts), Some(&forged)),
        ),
        (
            "signature of another body",
            Some(&note_token),
            (Some(&ts), Some(&signed_other)),
        ),
        (
            "stale timestamp (3 h)",
            Some(&note_token),
            (Some(&stale_ts), Some(&stale_sig)),
        ),
        ("no signature", Some(&note_token), (Some(&ts), None)),
        ("no timestamp", Some(&note_token), (None, Some(&good_sig))),
    ];
    for (what, token, (ts, sig)) in cases {
        let r = call(
            &env,
            Endpoint::Webhook,
            &webhook_event(token, body, ts, sig),
        )
        .await;
        assert_error(&r, 401, "unauthorized", what);
    }
    assert_eq!(
        snapshot(&env).await,
        before,
        "refused deliveries wrote nothing"
    );

    let not_json = "this is not JSON";
    let r = deliver(&env, &note_token, not_json).await;
    assert_error(&r, 400, "bad_request", "a signed body that is not JSON");
    assert_eq!(snapshot(&env).await, before, "a 400 wrote nothing");

    // The very same delivery, correctly signed, records the image.
    let r = deliver(&env, &note_token, body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(counts(&env, &album).await, (1, 1));
    let listed = call(
        &env,
        Endpoint::ListImages,
        &list_images_event(Some(&authz), &album, &[]),
    )
    .await;
    assert_eq!(listed.ids(), vec![upload.image_id(&album)]);
}

#[tokio::test]
async fn the_webhook_answers_404_and_writes_nothing_for_an_album_that_does_not_exist() {
    let env = TestEnv::new("webhook404").await;
    let t = now();
    let ghost = "never_created_album";
    let token = auth::issue_notification_token(
        USER,
        ghost,
        ORG,
        &crate::support::security::notification_key(),
        t,
        3600,
    )
    .unwrap();
    let before = snapshot(&env).await;
    let r = deliver(&env, &token, &upload_notification(ghost, 0, t - 60).body).await;
    assert_error(&r, 404, "not_found", "album never created");
    assert_eq!(snapshot(&env).await, before, "nothing written");
    let store = env.direct_store().await;
    assert!(
        store
            .get_album(&crate::support::key(ghost))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .count_images(&crate::support::key(ghost))
            .await
            .unwrap(),
        0
    );

    // A token naming an existing album under another organization is no better.
    let existing = "existing_album";
    seed_album(&env, existing, ORG, 0).await;
    let before = snapshot(&env).await;
    let token = auth::issue_notification_token(
        USER,
        existing,
        OTHER_ORG,
        &crate::support::security::notification_key(),
        t,
        3600,
    )
    .unwrap();
    let r = deliver(&env, &token, &upload_notification(existing, 0, t - 60).body).await;
    assert_error(&r, 404, "not_found", "album of another organization");
    assert_eq!(snapshot(&env).await, before, "nothing written");
}

#[tokio::test]
async fn list_images_returns_every_image_when_a_page_outgrows_a_one_megabyte_query_page() {
    let env = TestEnv::new("bigpage").await;
    let album = "big_items";
    seed_album(&env, album, ORG, 0).await;
    // Uploads may carry large metadata (the webhook accepts bodies up to
    // 64 KB): 15 images of ~100 KB are more than one 1 MB Query page.
    let images: Vec<StoredImage> = (0..15)
        .map(|i| {
            let mut img = sample_image(album, i);
            img.record.exifs = json!({ "XMP": "x".repeat(100_000) });
            img
        })
        .collect();
    let store = env.direct_store().await;
    assert_eq!(
        store
            .put_images(&crate::support::key(album), &images)
            .await
            .unwrap(),
        images.len() as u64
    );
    let authz = bearer(&env.token(USER, None));
    let limit = images.len().to_string();
    let pages = pages_of(&env, Endpoint::ListImages, |cursor| {
        let mut q = vec![("limit", limit.as_str())];
        q.extend(cursor.map(|c| ("cursor", c)));
        list_images_event(Some(&authz), album, &q)
    })
    .await;
    assert!(pages.iter().all(|p| p.len() <= images.len()));
    assert_eq!(pages.concat(), newest_first(&images), "pages {pages:?}");
}
