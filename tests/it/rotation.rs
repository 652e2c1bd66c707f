//! The JWT key rotates without a cold start (decision 0018): a warm
//! function re-reads its secret after the cache's TTL, accepts tokens of
//! the previous version until the overlap ends, then refuses them (401).
//! A second rotation ends the overlap early (after a leak); a refresh
//! that fails keeps the keys held. The rotation function's four steps make
//! a new random key current. Secrets Manager is moto's (dynalite serves
//! DynamoDB only), so the tests that rotate run in the moto suite; the
//! failed refresh needs none and runs on both.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use album_api::App;
use album_api::auth;
use album_api::config::SecretName;
use album_api::secret::Secret;
use album_api::secret_refresh::{LiveKeys, Rules};
use album_api::secret_rotation::{self, RotationEvent};
use album_api::secret_source::{self, Fetched, Needs};
use album_api::service::now;
use serde_json::json;

use crate::support::fault_proxy::{FaultConfig, FaultProxy};
use crate::support::security::{Endpoint, raw_parts};
use crate::support::{
    CLOUDINARY_URL, NOTIFICATION_SECRET, ORG, SOURCE, TestEnv, USER, bearer, emulator_endpoint,
    request, secrets_manager, seed_album, unique_table,
};

const OLD_KEY: &str = "rotation-test-old-key-0123456789abcdef";
const NEW_KEY: &str = "rotation-test-new-key-0123456789abcdef";

/// `GET /api/v1/albums/{SOURCE}` with a token signed by `key`: the status.
async fn status_with(app: &App, key: &str) -> u16 {
    let token = auth::issue_user_token(USER, None, &Secret::new(key), now(), 600).unwrap();
    let e = Endpoint::GetAlbum.event(Some(&bearer(&token)), Some(SOURCE));
    raw_parts(Endpoint::GetAlbum.call(app, request(&e)).await.unwrap()).0
}

/// Sleeps until Unix second `t` has begun.
async fn until(t: i64) {
    let wait = (t - now()).max(0) as u64 * 1_000 + 50;
    tokio::time::sleep(Duration::from_millis(wait)).await;
}

/// A new secret of moto's Secrets Manager holding [`OLD_KEY`]: its ARN.
async fn old_key_secret(client: &aws_sdk_secretsmanager::Client, tag: &str) -> String {
    client
        .create_secret()
        .name(unique_table(tag))
        .secret_string(OLD_KEY)
        .send()
        .await
        .expect("CreateSecret")
        .arn
        .expect("an ARN")
}

/// A warm app of a table with the seed's album whose JWT key is read
/// from a new secret of moto's Secrets Manager holding [`OLD_KEY`], as a
/// deployed function's init (`App::from_env`) reads it, without touching
/// this process's environment: the JWT key by its ARN, the other secrets
/// as local values. Also the environment (keep it alive) and the ARN.
async fn warm_app(
    sdk: &aws_config::SdkConfig,
    client: &aws_sdk_secretsmanager::Client,
    rules: Rules,
) -> (TestEnv, App, String) {
    let env = TestEnv::new("rotation").await;
    seed_album(&env.direct_store().await, SOURCE, ORG, 1).await;
    let arn = old_key_secret(client, "rotation-jwt").await;
    let lookup = |k: &str| match k {
        "JWT_SECRET_ARN" => Some(arn.clone()),
        "NOTIFICATION_SECRET" => Some(NOTIFICATION_SECRET.to_string()),
        "CLOUDINARY_URL" => Some(CLOUDINARY_URL.to_string()),
        _ => None,
    };
    let read = secret_source::resolve(Needs::ALBUMS, &lookup, sdk)
        .await
        .unwrap();
    let mut app = env.app.clone();
    app.config.keys = LiveKeys::refreshing(
        read.client.clone().unwrap(),
        &read.arns,
        &read.values,
        rules,
    )
    .unwrap();
    (env, app, arn)
}

/// A new version of secret `arn` holding `key`: it becomes AWSCURRENT, the
/// version it replaces AWSPREVIOUS (what the rotation's finishSecret, or
/// an owner's `put-secret-value`, does). Its version id.
async fn rotate(client: &aws_sdk_secretsmanager::Client, arn: &str, key: &str) -> String {
    client
        .put_secret_value()
        .secret_id(arn)
        .secret_string(key)
        .send()
        .await
        .expect("PutSecretValue")
        .version_id
        .expect("a version id")
}

