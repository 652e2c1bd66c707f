//! Hostile input against every HTTP handler, property-based.
//!
//! Each case starts from the endpoint's sample event in `events/` and
//! mutates it: method, path and path parameters, headers (random and garbage
//! `Authorization` values among them, content types), query strings, bodies
//! (text, form, JSON, near-valid upload notifications, binary with
//! `isBase64Encoded`, oversized), Cloudinary signature headers, and the
//! event's own structure; then sends it as an HTTP API (2.0) or a REST API
//! (1.0) event. An event lambda_http itself cannot turn into a request (it
//! panics on a bad `rawQueryString`, `host` or base64 body) must be the
//! contract's JSON 400 through the functions' entry (`album_api::entry`),
//! having written nothing; it is then replaced by another case, so that
//! every endpoint still gets its full number of handler cases. For those:
//!
//! - the handler answers (no panic, no Lambda-level error), never a 5xx;
//! - a 4xx is the contract's JSON error (`{"error":{"code","message"}}`,
//!   the contract's headers, no `X-token`), and nothing at all was written
//!   (a snapshot of every item of the table is unchanged);
//! - a request without a valid API token (or, on the webhook, without a
//!   valid notification token) is a 401.
//!
//! A separate test sends 10 MB bodies (API Gateway's own limit) to every
//! endpoint in both formats, as text and as base64.

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::support::security::*;
use crate::support::tagging;
use crate::support::{
    ORG, OTHER_ORG, OTHER_USER, SOURCE, TestEnv, USER, bearer, event, request, seed_album,
};
use album_api::auth;
use album_api::service::now;
use album_api::store::Store;
use album_api::store::jobs::Job;
use jsonwebtoken::Algorithm;
use lambda_http::LambdaEvent;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

/// Cases per endpoint: enough to find the shallow bugs, few enough to keep
/// the suite fast. Against moto, half: what is checked is the handlers'
/// own reading of the event, the same whichever emulator answers, and
/// moto's whole-table snapshots (a Scan before and after every case) made
/// this suite a quarter of its run, the critical path of `make test`.
const CASES: u32 = 64;

fn cases() -> u32 {
    if crate::support::emulator_is_moto() {
        CASES / 2
    } else {
        CASES
    }
}

// ---------------------------------------------------------------- tokens

/// A token the fixture can sign, named by the strategies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Tok {
    /// The seed organization's user, every album.
    Admin,
    /// The same user, restricted to reading the seed album.
    SourceReader,
    /// The same user, restricted to an album that does not exist.
    Restricted,
    /// Another organization's user.
    OtherOrg,
    Expired,
    WrongKey,
    AlgNone,
    /// The token in `events/` (signed with the local-only secret).
    EventSample,
    /// A webhook token for the seed album.
    Notification,
    /// A webhook token for another organization's album.
    NotificationOther,
    /// A valid cursor of the seed album's images.
    Cursor,
}

impl Tok {
    const ALL: [Tok; 11] = [
        Tok::Admin,
        Tok::SourceReader,
        Tok::Restricted,
        Tok::OtherOrg,
        Tok::Expired,
        Tok::WrongKey,
        Tok::AlgNone,
        Tok::EventSample,
        Tok::Notification,
        Tok::NotificationOther,
        Tok::Cursor,
    ];

    /// Whether it authenticates an API request.
    fn is_api(self) -> bool {
        matches!(
            self,
            Tok::Admin | Tok::SourceReader | Tok::Restricted | Tok::OtherOrg
        )
    }

    /// Whether the webhook accepts it.
    fn is_notification(self) -> bool {
        matches!(self, Tok::Notification | Tok::NotificationOther)
    }
}

/// A string in a request: literal, a token, or an id the table knows.
#[derive(Clone, Debug)]
enum Text {
    Lit(String),
    Tok(Tok),
    Known(usize),
}

/// How the `Authorization` header is written.
#[derive(Clone, Debug)]
enum Scheme {
    Bearer,
    TokenQuoted,
    TokenBare,
    LowerBearer,
    Basic,
    Bare,
    Prefix(String),
}

impl Scheme {
    fn is_valid(&self) -> bool {
        matches!(
            self,
            Scheme::Bearer | Scheme::TokenQuoted | Scheme::TokenBare | Scheme::LowerBearer
        )
    }
    fn render(&self, t: &str) -> String {
        match self {
            Scheme::Bearer => format!("Bearer {t}"),
            Scheme::TokenQuoted => format!("Token token=\"{t}\""),
            Scheme::TokenBare => format!("Token token={t}"),
            Scheme::LowerBearer => format!("bearer {t}"),
            Scheme::Basic => format!("Basic {t}"),
            Scheme::Bare => t.to_string(),
            Scheme::Prefix(p) => format!("{p}{t}"),
        }
    }
}

#[derive(Clone, Debug)]
enum AuthCase {
    /// The event's own header (the sample token: not ours).
    Keep,
    Remove,
    /// A well-formed header with a valid API token.
    Valid(Scheme, Tok),
    /// Anything.
    Set(Scheme, Text),
}

#[derive(Clone, Debug)]
enum PathCase {
    Keep,
    /// The route's path naming the endpoint's natural resource of the seed
    /// organization (its album, one of its images, its job).
    Natural,
    /// The route's path with this id, and the id as path parameter.
    Id(Text),
    /// Any raw path; path parameters kept (`true`) or dropped.
    Random(String, bool),
    /// No path parameters: the handler reads the raw path.
    NoParams,
}

#[derive(Clone, Debug)]
enum QueryCase {
    Keep,
    Pairs(Vec<(String, Text)>),
    /// `token=<a notification token>` first, then the pairs.
    WithToken(Tok, Vec<(String, Text)>),
    Raw(String),
}

