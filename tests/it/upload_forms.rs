//! Upload forms that cannot be abused, least exposure, a key per purpose
//! (decision 0016): the signed limits of a form, the webhook's refusals
//! (each records nothing), the reduced answers of a rename, merge or
//! duplicate without `see`, and notification tokens apart from user ones.

use album_api::auth;
use album_api::cloudinary::{ALLOWED_FORMATS, sign_params};
use album_api::secret::Secret;
use album_api::service::{App, NOTIFICATION_GRACE_SECONDS, now};
use album_api::store::keys::{USER_SK, user_pk};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};

use crate::support::calls::{Format, Payload, Resp, access, api_event, assert_error, call};
use crate::support::security::{
    CLD_SECRET, Endpoint, notification_key, signed_webhook_event, table_snapshot,
    upload_notification,
};
use crate::support::{ORG, TestEnv, USER, bearer, config_with, seed_album};

async fn deliver(app: &App, token: &str, body: &str) -> Resp {
    call(
        app,
        Endpoint::Webhook,
        &signed_webhook_event(Some(token), body),
    )
    .await
}

fn note_token(user: &str, album: &str, issued: i64, ttl: u64) -> String {
    auth::issue_notification_token(user, album, ORG, &notification_key(), issued, ttl).unwrap()
}

/// A delivery the webhook refuses with `status` and `code`, writing nothing.
async fn refused(env: &TestEnv, token: &str, body: &str, status: u16, code: &str, what: &str) {
    let store = env.direct_store().await;
    let before = table_snapshot(&store).await;
    let r = deliver(&env.app, token, body).await;
    assert_error(&r, status, code, what);
    assert_eq!(
        table_snapshot(&store).await,
        before,
        "{what}: nothing written"
    );
}

#[tokio::test]
async fn an_upload_form_signs_its_format_limit_lives_its_configured_minutes_and_verifies() {
    let mut env = TestEnv::new("form-limits").await;
    env.app.config = config_with(&env.table, "300");
    seed_album(&env.direct_store().await, "formed", ORG, 0).await;
    let t = now();
    let get = api_event(
        Endpoint::GetAlbum,
        Some(&bearer(&env.token(USER, None))),
        Some("formed"),
        &[],
        None,
        Format::Http,
    );
    let r = call(&env.app, Endpoint::GetAlbum, &get).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let form = &r.json["upload_form"];
    let params = form["params"].as_object().expect("params");
    assert_eq!(params["allowed_formats"], ALLOWED_FORMATS);
    let expires = form["expires_at"].as_i64().unwrap();
    assert!(
        (t + 300..=t + 302).contains(&expires),
        "5 minutes: {expires} vs {t}"
    );
    assert_eq!(params["timestamp"].as_i64(), Some(expires));
    // Cloudinary's check: every signed parameter, the secret appended.
    let signed: Vec<(&str, String)> = params
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "signature" | "api_key"))
        .map(|(k, v)| {
            (
                k.as_str(),
                v.as_str().map_or_else(|| v.to_string(), str::to_string),
            )
        })
        .collect();
    assert_eq!(
        params["signature"],
        sign_params(&signed, &Secret::new(CLD_SECRET)),
        "the signature covers allowed_formats"
    );
    // Its notification token lives the form's minutes and the grace only.
    let url = params["notification_url"].as_str().unwrap();
    let token = url.split_once("token=").unwrap().1;
    let claims = auth::verify_notification_token(token, &notification_key(), t).unwrap();
    assert_eq!(
        claims.exp - claims.iat,
        300 + NOTIFICATION_GRACE_SECONDS as i64
    );
}

