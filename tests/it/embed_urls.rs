//! Embeddable image URLs (`GET /images/{image_id}`, decision 0019) between
//! tenants and against hostile tokens: another organization's token, a
//! token restricted to another album or without `image_list`, overlays
//! naming images out of reach, and `transformations` claims or query
//! parameters that try to put more into the signed URL than the
//! allow-list lets through. Each is refused (404, 401 or 422, the JSON
//! error with `Access-Control-Allow-Origin`) or the URL holds exactly the
//! allowed steps; nothing is written.

use album_api::api_secrets::ApiSecret;
use album_api::service::now;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use crate::support::calls::{Resp, call};
use crate::support::security::{
    Endpoint, check_error_response, embed_event, set_header, sign_jwt, snapshot_diff,
    table_snapshot,
};
use crate::support::{
    ORG, OTHER_ORG, OTHER_USER, SOURCE, TestEnv, USER, bearer, integrator, seed_album,
};

/// An album of ours the tokens below may not list.
const PRIVATE: &str = "private_album";

struct World {
    env: TestEnv,
    /// An image of [`SOURCE`], and another with its asset's public id.
    ours: String,
    second: String,
    second_asset: String,
    /// An image of [`PRIVATE`].
    private: String,
    /// An image of another organization's album.
    theirs: String,
    /// The asset public id of their image.
    their_asset: String,
    our_secret: ApiSecret,
    their_secret: ApiSecret,
}

impl World {
    async fn new(tag: &str) -> Self {
        let env = TestEnv::new(tag).await;
        let store = env.direct_store().await;
        let ours = seed_album(&store, SOURCE, ORG, 2).await;
        let private = seed_album(&store, PRIVATE, ORG, 1).await;
        let theirs = seed_album(&store, "theirs", OTHER_ORG, 1).await;
        Self {
            our_secret: integrator::stored_secret(&store, ORG, false).await,
            their_secret: integrator::stored_secret(&store, OTHER_ORG, false).await,
            ours: ours[0].id.clone(),
            second: ours[1].id.clone(),
            second_asset: ours[1].record.asset_public_id.clone(),
            private: private[0].id.clone(),
            their_asset: theirs[0].record.asset_public_id.clone(),
            theirs: theirs[0].id.clone(),
            env,
        }
    }

    /// A token of `secret` with `claims` (plus `iss` and `exp`).
    fn token(secret: &ApiSecret, claims: Value) -> String {
        let mut claims = claims;
        claims["iss"] = Value::from(secret.id.as_str());
        claims["exp"] = Value::from(now() + 600);
        sign_jwt(
            &json!({"typ": "JWT", "alg": "HS256"}),
            &claims,
            secret.key.expose().as_bytes(),
            Algorithm::HS256,
        )
    }

    fn ours(&self, claims: Value) -> String {
        Self::token(&self.our_secret, claims)
    }

    async fn get(&self, token: Option<&str>, id: &str, query: &[(&str, &str)]) -> Resp {
        call(
            &self.env.app,
            Endpoint::EmbedImage,
            &embed_event(token, id, query),
        )
        .await
    }
}

/// A refusal: `status`, the JSON error contract, `Access-Control-Allow-Origin`.
fn refused(r: &Resp, status: u16, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.text);
    check_error_response(r.status, &r.headers, &r.text).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"), "{what}");
}

/// The transformation chain of a 302's `Location` (between the signature
/// and the version).
fn chain(r: &Resp, what: &str) -> String {
    assert_eq!(r.status, 302, "{what}: {}", r.text);
    assert!(r.text.is_empty(), "{what}: a body {}", r.text);
    assert!(r.header("x-token").is_none(), "{what}: X-token on a 302");
    assert_eq!(r.header("access-control-allow-origin"), Some("*"), "{what}");
    let url = r.header("location").expect("a Location");
    assert!(
        url.starts_with("https://res.cloudinary.com/sadaasdasd/image/authenticated/s--"),
        "{what}: {url}"
    );
    let after = url.split_once("--/").unwrap().1;
    after.rsplit_once("/v").unwrap().0.to_string()
}

const BASE: &str = "c_fit,h_1920,w_1920/fl_attachment/dpr_auto,q_auto,f_auto";

