//! Forged and malformed credentials against every endpoint: each token is
//! sent to the duplicate endpoint and to every other API endpoint, in both
//! API Gateway payload formats; the webhook gets its own set (notification
//! tokens, signatures, timestamps). Every one is refused (401, or 404
//! where that is the right answer) with the contract's error shape, and the
//! table is unchanged afterwards, item for item.

use std::collections::BTreeMap;

use crate::support::security::*;
use crate::support::{
    JWT_SECRET, ORG, OTHER_ORG, OTHER_USER, SOURCE, TestEnv, USER, bearer, event, request,
    seed_album,
};
use crate::support::{integrator, tagging};
use album_api::auth;
use album_api::service::now;
use album_api::store::Store;
use album_api::store::jobs::Job;
use aws_sdk_dynamodb::types::AttributeValue;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

/// A user of the seed organization that is deleted before the tests.
const DELETED_USER: &str = "deleted-user-0001";
/// A job of the seed organization.
const JOB: &str = "job-seed-org";

/// The world the tokens are tried against.
struct World {
    env: TestEnv,
    store: Store,
    /// An image of the seed album.
    image: String,
    /// A valid cursor of the seed album's image listing.
    cursor: String,
    /// A tag of the seed organization.
    tag_id: String,
    /// An association of that tag with an image of the seed album.
    tag_image: String,
}

impl World {
    async fn new(tag: &str) -> Self {
        let env = TestEnv::new(tag).await;
        let store = env.direct_store().await;
        let images = seed_album(&store, SOURCE, ORG, 3).await;
        seed_album(&store, "theirs", OTHER_ORG, 2).await;
        store
            .create_job_if_absent(
                &Job {
                    ..Job::running(
                        JOB,
                        album_api::store::jobs::JobKind::Duplicate,
                        SOURCE,
                        "job_dest",
                        ORG,
                        USER,
                        3,
                    )
                },
                false,
                "2026-01-01T00:00:00.000Z",
            )
            .await
            .unwrap();
        // A user that existed, got tokens, and was deleted.
        store.put_user(DELETED_USER, ORG).await.unwrap();
        store
            .client()
            .delete_item()
            .table_name(store.table())
            .key("pk", AttributeValue::S(format!("U#{DELETED_USER}")))
            .key("sk", AttributeValue::S("U".into()))
            .send()
            .await
            .unwrap();
        // A real cursor, from a real listing.
        let mut e = Endpoint::ListImages.event(Some(&bearer(&env.token(USER, None))), Some(SOURCE));
        set_query(&mut e, &[("limit", "1")]);
        let resp = Endpoint::ListImages
            .call(&env.app, request(&e))
            .await
            .unwrap();
        let cursor = resp.headers()["x-next-cursor"]
            .to_str()
            .unwrap()
            .to_string();
        // A tag, and one of the seed album's images tagged with it.
        let admin = env.token(USER, None);
        let tag = tagging::create_tag(&env.app, &admin, "seed-tag").await;
        let tag_id = tag["id"].as_str().unwrap().to_string();
        let tagged = tagging::tag_images(&env.app, &admin, &tag_id, &[&images[1].id]).await;
        Self {
            image: images[0].id.clone(),
            tag_image: tagged[0]["id"].as_str().unwrap().to_string(),
            tag_id,
            env,
            store,
            cursor,
        }
    }