#[tokio::test]
async fn an_expired_form_records_nothing() {
    let env = TestEnv::new("form-expired").await;
    seed_album(&env.direct_store().await, "late", ORG, 0).await;
    let t = now();
    // A five-minute form issued long enough ago that form and grace are over.
    let ttl = 300 + NOTIFICATION_GRACE_SECONDS;
    let expired = note_token(USER, "late", t - ttl as i64 - 1, ttl);
    let (_, body) = upload_notification("late", 0, t - 60);
    refused(&env, &expired, &body, 401, "unauthorized", "expired form").await;
    // The same delivery under a live form is recorded.
    let r = deliver(&env.app, &note_token(USER, "late", t, ttl), &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

#[tokio::test]
async fn the_webhook_refuses_another_resource_type_and_a_file_too_large() {
    let env = TestEnv::new("form-kind").await;
    seed_album(&env.direct_store().await, "photos", ORG, 0).await;
    let t = now();
    let token = note_token(USER, "photos", t, 3600);
    let (_, body) = upload_notification("photos", 0, t - 60);
    let mut video: Value = serde_json::from_str(&body).unwrap();
    video["resource_type"] = json!("video");
    video["format"] = json!("mp4");
    refused(
        &env,
        &token,
        &video.to_string(),
        422,
        "unprocessable_entity",
        "a video",
    )
    .await;
    let mut raw = video.clone();
    raw["resource_type"] = json!("raw");
    refused(
        &env,
        &token,
        &raw.to_string(),
        422,
        "unprocessable_entity",
        "a raw file",
    )
    .await;
    let mut large: Value = serde_json::from_str(&body).unwrap();
    large["bytes"] = json!(album_api::cloudinary::MAX_UPLOAD_BYTES + 1);
    refused(
        &env,
        &token,
        &large.to_string(),
        422,
        "unprocessable_entity",
        "too large",
    )
    .await;
}

#[tokio::test]
async fn the_webhook_refuses_a_notification_whose_tags_do_not_name_the_tokens_album() {
    let env = TestEnv::new("form-tags").await;
    let store = env.direct_store().await;
    seed_album(&store, "mine", ORG, 0).await;
    seed_album(&store, "elsewhere", ORG, 0).await;
    let t = now();
    // A body signed by Cloudinary for another album of the same account,
    // replayed under this album's token.
    let (_, theirs) = upload_notification("elsewhere", 0, t - 60);
    let token = note_token(USER, "mine", t, 3600);
    refused(
        &env,
        &token,
        &theirs,
        401,
        "forbidden",
        "another album's tags",
    )
    .await;
    let mut untagged: Value = serde_json::from_str(&theirs).unwrap();
    untagged.as_object_mut().unwrap().remove("tags");
    refused(
        &env,
        &token,
        &untagged.to_string(),
        401,
        "forbidden",
        "no tags",
    )
    .await;
}

#[tokio::test]
async fn the_webhook_refuses_the_form_of_a_user_deleted_since() {
    let env = TestEnv::new("form-user").await;
    let store = env.direct_store().await;
    seed_album(&store, "shared", ORG, 0).await;
    store.put_user("leaver", ORG).await.unwrap();
    let t = now();
    let token = note_token("leaver", "shared", t, 3600);
    let (_, body) = upload_notification("shared", 0, t - 60);
    store
        .client()
        .delete_item()
        .table_name(store.table())
        .key("pk", AttributeValue::S(user_pk("leaver")))
        .key("sk", AttributeValue::S(USER_SK.into()))
        .send()
        .await
        .unwrap();
    refused(&env, &token, &body, 401, "unauthorized", "deleted user").await;
    // The same delivery under a present user's form is recorded.
    let r = deliver(&env.app, &note_token(USER, "shared", t, 3600), &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

#[tokio::test]
async fn a_notification_token_is_no_user_token_and_a_user_token_no_notification_token() {
    let env = TestEnv::new("form-kinds").await;
    seed_album(&env.direct_store().await, "kinds", ORG, 0).await;
    let t = now();
    let note = note_token(USER, "kinds", t, 3600);
    let get = api_event(
        Endpoint::GetAlbum,
        Some(&bearer(&note)),
        Some("kinds"),
        &[],
        None,
        Format::Http,
    );
    let r = call(&env.app, Endpoint::GetAlbum, &get).await;
    assert_error(
        &r,
        401,
        "unauthorized",
        "a notification token as a user token",
    );
    let (_, body) = upload_notification("kinds", 0, t - 60);
    let user = env.token(USER, None);
    refused(
        &env,
        &user,
        &body,
        401,
        "unauthorized",
        "a user token on the webhook",
    )
    .await;
    // Claims of a notification token signed with JWT_SECRET: refused too,
    // the webhook holds no user-token key.
    let with_user_key = auth::issue_notification_token(
        USER,
        "kinds",
        ORG,
        &Secret::new(crate::support::JWT_SECRET),
        t,
        3600,
    )
    .unwrap();
    refused(
        &env,
        &with_user_key,
        &body,
        401,
        "unauthorized",
        "the user-token key",
    )
    .await;
}

/// The answer of `ep` on `album` by a token holding `flags` on both
/// albums involved.
async fn moved(
    env: &TestEnv,
    ep: Endpoint,
    album: &str,
    other: &str,
    flags: &[&str],
    body: Payload,
) -> Resp {
    let abilities = json!({ album: access(flags), other: access(flags) });
    let token = bearer(&env.token(USER, Some(abilities)));
    let e = api_event(
        ep,
        Some(&token),
        Some(album),
        &[],
        Some(&body),
        Format::Http,
    );
    call(&env.app, ep, &e).await
}

fn assert_reduced(r: &Resp, id: &str, count: u64, what: &str) {
    assert_eq!(r.status, 200, "{what}: {}", r.text);
    assert_eq!(r.json, json!({"id": id, "images_count": count}), "{what}");
}

#[tokio::test]
async fn a_rename_merge_or_duplicate_without_see_answers_only_id_and_count() {
    let env = TestEnv::new("least-exposure").await;
    let store = env.direct_store().await;
    for a in ["ren", "mer", "into", "dup"] {
        seed_album(&store, a, ORG, 1).await;
    }
    let rename = |to: &str| Payload::form(&[("album[public_id]", to)]);
    let r = moved(
        &env,
        Endpoint::UpdateAlbum,
        "ren",
        "renamed",
        &["rename"],
        rename("renamed"),
    )
    .await;
    assert_reduced(&r, "renamed", 1, "rename without see");
    let merge = Payload::form(&[("album[public_id]", "into"), ("merge", "true")]);
    let r = moved(
        &env,
        Endpoint::UpdateAlbum,
        "mer",
        "into",
        &["rename"],
        merge,
    )
    .await;
    assert_reduced(&r, "into", 2, "merge without see on the destination");
    let dup = Payload::form(&[("destination_id", "dup_copy")]);
    let r = moved(
        &env,
        Endpoint::Duplicate,
        "dup",
        "dup_copy",
        &["see", "image_list", "image_upload"],
        dup,
    )
    .await;
    assert_eq!(
        r.json["thumbnails"].as_array().map(Vec::len),
        Some(1),
        "with see: {}",
        r.text
    );
    let dup = Payload::form(&[("destination_id", "dup_blind")]);
    let abilities =
        json!({"dup": access(&["see", "image_list"]), "dup_blind": access(&["image_upload"])});
    let token = bearer(&env.token(USER, Some(abilities)));
    let e = api_event(
        Endpoint::Duplicate,
        Some(&token),
        Some("dup"),
        &[],
        Some(&dup),
        Format::Http,
    );
    let r = call(&env.app, Endpoint::Duplicate, &e).await;
    assert_reduced(
        &r,
        "dup_blind",
        1,
        "duplicate without see on the destination",
    );
    // With `see`, a rename answers the album JSON, thumbnails and all.
    let r = moved(
        &env,
        Endpoint::UpdateAlbum,
        "renamed",
        "seen",
        &["rename", "see"],
        rename("seen"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json["thumbnails"].as_array().map(Vec::len),
        Some(1),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn the_webhook_refuses_the_form_of_an_api_secret_revoked_since() {
    let env = TestEnv::new("form-iss").await;
    let store = env.direct_store().await;
    seed_album(&store, "crm", ORG, 0).await;
    let secret = crate::support::integrator::stored_secret(&store, ORG, false).await;
    let t = now();
    let claims = json!({"iss": secret.id, "user_id": "crm-user", "exp": t + 600, "iat": t});
    let token = crate::support::security::sign_jwt(
        &json!({"typ": "JWT", "alg": "HS256"}),
        &claims,
        secret.key.expose().as_bytes(),
        jsonwebtoken::Algorithm::HS256,
    );
    let get = api_event(
        Endpoint::GetAlbum,
        Some(&bearer(&token)),
        Some("crm"),
        &[],
        None,
        Format::Http,
    );
    let r = call(&env.app, Endpoint::GetAlbum, &get).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let url = r.json["upload_form"]["params"]["notification_url"]
        .as_str()
        .expect("a form");
    let note = url.split_once("token=").unwrap().1.to_string();
    let (_, first) = upload_notification("crm", 0, t - 60);
    let r = deliver(&env.app, &note, &first).await;
    assert_eq!(r.status, 201, "while the secret is active: {}", r.text);
    store
        .revoke_api_secret(&secret.id, "2026-01-03T00:00:00.000Z")
        .await
        .unwrap();
    let (_, second) = upload_notification("crm", 1, t - 30);
    refused(&env, &note, &second, 401, "unauthorized", "revoked secret").await;
}
