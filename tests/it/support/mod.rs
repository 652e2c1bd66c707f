//! Shared integration-test harness: a real SDK client against the local
//! DynamoDB emulator (`AWS_ENDPOINT_URL_DYNAMODB`, started by `make test`),
//! one fresh table per test, an [`App`] configured like production, and
//! real API Gateway events from `events/` to invoke handlers with.
#![allow(dead_code)]

pub mod calls;
pub mod cloudinary_stand_in;
pub mod fault_proxy;
pub mod integrator;
pub mod rie;
pub mod sharinpix;
pub mod stream;
pub mod tagging;

use std::sync::atomic::{AtomicU32, Ordering};

use album_api::App;
use album_api::auth;
use album_api::config::Config;
use album_api::secret::Secret;
use album_api::store::{Store, tuned};
use albumctl::schema;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::Credentials;
use serde_json::Value;

pub const JWT_SECRET: &str = "integration-test-jwt-secret-0123";
/// The test `NOTIFICATION_SECRET` (at least 32 bytes, as init requires).
pub const NOTIFICATION_SECRET: &str = "integration-test-notification-secret-0123";
pub const CLOUDINARY_URL: &str = "cloudinary://123123123123:s3cr3t@sadaasdasd";
pub const PUBLIC_API_URL: &str = "https://localhost:5001";
/// The seed's organization, user and album.
pub const ORG: &str = "a89b5b70-d820-4911-8c6d-25ab6181e9be";
pub const USER: &str = "9ed26283-3299-4a05-b9d6-e34278fbd416";
pub const SOURCE: &str = "00100000123BB44";
/// Another organization, with its own user.
pub const OTHER_ORG: &str = "0f0f0f0f-0000-4000-8000-000000000002";
pub const OTHER_USER: &str = "0f0f0f0f-0000-4000-8000-0000000000aa";

/// The emulator endpoint; a clear failure when the harness did not start one.
pub fn emulator_endpoint() -> String {
    match std::env::var("AWS_ENDPOINT_URL_DYNAMODB") {
        Ok(v) if !v.trim().is_empty() => v.trim().to_string(),
        _ => panic!(
            "AWS_ENDPOINT_URL_DYNAMODB is not set: run the tests with `make test`, which starts \
             the local DynamoDB (dynalite) and points the tests at it"
        ),
    }
}

/// The time budgets of the tests' apps and clients: production's
/// (decision 0006), scaled by 4 against moto, which answers several times
/// more slowly than DynamoDB or dynalite (a racing recount of a 3,000-image
/// album there takes seconds).
pub fn test_budgets() -> album_api::deadline::Budgets {
    let mut b = album_api::deadline::Budgets::from_env().expect("budgets");
    if emulator_is_moto() {
        for d in [&mut b.read, &mut b.write, &mut b.page, &mut b.attempt] {
            *d *= 4;
        }
    }
    b
}

/// [`test_budgets`] as the environment variables a function reads them from.
pub fn budget_env() -> Vec<(&'static str, String)> {
    let b = test_budgets();
    [
        ("READ_BUDGET_MS", b.read),
        ("WRITE_BUDGET_MS", b.write),
        ("PAGE_BUDGET_MS", b.page),
        ("ATTEMPT_TIMEOUT_MS", b.attempt),
    ]
    .into_iter()
    .map(|(k, d)| (k, d.as_millis().to_string()))
    .collect()
}

/// An SDK client for `endpoint`, tuned like production's.
pub async fn client_for(endpoint: &str) -> Client {
    client_with(endpoint, &test_budgets()).await
}

/// The budgets of the tests' own setup and verification (seeding, counting,
/// reading what a test left): a minute for everything, so that a loaded
/// machine slows a test down instead of failing it. What the functions
/// under test do keeps production's budgets ([`test_budgets`]).
pub fn setup_budgets() -> album_api::deadline::Budgets {
    let minute = std::time::Duration::from_secs(60);
    album_api::deadline::Budgets {
        read: minute,
        write: minute,
        page: minute,
        attempt: std::time::Duration::from_secs(20),
        ..album_api::deadline::Budgets::default()
    }
}

/// A store straight to the emulator for a test's setup and verification.
pub async fn setup_store(table: &str) -> Store {
    let budgets = setup_budgets();
    Store::new(client_with(&emulator_endpoint(), &budgets).await, table).with_budgets(budgets)
}

/// An SDK client for `endpoint` with the timeouts of `budgets`.
async fn client_with(endpoint: &str, budgets: &album_api::deadline::Budgets) -> Client {
    let sdk = tuned(
        aws_config::defaults(aws_config::BehaviorVersion::latest()),
        budgets,
    )
    .region("us-east-1")
    .credentials_provider(Credentials::new("test", "test", None, None, "test"))
    .load()
    .await;
    let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .endpoint_url(endpoint)
        .build();
    Client::from_conf(conf)
}

/// A table name unused by any other test or earlier run.
pub fn unique_table(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "t-{tag}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn config(table: &str) -> Config {
    config_with(table, "3600")
}

