//! The duplicate endpoint end to end: real API Gateway events through the
//! handler, against the local DynamoDB.

use std::collections::{BTreeSet, HashMap};

use crate::support::*;
use album_api::auth;
use album_api::cloudinary::sign_params;
use album_api::handlers::duplicate_album::handle;
use album_api::secret::Secret;
use album_api::store::Store;
use album_api::store::copy::copy_id;
use serde_json::{Value, json};

const HTTP: &str = "duplicate-album.json";
const REST: &str = "duplicate-album-rest.json";

async fn call(env: &TestEnv, event: &Value) -> (u16, lambda_http::http::HeaderMap, Value) {
    parts(handle(&env.app, request(event)).await.unwrap())
}

/// Every image item of an album: id -> (created_at, data).
async fn items_of(store: &Store, album: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut start = None;
    loop {
        let page = store
            .client()
            .query()
            .table_name(store.table())
            .key_condition_expression("pk = :pk AND begins_with(sk, :i)")
            .expression_attribute_values(
                ":pk",
                aws_sdk_dynamodb::types::AttributeValue::S(album_api::store::keys::album_pk(
                    &crate::support::key(album),
                )),
            )
            .expression_attribute_values(
                ":i",
                aws_sdk_dynamodb::types::AttributeValue::S("I#".into()),
            )
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        for item in page.items() {
            let img = Store::decode_image(item).unwrap();
            let iid = item["iid"].as_s().unwrap().clone();
            assert_eq!(iid, img.id, "index attribute matches the key");
            let prev = out.insert(img.id.clone(), serde_json::to_string(&img.record).unwrap());
            assert!(prev.is_none(), "image {} stored twice", img.id);
        }
        match page.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return out,
        }
    }
}