    /// A request to `ep` naming the seed organization's resources.
    fn event(&self, ep: Endpoint, authorization: Option<&str>, rest: bool) -> Value {
        let id = match ep {
            Endpoint::DeleteImage
            | Endpoint::GetImage
            | Endpoint::UpdateImage
            | Endpoint::RestoreTrashedImage
            | Endpoint::DuplicateImage
            | Endpoint::EmbedImage => Some(self.image.as_str()),
            Endpoint::DeleteImages
            | Endpoint::ListTrashedImages
            | Endpoint::QueryTagImages
            | Endpoint::MoveImages
            | Endpoint::CreateImport => None,
            Endpoint::GetImport => Some("no-such-import"),
            Endpoint::GetDuplication => Some(JOB),
            Endpoint::TagImages | Endpoint::ListTagImages => Some(self.tag_id.as_str()),
            Endpoint::DeleteTagImage => Some(self.tag_image.as_str()),
            _ => Some(SOURCE),
        };
        let mut e = ep.event(authorization, id);
        match ep {
            Endpoint::Duplicate => {
                set_body(&mut e, Some(b"destination_id=forged_dest"), false);
            }
            Endpoint::CreateTag => set_body(&mut e, Some(b"name=forged_tag"), false),
            Endpoint::UpdateImage => set_body(&mut e, Some(b"title=forged&rotation=90"), false),
            Endpoint::CreateImport => set_body(
                &mut e,
                Some(b"album_id=forged_import&url=https%3A%2F%2Fexample.org%2Fa.jpg"),
                false,
            ),
            Endpoint::MoveImages => set_body(
                &mut e,
                Some(format!("move_operations[{}]=forged_move", self.image).as_bytes()),
                false,
            ),
            Endpoint::DeleteImages => set_body(
                &mut e,
                Some(format!("image_ids[]={}", self.image).as_bytes()),
                false,
            ),
            Endpoint::TagImages => set_body(
                &mut e,
                Some(format!("image_ids[]={}", self.image).as_bytes()),
                false,
            ),
            Endpoint::UpdateAlbum => {
                set_body(&mut e, Some(b"album[public_id]=forged_rename"), false);
            }
            Endpoint::ListImages
            | Endpoint::ListAlbums
            | Endpoint::ListTags
            | Endpoint::ListTagImages => set_query(&mut e, &[("limit", "1")]),
            Endpoint::QueryTagImages => set_query(&mut e, &[("image_ids[]", &self.image)]),
            _ => {}
        }
        if matches!(
            ep,
            Endpoint::CreateTag
                | Endpoint::TagImages
                | Endpoint::UpdateAlbum
                | Endpoint::UpdateImage
                | Endpoint::DeleteImages
                | Endpoint::MoveImages
                | Endpoint::CreateImport
        ) {
            set_header(
                &mut e,
                "content-type",
                Some("application/x-www-form-urlencoded"),
            );
        }
        if rest { to_rest(&e) } else { e }
    }

    async fn send(
        &self,
        ep: Endpoint,
        event: &Value,
    ) -> (u16, lambda_http::http::HeaderMap, String) {
        raw_parts(ep.call(&self.env.app, request(event)).await.unwrap())
    }

    async fn snapshot(&self) -> BTreeMap<String, String> {
        table_snapshot(&self.store).await
    }
}