#[derive(Clone, Debug)]
enum BodyCase {
    Keep,
    Absent,
    Text(String),
    Form(Vec<(String, Text)>),
    Json(Value),
    /// A real upload notification with some fields removed or replaced.
    Upload(Vec<(String, Option<Value>)>),
    Binary(Vec<u8>),
    /// Nested arrays this deep.
    Deep(usize),
    /// A body just over the endpoints' limit.
    Oversized(usize),
}

#[derive(Clone, Debug)]
enum SigCase {
    Keep,
    Absent,
    Valid,
    Stale,
    WrongSecret,
    Garbage(String, String),
}

#[derive(Clone, Debug)]
struct Case {
    rest: bool,
    method: Option<String>,
    path: PathCase,
    auth: AuthCase,
    content_type: Option<Text>,
    headers: Vec<(String, String)>,
    query: QueryCase,
    body: BodyCase,
    base64: bool,
    sig: SigCase,
    /// Indexes into [`MUTATIONS`].
    structure: Vec<usize>,
}

// ---------------------------------------------------------------- strategies

const INTERESTING: &[&str] = &[
    "",
    " ",
    "null",
    "0",
    "-1",
    "1",
    "100",
    "101",
    "1e3",
    "+5",
    "NaN",
    "true",
    "[]",
    "{}",
    "🙂",
    "%00",
    "%2F",
    "../..",
    "a/b",
    "a b",
    "' OR '1'='1",
    "${jndi:ldap://x/a}",
    "<script>alert(1)</script>",
    "A#00100000123BB44",
    "I#0000000000000#x",
    "J#x",
    "U#9ed26283-3299-4a05-b9d6-e34278fbd416",
    "00100000123BB44",
    "theirs",
    "new_album_1",
    "a.b.c",
    "eyJhbGciOiJub25lIn0.eyJ1c2VyX2lkIjoiOWVkIn0.",
];

const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-8",
    "multipart/form-data; boundary=----x",
    "text/plain",
    "application/xml",
    "application/octet-stream",
    "",
    "form",
    "json",
];

const QUERY_KEYS: &[&str] = &[
    "limit",
    "cursor",
    "destination_id",
    "token",
    "id",
    "tags",
    "merge",
    "width",
    "height",
    "crop",
];

const JSON_KEYS: &[&str] = &[
    "destination_id",
    "limit",
    "cursor",
    "token",
    "public_id",
    "version",
    "created_at",
    "notification_type",
    "asset_id",
    "format",
    "width",
    "tags",
    "image_metadata",
    "__proto__",
    "name",
    "image_ids",
    "image_ids[]",
    "album",
    "album[public_id]",
    "merge",
    "tags",
];

const UPLOAD_FIELDS: &[&str] = &[
    "public_id",
    "version",
    "created_at",
    "format",
    "asset_id",
    "notification_type",
    "width",
    "height",
    "bytes",
    "tags",
    "colors",
    "image_metadata",
    "original_filename",
    "resource_type",
    "type",
    "etag",
    "faces",
    "predominant",
];

const METHODS: &[&str] = &[
    "GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT",
];

const HEADER_NAMES: &[&str] = &[
    "content-type",
    "x-cld-signature",
    "x-cld-timestamp",
    "accept",
    "cookie",
    "content-length",
    "transfer-encoding",
    "x-amz-date",
    "origin",
    "x-requested-with",
];

const PATHS: &[&str] = &[
    "/",
    "//",
    "/api/v1/albums/../../etc/passwd",
    "/api/v1/albums/%2e%2e/duplicate",
    "/api/v1/albums/00100000123BB44/duplicate/extra",
    "/api/v1/albums//duplicate",
    "/api/v1/images/",
    "/api/v1/duplications",
    "/Prod/api/v1/albums/theirs/images",
    "/api/v1/albums/00100000123BB44?x=1#frag",
];

