//! Helpers of the integrator-token tests (`tests/it/integrator_tokens.rs`,
//! `tests/it/token_suite.rs`): API secrets made by `albumctl secrets`,
//! tokens minted the way an integrator mints them (PyJWT, Node's
//! `jsonwebtoken`, the README's own snippets), and forged integrator tokens.

use std::process::Command;

use album_api::api_secrets::ApiSecret;
use album_api::service::now;
use album_api::store::Store;
use albumctl::secrets::{self, SecretsCommand};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use super::security::{b64url, sign_jwt};
use super::{JWT_SECRET, ORG};

/// What `albumctl secrets create` printed.
#[derive(Clone, Debug)]
pub struct Created {
    /// The secret's id (`iss`).
    pub id: String,
    /// The secret itself.
    pub secret: String,
}

/// Runs `albumctl secrets <command>` against `store`: what it printed.
pub async fn albumctl(store: &Store, command: SecretsCommand) -> Result<String, String> {
    let mut out = Vec::new();
    secrets::run(store, command, &mut out).await?;
    Ok(String::from_utf8(out).expect("UTF-8 output"))
}

/// `albumctl secrets create --org <org>`, its two printed lines read back.
pub async fn create_secret(store: &Store, org: &str) -> Created {
    let printed = albumctl(store, SecretsCommand::Create { org: org.into() })
        .await
        .expect("secrets create");
    let field = |name: &str| {
        printed
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in {printed:?}"))
            .to_string()
    };
    Created {
        id: field("id"),
        secret: field("secret"),
    }
}

/// The first fenced block of language `lang` in the README's
/// "Integrating" section: the code an integrator copies.
pub fn readme_snippet(lang: &str) -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let section = readme
        .split("\n## Integrating\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("an Integrating section in README.md");
    let fence = format!("```{lang}\n");
    let start = section.find(&fence).expect("a snippet") + fence.len();
    let len = section[start..].find("```").expect("a closed snippet");
    section[start..start + len].to_string()
}