/// Same keys, same order, same JSON types, recursively.
fn assert_same_shape(path: &str, ours: &Value, seed: &Value) {
    match (ours, seed) {
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

#[tokio::test]
async fn answers_the_seed_shape_with_every_contract_header() {
    let env = TestEnv::new("shape").await;
    let store = env.direct_store().await;
    let images = seed_album(&store, SOURCE, ORG, 5).await;
    let token = env.token(USER, Some(json!({})));
    let (status, headers, body) = call(
        &env,
        &duplicate_event(
            HTTP,
            Some(&bearer(&token)),
            SOURCE,
            Some("destination_id=new_id"),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let seed: Value =
        serde_json::from_str(include_str!("fixtures/seed-duplicate-response.json")).unwrap();
    assert_same_shape("$", &body, &seed);
    assert_eq!(body["id"], "new_id");
    assert_eq!(body["public_id"], "new_id");
    assert_eq!(body["images_count"], 5);
    assert_eq!(body["organization_id"], ORG);

    // Thumbnails: the 4 newest copies, newest first, in the destination.
    let newest: Vec<String> = images
        .iter()
        .rev()
        .take(4)
        .map(|i| copy_id("new_id", &i.id))
        .collect();
    let got: Vec<&str> = body["thumbnails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, newest);
    for (t, src) in body["thumbnails"]
        .as_array()
        .unwrap()
        .iter()
        .zip(images.iter().rev())
    {
        assert_eq!(t["album_id"], "new_id");
        assert_eq!(
            t["created_at"].as_str().unwrap(),
            src.record.created_at,
            "copies keep created_at"
        );
        assert_eq!(t["infos"]["tags"], json!([SOURCE]), "copies keep infos");
        let url = t["original_url"].as_str().unwrap();
        assert!(
            url.starts_with("https://res.cloudinary.com/sadaasdasd/image/authenticated/s--"),
            "{url}"
        );
        assert!(
            url.ends_with(&format!(
                "/fl_attachment/v123123/{}.jpg",
                src.record.asset_public_id
            )),
            "{url}"
        );
    }

    // Upload form: signed over its params with the API secret, its
    // format limit included (decision 0016).
    let form = &body["upload_form"];
    let p = &form["params"];
    assert_eq!(form["id"], format!("{ORG}-new_id"));
    assert_eq!(form["expires_at"], p["timestamp"]);
    assert_eq!(p["api_key"], "123123123123");
    let to_sign: Vec<(&str, String)> = [
        "allowed_formats",
        "colors",
        "faces",
        "image_metadata",
        "notification_url",
        "phash",
        "tags",
        "timestamp",
        "type",
    ]
    .iter()
    .map(|k| {
        (
            *k,
            match &p[*k] {
                Value::String(s) => s.clone(),
                v => v.to_string(),
            },
        )
    })
    .collect();
    assert_eq!(
        p["signature"].as_str().unwrap(),
        sign_params(&to_sign, &Secret::new("s3cr3t"))
    );
    let url = p["notification_url"].as_str().unwrap();
    let note = url
        .strip_prefix("https://localhost:5001/api/v1/cloudinary?token=")
        .expect(url);
    let claims = auth::verify_notification_token(
        note,
        &crate::support::security::notification_key(),
        album_api::service::now(),
    )
    .unwrap();
    assert_eq!(
        (
            claims.album_id.as_str(),
            claims.organization_id.as_str(),
            claims.user_id.as_str()
        ),
        ("new_id", ORG, USER)
    );

    // Headers of the contract.
    for (name, value) in [
        ("cache-control", "no-cache, no-store"),
        ("pragma", "no-cache"),
        ("expires", "Fri, 01 Jan 1990 00:00:00 GMT"),
        ("content-type", "application/json; charset=utf-8"),
        ("vary", "Accept-Encoding"),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("x-xss-protection", "1; mode=block"),
        ("x-download-options", "noopen"),
        ("x-permitted-cross-domain-policies", "none"),
        (
            "referrer-policy",
            "origin-when-cross-origin, strict-origin-when-cross-origin",
        ),
        (
            "p3p",
            "CP=\"NOI ADM DEV PSAi COM NAV OUR OTRo STP IND DEM\"",
        ),
    ] {
        assert_eq!(
            headers.get(name).map(|v| v.to_str().unwrap()),
            Some(value),
            "{name}"
        );
    }
    assert!(!headers["x-request-id"].is_empty());
    let runtime: f64 = headers["x-runtime"].to_str().unwrap().parse().unwrap();
    assert!(
        runtime > 0.0
            && headers["x-runtime"]
                .to_str()
                .unwrap()
                .split('.')
                .nth(1)
                .unwrap()
                .len()
                == 6
    );
    let fresh = headers["x-token"].to_str().unwrap();
    let v =
        auth::verify_api_token(fresh, &Secret::new(JWT_SECRET), album_api::service::now()).unwrap();
    assert_eq!(v.user_id, USER);
    assert!(v.claims["exp"].as_i64().unwrap() >= album_api::service::now() + 14_400 - 5);
}

#[tokio::test]
async fn copies_a_3000_image_album_exactly_across_query_pages() {
    let env = TestEnv::new("big").await;
    let store = env.direct_store().await;
    let images = seed_album(&store, SOURCE, ORG, 3000).await;
    // The source spans several 1 MB Query pages.
    let mut pages = 0;
    let mut start = None;
    loop {
        let out = store
            .client()
            .query()
            .table_name(store.table())
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(
                ":pk",
                aws_sdk_dynamodb::types::AttributeValue::S(album_api::store::keys::album_pk(
                    &crate::support::key(SOURCE),
                )),
            )
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        pages += 1;
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => break,
        }
    }
    assert!(pages >= 2, "3,000 images fit in {pages} page(s)");

    let token = env.token(USER, None);
    let (status, _, body) = call(
        &env,
        &duplicate_event(
            HTTP,
            Some(&bearer(&token)),
            SOURCE,
            Some("destination_id=copy3000"),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["images_count"], 3000);
    let copied = items_of(&store, "copy3000").await;
    let expected: BTreeSet<String> = images.iter().map(|i| copy_id("copy3000", &i.id)).collect();
    assert_eq!(copied.keys().cloned().collect::<BTreeSet<_>>(), expected);
    let source = items_of(&store, SOURCE).await;
    for img in &images {
        assert_eq!(
            copied[&copy_id("copy3000", &img.id)],
            source[&img.id],
            "copy keeps the record"
        );
    }
    assert_eq!(
        store
            .get_album(&crate::support::key("copy3000"))
            .await
            .unwrap()
            .unwrap()
            .images_count,
        3000
    );
}

#[tokio::test]
async fn repeating_a_duplicate_changes_nothing() {
    let env = TestEnv::new("repeat").await;
    let store = env.direct_store().await;
    seed_album(&store, SOURCE, ORG, 60).await;
    let ev = duplicate_event(
        HTTP,
        Some(&bearer(&env.token(USER, None))),
        SOURCE,
        Some("destination_id=again"),
    );
    let (s1, _, b1) = call(&env, &ev).await;
    let first = items_of(&store, "again").await;
    let (s2, _, b2) = call(&env, &ev).await;
    let second = items_of(&store, "again").await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(b1["images_count"], 60);
    assert_eq!(b2["images_count"], 60);
    assert_eq!(first, second);
    assert_eq!(b1["thumbnails"], b2["thumbnails"]);
}

#[tokio::test]
async fn merges_into_an_existing_destination_of_the_same_organization() {
    let env = TestEnv::new("merge").await;
    let store = env.direct_store().await;
    seed_album(&store, SOURCE, ORG, 7).await;
    let own = seed_album(&store, "existing", ORG, 3).await;
    let (status, _, body) = call(
        &env,
        &duplicate_event(
            HTTP,
            Some(&bearer(&env.token(USER, None))),
            SOURCE,
            Some("destination_id=existing"),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["images_count"], 10);
    let items = items_of(&store, "existing").await;
    assert_eq!(items.len(), 10);
    for img in own {
        assert!(
            items.contains_key(&img.id),
            "the destination keeps its own images"
        );
    }
}

#[tokio::test]
async fn creates_a_uuid_destination_when_none_is_given() {
    let env = TestEnv::new("uuid").await;
    let store = env.direct_store().await;
    seed_album(&store, SOURCE, ORG, 3).await;
    let (status, _, body) = call(
        &env,
        &duplicate_event(HTTP, Some(&bearer(&env.token(USER, None))), SOURCE, None),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let id = body["id"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 4);
    let album = store
        .get_album(&crate::support::key(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (album.organization_id.as_str(), album.images_count),
        (ORG, 3)
    );
}

#[tokio::test]
async fn reads_destination_id_from_a_json_body_and_from_the_query_string() {
    let env = TestEnv::new("params").await;
    let store = env.direct_store().await;
    seed_album(&store, SOURCE, ORG, 2).await;
    let token = bearer(&env.token(USER, None));

    let mut json_ev = duplicate_event(
        HTTP,
        Some(&token),
        SOURCE,
        Some(r#"{"destination_id":"from_json"}"#),
    );
    json_ev["headers"]["content-type"] = json!("application/json");
    let (s, _, b) = call(&env, &json_ev).await;
    assert_eq!((s, b["id"].as_str()), (200, Some("from_json")));

    let mut query_ev = duplicate_event(HTTP, Some(&token), SOURCE, None);
    query_ev["rawQueryString"] = json!("destination_id=from_query");
    query_ev["queryStringParameters"] = json!({"destination_id": "from_query"});
    let (s, _, b) = call(&env, &query_ev).await;
    assert_eq!((s, b["id"].as_str()), (200, Some("from_query")));
}

#[tokio::test]
async fn rest_api_events_with_a_stage_prefix_work_too() {
    let env = TestEnv::new("rest").await;
    let store = env.direct_store().await;
    seed_album(&store, SOURCE, ORG, 5).await;
    let ev = duplicate_event(
        REST,
        Some(&bearer(&env.token(USER, None))),
        SOURCE,
        Some("destination_id=rest_copy"),
    );
    let (status, headers, body) = call(&env, &ev).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["images_count"], 5);
    assert!(headers.contains_key("x-token"));

    // Without path parameters the id comes from the raw path, stage and all.
    let mut raw = duplicate_event(
        REST,
        Some(&bearer(&env.token(USER, None))),
        SOURCE,
        Some("destination_id=rest_raw"),
    );
    raw["pathParameters"] = Value::Null;
    let (status, _, body) = call(&env, &raw).await;
    assert_eq!((status, body["id"].as_str()), (200, Some("rest_raw")));

    let mut v2 = duplicate_event(
        HTTP,
        Some(&bearer(&env.token(USER, None))),
        SOURCE,
        Some("destination_id=raw2"),
    );
    v2["pathParameters"] = Value::Null;
    let (status, _, body) = call(&env, &v2).await;
    assert_eq!((status, body["id"].as_str()), (200, Some("raw2")));
}

/// Asserts an error response and that the named destination was not created.
async fn assert_refused(env: &TestEnv, ev: &Value, status: u16, code: &str, dest: &str) {
    let (s, headers, body) = call(env, ev).await;
    assert_eq!(s, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    if code == "forbidden" {
        assert_eq!(headers["x-message"], "Access denied", "SharinPix's refusal");
    }
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert!(
        !headers.contains_key("x-token"),
        "no refreshed token on errors"
    );
    assert_eq!(headers["content-type"], "application/json; charset=utf-8");
    let store = env.direct_store().await;
    assert!(
        store
            .get_album(&crate::support::key(dest))
            .await
            .unwrap()
            .is_none(),
        "a refused request wrote {dest}"
    );
}

#[tokio::test]
async fn bad_tokens_are_401_and_write_nothing() {
    let env = TestEnv::new("401").await;
    let store = env.direct_store().await;
    seed_album(&store, SOURCE, ORG, 2).await;
    let now = album_api::service::now();
    let secret = Secret::new(JWT_SECRET);
    let expired = auth::issue_user_token(USER, None, &secret, now - 7200, 60).unwrap();
    let wrong_key =
        auth::issue_user_token(USER, None, &Secret::new("not-the-secret-0123456"), now, 60)
            .unwrap();
    let notification = auth::issue_notification_token(
        USER,
        SOURCE,
        ORG,
        &crate::support::security::notification_key(),
        now,
        60,
    )
    .unwrap();
    let unknown_user = auth::issue_user_token("ghost", None, &secret, now, 60).unwrap();
    let valid = env.token(USER, None);
    let mut parts_ = valid.split('.');
    let (h, c, s) = (
        parts_.next().unwrap(),
        parts_.next().unwrap(),
        parts_.next().unwrap(),
    );
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let rs256 = format!("{}.{c}.{s}", b64.encode(r#"{"alg":"RS256","typ":"JWT"}"#));
    let none = format!("{}.{c}.", b64.encode(r#"{"alg":"none","typ":"JWT"}"#));
    let _ = h;
    let cases: Vec<Option<String>> = vec![
        None,
        Some("Token".into()),
        Some("Basic dXNlcjpwYXNz".into()),
        Some(bearer("not-a-jwt")),
        Some(bearer(&expired)),
        Some(bearer(&wrong_key)),
        Some(bearer(&rs256)),
        Some(bearer(&none)),
        Some(bearer(&notification)),
        Some(bearer(&unknown_user)),
    ];
    for (i, auth) in cases.iter().enumerate() {
        let dest = format!("dest401_{i}");
        let ev = duplicate_event(
            HTTP,
            auth.as_deref(),
            SOURCE,
            Some(&format!("destination_id={dest}")),
        );
        assert_refused(&env, &ev, 401, "unauthorized", &dest).await;
    }
}

#[tokio::test]
async fn unknown_and_foreign_sources_are_404() {
    let env = TestEnv::new("404").await;
    let store = env.direct_store().await;
    seed_album(&store, "foreign", OTHER_ORG, 2).await;
    let token = bearer(&env.token(USER, None));
    for source in ["missing", "foreign", "bad%2Fid"] {
        let ev = duplicate_event(HTTP, Some(&token), source, Some("destination_id=d404"));
        assert_refused(&env, &ev, 404, "not_found", "d404").await;
    }
    let foreign = album_api::album::AlbumKey::new(OTHER_ORG, "foreign");
    assert_eq!(store.count_images(&foreign).await.unwrap(), 2);
}

#[tokio::test]
async fn restricted_abilities_are_401_with_access_denied() {
    let env = TestEnv::new("403").await;
    let store = env.direct_store().await;
    seed_album(&store, SOURCE, ORG, 2).await;
    let access = |see, list, upload| json!({"Access": {"see": see, "image_list": list, "image_upload": upload}});
    // Source visible but not listable.
    let t1 = env.token(
        USER,
        Some(json!({SOURCE: access(true, false, false), "d403a": access(false, false, true)})),
    );
    assert_refused(
        &env,
        &duplicate_event(
            HTTP,
            Some(&bearer(&t1)),
            SOURCE,
            Some("destination_id=d403a"),
        ),
        401,
        "forbidden",
        "d403a",
    )
    .await;
    // Source fine, no upload on the destination.
    let t2 = env.token(USER, Some(json!({SOURCE: access(true, true, false)})));
    assert_refused(
        &env,
        &duplicate_event(
            HTTP,
            Some(&bearer(&t2)),
            SOURCE,
            Some("destination_id=d403b"),
        ),
        401,
        "forbidden",
        "d403b",
    )
    .await;
    // Both granted: allowed, and the answer has an upload form (upload
    // granted, and `see`: without it the answer is only id and count).
    let mut destination = access(false, false, true);
    destination["Access"]["see"] = json!(true);
    let t3 = env.token(
        USER,
        Some(json!({SOURCE: access(true, true, false), "d403c": destination})),
    );
    let (s, _, b) = call(
        &env,
        &duplicate_event(
            HTTP,
            Some(&bearer(&t3)),
            SOURCE,
            Some("destination_id=d403c"),
        ),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert!(b["upload_form"].is_object());
}

#[tokio::test]
async fn invalid_destinations_are_422_and_unreadable_bodies_400() {
    let env = TestEnv::new("422").await;
    let store = env.direct_store().await;
    seed_album(&store, SOURCE, ORG, 1).await;
    let token = bearer(&env.token(USER, None));
    let long = "x".repeat(129);
    for body in [
        format!("destination_id={SOURCE}"),
        "destination_id=".to_string(),
        "destination_id=a%2Fb".to_string(),
        "destination_id=a+b".to_string(),
        format!("destination_id={long}"),
    ] {
        let (s, _, b) = call(
            &env,
            &duplicate_event(HTTP, Some(&token), SOURCE, Some(&body)),
        )
        .await;
        assert_eq!(s, 422, "{body}: {b}");
        assert_eq!(b["error"]["code"], "unprocessable_entity");
    }
    let mut numeric = duplicate_event(
        HTTP,
        Some(&token),
        SOURCE,
        Some(r#"{"destination_id": 42}"#),
    );
    numeric["headers"]["content-type"] = json!("application/json");
    assert_refused(&env, &numeric, 422, "unprocessable_entity", "42").await;

    let mut broken = duplicate_event(HTTP, Some(&token), SOURCE, Some(r#"{"destination_id": "#));
    broken["headers"]["content-type"] = json!("application/json");
    let (s, _, b) = call(&env, &broken).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("bad_request")));

    let mut array = duplicate_event(HTTP, Some(&token), SOURCE, Some("[1,2]"));
    array["headers"]["content-type"] = json!("application/json");
    assert_eq!(call(&env, &array).await.0, 400);

    let mut xml = duplicate_event(HTTP, Some(&token), SOURCE, Some("<x/>"));
    xml["headers"]["content-type"] = json!("application/xml");
    assert_eq!(call(&env, &xml).await.0, 400);

    let mut binary = duplicate_event(HTTP, Some(&token), SOURCE, Some("//79/A=="));
    binary["isBase64Encoded"] = json!(true);
    binary["headers"]["content-type"] = json!("application/x-www-form-urlencoded");
    let (s, _, b) = call(&env, &binary).await;
    assert_eq!(s, 400, "{b}");

    let huge = format!("destination_id=ok&pad={}", "p".repeat(200_000));
    let (s, _, _) = call(
        &env,
        &duplicate_event(HTTP, Some(&token), SOURCE, Some(&huge)),
    )
    .await;
    assert_eq!(s, 413);
    assert_eq!(
        store
            .get_album(&crate::support::key(SOURCE))
            .await
            .unwrap()
            .unwrap()
            .images_count,
        1
    );
}
