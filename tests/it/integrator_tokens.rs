//! Integrators mint their own tokens (decision 0013), end to end: a secret
//! made by `albumctl secrets create`, a token minted by PyJWT or Node's
//! `jsonwebtoken` exactly as the README's Integrating section (and
//! SharinPix's `api.md`) shows, no project code involved, then real API
//! Gateway events through the handlers: the duplicate answers 200, a
//! revoked secret is refused once the cache's TTL has passed while a second
//! secret keeps working, a warm function reads nothing for a cached secret,
//! and `user_id` names the acting user.

use std::time::Duration;

use album_api::App;
use album_api::handlers::duplicate_album;
use album_api::service::now;
use albumctl::secrets::SecretsCommand;
use lambda_http::http::HeaderMap;
use serde_json::{Value, json};

use crate::support::fault_proxy::{FaultConfig, FaultProxy};
use crate::support::integrator::{
    Created, albumctl, create_secret, node, pyjwt, python, readme_snippet,
};
use crate::support::security::{Endpoint, raw_parts};
use crate::support::{
    ORG, SOURCE, TestEnv, USER, bearer, duplicate_event, emulator_endpoint, request, seed_album,
    tagging,
};

/// The destination the README's snippets may upload to.
const DESTINATION: &str = "copy_for_crm";

/// Duplicates SOURCE into DESTINATION with `token`: status, headers, body.
async fn duplicate(app: &App, token: &str) -> (u16, HeaderMap, String) {
    let e = duplicate_event(
        "duplicate-album.json",
        Some(&bearer(token)),
        SOURCE,
        Some(&format!("destination_id={DESTINATION}")),
    );
    raw_parts(
        duplicate_album::handle(app, request(&e))
            .await
            .expect("an answer"),
    )
}

/// `GET /api/v1/albums/{album}` with `token`: status and body.
async fn get_album(app: &App, token: &str, album: &str) -> (u16, String) {
    let e = Endpoint::GetAlbum.event(Some(&bearer(token)), Some(album));
    let (status, _, text) = raw_parts(Endpoint::GetAlbum.call(app, request(&e)).await.unwrap());
    (status, text)
}

fn x_token(headers: &HeaderMap) -> String {
    headers["x-token"].to_str().expect("X-token").to_string()
}

#[tokio::test]
async fn a_pyjwt_token_duplicates_and_a_revoked_secret_is_refused_after_the_cache_ttl() {
    let env = TestEnv::new("integrator").await;
    let ttl = Duration::from_secs(1);
    let app = env.app.clone().with_secret_cache_ttl(ttl);
    let store = env.direct_store().await;
    seed_album(&store, SOURCE, ORG, 3).await;
    let first = create_secret(&store, ORG).await;
    let second = create_secret(&store, ORG).await;
    assert_ne!(first.id, second.id);
    assert!(first.secret.len() >= 43, "32 random bytes, base64url");
    let snippet = readme_snippet("python");
    let (token, other) = (
        python(&snippet, &first, &[]),
        python(&snippet, &second, &[]),
    );

    let (status, headers, text) = duplicate(&app, &token).await;
    assert_eq!(status, 200, "{text}");
    let album: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (album["id"].as_str(), album["organization_id"].as_str()),
        (Some(DESTINATION), Some(ORG))
    );
    assert_eq!(album["images_count"], 3);
    // X-token is signed with the same secret and works the same way.
    let renewed = x_token(&headers);
    assert_eq!(get_album(&app, &renewed, DESTINATION).await.0, 200);
    assert_eq!(duplicate(&app, &other).await.0, 200, "the second secret");

    let listed = albumctl(&store, SecretsCommand::List { org: ORG.into() })
        .await
        .unwrap();
    assert_eq!(listed.matches(" active").count(), 2, "{listed}");
    assert!(!listed.contains(&first.secret) && !listed.contains(&second.secret));

    albumctl(
        &store,
        SecretsCommand::Revoke {
            id: first.id.clone(),
        },
    )
    .await
    .unwrap();
    assert_eq!(duplicate(&app, &other).await.0, 200, "the second, at once");
    tokio::time::sleep(ttl + Duration::from_millis(200)).await;
    for (what, t) in [("the token", &token), ("its X-token", &renewed)] {
        let (status, _, text) = duplicate(&app, t).await;
        assert_eq!(
            status, 401,
            "{what} of a revoked secret, after the TTL: {text}"
        );
        assert!(text.contains("unknown or revoked API secret"), "{text}");
    }
    assert_eq!(
        duplicate(&app, &other).await.0,
        200,
        "the second, after the TTL"
    );
    let listed = albumctl(&store, SecretsCommand::List { org: ORG.into() })
        .await
        .unwrap();
    let line = listed.lines().find(|l| l.starts_with(&first.id)).unwrap();
    assert!(line.contains(" revoked "), "{listed}");
    // Revoking twice changes nothing; an unknown id is an error.
    let again = albumctl(
        &store,
        SecretsCommand::Revoke {
            id: first.id.clone(),
        },
    )
    .await;
    assert!(again.unwrap().contains("revoked already"));
    let unknown = SecretsCommand::Revoke {
        id: "no-such-secret".into(),
    };
    assert!(albumctl(&store, unknown).await.is_err());
}