fn run(mut cmd: Command, what: &str) -> String {
    let out = cmd
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| panic!("{what} could not start ({e}): run `make deps`"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("UTF-8")
        .trim()
        .to_string()
}

/// Runs Python code with the project's `.venv` interpreter (where
/// `requirements-dev.txt` puts PyJWT), the secret's id and secret in
/// `ALBUM_API_SECRET_ID` and `ALBUM_API_SECRET`: its printed token.
pub fn python(code: &str, secret: &Created, args: &[&str]) -> String {
    let mut cmd = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python"));
    cmd.arg("-c")
        .arg(code)
        .args(args)
        .env("ALBUM_API_SECRET_ID", &secret.id)
        .env("ALBUM_API_SECRET", &secret.secret);
    run(cmd, "python (PyJWT)")
}

/// Runs Node code from the repository root (so `require` finds
/// `node_modules/jsonwebtoken`), with the same two variables.
pub fn node(code: &str, secret: &Created) -> String {
    let mut cmd = Command::new("node");
    cmd.arg("-e")
        .arg(code)
        .env("ALBUM_API_SECRET_ID", &secret.id)
        .env("ALBUM_API_SECRET", &secret.secret);
    run(cmd, "node (jsonwebtoken)")
}

/// A token with exactly `claims`, HS256-signed with the secret by PyJWT.
pub fn pyjwt(claims: &Value, secret: &Created) -> String {
    python(
        "import json, os, sys\nimport jwt\n\
         print(jwt.encode(json.loads(sys.argv[1]), os.environ['ALBUM_API_SECRET'], algorithm='HS256'))",
        secret,
        &[&claims.to_string()],
    )
}

/// An API secret of `org` written straight to the table (set-up of the
/// forgery suite), revoked when `revoked`.
pub async fn stored_secret(store: &Store, org: &str, revoked: bool) -> ApiSecret {
    let mut s = ApiSecret::generate(org, "2026-01-01T00:00:00.000Z").expect("a secret");
    if revoked {
        s.revoked_at = Some("2026-01-02T00:00:00.000Z".into());
    }
    assert!(store.create_api_secret(&s).await.expect("PutItem"));
    s
}

/// Integrator tokens that must all be 401: `ours` is an active secret of
/// the seed organization, `revoked` a revoked one of it, `theirs` another
/// organization's active secret.
pub fn forged_integrator_tokens(
    ours: &ApiSecret,
    revoked: &ApiSecret,
    theirs: &ApiSecret,
) -> Vec<(&'static str, String)> {
    let mut tokens = wrong_keys_and_headers(ours, revoked, theirs);
    tokens.extend(bad_claims(ours, theirs));
    tokens
}

fn claims_of(iss: &str) -> Value {
    let t = now();
    json!({"exp": t + 3600, "iat": t, "iss": iss, "abilities": {}})
}

fn key(s: &ApiSecret) -> Vec<u8> {
    s.key.expose().as_bytes().to_vec()
}

fn header(alg: &str) -> Value {
    json!({"typ": "JWT", "alg": alg})
}

fn hs256(claims: &Value, key: &[u8]) -> String {
    sign_jwt(&header("HS256"), claims, key, Algorithm::HS256)
}

/// Signed with the wrong key, or under another algorithm.
fn wrong_keys_and_headers(
    ours: &ApiSecret,
    revoked: &ApiSecret,
    theirs: &ApiSecret,
) -> Vec<(&'static str, String)> {
    let claims = claims_of(&ours.id);
    vec![
        (
            "another organization's secret, naming ours in iss",
            hs256(&claims, &key(theirs)),
        ),
        (
            "a revoked secret, correctly signed",
            hs256(&claims_of(&revoked.id), &key(revoked)),
        ),
        (
            "alg none with an iss",
            format!(
                "{}.{}.",
                b64url(header("none").to_string()),
                b64url(claims.to_string())
            ),
        ),
        (
            "an RS256 header with an iss, HMAC-signed with the secret",
            sign_jwt(&header("RS256"), &claims, &key(ours), Algorithm::HS256),
        ),
        (
            "an HS512 token with an iss, signed with the secret",
            sign_jwt(&header("HS512"), &claims, &key(ours), Algorithm::HS512),
        ),
        (
            "an iss no secret has",
            hs256(&claims_of(&uuid::Uuid::new_v4().to_string()), &key(ours)),
        ),
        (
            "our iss, signed with JWT_SECRET",
            hs256(&claims, JWT_SECRET.as_bytes()),
        ),
    ]
}

/// Correctly signed, with claims an integrator token may not carry.
fn bad_claims(ours: &ApiSecret, theirs: &ApiSecret) -> Vec<(&'static str, String)> {
    let with = |mut c: Value, k: &str, v: Value| {
        c[k] = v;
        c
    };
    let mut without_exp = claims_of(&ours.id);
    without_exp.as_object_mut().expect("claims").remove("exp");
    let far = now() + 86_400 + 3600;
    vec![
        (
            "claiming our organization",
            hs256(
                &with(claims_of(&ours.id), "organization_id", json!(ORG)),
                &key(ours),
            ),
        ),
        (
            "their secret, claiming our organization",
            hs256(
                &with(claims_of(&theirs.id), "organization_id", json!(ORG)),
                &key(theirs),
            ),
        ),
        (
            "an iss that is no id",
            hs256(
                &with(claims_of(&ours.id), "iss", json!({"id": ours.id})),
                &key(ours),
            ),
        ),
        (
            "exp more than a day ahead",
            hs256(&with(claims_of(&ours.id), "exp", json!(far)), &key(ours)),
        ),
        ("without exp", hs256(&without_exp, &key(ours))),
        (
            "an audience",
            hs256(&with(claims_of(&ours.id), "aud", json!("api")), &key(ours)),
        ),
    ]
}