/// Structural mutations of the event (in either format): the pointer, and
/// the JSON put there (`None`: removed). Mostly shapes API Gateway may send
/// (absent, null or empty maps); a few of the wrong type, which lambda_http
/// refuses (then it is no handler case).
const MUTATIONS: &[(&str, Option<&str>)] = &[
    ("/headers", None),
    ("/headers", Some("null")),
    ("/headers", Some("{}")),
    ("/multiValueHeaders", None),
    ("/multiValueHeaders", Some("null")),
    ("/multiValueHeaders", Some("{}")),
    ("/headers/authorization", None),
    ("/headers/authorization", Some(r#""""#)),
    ("/headers/content-type", None),
    ("/headers/host", None),
    ("/pathParameters", None),
    ("/pathParameters", Some("null")),
    ("/pathParameters", Some("{}")),
    ("/pathParameters", Some(r#"{"id": ""}"#)),
    (
        "/pathParameters",
        Some(r#"{"id": "theirs", "job_id": "job-theirs"}"#),
    ),
    ("/queryStringParameters", None),
    ("/queryStringParameters", Some("null")),
    (
        "/queryStringParameters",
        Some(r#"{"limit": "1", "token": ""}"#),
    ),
    ("/multiValueQueryStringParameters", Some("null")),
    (
        "/multiValueQueryStringParameters",
        Some(r#"{"limit": ["1", "1000"]}"#),
    ),
    ("/rawQueryString", None),
    (
        "/rawQueryString",
        Some(r#""limit=1&limit=-1&cursor=&token""#),
    ),
    ("/rawPath", Some(r#""""#)),
    ("/path", Some(r#""""#)),
    ("/cookies", None),
    ("/cookies", Some(r#"["a=b", "garbage", ""]"#)),
    ("/stageVariables", Some("null")),
    ("/stageVariables", Some(r#"{"stage": "x"}"#)),
    ("/body", None),
    ("/body", Some("null")),
    ("/body", Some(r#""""#)),
    ("/isBase64Encoded", None),
    (
        "/requestContext/authorizer",
        Some(r#"{"jwt": {"claims": {"user_id": "9ed26283-3299-4a05-b9d6-e34278fbd416"}}}"#),
    ),
    ("/requestContext/stage", Some(r#""Prod""#)),
    ("/requestContext/stage", None),
    ("/requestContext/domainName", None),
    ("/version", Some(r#""1.0""#)),
    ("/body", Some("0")),
    ("/headers", Some("[]")),
    ("/requestContext", Some("null")),
];

fn lit() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "\\PC{0,24}",
        3 => "[A-Za-z0-9_.=-]{0,40}",
        3 => prop::sample::select(INTERESTING).prop_map(String::from),
        1 => (129usize..3000).prop_map(|n| "A".repeat(n)),
    ]
}

fn text() -> impl Strategy<Value = Text> {
    prop_oneof![
        4 => lit().prop_map(Text::Lit),
        2 => prop::sample::select(&Tok::ALL[..]).prop_map(Text::Tok),
        3 => any::<usize>().prop_map(Text::Known),
    ]
}

fn scheme() -> impl Strategy<Value = Scheme> {
    prop_oneof![
        3 => Just(Scheme::Bearer),
        3 => Just(Scheme::TokenQuoted),
        1 => Just(Scheme::TokenBare),
        1 => Just(Scheme::LowerBearer),
        1 => Just(Scheme::Basic),
        1 => Just(Scheme::Bare),
        1 => "\\PC{0,12}".prop_map(Scheme::Prefix),
    ]
}

fn auth_case() -> impl Strategy<Value = AuthCase> {
    let valid_scheme = prop_oneof![
        Just(Scheme::Bearer),
        Just(Scheme::TokenQuoted),
        Just(Scheme::TokenBare),
        Just(Scheme::LowerBearer),
    ];
    let api_token = prop_oneof![
        3 => Just(Tok::Admin),
        1 => Just(Tok::SourceReader),
        1 => Just(Tok::Restricted),
        1 => Just(Tok::OtherOrg),
    ];
    prop_oneof![
        1 => Just(AuthCase::Keep),
        1 => Just(AuthCase::Remove),
        5 => (valid_scheme, api_token).prop_map(|(s, t)| AuthCase::Valid(s, t)),
        3 => (scheme(), text()).prop_map(|(s, t)| AuthCase::Set(s, t)),
    ]
}

fn path_case() -> impl Strategy<Value = PathCase> {
    let random = prop_oneof![
        "(/[A-Za-z0-9%._~-]{0,12}){0,6}",
        "/\\PC{0,40}",
        prop::sample::select(PATHS).prop_map(String::from),
    ];
    prop_oneof![
        2 => Just(PathCase::Keep),
        3 => Just(PathCase::Natural),
        4 => prop_oneof![
            3 => any::<usize>().prop_map(Text::Known),
            2 => lit().prop_map(Text::Lit),
            1 => prop::sample::select(&Tok::ALL[..]).prop_map(Text::Tok),
        ]
        .prop_map(PathCase::Id),
        2 => (random, any::<bool>()).prop_map(|(p, k)| PathCase::Random(p, k)),
        1 => Just(PathCase::NoParams),
    ]
}

fn key(keys: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(keys).prop_map(String::from),
        1 => "[a-z_]{1,12}",
        1 => "\\PC{0,8}",
    ]
}

/// `webhook`: weigh the cases toward what gets past the webhook's checks.
fn query_case(webhook: bool) -> impl Strategy<Value = QueryCase> {
    prop_oneof![
        2 => Just(QueryCase::Keep),
        4 => prop::collection::vec((key(QUERY_KEYS), text()), 0..4).prop_map(QueryCase::Pairs),
        if webhook { 16 } else { 4 } => (
            prop_oneof![3 => Just(Tok::Notification), 1 => Just(Tok::NotificationOther)],
            prop::collection::vec((key(QUERY_KEYS), text()), 0..3),
        )
            .prop_map(|(t, pairs)| QueryCase::WithToken(t, pairs)),
        1 => prop_oneof!["[A-Za-z0-9%&=+._~;,-]{0,60}", "\\PC{0,60}"].prop_map(QueryCase::Raw),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        lit().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(JSON_KEYS), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn body_case(webhook: bool) -> impl Strategy<Value = BodyCase> {
    prop_oneof![
        4 => Just(BodyCase::Keep),
        1 => Just(BodyCase::Absent),
        2 => "\\PC{0,80}".prop_map(BodyCase::Text),
        3 => prop::collection::vec((key(JSON_KEYS), text()), 0..4).prop_map(BodyCase::Form),
        3 => json_value().prop_map(BodyCase::Json),
        if webhook { 8 } else { 3 } => prop::collection::vec(
            (
                prop::sample::select(UPLOAD_FIELDS).prop_map(String::from),
                prop::option::of(json_value()),
            ),
            0..3,
        )
        .prop_map(BodyCase::Upload),
        2 => prop::collection::vec(any::<u8>(), 0..64).prop_map(BodyCase::Binary),
        1 => (100usize..400).prop_map(BodyCase::Deep),
        1 => (64 * 1024 + 1..80 * 1024usize).prop_map(BodyCase::Oversized),
    ]
}

fn sig_case(webhook: bool) -> impl Strategy<Value = SigCase> {
    prop_oneof![
        1 => Just(SigCase::Keep),
        1 => Just(SigCase::Absent),
        if webhook { 16 } else { 4 } => Just(SigCase::Valid),
        1 => Just(SigCase::Stale),
        1 => Just(SigCase::WrongSecret),
        1 => (lit(), lit()).prop_map(|(t, s)| SigCase::Garbage(t, s)),
    ]
}

fn case(ep: Endpoint) -> impl Strategy<Value = Case> {
    let webhook = ep == Endpoint::Webhook;
    let method = prop::option::weighted(
        0.3,
        prop_oneof![
            3 => prop::sample::select(METHODS).prop_map(String::from),
            1 => "[A-Z]{1,10}",
        ],
    );
    let content_type = prop::option::weighted(
        0.5,
        prop_oneof![
            3 => prop::sample::select(CONTENT_TYPES).prop_map(|c| Text::Lit(c.to_string())),
            1 => text(),
        ],
    );
    let headers = prop::collection::vec(
        (
            prop_oneof![
                prop::sample::select(HEADER_NAMES).prop_map(String::from),
                "[a-z][a-z0-9-]{0,15}".prop_filter("not authorization", |n| n != "authorization"),
            ],
            lit(),
        ),
        0..3,
    );
    let structure = prop_oneof![
        3 => Just(Vec::new()),
        1 => prop::collection::vec(0..MUTATIONS.len(), 1..3),
    ];
    (
        (any::<bool>(), method, path_case(), auth_case()),
        (content_type, headers, query_case(webhook)),
        (
            body_case(webhook),
            prop::bool::weighted(0.3),
            sig_case(webhook),
            structure,
        ),
    )
        .prop_map(
            |(
                (rest, method, path, auth),
                (content_type, headers, query),
                (body, base64, sig, structure),
            )| Case {
                rest,
                method,
                path,
                auth,
                content_type,
                headers,
                query,
                body,
                base64,
                sig,
                structure,
            },
        )
}

// ---------------------------------------------------------------- fixture

/// What a case's credentials imply.
struct Expect {
    /// A valid API token in a well-formed `Authorization` header.
    api_auth: bool,
    /// A valid notification token somewhere in the query string.
    webhook_token: bool,
}

struct Fixture {
    env: TestEnv,
    store: Store,
    tokens: BTreeMap<Tok, String>,
    /// Ids the table holds: albums, images, jobs (and one it does not).
    known: Vec<String>,
    /// An image of the seed album.
    our_image: String,
    /// A tag of the seed organization.
    our_tag: String,
    /// An association of that tag with an image of the seed album.
    our_tag_image: String,
}

impl Fixture {
    async fn new(tag: &str) -> Self {
        let mut env = TestEnv::new(tag).await;
        // Imports ask a local Cloudinary stand-in, never the internet.
        // Silent: a delivery landing during a later case would be a write.
        let silent = crate::support::cloudinary_stand_in::Behaviour {
            silent: true,
            ..Default::default()
        };
        let stand_in =
            crate::support::cloudinary_stand_in::StandIn::start(env.app.clone(), silent).await;
        env.app.config.cloudinary_api_url = stand_in.url();
        let store = env.direct_store().await;
        let ours = seed_album(&store, SOURCE, ORG, 3).await;
        let theirs = seed_album(&store, "theirs", OTHER_ORG, 2).await;
        for (id, org, src, dst) in [
            ("job-ours", ORG, SOURCE, "job_dest"),
            ("job-theirs", OTHER_ORG, "theirs", "their_dest"),
        ] {
            store
                .create_job_if_absent(
                    &Job {
                        ..Job::running(
                            id,
                            album_api::store::jobs::JobKind::Duplicate,
                            src,
                            dst,
                            org,
                            USER,
                            3,
                        )
                    },
                    false,
                    "2026-01-01T00:00:00.000Z",
                )
                .await
                .unwrap();
        }
        let t = now();
        let secret = jwt_secret();
        let claims = json!({"exp": t + 3600, "iat": t, "user_id": USER});
        let mut tokens = BTreeMap::new();
        tokens.insert(Tok::Admin, env.token(USER, None));
        tokens.insert(
            Tok::SourceReader,
            env.token(
                USER,
                Some(json!({SOURCE: {"Access": {"see": true, "image_list": true}}})),
            ),
        );
        tokens.insert(
            Tok::Restricted,
            env.token(
                USER,
                Some(json!({"no_such_album": {"Access": {"see": true}}})),
            ),
        );
        tokens.insert(Tok::OtherOrg, env.token(OTHER_USER, None));
        tokens.insert(
            Tok::Expired,
            auth::issue_user_token(USER, None, &secret, t - 7200, 60).unwrap(),
        );
        tokens.insert(
            Tok::WrongKey,
            sign_jwt(
                &json!({"alg": "HS256"}),
                &claims,
                b"wrong-key-0123456789",
                Algorithm::HS256,
            ),
        );
        tokens.insert(
            Tok::AlgNone,
            format!(
                "{}.{}.",
                b64url(r#"{"alg":"none"}"#),
                b64url(claims.to_string())
            ),
        );
        tokens.insert(
            Tok::EventSample,
            auth::token_from_header(
                event("get-album.json")["headers"]["authorization"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap()
            .to_string(),
        );
        tokens.insert(
            Tok::Notification,
            auth::issue_notification_token(
                USER,
                SOURCE,
                ORG,
                &crate::support::security::notification_key(),
                t,
                3600,
            )
            .unwrap(),
        );
        tokens.insert(
            Tok::NotificationOther,
            auth::issue_notification_token(
                OTHER_USER,
                "theirs",
                OTHER_ORG,
                &crate::support::security::notification_key(),
                t,
                3600,
            )
            .unwrap(),
        );
        let mut e = Endpoint::ListImages.event(Some(&bearer(&tokens[&Tok::Admin])), Some(SOURCE));
        set_query(&mut e, &[("limit", "1")]);
        let resp = Endpoint::ListImages
            .call(&env.app, request(&e))
            .await
            .unwrap();
        tokens.insert(
            Tok::Cursor,
            resp.headers()["x-next-cursor"]
                .to_str()
                .unwrap()
                .to_string(),
        );
        let mut known: Vec<String> = vec![
            SOURCE.into(),
            "theirs".into(),
            "job-ours".into(),
            "job-theirs".into(),
            "new_album_1".into(),
        ];
        known.extend(ours.iter().chain(&theirs).map(|i| i.id.clone()));
        // A tag of each organization, each tagging one of its images.
        let admin = tokens[&Tok::Admin].clone();
        let tag = tagging::create_tag(&env.app, &admin, "hostile-tag").await;
        let our_tag = tag["id"].as_str().unwrap().to_string();
        let tagged = tagging::tag_images(&env.app, &admin, &our_tag, &[&ours[1].id]).await;
        let our_tag_image = tagged[0]["id"].as_str().unwrap().to_string();
        let their_admin = tokens[&Tok::OtherOrg].clone();
        let their_tag = tagging::create_tag(&env.app, &their_admin, "their-tag").await;
        let their_tag = their_tag["id"].as_str().unwrap().to_string();
        let theirs_tagged =
            tagging::tag_images(&env.app, &their_admin, &their_tag, &[&theirs[0].id]).await;
        known.extend([
            our_tag.clone(),
            "hostile-tag".to_string(),
            our_tag_image.clone(),
            their_tag,
            theirs_tagged[0]["id"].as_str().unwrap().to_string(),
        ]);
        Self {
            our_image: ours[0].id.clone(),
            our_tag,
            our_tag_image,
            env,
            store,
            tokens,
            known,
        }
    }

    fn resolve(&self, t: &Text) -> String {
        match t {
            Text::Lit(s) => s.clone(),
            Text::Tok(k) => self.tokens[k].clone(),
            Text::Known(i) => self.known[i % self.known.len()].clone(),
        }
    }

    /// The event of `case` for `ep`, and what its credentials imply.
    fn build(&self, ep: Endpoint, case: &Case) -> (Value, Expect) {
        let mut e = event(ep.event_file());
        if let Some(m) = &case.method {
            e["requestContext"]["http"]["method"] = Value::from(m.as_str());
        }
        let (template, param) = ep.route();
        match &case.path {
            PathCase::Keep => {}
            PathCase::Natural | PathCase::Id(_) => {
                let id = match (&case.path, ep) {
                    (PathCase::Id(t), _) => self.resolve(t),
                    (
                        _,
                        Endpoint::DeleteImage
                        | Endpoint::GetImage
                        | Endpoint::UpdateImage
                        | Endpoint::RestoreTrashedImage
                        | Endpoint::DuplicateImage
                        | Endpoint::EmbedImage,
                    ) => self.our_image.clone(),
                    (_, Endpoint::TagImages | Endpoint::ListTagImages) => self.our_tag.clone(),
                    (_, Endpoint::DeleteTagImage) => self.our_tag_image.clone(),
                    (_, Endpoint::GetDuplication) => "job-ours".into(),
                    _ => SOURCE.into(),
                };
                let param = param.unwrap_or("id");
                let path = template.replace(&format!("{{{param}}}"), &id);
                e["rawPath"] = Value::from(path.clone());
                e["requestContext"]["http"]["path"] = Value::from(path);
                e["pathParameters"] = json!({ param: id });
            }
            PathCase::Random(p, keep) => {
                e["rawPath"] = Value::from(p.as_str());
                e["requestContext"]["http"]["path"] = Value::from(p.as_str());
                if !keep {
                    e.as_object_mut().unwrap().remove("pathParameters");
                }
            }
            PathCase::NoParams => {
                e.as_object_mut().unwrap().remove("pathParameters");
            }
        }
        let mut api_auth = false;
        match &case.auth {
            AuthCase::Keep => {}
            AuthCase::Remove => set_header(&mut e, "authorization", None),
            AuthCase::Valid(scheme, k) => {
                set_header(
                    &mut e,
                    "authorization",
                    Some(&scheme.render(&self.tokens[k])),
                );
                api_auth = scheme.is_valid() && k.is_api();
            }
            AuthCase::Set(scheme, t) => {
                set_header(
                    &mut e,
                    "authorization",
                    Some(&scheme.render(&self.resolve(t))),
                );
                api_auth = scheme.is_valid() && matches!(t, Text::Tok(k) if k.is_api());
            }
        }
        if let Some(ct) = &case.content_type {
            set_header(&mut e, "content-type", Some(&self.resolve(ct)));
        }
        for (name, value) in &case.headers {
            set_header(&mut e, name, Some(value));
        }
        let mut webhook_token = false;
        match &case.query {
            QueryCase::Keep => {}
            QueryCase::Pairs(pairs) | QueryCase::WithToken(_, pairs) => {
                let mut pairs = pairs.clone();
                if let QueryCase::WithToken(t, _) = &case.query {
                    pairs.insert(0, ("token".into(), Text::Tok(*t)));
                }
                let resolved: Vec<(String, String)> = pairs
                    .iter()
                    .map(|(k, v)| (k.clone(), self.resolve(v)))
                    .collect();
                let refs: Vec<(&str, &str)> = resolved
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                set_query(&mut e, &refs);
                webhook_token = pairs
                    .iter()
                    .any(|(k, v)| k == "token" && matches!(v, Text::Tok(t) if t.is_notification()));
                // The embeddable URL takes an API token in `?token=` too.
                if ep == Endpoint::EmbedImage {
                    api_auth |= pairs
                        .iter()
                        .any(|(k, v)| k == "token" && matches!(v, Text::Tok(t) if t.is_api()));
                }
            }
            QueryCase::Raw(q) => {
                set_query(&mut e, &[]);
                e["rawQueryString"] = Value::from(q.as_str());
            }
        }
        let body: Option<Vec<u8>> = match &case.body {
            BodyCase::Keep => e["body"].as_str().map(|b| b.as_bytes().to_vec()),
            BodyCase::Absent => None,
            BodyCase::Text(t) => Some(t.as_bytes().to_vec()),
            BodyCase::Form(pairs) => {
                let resolved: Vec<(String, String)> = pairs
                    .iter()
                    .map(|(k, v)| (k.clone(), self.resolve(v)))
                    .collect();
                Some(serde_urlencoded::to_string(&resolved).unwrap().into_bytes())
            }
            BodyCase::Json(v) => Some(v.to_string().into_bytes()),
            BodyCase::Upload(changes) => {
                let (_, base) = upload_notification(SOURCE, 1, now() - 60);
                let mut v: Value = serde_json::from_str(&base).unwrap();
                for (field, change) in changes {
                    match change {
                        Some(value) => v[field.as_str()] = value.clone(),
                        None => {
                            v.as_object_mut().unwrap().remove(field);
                        }
                    }
                }
                Some(v.to_string().into_bytes())
            }
            BodyCase::Binary(b) => Some(b.clone()),
            BodyCase::Deep(n) => Some(format!("{}{}", "[".repeat(*n), "]".repeat(*n)).into_bytes()),
            BodyCase::Oversized(n) => {
                Some(format!("destination_id=x&pad={}", "p".repeat(*n)).into_bytes())
            }
        };
        let binary = matches!(case.body, BodyCase::Binary(_));
        let base64 = binary || case.base64;
        set_body(&mut e, body.as_deref(), base64);
        let signed = body.as_deref().unwrap_or_default();
        let t = now();
        let (ts, sig) = match &case.sig {
            SigCase::Keep => (None, None),
            SigCase::Absent => (Some(None), Some(None)),
            SigCase::Valid => {
                let ts = t.to_string();
                let sig = cld_signature(signed, &ts, CLD_SECRET);
                (Some(Some(ts)), Some(Some(sig)))
            }
            SigCase::Stale => {
                let ts = (t - 3 * 3600).to_string();
                let sig = cld_signature(signed, &ts, CLD_SECRET);
                (Some(Some(ts)), Some(Some(sig)))
            }
            SigCase::WrongSecret => {
                let ts = t.to_string();
                let sig = cld_signature(signed, &ts, "not-the-secret");
                (Some(Some(ts)), Some(Some(sig)))
            }
            SigCase::Garbage(ts, sig) => (Some(Some(ts.clone())), Some(Some(sig.clone()))),
        };
        if let Some(ts) = ts {
            set_header(&mut e, "x-cld-timestamp", ts.as_deref());
        }
        if let Some(sig) = sig {
            set_header(&mut e, "x-cld-signature", sig.as_deref());
        }
        let mut e = if case.rest { to_rest(&e) } else { e };
        for m in &case.structure {
            let (pointer, value) = MUTATIONS[*m];
            mutate(
                &mut e,
                pointer,
                value.map(|v| serde_json::from_str(v).expect("a JSON mutation")),
            );
        }
        (
            e,
            Expect {
                api_auth,
                webhook_token,
            },
        )
    }

    /// An event lambda_http cannot turn into a request (it panics on it):
    /// through the functions' real entry, [`album_api::entry::serve`], it
    /// must be the contract's JSON 400, and nothing may be written.
    async fn check_unreadable(&self, ep: Endpoint, e: Value) -> Result<(), TestCaseError> {
        let before = table_snapshot(&self.store).await;
        let app = &self.env.app;
        let raw = serde_json::value::RawValue::from_string(e.to_string()).unwrap();
        let event = LambdaEvent::new(raw, lambda_runtime::Context::default());
        let answer = album_api::entry::serve(|req| ep.call(app, req), event)
            .await
            .map_err(|err| TestCaseError::fail(format!("{ep:?}: Lambda-level error {err}")))?;
        let out = serde_json::to_value(answer).unwrap();
        let status = out["statusCode"].as_u64().unwrap_or(0) as u16;
        let text = out["body"].as_str().unwrap_or_default();
        prop_assert_eq!(status, 400, "{:?}: unreadable event answered {}", ep, out);
        let mut headers = lambda_http::http::HeaderMap::new();
        for (k, v) in out["headers"].as_object().into_iter().flatten() {
            let name = lambda_http::http::HeaderName::from_bytes(k.as_bytes()).unwrap();
            let value = lambda_http::http::HeaderValue::from_str(v.as_str().unwrap()).unwrap();
            headers.insert(name, value);
        }
        check_error_response(status, &headers, text)
            .map_err(|m| TestCaseError::fail(format!("{ep:?} unreadable event: {m}")))?;
        let after = table_snapshot(&self.store).await;
        prop_assert!(
            before == after,
            "{:?}: an unreadable event wrote: {}",
            ep,
            snapshot_diff(&before, &after)
        );
        Ok(())
    }

    /// Runs one case and checks the properties; `Ok(None)` when lambda_http
    /// cannot read the event (no handler would see it; it is checked through
    /// the entry instead).
    async fn check(&self, ep: Endpoint, case: &Case) -> Result<Option<u16>, TestCaseError> {
        let (e, expect) = self.build(ep, case);
        let Some(req) = try_request(&e.to_string()) else {
            return self.check_unreadable(ep, e).await.map(|()| None);
        };
        let before = table_snapshot(&self.store).await;
        let resp = ep
            .call(&self.env.app, req)
            .await
            .map_err(|err| TestCaseError::fail(format!("{ep:?}: Lambda-level error {err}")))?;
        let (status, headers, text) = raw_parts(resp);
        let shown: String = text.chars().take(600).collect();
        prop_assert!(status < 500, "{:?} answered {}: {}", ep, status, shown);
        if status >= 400 {
            check_error_response(status, &headers, &text)
                .map_err(|m| TestCaseError::fail(format!("{ep:?} {status}: {m}")))?;
            let after = table_snapshot(&self.store).await;
            prop_assert!(
                before == after,
                "{:?} refused with {} yet wrote: {}",
                ep,
                status,
                snapshot_diff(&before, &after)
            );
        } else if ep == Endpoint::EmbedImage {
            // A redirect to the signed URL, the input's steps inside it
            // only as the allow-list's parameters: no other separator,
            // nothing but their characters.
            prop_assert_eq!(status, 302, "{}", shown);
            prop_assert!(!headers.contains_key("x-token"), "a 302 with X-token");
            prop_assert!(text.is_empty(), "a 302 with a body: {}", shown);
            let location = headers
                .get("location")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let signed = location
                .strip_prefix("https://res.cloudinary.com/sadaasdasd/image/authenticated/s--")
                .and_then(|l| l.split_once("--/"))
                .map(|(_, rest)| rest);
            prop_assert!(signed.is_some(), "Location {}", location);
            let steps = signed.unwrap_or_default().rsplit_once("/v").map(|(s, _)| s);
            let allowed = |p: &str| {
                p.split_once('_').is_some_and(|(k, v)| {
                    [
                        "a", "c", "dpr", "f", "fl", "g", "h", "l", "q", "w", "x", "y",
                    ]
                    .contains(&k)
                        && !v.is_empty()
                        && v.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"_.:%-".contains(&b))
                })
            };
            prop_assert!(
                steps.is_some_and(|s| s.split('/').all(|step| step.split(',').all(allowed))),
                "Location {}",
                location
            );
        } else {
            prop_assert!((200..300).contains(&status), "{:?}: {}", ep, status);
            if ep != Endpoint::Webhook {
                prop_assert!(headers.contains_key("x-token"), "{:?}: no X-token", ep);
            }
            if status != 204 && !text.is_empty() {
                prop_assert!(
                    serde_json::from_str::<Value>(&text).is_ok(),
                    "{:?} {}: not JSON: {}",
                    ep,
                    status,
                    shown
                );
            }
        }
        if ep == Endpoint::Webhook {
            if !expect.webhook_token {
                prop_assert_eq!(
                    status,
                    401,
                    "webhook without a notification token: {}",
                    shown
                );
            }
        } else if !expect.api_auth {
            prop_assert_eq!(status, 401, "{:?} without a valid token: {}", ep, shown);
        }
        Ok(Some(status))
    }
}

/// Applies one structural mutation: removes or replaces the value at `pointer`.
fn mutate(e: &mut Value, pointer: &str, value: Option<Value>) {
    let (parent, last) = pointer.rsplit_once('/').unwrap();
    let Some(Value::Object(map)) = e.pointer_mut(parent) else {
        return;
    };
    match value {
        None => {
            map.remove(last);
        }
        Some(v) => {
            map.insert(last.to_string(), v);
        }
    }
}

fn run_endpoint(ep: Endpoint) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tag = format!("hostile-{ep:?}").to_lowercase();
    let fx = rt.block_on(Fixture::new(&tag));
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        max_global_rejects: cases() * 8,
        ..Config::default()
    });
    let statuses: RefCell<BTreeMap<u16, u32>> = RefCell::new(BTreeMap::new());
    let refused = RefCell::new(0u32);
    let result = runner.run(&case(ep), |case| {
        match rt.block_on(fx.check(ep, &case))? {
            Some(status) => *statuses.borrow_mut().entry(status).or_default() += 1,
            None => {
                // Answered 400 by the entry (checked), but no handler case:
                // ask proptest for another one.
                *refused.borrow_mut() += 1;
                return Err(TestCaseError::reject("lambda_http cannot read this event"));
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{ep:?}: {e}");
    }
    let statuses = statuses.into_inner();
    eprintln!(
        "{ep:?}: statuses {statuses:?}, {} events lambda_http cannot read answered 400 by the entry",
        refused.into_inner()
    );
    assert_eq!(statuses.values().sum::<u32>(), cases());
    // The cases reached past authentication too, not only into 401s.
    assert!(
        statuses.keys().any(|s| *s != 401),
        "{ep:?}: every case was a 401 ({statuses:?})"
    );
}

#[test]
fn duplicate_album_survives_hostile_input() {
    run_endpoint(Endpoint::Duplicate);
}

#[test]
fn create_album_survives_hostile_input() {
    run_endpoint(Endpoint::CreateAlbum);
}

#[test]
fn get_album_survives_hostile_input() {
    run_endpoint(Endpoint::GetAlbum);
}

#[test]
fn list_albums_survives_hostile_input() {
    run_endpoint(Endpoint::ListAlbums);
}

#[test]
fn list_images_survives_hostile_input() {
    run_endpoint(Endpoint::ListImages);
}

#[test]
fn delete_image_survives_hostile_input() {
    run_endpoint(Endpoint::DeleteImage);
}

#[test]
fn cloudinary_notification_survives_hostile_input() {
    run_endpoint(Endpoint::Webhook);
}

#[test]
fn get_duplication_survives_hostile_input() {
    run_endpoint(Endpoint::GetDuplication);
}

#[test]
fn create_tag_survives_hostile_input() {
    run_endpoint(Endpoint::CreateTag);
}

#[test]
fn list_tags_survives_hostile_input() {
    run_endpoint(Endpoint::ListTags);
}

#[test]
fn tag_images_survives_hostile_input() {
    run_endpoint(Endpoint::TagImages);
}

#[test]
fn list_tag_images_survives_hostile_input() {
    run_endpoint(Endpoint::ListTagImages);
}

#[test]
fn delete_tag_image_survives_hostile_input() {
    run_endpoint(Endpoint::DeleteTagImage);
}

#[test]
fn update_album_survives_hostile_input() {
    run_endpoint(Endpoint::UpdateAlbum);
}

#[test]
fn get_usage_survives_hostile_input() {
    run_endpoint(Endpoint::GetUsage);
}

#[test]
fn get_image_survives_hostile_input() {
    run_endpoint(Endpoint::GetImage);
}

#[test]
fn update_image_survives_hostile_input() {
    run_endpoint(Endpoint::UpdateImage);
}

#[test]
fn delete_images_survives_hostile_input() {
    run_endpoint(Endpoint::DeleteImages);
}

#[test]
fn list_trashed_images_survives_hostile_input() {
    run_endpoint(Endpoint::ListTrashedImages);
}

#[test]
fn restore_trashed_image_survives_hostile_input() {
    run_endpoint(Endpoint::RestoreTrashedImage);
}

#[test]
fn query_tag_images_survives_hostile_input() {
    run_endpoint(Endpoint::QueryTagImages);
}

#[test]
fn duplicate_image_survives_hostile_input() {
    run_endpoint(Endpoint::DuplicateImage);
}

#[test]
fn create_import_survives_hostile_input() {
    run_endpoint(Endpoint::CreateImport);
}

#[test]
fn get_import_survives_hostile_input() {
    run_endpoint(Endpoint::GetImport);
}

#[test]
fn move_images_survives_hostile_input() {
    run_endpoint(Endpoint::MoveImages);
}

#[test]
fn embed_image_survives_hostile_input() {
    run_endpoint(Endpoint::EmbedImage);
}

#[test]
fn ten_megabyte_bodies_are_refused_or_ignored_in_both_formats() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let fx = Fixture::new("hostile-10mb").await;
        let before = table_snapshot(&fx.store).await;
        let admin = bearer(&fx.tokens[&Tok::Admin]);
        // API Gateway's largest payload, as form text and as base64.
        let text = "destination_id=ten_mb&pad=".to_string() + &"p".repeat(10 * 1024 * 1024 - 26);
        assert_eq!(text.len(), 10 * 1024 * 1024);
        let b64 = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(&text)
        };
        for (i, ep) in Endpoint::ALL.into_iter().enumerate() {
            for rest in [false, true] {
                // Each endpoint gets both formats; the encodings alternate.
                let base64 = rest == (i % 2 == 0);
                let id = match ep {
                    Endpoint::DeleteImage
                    | Endpoint::GetImage
                    | Endpoint::UpdateImage
                    | Endpoint::RestoreTrashedImage
                    | Endpoint::DuplicateImage
                    | Endpoint::EmbedImage => "no_such_image",
                    Endpoint::GetDuplication => "job-ours",
                    Endpoint::TagImages | Endpoint::ListTagImages => fx.our_tag.as_str(),
                    Endpoint::DeleteTagImage => "no_such_tag_image",
                    _ => SOURCE,
                };
                let mut e = ep.event(Some(&admin), Some(id));
                if ep == Endpoint::Webhook {
                    set_query(&mut e, &[("token", &fx.tokens[&Tok::Notification])]);
                }
                set_header(
                    &mut e,
                    "content-type",
                    Some("application/x-www-form-urlencoded"),
                );
                // The body goes in last, as text: no 10 MB JSON values to copy.
                set_body(&mut e, Some(b"BODY_PLACEHOLDER"), false);
                e["isBase64Encoded"] = Value::Bool(base64);
                let e = if rest { to_rest(&e) } else { e };
                let payload = if base64 { &b64 } else { &text };
                let json = e.to_string().replacen("BODY_PLACEHOLDER", payload, 1);
                let req = try_request(&json).expect("a valid event");
                let resp = ep.call(&fx.env.app, req).await.unwrap();
                let (status, headers, body) = raw_parts(resp);
                let what = format!("{ep:?} rest={rest} base64={base64}");
                assert!(status < 500, "{what}: {status} {body}");
                if ep.reads_body() {
                    assert_eq!(status, 413, "{what}: {body}");
                }
                if status >= 400 {
                    check_error_response(status, &headers, &body)
                        .unwrap_or_else(|m| panic!("{what}: {m}"));
                }
            }
        }
        let after = table_snapshot(&fx.store).await;
        assert_eq!(before, after, "{}", snapshot_diff(&before, &after));
    });
}

/// The events this suite builds from are themselves well-formed: a sanity
/// check of the builder, so that discarded cases are the mutations' doing.
#[test]
fn unmutated_cases_parse_in_both_formats() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let fx = Fixture::new("hostile-plain").await;
        for ep in Endpoint::ALL {
            for rest in [false, true] {
                let case = Case {
                    rest,
                    method: None,
                    path: PathCase::Keep,
                    auth: AuthCase::Set(Scheme::TokenQuoted, Text::Tok(Tok::Admin)),
                    content_type: None,
                    headers: Vec::new(),
                    query: QueryCase::Keep,
                    body: BodyCase::Keep,
                    base64: false,
                    sig: SigCase::Keep,
                    structure: Vec::new(),
                };
                let (e, _) = fx.build(ep, &case);
                assert!(
                    try_request(&e.to_string()).is_some(),
                    "{ep:?} rest={rest}: {e}"
                );
            }
        }
    });
}