#[tokio::test]
async fn an_embeddable_url_shows_only_what_the_token_may_list_in_its_organization() {
    let w = World::new("embed-tenants").await;
    let before = table_snapshot(&w.env.direct_store().await).await;

    // Another organization's tokens, user or integrator, naming our image
    // in the path or in `image_id`: as if it did not exist.
    let their_user = w.env.token(OTHER_USER, None);
    let their_admin = w.env.token(OTHER_USER, Some(json!({"admin": true})));
    let their_integrator = World::token(&w.their_secret, json!({"image_id": w.ours}));
    for (what, token) in [
        ("their user", &their_user),
        ("their admin", &their_admin),
        ("their integrator token naming our image", &their_integrator),
    ] {
        refused(&w.get(Some(token), &w.ours, &[]).await, 404, what);
    }
    // In the header too.
    let mut e = embed_event(None, &w.ours, &[]);
    set_header(&mut e, "authorization", Some(&bearer(&their_user)));
    refused(
        &call(&w.env.app, Endpoint::EmbedImage, &e).await,
        404,
        "their user, header",
    );
    // Our token naming their image: not ours to find.
    let naming_theirs = w.ours(json!({"image_id": w.theirs}));
    refused(
        &w.get(Some(&naming_theirs), &w.ours, &[]).await,
        404,
        "our token naming their image",
    );

    // A token restricted to another album, or that may only `see` ours:
    // SharinPix's 401 with X-message.
    let all = json!({"Access": {"see": true, "image_list": true, "image_upload": true}});
    let elsewhere = w.ours(json!({"abilities": {"some_other_album": all}}));
    let see_only = w.ours(json!({"abilities": {SOURCE: {"Access": {"see": true}}}}));
    for (what, token) in [
        ("restricted to another album", &elsewhere),
        ("see without image_list", &see_only),
    ] {
        let r = w.get(Some(token), &w.ours, &[]).await;
        refused(&r, 401, what);
        assert_eq!(r.header("x-message"), Some("Access denied"), "{what}");
    }

    // Overlays: their image, one of ours in an album the token may not
    // list, and one that does not exist answer the same 422; our own in
    // the listed album is laid as its asset.
    let lister = json!({SOURCE: {"Access": {"image_list": true}}});
    let overlay = |id: &str| {
        w.ours(json!({
            "abilities": lister,
            "transformations": [{"overlay": id, "width": 100}]
        }))
    };
    let mut messages = Vec::new();
    for (what, id) in [
        ("their image", w.theirs.as_str()),
        ("our image the token may not list", w.private.as_str()),
        ("no image", "no-such-image"),
    ] {
        let r = w.get(Some(&overlay(id)), &w.ours, &[]).await;
        refused(&r, 422, what);
        messages.push(r.json["error"]["message"].as_str().unwrap().to_string());
        assert!(!r.text.contains(&w.their_asset), "{what}: {}", r.text);
    }
    assert!(
        messages.iter().all(|m| *m == messages[0]),
        "the refusals tell nothing apart: {messages:?}"
    );
    let r = w.get(Some(&overlay(&w.second)), &w.ours, &[]).await;
    assert_eq!(
        chain(&r, "our overlay"),
        format!("{BASE}/l_authenticated:{},w_100", w.second_asset)
    );
    // With image_list on both albums, the private album's image too.
    let both = w.ours(json!({
        "abilities": {SOURCE: {"Access": {"image_list": true}}, PRIVATE: {"Access": {"image_list": true}}},
        "transformations": [{"overlay": w.private}]
    }));
    let r = w.get(Some(&both), &w.ours, &[]).await;
    assert!(chain(&r, "listed overlay").starts_with(&format!("{BASE}/l_authenticated:")));

    let after = table_snapshot(&w.env.direct_store().await).await;
    assert_eq!(before, after, "{}", snapshot_diff(&before, &after));
}

