//! What running the API in production needs of the data and the
//! configuration: `Idempotency-Key` on album creation, the TTL attribute of
//! finished jobs, and secrets read from Secrets Manager at init.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::support::security::{Endpoint, set_body, set_header};
use crate::support::*;
use album_api::config::ConfigError;
use album_api::secret_source::{self, Needs};
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use tokio::task::JoinSet;

fn epoch_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn create_event(token: &str, key: Option<&str>, body: Option<&[u8]>) -> Value {
    let mut e = Endpoint::CreateAlbum.event(Some(&bearer(token)), None);
    set_header(&mut e, "idempotency-key", key);
    set_body(&mut e, body, false);
    e
}

async fn create(env: &TestEnv, event: &Value) -> (u16, Value) {
    let resp = Endpoint::CreateAlbum
        .call(&env.app, request(event))
        .await
        .expect("an HTTP response");
    let (status, _, body) = parts(resp);
    (status, body)
}

#[tokio::test]
async fn an_idempotency_key_sent_again_returns_the_first_album_and_creates_nothing() {
    let env = TestEnv::new("idem").await;
    let token = env.token(USER, None);
    let before = organization_albums(&env).await;
    let first = create(&env, &create_event(&token, Some("order-42"), None)).await;
    assert_eq!(first.0, 200, "{}", first.1);
    let id = first.1["id"].as_str().expect("an id").to_string();
    for _ in 0..2 {
        let again = create(&env, &create_event(&token, Some("order-42"), None)).await;
        assert_eq!(again.0, 200, "{}", again.1);
        assert_eq!(again.1["id"], id.as_str());
        assert_eq!(again.1["images_count"], 0);
    }
    // Another user's key of the same name, or no key at all: new albums.
    let other = create(
        &env,
        &create_event(&env.token(OTHER_USER, None), Some("order-42"), None),
    )
    .await;
    assert_eq!(other.0, 200, "{}", other.1);
    assert_ne!(other.1["id"], id.as_str());
    let plain = [
        create(&env, &create_event(&token, None, None)).await,
        create(&env, &create_event(&token, None, None)).await,
    ];
    assert!(plain.iter().all(|(s, _)| *s == 200));
    assert_ne!(plain[0].1["id"], plain[1].1["id"]);
    let after = organization_albums(&env).await;
    assert_eq!(
        after.len(),
        before.len() + 3,
        "one album for the key, two without"
    );
    assert!(after.contains(&id));
}