/// A user token's claims, valid now.
fn claims() -> Value {
    let t = now();
    json!({"exp": t + 3600, "iat": t, "user_id": USER, "abilities": {}})
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

/// Forged, malformed or misused API tokens, by name.
fn forged_api_tokens(world: &World) -> Vec<(&'static str, String)> {
    let t = now();
    let secret = JWT_SECRET.as_bytes();
    let hs = |alg: &str| json!({"typ": "JWT", "alg": alg});
    let valid = hs256(&claims());
    let (vh, vc, vs) = jwt_parts(&valid);
    let restricted = hs256(&with(
        claims(),
        "abilities",
        json!({SOURCE: {"Access": {"see": true}}}),
    ));
    let (rh, _, rs) = jwt_parts(&restricted);
    let other_valid = hs256(&with(claims(), "user_id", json!(OTHER_USER)));
    let (_, _, os) = jwt_parts(&other_valid);
    let signed_raw = |header_b64: &str, claims_b64: &str| {
        let input = format!("{header_b64}.{claims_b64}");
        let sig = jsonwebtoken::crypto::sign(
            input.as_bytes(),
            &jsonwebtoken::EncodingKey::from_secret(secret),
            Algorithm::HS256,
        )
        .unwrap();
        format!("{input}.{sig}")
    };
    let event_token = {
        let e = event("duplicate-album.json");
        auth::token_from_header(e["headers"]["authorization"].as_str().unwrap())
            .unwrap()
            .to_string()
    };
    vec![
        (
            "alg none, unsigned",
            format!("{}.{vc}.", b64url(hs("none").to_string())),
        ),
        (
            "alg none, keeping a valid signature",
            format!("{}.{vc}.{vs}", b64url(hs("none").to_string())),
        ),
        (
            "alg RS256 header, HMAC-signed with the secret",
            sign_jwt(&hs("RS256"), &claims(), secret, Algorithm::HS256),
        ),
        (
            "alg HS512, correctly HS512-signed with the secret",
            sign_jwt(&hs("HS512"), &claims(), secret, Algorithm::HS512),
        ),
        (
            "alg HS384, correctly HS384-signed with the secret",
            sign_jwt(&hs("HS384"), &claims(), secret, Algorithm::HS384),
        ),
        (
            "alg ES256 header, HMAC-signed with the secret",
            sign_jwt(&hs("ES256"), &claims(), secret, Algorithm::HS256),
        ),
        (
            "alg in lower case",
            sign_jwt(&hs("hs256"), &claims(), secret, Algorithm::HS256),
        ),
        (
            "signed with another key",
            sign_jwt(
                &hs("HS256"),
                &claims(),
                b"not-the-secret-0123456789",
                Algorithm::HS256,
            ),
        ),
        (
            "signed with an empty key",
            sign_jwt(&hs("HS256"), &claims(), b"", Algorithm::HS256),
        ),
        (
            "signed with the Cloudinary API secret",
            sign_jwt(
                &hs("HS256"),
                &claims(),
                CLD_SECRET.as_bytes(),
                Algorithm::HS256,
            ),
        ),
        (
            "the events/ sample token (signed with the local-only secret)",
            event_token,
        ),
        (
            "expired an hour ago",
            hs256(&with(claims(), "exp", json!(t - 3600))),
        ),
        (
            "expiring this very second",
            hs256(&with(claims(), "exp", json!(t))),
        ),
        (
            "issued an hour in the future (iat)",
            hs256(&with(claims(), "iat", json!(t + 3600))),
        ),
        (
            "not valid before an hour from now (nbf)",
            hs256(&with(claims(), "nbf", json!(t + 3600))),
        ),
        ("without exp", hs256(&without(claims(), "exp"))),
        (
            "exp as a string",
            hs256(&with(claims(), "exp", json!((t + 3600).to_string()))),
        ),
        (
            "exp as a fraction",
            hs256(&with(claims(), "exp", json!(t as f64 + 3600.5))),
        ),
        (
            "iat as a string",
            hs256(&with(claims(), "iat", json!(t.to_string()))),
        ),
        ("without user_id", hs256(&without(claims(), "user_id"))),
        (
            "user_id as a number",
            hs256(&with(claims(), "user_id", json!(42))),
        ),
        (
            "user_id as an object",
            hs256(&with(claims(), "user_id", json!({"id": USER}))),
        ),
        (
            "user_id empty",
            hs256(&with(claims(), "user_id", json!(""))),
        ),
        (
            "user_id over 128 characters",
            hs256(&with(claims(), "user_id", json!("u".repeat(129)))),
        ),
        (
            "abilities as a string",
            hs256(&with(claims(), "abilities", json!("admin"))),
        ),
        (
            "abilities with a non-boolean flag",
            hs256(&with(
                claims(),
                "abilities",
                json!({SOURCE: {"Access": {"see": "yes", "image_list": 1}}}),
            )),
        ),
        (
            "an audience on a user token",
            hs256(&with(claims(), "aud", json!("api"))),
        ),
        (
            "claims are a JSON array",
            sign_jwt(
                &hs("HS256"),
                &json!([USER, t + 3600]),
                secret,
                Algorithm::HS256,
            ),
        ),
        (
            "claims are not JSON",
            signed_raw(&b64url(hs("HS256").to_string()), &b64url("user_id=me")),
        ),
        (
            "header is not JSON",
            signed_raw(&b64url("{alg: HS256"), &vc),
        ),
        (
            "oversized (validly signed, over 8 KB)",
            hs256(&with(claims(), "pad", json!("x".repeat(9000)))),
        ),
        ("garbage base64", "!!!.@@@.###".into()),
        ("two segments", format!("{vh}.{vc}")),
        ("four segments", format!("{valid}.{vs}")),
        ("empty signature", format!("{vh}.{vc}.")),
        (
            "payload tampered to another user, original signature",
            format!(
                "{vh}.{}.{vs}",
                b64url(with(claims(), "user_id", json!(OTHER_USER)).to_string())
            ),
        ),
        (
            "abilities widened to admin, original signature",
            format!(
                "{rh}.{}.{rs}",
                b64url(with(claims(), "abilities", json!({"admin": true})).to_string())
            ),
        ),
        (
            "expiry extended, original signature",
            format!(
                "{vh}.{}.{vs}",
                b64url(with(claims(), "exp", json!(t + 86_400 * 365)).to_string())
            ),
        ),
        ("another valid token's signature", format!("{vh}.{vc}.{os}")),
        (
            "a notification token (webhook only)",
            auth::issue_notification_token(
                USER,
                SOURCE,
                ORG,
                &crate::support::security::notification_key(),
                t,
                3600,
            )
            .unwrap(),
        ),
        ("a pagination cursor", world.cursor.clone()),
        (
            "a token of an unknown user",
            hs256(&with(claims(), "user_id", json!("ghost-user"))),
        ),
        (
            "a token of a deleted user",
            hs256(&with(claims(), "user_id", json!(DELETED_USER))),
        ),
    ]
}

/// Malformed `Authorization` headers around an otherwise valid token.
fn malformed_headers(valid: &str) -> Vec<(&'static str, String)> {
    vec![
        ("the bare token, no scheme", valid.to_string()),
        ("Basic scheme", format!("Basic {valid}")),
        ("Token without token=", format!("Token {valid}")),
        ("Token token=\"\"", "Token token=\"\"".into()),
        ("Bearer alone", "Bearer".into()),
        ("Bearer and spaces", "Bearer    ".into()),
        ("unclosed quote", format!("Token token=\"{valid}")),
        ("trailing words", format!("Bearer {valid} extra")),
        ("two tokens", format!("Bearer {valid},{valid}")),
        (
            "JSON instead of a token",
            format!("Bearer {{\"user_id\":\"{USER}\"}}"),
        ),
    ]
}

/// `token` in the embeddable URL's `?token=`, in both formats: 401, the
/// contract's error with `Access-Control-Allow-Origin`.
async fn assert_refused_in_the_query(world: &World, name: &str, token: &str) {
    for rest in [false, true] {
        let e = embed_event(Some(token), &world.image, &[]);
        let e = if rest { to_rest(&e) } else { e };
        let (status, headers, text) = world.send(Endpoint::EmbedImage, &e).await;
        assert_eq!(
            status, 401,
            "{name}: ?token= (rest={rest}) answered {status}: {text}"
        );
        check_error_response(status, &headers, &text)
            .unwrap_or_else(|e| panic!("{name}: ?token= (rest={rest}): {e}"));
        assert_eq!(headers["access-control-allow-origin"], "*", "{name}");
    }
}

async fn assert_refused_everywhere(world: &World, name: &str, authorization: Option<&str>) {
    for ep in Endpoint::API {
        for rest in [false, true] {
            let (status, headers, text) =
                world.send(ep, &world.event(ep, authorization, rest)).await;
            let fmt = if rest { "REST 1.0" } else { "HTTP 2.0" };
            assert_eq!(
                status, 401,
                "{name}: {ep:?} ({fmt}) answered {status}: {text}"
            );
            check_error_response(status, &headers, &text)
                .unwrap_or_else(|e| panic!("{name}: {ep:?} ({fmt}): {e}"));
        }
    }
}

#[tokio::test]
async fn forged_and_malformed_tokens_are_401_everywhere_and_write_nothing() {
    let world = World::new("tokens").await;
    let before = world.snapshot().await;
    let tokens = forged_api_tokens(&world);
    assert!(tokens.len() >= 15);
    for (name, token) in &tokens {
        // As the seed sends it, and as a bearer token.
        assert_refused_everywhere(&world, name, Some(&bearer(token))).await;
        assert_refused_everywhere(&world, name, Some(&format!("Bearer {token}"))).await;
        assert_refused_in_the_query(&world, name, token).await;
        let after = world.snapshot().await;
        assert_eq!(before, after, "{name}: {}", snapshot_diff(&before, &after));
    }
    assert_refused_everywhere(&world, "no Authorization header", None).await;
    let valid = world.env.token(USER, None);
    for (name, header) in malformed_headers(&valid) {
        assert_refused_everywhere(&world, name, Some(&header)).await;
    }
    let after = world.snapshot().await;
    assert_eq!(before, after, "{}", snapshot_diff(&before, &after));

    // The same valid token still works: the refusals were about the forgeries.
    let (status, _, text) = world
        .send(
            Endpoint::GetAlbum,
            &world.event(Endpoint::GetAlbum, Some(&bearer(&valid)), false),
        )
        .await;
    assert_eq!(status, 200, "{text}");
}

#[tokio::test]
async fn forged_integrator_tokens_are_401_everywhere_and_write_nothing() {
    let world = World::new("iss-tokens").await;
    let ours = integrator::stored_secret(&world.store, ORG, false).await;
    let revoked = integrator::stored_secret(&world.store, ORG, true).await;
    let theirs = integrator::stored_secret(&world.store, OTHER_ORG, false).await;
    let before = world.snapshot().await;
    let tokens = integrator::forged_integrator_tokens(&ours, &revoked, &theirs);
    for (name, token) in &tokens {
        assert_refused_everywhere(&world, name, Some(&bearer(token))).await;
        assert_refused_everywhere(&world, name, Some(&format!("Bearer {token}"))).await;
        assert_refused_in_the_query(&world, name, token).await;
    }
    let after = world.snapshot().await;
    assert_eq!(before, after, "{}", snapshot_diff(&before, &after));
    // Our secret's own well-formed token works: the refusals were about the forgeries.
    let t = now();
    let good = sign_jwt(
        &json!({"typ": "JWT", "alg": "HS256"}),
        &json!({"exp": t + 600, "iss": ours.id}),
        ours.key.expose().as_bytes(),
        Algorithm::HS256,
    );
    let e = world.event(Endpoint::GetAlbum, Some(&bearer(&good)), false);
    let (status, _, text) = world.send(Endpoint::GetAlbum, &e).await;
    assert_eq!(status, 200, "{text}");
    let e = embed_event(Some(&good), &world.image, &[]);
    let (status, _, text) = world.send(Endpoint::EmbedImage, &e).await;
    assert_eq!(status, 302, "{text}");
}

#[tokio::test]
async fn another_organizations_user_cannot_reach_our_album() {
    let world = World::new("foreign").await;
    let before = world.snapshot().await;
    // Their own token, and one whose abilities name our album explicitly: the
    // organization comes from the table, so neither reaches it.
    let all = json!({"Access": {"see": true, "image_list": true, "image_upload": true, "image_delete": true, "rename": true}});
    let tokens = [
        world.env.token(OTHER_USER, None),
        world.env.token(OTHER_USER, Some(json!({"admin": true}))),
        world.env.token(
            OTHER_USER,
            Some(json!({SOURCE: all.clone(), "theirs": all, JOB: {"Access": {"see": true}}})),
        ),
    ];
    for token in &tokens {
        let auth = bearer(token);
        for rest in [false, true] {
            for ep in [
                Endpoint::Duplicate,
                Endpoint::GetAlbum,
                Endpoint::ListImages,
                Endpoint::DeleteImage,
                Endpoint::GetImage,
                Endpoint::UpdateImage,
                Endpoint::DuplicateImage,
                Endpoint::EmbedImage,
                Endpoint::GetDuplication,
                Endpoint::TagImages,
                Endpoint::ListTagImages,
                Endpoint::DeleteTagImage,
            ] {
                let (status, headers, text) =
                    world.send(ep, &world.event(ep, Some(&auth), rest)).await;
                assert_eq!(status, 404, "{ep:?} rest={rest}: {text}");
                check_error_response(status, &headers, &text).unwrap();
            }
            // Our image is in no trash of theirs: 404, or 401 for their
            // token without `trash`, decided from the token alone.
            let ep = Endpoint::RestoreTrashedImage;
            let (status, _, text) = world.send(ep, &world.event(ep, Some(&auth), rest)).await;
            assert!([401, 404].contains(&status), "restore, rest={rest}: {text}");
            // Our images are none of theirs to delete, and their trash
            // holds none of ours.
            for ep in [
                Endpoint::DeleteImages,
                Endpoint::QueryTagImages,
                Endpoint::MoveImages,
            ] {
                let (status, _, text) = world.send(ep, &world.event(ep, Some(&auth), rest)).await;
                assert_eq!((status, text.as_str()), (200, "[]"), "{ep:?}, rest={rest}");
            }
            let ep = Endpoint::ListTrashedImages;
            let (status, _, text) = world.send(ep, &world.event(ep, Some(&auth), rest)).await;
            assert!(
                (status, text.as_str()) == (200, "[]") || status == 401,
                "trash listing, rest={rest}: {status} {text}"
            );
            // Renaming an album we cannot see answers as renaming a missing
            // one does (SharinPix's `do_not_create_an_album`): 200, empty.
            let ep = Endpoint::UpdateAlbum;
            let (status, _, text) = world.send(ep, &world.event(ep, Some(&auth), rest)).await;
            assert_eq!((status, text.as_str()), (200, ""), "rename, rest={rest}");
            // Our tag's name means nothing in their organization.
            let mut e = Endpoint::ListTagImages.event(Some(&auth), Some("seed-tag"));
            if rest {
                e = to_rest(&e);
            }
            let (status, _, text) = world.send(Endpoint::ListTagImages, &e).await;
            assert_eq!(status, 404, "our tag by name, rest={rest}: {text}");
            // Their tag listing holds none of ours.
            let (status, _, text) = world
                .send(
                    Endpoint::ListTags,
                    &world.event(Endpoint::ListTags, Some(&auth), rest),
                )
                .await;
            assert_eq!((status, text.as_str()), (200, "[]"));
            // Their listing holds only their albums.
            let (status, _, text) = world
                .send(
                    Endpoint::ListAlbums,
                    &world.event(Endpoint::ListAlbums, Some(&auth), rest),
                )
                .await;
            assert_eq!(status, 200, "{text}");
            assert!(!text.contains(SOURCE), "our album listed to them: {text}");
            // Their album moved or duplicated onto our album's id makes
            // an album of theirs (decision 0014): org_album_ids proves it.
        }
    }
    let after = world.snapshot().await;
    assert_eq!(before, after, "{}", snapshot_diff(&before, &after));
}

#[tokio::test]
async fn a_token_restricted_to_other_albums_is_401_and_writes_nothing() {
    let world = World::new("restricted").await;
    let before = world.snapshot().await;
    let all = json!({"Access": {"see": true, "image_list": true, "image_upload": true, "image_delete": true, "rename": true}});
    let token = world
        .env
        .token(USER, Some(json!({"some_other_album": all})));
    let auth = bearer(&token);
    for rest in [false, true] {
        for ep in [
            Endpoint::Duplicate,
            Endpoint::CreateAlbum,
            Endpoint::GetAlbum,
            Endpoint::ListImages,
            Endpoint::DeleteImage,
            Endpoint::GetImage,
            Endpoint::UpdateImage,
            Endpoint::DeleteImages,
            Endpoint::ListTrashedImages,
            Endpoint::RestoreTrashedImage,
            Endpoint::DuplicateImage,
            Endpoint::MoveImages,
            Endpoint::EmbedImage,
            Endpoint::GetDuplication,
            Endpoint::TagImages,
            Endpoint::DeleteTagImage,
            Endpoint::UpdateAlbum,
        ] {
            let (status, headers, text) = world.send(ep, &world.event(ep, Some(&auth), rest)).await;
            assert_eq!(status, 401, "{ep:?} rest={rest}: {text}");
            assert_eq!(headers["x-message"], "Access denied", "{ep:?}");
            check_error_response(status, &headers, &text).unwrap();
        }
        let (status, _, text) = world
            .send(
                Endpoint::ListAlbums,
                &world.event(Endpoint::ListAlbums, Some(&auth), rest),
            )
            .await;
        assert_eq!((status, text.as_str()), (200, "[]"));
        // The tag's listing is filtered to the albums it may list: none.
        let (status, _, text) = world
            .send(
                Endpoint::ListTagImages,
                &world.event(Endpoint::ListTagImages, Some(&auth), rest),
            )
            .await;
        assert_eq!((status, text.as_str()), (200, "[]"));
    }
    let after = world.snapshot().await;
    assert_eq!(before, after, "{}", snapshot_diff(&before, &after));
}

#[tokio::test]
async fn abilities_naming_odd_album_ids_are_harmless() {
    // A validly signed token whose abilities name ids no album can have
    // (over DynamoDB's key size, empty, with separators): listing answers
    // normally, and nothing reaches those ids.
    let world = World::new("oddids").await;
    let see = json!({"Access": {"see": true, "image_list": true}});
    let token = world.env.token(
        USER,
        Some(json!({
            "a".repeat(3000): see.clone(),
            "": see.clone(),
            "A#x/../y": see.clone(),
            "🙂": see.clone(),
            SOURCE: see,
        })),
    );
    let auth = bearer(&token);
    let before = world.snapshot().await;
    for rest in [false, true] {
        let (status, _, text) = world
            .send(
                Endpoint::ListAlbums,
                &world.event(Endpoint::ListAlbums, Some(&auth), rest),
            )
            .await;
        assert_eq!(status, 200, "{text}");
        let mut e = Endpoint::ListAlbums.event(Some(&auth), None);
        set_query(&mut e, &[("limit", "100")]);
        let (status, _, text) = world.send(Endpoint::ListAlbums, &e).await;
        assert_eq!(status, 200, "{text}");
        let listed: Value = serde_json::from_str(&text).unwrap();
        let ids: Vec<&str> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec![SOURCE]);
    }
    let after = world.snapshot().await;
    assert_eq!(before, after, "{}", snapshot_diff(&before, &after));
}