/// [`config`] with upload forms living `upload_form_ttl` seconds.
pub fn config_with(table: &str, upload_form_ttl: &str) -> Config {
    let vars = [
        ("TABLE_NAME", table),
        ("JWT_SECRET", JWT_SECRET),
        ("NOTIFICATION_SECRET", NOTIFICATION_SECRET),
        ("CLOUDINARY_URL", CLOUDINARY_URL),
        ("PUBLIC_API_URL", PUBLIC_API_URL),
        ("UPLOAD_FORM_TTL_SECONDS", upload_form_ttl),
    ];
    Config::from_lookup(album_api::Needs::ALBUMS, |k| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    })
    .unwrap()
}

/// A fresh table with the seed's organization and user (and another
/// organization with its user), and an app over it.
pub struct TestEnv {
    pub app: App,
    pub table: String,
}

impl TestEnv {
    pub async fn new(tag: &str) -> Self {
        Self::with_endpoint(tag, &emulator_endpoint()).await
    }

    /// Like [`TestEnv::new`], but the app talks to DynamoDB through `endpoint`
    /// (e.g. a fault-injecting proxy); setup goes to the emulator directly.
    pub async fn with_endpoint(tag: &str, endpoint: &str) -> Self {
        let table = unique_table(tag);
        let direct = setup_store(&table).await;
        schema::create_table(direct.client(), &table).await.unwrap();
        direct.put_organization(ORG, "Seed org").await.unwrap();
        direct.put_user(USER, ORG).await.unwrap();
        direct
            .put_organization(OTHER_ORG, "Other org")
            .await
            .unwrap();
        direct.put_user(OTHER_USER, OTHER_ORG).await.unwrap();
        let store = Store::new(client_for(endpoint).await, &table).with_budgets(test_budgets());
        Self {
            app: App::new(config(&table), store),
            table,
        }
    }

    /// A store going straight to the emulator, for setup and verification
    /// ([`setup_budgets`]).
    pub async fn direct_store(&self) -> Store {
        setup_store(&self.table).await
    }

    pub fn token(&self, user: &str, abilities: Option<Value>) -> String {
        auth::issue_user_token(
            user,
            abilities,
            &Secret::new(JWT_SECRET),
            album_api::service::now(),
            3600,
        )
        .unwrap()
    }
}

/// An event file from `events/`, parsed.
pub fn event(name: &str) -> Value {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// A duplicate request (HTTP API 2.0 or REST 1.0 `event` file) with its
/// authorization, source album and body replaced.
pub fn duplicate_event(
    file: &str,
    authorization: Option<&str>,
    source: &str,
    body: Option<&str>,
) -> Value {
    let mut e = event(file);
    let path = format!("/api/v1/albums/{source}/duplicate");
    let headers = e["headers"].as_object_mut().unwrap();
    match authorization {
        Some(a) => {
            headers.insert("authorization".into(), Value::from(a));
        }
        None => {
            headers.remove("authorization");
        }
    }
    if e.get("multiValueHeaders").is_some_and(|m| m.is_object()) {
        let single = e["headers"].clone();
        let multi: serde_json::Map<String, Value> = single
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), Value::Array(vec![v.clone()])))
            .collect();
        e["multiValueHeaders"] = Value::Object(multi);
    }
    e["pathParameters"]["id"] = Value::from(source);
    if e.get("rawPath").is_some() {
        e["rawPath"] = Value::from(path.clone());
        e["requestContext"]["http"]["path"] = Value::from(path);
    } else {
        e["path"] = Value::from(path.clone());
        e["requestContext"]["path"] = Value::from(format!("/Prod{path}"));
    }
    e["body"] = body.map(Value::from).unwrap_or(Value::Null);
    e
}

/// Whether key `k` of the object at `path` is one of the upload form's
/// signed limits (decision 0016): parameters the seed's form predates,
/// signed and posted like the others; every seed key stays, in order.
pub fn is_signed_limit(path: &str, k: &str) -> bool {
    path.ends_with("upload_form.params") && k == "allowed_formats"
}

pub fn bearer(token: &str) -> String {
    format!("Token token=\"{token}\"")
}

/// Parses an event into a lambda_http request, as the runtime does.
pub fn request(event: &Value) -> lambda_http::Request {
    lambda_http::request::from_str(&event.to_string()).expect("valid API Gateway event")
}

/// Status, headers and JSON body of a response.
pub fn parts(
    resp: lambda_http::Response<lambda_http::Body>,
) -> (u16, lambda_http::http::HeaderMap, Value) {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = match resp.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::String(t.clone())),
        lambda_http::Body::Binary(b) => serde_json::from_slice(b).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (status, headers, body)
}

/// Helpers of the security and race tests (hostile input, tokens, concurrency).
pub mod security;