#[tokio::test]
async fn a_node_token_minted_as_the_readme_shows_duplicates() {
    let env = TestEnv::new("integrator-node").await;
    let store = env.direct_store().await;
    seed_album(&store, SOURCE, ORG, 2).await;
    let secret = create_secret(&store, ORG).await;
    let token = node(&readme_snippet("js"), &secret);
    let (status, _, text) = duplicate(&env.app, &token).await;
    assert_eq!(status, 200, "{text}");
    // Its abilities name two albums: the rest of the organization is out of reach.
    assert_eq!(get_album(&env.app, &token, "elsewhere").await.0, 404);
    seed_album(&store, "elsewhere", ORG, 0).await;
    assert_eq!(get_album(&env.app, &token, "elsewhere").await.0, 401);
    // Secrets of an organization that does not exist are refused.
    let no_org = SecretsCommand::Create {
        org: "no-such-org".into(),
    };
    assert!(albumctl(&store, no_org).await.is_err());
}

#[tokio::test]
async fn a_warm_invocation_reads_nothing_for_a_cached_secret() {
    let proxy = FaultProxy::start(&emulator_endpoint(), FaultConfig::none()).await;
    let env = TestEnv::with_endpoint("integrator-cache", &proxy.endpoint()).await;
    let store = env.direct_store().await;
    seed_album(&store, SOURCE, ORG, 2).await;
    let secret = create_secret(&store, ORG).await;
    let claims = json!({"exp": now() + 600, "iss": secret.id, "abilities": {}});
    let token = pyjwt(&claims, &secret);
    let user_token = env.token(USER, None);
    let mut reads = Vec::new();
    for t in [&user_token, &token, &token, &user_token, &token] {
        proxy.reset_stats();
        assert_eq!(get_album(&env.app, t, SOURCE).await.0, 200);
        reads.push(proxy.stats().calls("GetItem"));
    }
    let (user, cold, warm) = (reads[0], reads[1], reads[2]);
    assert_eq!(
        cold, user,
        "a cold lookup reads the secret, as a user token reads its user"
    );
    assert_eq!(warm + 1, user, "a warm one reads nothing for it: {reads:?}");
    assert_eq!((reads[3], reads[4]), (user, warm), "{reads:?}");
}

#[tokio::test]
async fn user_id_names_the_acting_user_and_without_it_the_integration_acts() {
    let env = TestEnv::new("integrator-user").await;
    let store = env.direct_store().await;
    let images = seed_album(&store, SOURCE, ORG, 2).await;
    let secret = create_secret(&store, ORG).await;
    let t = now();
    let mint = |user: Option<&str>| {
        let mut c = json!({"exp": t + 600, "iss": secret.id, "abilities": {}});
        if let Some(u) = user {
            c["user_id"] = json!(u);
        }
        pyjwt(&c, &secret)
    };
    let jane = mint(Some("jane@example.com"));
    let tag = tagging::create_tag(&env.app, &jane, "integrated").await;
    let tag_id = tag["id"].as_str().unwrap();
    let tagged = tagging::tag_images(&env.app, &jane, tag_id, &[&images[0].id]).await;
    assert_eq!(tagged[0]["user"], "jane@example.com");
    let integration = mint(None);
    let tagged = tagging::tag_images(&env.app, &integration, tag_id, &[&images[1].id]).await;
    assert_eq!(tagged[0]["user"], json!(secret.id));
    // Nobody was registered for it.
    assert!(
        store
            .user_organization("jane@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn renewals_of_an_integrator_token_stop_at_the_end_of_its_session() {
    let env = TestEnv::new("integrator-life").await;
    let store = env.direct_store().await;
    seed_album(&store, SOURCE, ORG, 1).await;
    let secret: Created = create_secret(&store, ORG).await;
    let t = now();
    // Issued almost a day ago: its session has 100 s left.
    let old = pyjwt(
        &json!({"exp": t + 600, "iat": t - 86_300, "iss": secret.id}),
        &secret,
    );
    let e = Endpoint::GetAlbum.event(Some(&bearer(&old)), Some(SOURCE));
    let (status, headers, text) = raw_parts(
        Endpoint::GetAlbum
            .call(&env.app, request(&e))
            .await
            .unwrap(),
    );
    assert_eq!(status, 200, "{text}");
    let renewed = x_token(&headers);
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            renewed.split('.').nth(1).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    // Never past the session's end, even though the presented token lasts longer.
    let exp = claims["exp"].as_i64().unwrap();
    assert!(
        exp <= t - 86_300 + 86_400,
        "renewed past the session: {claims}"
    );
    assert_eq!(claims["auth_time"], json!(t - 86_300));
    assert_eq!(claims["iss"], json!(secret.id));
    // A token valid for more than a day is refused outright.
    let long = pyjwt(&json!({"exp": t + 86_400 + 600, "iss": secret.id}), &secret);
    assert_eq!(get_album(&env.app, &long, SOURCE).await.0, 401);
}