#[tokio::test]
async fn hostile_transformations_are_refused_or_ignored_and_never_reach_the_url() {
    let w = World::new("embed-hostile").await;
    let before = table_snapshot(&w.env.direct_store().await).await;
    // Refused: each names the parameter.
    let refusals: Vec<(Value, &str)> = vec![
        (json!([{"width": "100/e_blur"}]), "transformations[0].width"),
        (json!([{"width": "100,e_blur"}]), "transformations[0].width"),
        (json!([{"width": 5000}]), "transformations[0].width"),
        (json!([{"width": -1}]), "transformations[0].width"),
        (json!([{"width": 1.5}]), "transformations[0].width"),
        (json!([{"height": [100]}]), "transformations[0].height"),
        (
            json!([{"crop": "fit,e_blur", "width": 10}]),
            "transformations[0].crop",
        ),
        (
            json!([{"crop": "fit/e_blur", "width": 10}]),
            "transformations[0].crop",
        ),
        (
            json!([{"gravity": "south/e_blur"}]),
            "transformations[0].gravity",
        ),
        (json!([{"angle": "90/e_blur"}]), "transformations[0].angle"),
        (json!([{"x": "1,e_blur"}]), "transformations[0].x"),
        (
            json!([{"flags": "tiled/e_blur"}]),
            "transformations[0].flags",
        ),
        (json!([{"flags": "attachment"}]), "transformations[0].flags"),
        (
            json!([{"overlay": "authenticated:0a0a0a0a0a0a"}]),
            "transformations[0].overlay",
        ),
        (
            json!([{"overlay": "text:Arial_20:a%2Fe_blur"}]),
            "transformations[0].overlay",
        ),
        (
            json!([{"overlay": "text:Arial_20:a%2ce_blur"}]),
            "transformations[0].overlay",
        ),
        (
            json!([{"overlay": "text:Arial_20:a/b"}]),
            "transformations[0].overlay",
        ),
        (
            json!([{"overlay": "text:Arial/20:ab"}]),
            "transformations[0].overlay",
        ),
        (json!([{}, {"width": 0}]), "transformations[1].width"),
        (json!([{}, {}, {}, {}, {}, {}]), "transformations"),
        (json!({"width": 10}), "transformations"),
        (json!(["w_10"]), "transformations[0]"),
    ];
    for (steps, name) in &refusals {
        let token = w.ours(json!({"transformations": steps}));
        let r = w.get(Some(&token), &w.ours, &[]).await;
        refused(&r, 422, &steps.to_string());
        let message = r.json["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(name), "{steps}: {message}");
    }
    // Four image overlays: refused before any is looked up.
    let four: Vec<Value> = (0..4).map(|_| json!({"overlay": w.second})).collect();
    let r = w
        .get(
            Some(&w.ours(json!({"transformations": four}))),
            &w.ours,
            &[],
        )
        .await;
    refused(&r, 422, "four overlays");
    // The query's step: the same rules.
    let plain = w.ours(json!({}));
    for query in [
        vec![("width", "100/e_blur")],
        vec![("width", "100,e_blur")],
        vec![("width", "0")],
        vec![("height", "1921")],
        vec![("crop", "fit")],
        vec![("width", "10"), ("crop", "fit/e_blur")],
        vec![("width", "")],
    ] {
        let r = w.get(Some(&plain), &w.ours, &query).await;
        refused(&r, 422, &format!("{query:?}"));
    }
    // Ignored: keys off the allow-list, whatever they hold; `tiled` without
    // an overlay; `null`s.
    let ignored = w.ours(json!({"transformations": [
        {"width": 100, "effect": "blur/e_pixelate,l_x", "raw_transformation": "e_x/e_y", "flags": "tiled"},
        {"height": null, "unknown": {"nested": "/,"}},
        {"overlay": "text:Arial_20:a%252Cb", "gravity": "south"}
    ]}));
    let r = w
        .get(
            Some(&ignored),
            &w.ours,
            &[("width", "50"), ("crop", "fill"), ("effect", "blur")],
        )
        .await;
    assert_eq!(
        chain(&r, "ignored keys"),
        format!("{BASE}/w_100/g_south,l_text:Arial_20:a%252Cb/c_fill,w_50")
    );
    let after = table_snapshot(&w.env.direct_store().await).await;
    assert_eq!(before, after, "{}", snapshot_diff(&before, &after));
}

#[tokio::test]
async fn the_token_comes_in_the_query_or_the_header_which_wins() {
    let w = World::new("embed-credentials").await;
    let user = w.env.token(USER, None);
    let id = w.ours.as_str();
    // A user token, in the query or the header.
    assert_eq!(chain(&w.get(Some(&user), id, &[]).await, "query"), BASE);
    let mut e = embed_event(None, id, &[]);
    set_header(&mut e, "authorization", Some(&bearer(&user)));
    let r = call(&w.env.app, Endpoint::EmbedImage, &e).await;
    assert_eq!(chain(&r, "header"), BASE);
    // The header wins: a bad one is refused whatever the query holds, a
    // good one answers whatever the query holds.
    let mut e = embed_event(Some(&user), id, &[]);
    set_header(&mut e, "authorization", Some("Bearer not.a.token"));
    refused(
        &call(&w.env.app, Endpoint::EmbedImage, &e).await,
        401,
        "bad header, good query",
    );
    let mut e = embed_event(Some("not.a.token"), id, &[]);
    set_header(&mut e, "authorization", Some(&bearer(&user)));
    assert_eq!(
        chain(
            &call(&w.env.app, Endpoint::EmbedImage, &e).await,
            "good header"
        ),
        BASE
    );
    // Without a token, with an empty one, an expired one, a notification
    // token, a token tampered to name another image: 401.
    let expired = album_api::auth::issue_user_token(
        USER,
        None,
        &crate::support::security::jwt_secret(),
        now() - 7200,
        60,
    )
    .unwrap();
    let notification = album_api::auth::issue_notification_token(
        USER,
        SOURCE,
        ORG,
        &crate::support::security::notification_key(),
        now(),
        3600,
    )
    .unwrap();
    let naming = w.ours(json!({"image_id": w.ours}));
    let (h, _, s) = crate::support::security::jwt_parts(&naming);
    let tampered = format!(
        "{h}.{}.{s}",
        crate::support::security::b64url(
            json!({"iss": w.our_secret.id, "exp": now() + 600, "image_id": w.second}).to_string()
        )
    );
    for (what, token) in [
        ("none", None),
        ("empty", Some("")),
        ("expired", Some(expired.as_str())),
        ("a notification token", Some(notification.as_str())),
        ("tampered image_id", Some(tampered.as_str())),
    ] {
        refused(&w.get(token, id, &[]).await, 401, what);
    }
}