/// Secrets Manager on moto's server (dynalite serves DynamoDB only).
pub async fn secrets_manager() -> Option<(aws_config::SdkConfig, aws_sdk_secretsmanager::Client)> {
    if !emulator_is_moto() {
        eprintln!("Secrets Manager is served by moto only: this test runs in the moto suite");
        return None;
    }
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region("us-east-1")
        .endpoint_url(emulator_endpoint())
        .load()
        .await;
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    Some((sdk, client))
}

/// Whether the tests run against moto's server (`scripts/with-moto.sh` sets
/// `DYNAMODB_EMULATOR=moto`) rather than dynalite: moto is several times
/// slower, so time-bound tests scale their budgets or sizes with it.
pub fn emulator_is_moto() -> bool {
    std::env::var("DYNAMODB_EMULATOR").is_ok_and(|v| v.eq_ignore_ascii_case("moto"))
}

/// Creates album `id` of `org` unless it exists and writes sample images
/// `0..n` into it through `store`, which recounts it: the album must then
/// hold exactly those `n`. Returns the images.
pub async fn seed_album(
    store: &Store,
    id: &str,
    org: &str,
    n: u64,
) -> Vec<album_api::store::StoredImage> {
    store
        .create_album_if_absent(&album_api::album::Album {
            id: id.into(),
            organization_id: org.into(),
            images_count: 0,
            views_count: 0,
            created_at: "2019-04-08T17:38:46Z".into(),
            shards: 1,
        })
        .await
        .expect("album created");
    let images: Vec<_> = (0..n)
        .map(|i| albumctl::seed::sample_image(id, i))
        .collect();
    if n > 0 {
        let count = store
            .put_images(&album_api::album::AlbumKey::new(org, id), &images)
            .await
            .expect("images put");
        assert_eq!(count, n, "album {id} holds exactly its seeded images");
    }
    images
}

/// A Lambda context whose deadline is `budget` from now.
pub fn lambda_context(request_id: &str, budget: std::time::Duration) -> lambda_runtime::Context {
    let mut ctx = lambda_runtime::Context::default();
    ctx.request_id = request_id.into();
    ctx.deadline = (std::time::SystemTime::now() + budget)
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    ctx
}

/// Runs job `job_id`'s slices, as the worker would, until it is done
/// (at most `max_slices`, each with a minute to go). A slice that fails
/// with a 503-class error is run again, as the stream re-delivers a failed
/// batch; any other error fails the test.
pub async fn run_job_to_done(app: &App, job_id: &str, max_slices: u32) {
    for _ in 0..max_slices {
        let deadline = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
        match album_api::jobs::run_slice(app, job_id, deadline, "test-worker").await {
            Ok(album_api::jobs::SliceOutcome::Done(_)) => return,
            Ok(_) => {}
            Err(e @ album_api::ApiError::Unavailable(_)) => {
                eprintln!("job {job_id}: a slice failed ({e}); run again, as a re-delivery would");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(e) => panic!("a slice: {e:?}"),
        }
    }
    panic!("job {job_id} not done after {max_slices} slices");
}

/// Asserts album `album` holds exactly `expected` image items and says so
/// in its `images_count`.
pub async fn assert_album_exact(store: &Store, album: &str, expected: u64, what: &str) {
    assert_eq!(
        store
            .count_images(&crate::support::key(album))
            .await
            .unwrap(),
        expected,
        "{what}: items of {album}"
    );
    assert_eq!(
        store
            .get_album(&crate::support::key(album))
            .await
            .unwrap()
            .unwrap()
            .images_count,
        expected,
        "{what}: images_count of {album}"
    );
}

/// Sets how long a duplicate of `app` copies inline before it answers 202
/// (the budgets live in the store: the routes and the calls share them).
pub fn set_sync_copy_budget(app: &mut App, sync_copy: std::time::Duration) {
    let budgets = album_api::deadline::Budgets {
        sync_copy,
        ..*app.budgets()
    };
    app.store = app.store.clone().with_budgets(budgets);
}

/// The number of job items in the table (a scan: test tables are small).
pub async fn job_items(store: &Store) -> usize {
    store
        .client()
        .scan()
        .table_name(store.table())
        .filter_expression("sk = :j")
        .expression_attribute_values(":j", aws_sdk_dynamodb::types::AttributeValue::S("J".into()))
        .send()
        .await
        .expect("Scan")
        .items()
        .len()
}

/// The key of album `id` of the tests' main organization ([`ORG`]): album
/// ids are per organization (decision 0014).
pub fn key(id: &str) -> album_api::album::AlbumKey {
    album_api::album::AlbumKey::new(ORG, id)
}

/// The ids of organization [`ORG`]'s albums in `env`'s table (fewer than
/// 100 in any test table).
pub async fn organization_albums(env: &TestEnv) -> std::collections::BTreeSet<String> {
    let (ids, next) = env
        .app
        .store
        .organization_albums_page(ORG, 100, None)
        .await
        .expect("albums");
    assert!(next.is_none(), "fewer than 100 albums in a test table");
    ids.into_iter().collect()
}