#[tokio::test]
async fn an_idempotency_key_with_another_body_is_a_422_and_changes_nothing() {
    let env = TestEnv::new("idem-body").await;
    let token = env.token(USER, None);
    let first = create(
        &env,
        &create_event(&token, Some("k-1"), Some(br#"{"note":"a"}"#)),
    )
    .await;
    assert_eq!(first.0, 200, "{}", first.1);
    let before = organization_albums(&env).await;
    let other = create(
        &env,
        &create_event(&token, Some("k-1"), Some(br#"{"note":"b"}"#)),
    )
    .await;
    assert_eq!(other.0, 422, "{}", other.1);
    assert_eq!(other.1["error"]["code"], "idempotency_key_reused");
    assert_eq!(organization_albums(&env).await, before);
    let same = create(
        &env,
        &create_event(&token, Some("k-1"), Some(br#"{"note":"a"}"#)),
    )
    .await;
    assert_eq!((same.0, &same.1["id"]), (200, &first.1["id"]));
}

#[tokio::test]
async fn a_malformed_idempotency_key_is_a_400() {
    let env = TestEnv::new("idem-bad").await;
    let token = env.token(USER, None);
    let before = organization_albums(&env).await;
    let long = "k".repeat(256);
    for key in ["", "caf\u{e9}", "tab\there", long.as_str()] {
        let (status, body) = create(&env, &create_event(&token, Some(key), None)).await;
        assert_eq!(status, 400, "{key:?}: {body}");
        assert_eq!(body["error"]["code"], "bad_request");
    }
    assert_eq!(organization_albums(&env).await, before);
    let longest = "k".repeat(255);
    let ok = create(&env, &create_event(&token, Some(&longest), None)).await;
    assert_eq!(ok.0, 200, "{}", ok.1);
}

#[tokio::test]
async fn concurrent_requests_with_one_idempotency_key_create_one_album() {
    let env = TestEnv::new("idem-race").await;
    let token = env.token(USER, None);
    let before = organization_albums(&env).await;
    let mut set = JoinSet::new();
    for _ in 0..5 {
        let (app, event) = (
            env.app.clone(),
            create_event(&token, Some("race-key"), Some(br#"{"x":1}"#)),
        );
        set.spawn(async move {
            let resp = Endpoint::CreateAlbum
                .call(&app, request(&event))
                .await
                .unwrap();
            let (status, _, body) = parts(resp);
            (status, body["id"].as_str().unwrap_or_default().to_string())
        });
    }
    let mut statuses = Vec::new();
    let mut ids = BTreeSet::new();
    while let Some(done) = set.join_next().await {
        let (status, id) = done.unwrap();
        statuses.push(status);
        ids.insert(id);
    }
    statuses.sort();
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 200],
        "one creation, four replays, all 200 as SharinPix answers"
    );
    assert_eq!(ids.len(), 1, "{ids:?}");
    let after = organization_albums(&env).await;
    assert_eq!(after.len(), before.len() + 1);
}

/// The raw job item, attributes and all.
async fn job_item(
    env: &TestEnv,
    job_id: &str,
) -> std::collections::HashMap<String, AttributeValue> {
    env.direct_store()
        .await
        .client()
        .get_item()
        .table_name(&env.table)
        .key("pk", AttributeValue::S(format!("J#{job_id}")))
        .key("sk", AttributeValue::S("J".into()))
        .consistent_read(true)
        .send()
        .await
        .expect("GetItem")
        .item
        .expect("the job item")
}

fn expires_at(item: &std::collections::HashMap<String, AttributeValue>) -> Option<u64> {
    item.get("expires_at")
        .map(|v| v.as_n().expect("a number").parse().expect("epoch seconds"))
}

#[tokio::test]
async fn a_finished_job_expires_after_the_job_ttl_and_a_running_one_never() {
    let mut env = TestEnv::new("job-ttl").await;
    let ttl = Duration::from_secs(7 * 86_400);
    env.app.store = env.app.store.clone().with_job_ttl(ttl);
    seed_album(&env.app.store, "ttl-src", ORG, 3).await;
    let payload = json!({
        "source_album_id": "ttl-src",
        "destination_id": "ttl-dst",
        "organization_id": ORG,
        "execution_id": "ttl-exec-1"
    });
    let job_id = album_api::schedule::parse(&payload, "req-ttl")
        .unwrap()
        .job_id();
    let event = LambdaEvent::new(payload, lambda_context("req-ttl", Duration::from_secs(60)));
    album_api::handlers::scheduled_duplicate::handle(&env.app, event)
        .await
        .expect("the scheduled duplication");
    let done = job_item(&env, &job_id).await;
    assert_eq!(done["status"].as_s().unwrap(), "done");
    let expected = epoch_now() + ttl.as_secs();
    let at = expires_at(&done).expect("a done job carries expires_at");
    assert!(
        at.abs_diff(expected) <= 60,
        "expires_at {at}, expected about {expected}"
    );
    assert_album_exact(&env.direct_store().await, "ttl-dst", 3, "copied").await;

    // Running jobs carry none (TTL must never delete work in progress);
    // failing one sets it.
    let running = album_api::store::jobs::Job {
        ..album_api::store::jobs::Job::running(
            "ttl-running",
            album_api::store::jobs::JobKind::Duplicate,
            "ttl-src",
            "ttl-dst2",
            ORG,
            USER,
            3,
        )
    };
    let store = &env.app.store;
    store
        .create_job_if_absent(&running, false, "2026-11-29T00:00:00Z")
        .await
        .unwrap();
    assert_eq!(expires_at(&job_item(&env, "ttl-running").await), None);
    let now_ms = epoch_now() * 1000;
    let lease = store
        .acquire_job("ttl-running", "me", now_ms, now_ms + 60_000)
        .await
        .unwrap();
    assert!(matches!(lease, album_api::store::jobs::Lease::Acquired(_)));
    assert_eq!(expires_at(&job_item(&env, "ttl-running").await), None);
    assert!(
        store
            .fail_job("ttl-running", "me", "gave up", "2026-11-29T00:00:01Z")
            .await
            .unwrap()
    );
    let failed = job_item(&env, "ttl-running").await;
    assert_eq!(failed["status"].as_s().unwrap(), "failed");
    let at = expires_at(&failed).expect("a failed job carries expires_at");
    assert!(at.abs_diff(epoch_now() + ttl.as_secs()) <= 60);
}

#[tokio::test]
async fn a_deployed_function_reads_the_secrets_it_needs_from_secrets_manager() {
    let Some((sdk, client)) = secrets_manager().await else {
        return;
    };
    let tag = unique_table("secret");
    let mut arns = Vec::new();
    for (name, value) in [("jwt", JWT_SECRET), ("cloudinary", CLOUDINARY_URL)] {
        let out = client
            .create_secret()
            .name(format!("{tag}-{name}"))
            .secret_string(value)
            .send()
            .await
            .expect("CreateSecret");
        arns.push(out.arn.expect("an ARN"));
    }
    let (jwt_arn, cld_arn) = (arns[0].clone(), arns[1].clone());
    let env = move |k: &str| match k {
        "JWT_SECRET_ARN" => Some(jwt_arn.clone()),
        "CLOUDINARY_URL_SECRET_ARN" => Some(cld_arn.clone()),
        _ => None,
    };
    let values = secret_source::resolve(Needs::JWT_AND_CLOUDINARY, &env, &sdk)
        .await
        .expect("both secrets read");
    assert_eq!(values.value("JWT_SECRET").unwrap(), JWT_SECRET);
    assert_eq!(values.value("CLOUDINARY_URL").unwrap(), CLOUDINARY_URL);
    let jwt_only = secret_source::resolve(Needs::JWT, &env, &sdk)
        .await
        .unwrap();
    assert_eq!(
        jwt_only.values.keys().copied().collect::<Vec<_>>(),
        ["JWT_SECRET"]
    );
    assert!(
        secret_source::resolve(Needs::NONE, &env, &sdk)
            .await
            .unwrap()
            .values
            .is_empty()
    );

    // A secret that cannot be read fails init, naming the variable only.
    let missing = |k: &str| (k == "JWT_SECRET_ARN").then(|| format!("{tag}-no-such-secret"));
    let e = secret_source::resolve(Needs::JWT, &missing, &sdk)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ConfigError::Invalid {
                name: "JWT_SECRET_ARN",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(!e.to_string().contains(JWT_SECRET));
}