/// Notification-token claims for the seed album, valid now.
fn notification_claims() -> Value {
    let t = now();
    json!({"user_id": USER, "album_id": SOURCE, "organization_id": ORG,
           "exp": t + 3600, "iat": t, "aud": auth::NOTIFICATION_AUDIENCE})
}

#[tokio::test]
async fn the_webhook_refuses_every_forged_delivery_and_writes_nothing() {
    let world = World::new("webhook").await;
    let t = now();
    // Notification tokens are signed with their own key (decision 0016).
    let note_key = crate::support::security::notification_key();
    let secret = note_key.expose().as_bytes();
    let hs = |alg: &str| json!({"typ": "JWT", "alg": alg});
    let hs256 = |claims: &Value| sign_jwt(&hs("HS256"), claims, secret, Algorithm::HS256);
    let good = hs256(&notification_claims());
    let (gh, _, gs) = jwt_parts(&good);
    let (_, body) = upload_notification(SOURCE, 1, t - 60);
    let event_token = event("cloudinary-notification.json")["queryStringParameters"]["token"]
        .as_str()
        .unwrap()
        .to_string();

    // Bad notification tokens, on a correctly signed delivery.
    let tokens: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("empty token", Some(String::new())),
        ("a user API token", Some(world.env.token(USER, None))),
        ("a pagination cursor", Some(world.cursor.clone())),
        (
            "signed with another key",
            Some(sign_jwt(
                &hs("HS256"),
                &notification_claims(),
                b"not-the-secret-0123456789",
                Algorithm::HS256,
            )),
        ),
        (
            "signed with JWT_SECRET, the key of user tokens",
            Some(sign_jwt(
                &hs("HS256"),
                &notification_claims(),
                JWT_SECRET.as_bytes(),
                Algorithm::HS256,
            )),
        ),
        (
            "signed with the Cloudinary secret",
            Some(sign_jwt(
                &hs("HS256"),
                &notification_claims(),
                CLD_SECRET.as_bytes(),
                Algorithm::HS256,
            )),
        ),
        (
            "expired",
            Some(hs256(&with(notification_claims(), "exp", json!(t - 10)))),
        ),
        (
            "alg none",
            Some(format!(
                "{}.{}.",
                b64url(hs("none").to_string()),
                b64url(notification_claims().to_string())
            )),
        ),
        (
            "alg HS512",
            Some(sign_jwt(
                &hs("HS512"),
                &notification_claims(),
                secret,
                Algorithm::HS512,
            )),
        ),
        (
            "another audience",
            Some(hs256(&with(notification_claims(), "aud", json!("api")))),
        ),
        (
            "audience as a list",
            Some(hs256(&with(
                notification_claims(),
                "aud",
                json!([auth::NOTIFICATION_AUDIENCE]),
            ))),
        ),
        (
            "no audience",
            Some(hs256(&without(notification_claims(), "aud"))),
        ),
        (
            "no album_id",
            Some(hs256(&without(notification_claims(), "album_id"))),
        ),
        (
            "album_id as a number",
            Some(hs256(&with(notification_claims(), "album_id", json!(7)))),
        ),
        (
            "no organization_id",
            Some(hs256(&without(notification_claims(), "organization_id"))),
        ),
        (
            "issued in the future",
            Some(hs256(&with(notification_claims(), "iat", json!(t + 3600)))),
        ),
        (
            "album tampered, original signature",
            Some(format!(
                "{gh}.{}.{gs}",
                b64url(with(notification_claims(), "album_id", json!("theirs")).to_string())
            )),
        ),
        (
            "the events/ sample notification token (local-only secret)",
            Some(event_token),
        ),
        ("garbage", Some("not.a.token".into())),
        (
            "oversized",
            Some(hs256(&with(
                notification_claims(),
                "pad",
                json!("x".repeat(9000)),
            ))),
        ),
    ];
    let before = world.snapshot().await;
    for (name, token) in &tokens {
        for rest in [false, true] {
            let e = signed_webhook_event(token.as_deref(), &body);
            let e = if rest { to_rest(&e) } else { e };
            let (status, headers, text) = world.send(Endpoint::Webhook, &e).await;
            assert_eq!(status, 401, "{name} rest={rest}: {text}");
            check_error_response(status, &headers, &text).unwrap();
        }
    }

    // A good token, bad signatures and timestamps.
    let now_s = t.to_string();
    let sig = |body: &str, ts: &str, secret: &str| cld_signature(body.as_bytes(), ts, secret);
    let stale = (t - 3 * 3600).to_string();
    let future = (t + 3600).to_string();
    let cases: Vec<(&str, Option<String>, Option<String>)> = vec![
        ("no signature", Some(now_s.clone()), None),
        ("no timestamp", None, Some(sig(&body, &now_s, CLD_SECRET))),
        ("empty signature", Some(now_s.clone()), Some(String::new())),
        (
            "signed with another secret",
            Some(now_s.clone()),
            Some(sig(&body, &now_s, "not-s3cr3t")),
        ),
        (
            "signed with the JWT secret",
            Some(now_s.clone()),
            Some(sig(&body, &now_s, JWT_SECRET)),
        ),
        (
            "signature of another body",
            Some(now_s.clone()),
            Some(sig("{}", &now_s, CLD_SECRET)),
        ),
        (
            "signature without the timestamp",
            Some(now_s.clone()),
            Some(sig(&body, "", CLD_SECRET)),
        ),
        (
            "signature of another timestamp",
            Some(now_s.clone()),
            Some(sig(&body, &(t - 1).to_string(), CLD_SECRET)),
        ),
        (
            "stale (3 h old), correctly signed",
            Some(stale.clone()),
            Some(sig(&body, &stale, CLD_SECRET)),
        ),
        (
            "an hour in the future, correctly signed",
            Some(future.clone()),
            Some(sig(&body, &future, CLD_SECRET)),
        ),
        (
            "timestamp not a number",
            Some("yesterday".into()),
            Some(sig(&body, "yesterday", CLD_SECRET)),
        ),
        (
            "timestamp in milliseconds",
            Some((t * 1000).to_string()),
            Some(sig(&body, &(t * 1000).to_string(), CLD_SECRET)),
        ),
        (
            "SHA-256 length garbage",
            Some(now_s.clone()),
            Some("ab".repeat(32)),
        ),
    ];
    for (name, ts, signature) in &cases {
        for rest in [false, true] {
            let e = webhook_event(Some(&good), &body, ts.as_deref(), signature.as_deref());
            let e = if rest { to_rest(&e) } else { e };
            let (status, headers, text) = world.send(Endpoint::Webhook, &e).await;
            assert_eq!(status, 401, "{name} rest={rest}: {text}");
            check_error_response(status, &headers, &text).unwrap();
        }
    }

    // Validly signed tokens naming an album they cannot write to: 404.
    let misdirected = [
        (
            "another organization's album, claiming ours",
            hs256(&with(notification_claims(), "album_id", json!("theirs"))),
        ),
        (
            "our album, claiming another organization",
            hs256(&with(
                notification_claims(),
                "organization_id",
                json!(OTHER_ORG),
            )),
        ),
        (
            "an album that does not exist (deleted)",
            hs256(&with(
                notification_claims(),
                "album_id",
                json!("gone_album"),
            )),
        ),
    ];
    for (name, token) in &misdirected {
        for rest in [false, true] {
            let e = signed_webhook_event(Some(token), &body);
            let e = if rest { to_rest(&e) } else { e };
            let (status, headers, text) = world.send(Endpoint::Webhook, &e).await;
            assert_eq!(status, 404, "{name} rest={rest}: {text}");
            check_error_response(status, &headers, &text).unwrap();
        }
    }
    let after = world.snapshot().await;
    assert_eq!(before, after, "{}", snapshot_diff(&before, &after));

    // The good token and signature are accepted: the refusals were real.
    let (status, _, text) = world
        .send(Endpoint::Webhook, &signed_webhook_event(Some(&good), &body))
        .await;
    assert_eq!(status, 201, "{text}");
}