#[tokio::test]
async fn a_warm_function_takes_a_rotated_jwt_key_and_refuses_the_previous_one_after_the_overlap() {
    let Some((sdk, client)) = secrets_manager().await else {
        return;
    };
    let started = Instant::now();
    let (ttl, overlap) = (Duration::from_secs(1), Duration::from_secs(3));
    let (_env, app, arn) = warm_app(&sdk, &client, Rules { ttl, overlap }).await;
    assert_eq!(status_with(&app, OLD_KEY).await, 200);

    // Rotate: a new version becomes AWSCURRENT, the old one AWSPREVIOUS.
    let new_version = rotate(&client, &arn, NEW_KEY).await;
    let described = client
        .describe_secret()
        .secret_id(&arn)
        .send()
        .await
        .unwrap();
    let stages = described.version_ids_to_stages.unwrap_or_default();
    assert_eq!(stages[&new_version], ["AWSCURRENT"]);
    assert_eq!(
        status_with(&app, NEW_KEY).await,
        401,
        "the cached key stays in use until the TTL passes"
    );

    // After the TTL, the same warm app has read both versions.
    let rotated_at = now();
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    assert_eq!(status_with(&app, NEW_KEY).await, 200, "the new key");
    assert_eq!(
        status_with(&app, OLD_KEY).await,
        200,
        "the previous key, in the overlap"
    );

    // The overlap runs from the new version's creation; then the previous
    // key's tokens are refused, the new key's still taken.
    until(rotated_at + overlap.as_secs() as i64 + 1).await;
    assert_eq!(
        status_with(&app, OLD_KEY).await,
        401,
        "the overlap has ended"
    );
    assert_eq!(status_with(&app, NEW_KEY).await, 200);
    eprintln!("rotation test took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_second_rotation_ends_the_overlap_of_the_key_before_it_within_the_ttl() {
    let Some((sdk, client)) = secrets_manager().await else {
        return;
    };
    let ttl = Duration::from_secs(1);
    let rules = Rules {
        ttl,
        overlap: Duration::from_secs(600),
    };
    let (_env, app, arn) = warm_app(&sdk, &client, rules).await;
    rotate(&client, &arn, NEW_KEY).await;
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    assert_eq!(status_with(&app, OLD_KEY).await, 200, "in the overlap");

    // After a leak of OLD_KEY: a second rotation makes it no version at all.
    let newest = "rotation-test-newest-key-0123456789abcdef";
    rotate(&client, &arn, newest).await;
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    assert_eq!(
        status_with(&app, OLD_KEY).await,
        401,
        "AWSPREVIOUS moved on"
    );
    assert_eq!(
        status_with(&app, NEW_KEY).await,
        200,
        "now the previous key"
    );
    assert_eq!(status_with(&app, newest).await, 200);
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_keys_held_and_fails_no_request() {
    // No Secrets Manager needed: the keys come from values read "at init",
    // and the fault proxy answers every refresh's GetSecretValue with a 500
    // (nothing is forwarded), so this runs on both emulators.
    let env = TestEnv::new("rotation-down").await;
    seed_album(&env.direct_store().await, SOURCE, ORG, 1).await;
    let faults = FaultConfig {
        server_error_rate: 1.0,
        ..FaultConfig::none()
    };
    let proxy = FaultProxy::start(&emulator_endpoint(), faults.only(["GetSecretValue"])).await;
    let through_proxy = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region("us-east-1")
        .endpoint_url(proxy.endpoint())
        .load()
        .await;
    let read = |value: &str, version| Fetched {
        value: value.into(),
        version,
        previous: None,
    };
    let values = HashMap::from([
        ("JWT_SECRET", read(OLD_KEY, Some(("v1".into(), now())))),
        ("NOTIFICATION_SECRET", read(NOTIFICATION_SECRET, None)),
    ]);
    let ttl = Duration::from_secs(1);
    let arn = "arn:aws:secretsmanager:us-east-1:000000000000:secret:jwt";
    let mut app = env.app.clone();
    app.config.keys = LiveKeys::refreshing(
        aws_sdk_secretsmanager::Client::new(&through_proxy),
        &[(SecretName::JwtSecret, arn.into())],
        &values,
        Rules {
            ttl,
            overlap: Duration::from_secs(60),
        },
    )
    .unwrap();
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    assert_eq!(
        status_with(&app, OLD_KEY).await,
        200,
        "the refresh failed, the key held is still used"
    );
    assert!(
        proxy.stats().faults_on("GetSecretValue") >= 1,
        "the refresh was tried: {:?}",
        proxy.stats()
    );
    assert_eq!(status_with(&app, NEW_KEY).await, 401);
}

#[tokio::test]
async fn the_rotation_function_makes_a_new_random_key_current_and_the_old_one_previous() {
    let Some((_, client)) = secrets_manager().await else {
        return;
    };
    let arn = old_key_secret(&client, "rotation-steps").await;
    let token = uuid::Uuid::new_v4().to_string();
    // Each step as Secrets Manager sends it; createSecret and finishSecret
    // twice, as its retries may.
    for step in [
        "createSecret",
        "createSecret",
        "setSecret",
        "testSecret",
        "finishSecret",
        "finishSecret",
    ] {
        let event: RotationEvent = serde_json::from_value(json!({
            "Step": step, "SecretId": arn, "ClientRequestToken": token,
            "RotationToken": "opaque",
        }))
        .unwrap();
        secret_rotation::rotate(&client, &event)
            .await
            .unwrap_or_else(|e| panic!("{step}: {e}"));
    }
    let at = |stage: &'static str| {
        let client = client.clone();
        let arn = arn.clone();
        async move {
            let out = client
                .get_secret_value()
                .secret_id(arn)
                .version_stage(stage)
                .send()
                .await
                .unwrap();
            (out.version_id.unwrap(), out.secret_string.unwrap())
        }
    };
    let (current_version, current) = at("AWSCURRENT").await;
    assert_eq!(current_version, token, "the rotation's version is current");
    assert_eq!(current.len(), 64, "a generated 48-byte key");
    assert_ne!(current, OLD_KEY);
    assert_eq!(at("AWSPREVIOUS").await.1, OLD_KEY);

    // A step for a version that is not pending is refused.
    let stray: RotationEvent = serde_json::from_value(json!({
        "Step": "testSecret", "SecretId": arn, "ClientRequestToken": "no-such-version",
    }))
    .unwrap();
    assert!(secret_rotation::rotate(&client, &stray).await.is_err());
}