#[tokio::test]
async fn a_replayed_delivery_creates_nothing_twice() {
    let world = World::new("replay").await;
    let token = auth::issue_notification_token(
        USER,
        SOURCE,
        ORG,
        &crate::support::security::notification_key(),
        now(),
        3600,
    )
    .unwrap();
    let (asset, body) = upload_notification(SOURCE, 7, now() - 30);
    let delivery = signed_webhook_event(Some(&token), &body);
    let (status, _, text) = world.send(Endpoint::Webhook, &delivery).await;
    assert_eq!((status, text.as_str()), (201, ""));
    let keys = |s: &BTreeMap<String, String>| s.keys().cloned().collect::<Vec<_>>();
    let first = world.snapshot().await;
    assert!(
        first
            .keys()
            .any(|k| k.ends_with(&upload_image_id(SOURCE, &asset))),
        "the upload was recorded"
    );
    // Cloudinary retries the very same delivery, in both formats, and a
    // later re-signed one: each is 201 and adds nothing.
    for e in [
        delivery.clone(),
        to_rest(&delivery),
        signed_webhook_event(Some(&token), &body),
    ] {
        let (status, _, text) = world.send(Endpoint::Webhook, &e).await;
        assert_eq!((status, text.as_str()), (201, ""));
        assert_eq!(keys(&world.snapshot().await), keys(&first));
    }
    assert_eq!(
        world
            .store
            .count_images(&crate::support::key(SOURCE))
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        world
            .store
            .get_album(&crate::support::key(SOURCE))
            .await
            .unwrap()
            .unwrap()
            .images_count,
        4
    );
}
