//! SharinPix's recorded examples of the routes we serve, replayed: each
//! fixture of `tests/it/fixtures/sharinpix/` (a copy of SharinPix's
//! `api/<resource>/<name>.json`) seeds what its example needs, sends the
//! example's request (its token's claims, path, query and body) through
//! our handler as an API Gateway event, and checks the documented status,
//! `X-message` and the documented body's keys and JSON types; for the
//! embeddable URLs (`image/*`), the documented `Location` step for step.
//!
//! Left out: `image_api/image_delete_ability_*` and
//! `image_api/image_delete_is_true_for_another_album`, whose search tokens
//! (`q`, no `exp`) we do not serve, and `trashed_images/return_unauthorized_error`,
//! an integrator token with `abilities: {}`, which grants every album here
//! (README, Differences from SharinPix).

use album_api::store::StoredImage;
use album_api::store::tags::TagFlags;
use serde_json::Value;

use crate::support::calls::{Resp, call};
use crate::support::integrator;
use crate::support::security::{
    CLD_SECRET, Endpoint, check_error_response, embed_event, signed_webhook_event,
};
use crate::support::sharinpix::Example;
use crate::support::tagging::tag_images;
use crate::support::{ORG, TestEnv, seed_album};

const NOW: &str = "2019-04-08T17:38:45Z";

/// Creates tag `name` as stored (not slugged), with `flags`; its id.
async fn seed_tag(env: &TestEnv, name: &str, flags: TagFlags) -> String {
    let store = env.direct_store().await;
    let (tag, _) = store
        .create_tag_as(ORG, name, name, flags, NOW)
        .await
        .unwrap();
    tag.id
}

/// Seeds album `id` with `n` images; their ids.
async fn seed(env: &TestEnv, id: &str, n: u64) -> Vec<String> {
    let store = env.direct_store().await;
    seed_album(&store, id, ORG, n)
        .await
        .into_iter()
        .map(|i| i.id)
        .collect()
}

/// The image ids of a form body `image_ids[]=…&…`, in order.
fn form_image_ids(ex: &Example) -> Vec<String> {
    let body = ex.body.as_deref().unwrap_or_default();
    serde_urlencoded::from_str::<Vec<(String, String)>>(body)
        .unwrap()
        .into_iter()
        .map(|(_, v)| v)
        .collect()
}

fn images_count(r: &Resp) -> u64 {
    r.json["images_count"].as_u64().expect("images_count")
}

#[tokio::test]
async fn album_create_an_album() {
    let ex = Example::load("album/create_an_album");
    let env = ex.env("sp-create-album").await;
    let r = ex
        .replay(
            &env,
            Endpoint::CreateAlbum,
            &ex.event(Endpoint::CreateAlbum, None, &[]),
        )
        .await;
    assert_eq!(images_count(&r), 0);
}

/// A rename of an album holding nothing, with `rename` alone.
async fn rename(name: &str, album: &str, tag: &str) {
    let ex = Example::load(name);
    let env = ex.env(tag).await;
    seed(&env, album, 0).await;
    let e = ex.event(Endpoint::UpdateAlbum, Some(album), &[]);
    let r = replay_without_see(&ex, &env, Endpoint::UpdateAlbum, &e).await;
    assert_eq!(r.json["id"], ex.json["id"], "{name}");
}

/// SharinPix answers the full album JSON to a token without `see` (its
/// examples' tokens hold `rename` alone); ours answers only `id` and
/// `images_count` (README, Differences from SharinPix): the documented
/// status, those two keys with the documented types, and nothing else.
async fn replay_without_see(ex: &Example, env: &TestEnv, ep: Endpoint, e: &Value) -> Resp {
    let r = call(&env.app, ep, e).await;
    assert_eq!(r.status, ex.status, "{}: {}", ex.name, r.text);
    let keys: Vec<&String> = r.json.as_object().expect("a JSON object").keys().collect();
    assert_eq!(keys, ["id", "images_count"], "{}: {}", ex.name, r.text);
    let reduced = serde_json::json!({"id": ex.json["id"], "images_count": ex.json["images_count"]});
    crate::support::sharinpix::assert_keys(&ex.name, &r.json, &reduced);
    r
}

#[tokio::test]
async fn album_rename_an_album() {
    rename("album/rename_an_album", "00100000123BB23", "sp-rename").await;
}

#[tokio::test]
async fn album_rename_takes_place() {
    rename("album/rename_takes_place", "00100000123BB31", "sp-rename-2").await;
}

#[tokio::test]
async fn album_destination_album_does_not_exist() {
    rename(
        "album/destination_album_does_not_exist",
        "00100000123BB34",
        "sp-merge-absent",
    )
    .await;
}

#[tokio::test]
async fn album_do_not_create_an_album() {
    let ex = Example::load("album/do_not_create_an_album");
    let env = ex.env("sp-rename-missing").await;
    let e = ex.event(Endpoint::UpdateAlbum, Some("idonotexists"), &[]);
    ex.replay(&env, Endpoint::UpdateAlbum, &e).await;
    let store = env.direct_store().await;
    assert!(
        store
            .get_album(&crate::support::key("new_id"))
            .await
            .unwrap()
            .is_none(),
        "nothing created"
    );
}

#[tokio::test]
async fn album_moving_images_from_source_album_to_destination_album() {
    let ex = Example::load("album/moving_images_from_source_album_to_destination_album");
    let env = ex.env("sp-merge").await;
    seed(&env, "00100000123BB36", 5).await;
    seed(&env, "00100000123BB38", 5).await;
    let e = ex.event(Endpoint::UpdateAlbum, Some("00100000123BB36"), &[]);
    let r = replay_without_see(&ex, &env, Endpoint::UpdateAlbum, &e).await;
    assert_eq!(images_count(&r), images_count_documented(&ex));
}

fn images_count_documented(ex: &Example) -> u64 {
    ex.json["images_count"]
        .as_u64()
        .expect("documented images_count")
}

/// A duplicate of album `source`, seeded with the documented count.
async fn duplicate(name: &str, source: &str, tag: &str) -> (TestEnv, Vec<String>) {
    let ex = Example::load(name);
    let env = ex.env(tag).await;
    let ids = seed(&env, source, images_count_documented(&ex)).await;
    let e = ex.event(Endpoint::Duplicate, Some(source), &[]);
    let r = ex.replay(&env, Endpoint::Duplicate, &e).await;
    assert_eq!(r.json["id"], "new_id");
    assert_eq!(images_count(&r), images_count_documented(&ex));
    (env, ids)
}

#[tokio::test]
async fn album_duplicate_an_album() {
    duplicate("album/duplicate_an_album", "00100000123BB44", "sp-dup").await;
}

#[tokio::test]
async fn album_duplicate_an_album_with_einstein_boxes() {
    let name = "album/duplicate_an_album_with_einstein_boxes";
    duplicate(name, "00100000123BB46", "sp-dup-boxes").await;
}

#[tokio::test]
async fn album_duplicate_an_album_with_tags() {
    let name = "album/duplicate_an_album_with_tags";
    let ex = Example::load(name);
    let env = ex.env("sp-dup-tags").await;
    let ids = seed(&env, "00100000123BB48", images_count_documented(&ex)).await;
    let admin = env.token(ex.user(), None);
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    tag_images(
        &env.app,
        &admin,
        &seed_tag_default(&env, "kept").await,
        &ids,
    )
    .await;
    let e = ex.event(Endpoint::Duplicate, Some("00100000123BB48"), &[]);
    let r = ex.replay(&env, Endpoint::Duplicate, &e).await;
    assert_eq!(images_count(&r), images_count_documented(&ex));
}

async fn seed_tag_default(env: &TestEnv, name: &str) -> String {
    seed_tag(env, name, TagFlags::default()).await
}

#[tokio::test]
async fn album_listing_albums() {
    let ex = Example::load("album/listing_albums");
    let env = ex.env("sp-list-albums").await;
    seed(&env, "00100000123BB54", 1).await;
    let e = ex.event(Endpoint::ListAlbums, None, &[]);
    let r = ex.replay(&env, Endpoint::ListAlbums, &e).await;
    assert!(!r.array().is_empty());
}

#[tokio::test]
async fn album_retrieve_an_album() {
    let ex = Example::load("album/retrieve_an_album");
    let env = ex.env("sp-get-album").await;
    seed(&env, "00100000123BB56", 1).await;
    let e = ex.event(Endpoint::GetAlbum, Some("00100000123BB56"), &[]);
    let r = ex.replay(&env, Endpoint::GetAlbum, &e).await;
    assert_eq!(images_count(&r), 1);
}

#[tokio::test]
async fn image_api_delete_an_image() {
    let ex = Example::load("image_api/delete_an_image");
    let env = ex.env("sp-delete-image").await;
    let ids = seed(&env, "00100000123BB160", 1).await;
    let e = ex.event(Endpoint::DeleteImage, Some(&ids[0]), &[]);
    ex.replay(&env, Endpoint::DeleteImage, &e).await;
}

#[tokio::test]
async fn image_api_retrieve_an_image() {
    let ex = Example::load("image_api/retrieve_an_image");
    let env = ex.env("sp-get-image").await;
    let ids = seed(&env, "00100000123BB156", 1).await;
    let e = ex.event(Endpoint::GetImage, Some(&ids[0]), &[]);
    let r = ex.replay(&env, Endpoint::GetImage, &e).await;
    assert_eq!(r.json["id"], ids[0].as_str());
    assert_eq!(r.json["album_id"], "00100000123BB156");
}

/// `PUT /api/v1/images/{id}` as example `name` records it, on a one-image
/// album `album`: the updated image JSON, also what a read answers next.
async fn update_image(name: &str, album: &str, tag: &str) -> Resp {
    let ex = Example::load(name);
    let env = ex.env(tag).await;
    let ids = seed(&env, album, 1).await;
    let e = ex.event(Endpoint::UpdateImage, Some(&ids[0]), &[]);
    let r = ex.replay(&env, Endpoint::UpdateImage, &e).await;
    for key in [
        "title",
        "description",
        "rotation",
        "crop_x",
        "crop_y",
        "crop_w",
        "crop_h",
        "width",
        "height",
    ] {
        assert_eq!(r.json[key], ex.json[key], "{name}: {key}");
    }
    let admin = env.token(ex.user(), None);
    let read = call(
        &env.app,
        Endpoint::GetImage,
        &Endpoint::GetImage.event(Some(&crate::support::bearer(&admin)), Some(&ids[0])),
    )
    .await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(
        read.json["external_urls"], r.json["external_urls"],
        "{name}"
    );
    assert_eq!(read.json["title"], r.json["title"], "{name}");
    r
}

/// The transformation steps of a signed delivery URL (between the
/// signature and the version).
fn steps(url: &Value) -> String {
    let url = url.as_str().expect("a URL");
    let after_sig = url.split_once("--/").expect("a signed URL").1;
    after_sig
        .rsplit_once("/v")
        .expect("a versioned URL")
        .0
        .to_string()
}

#[tokio::test]
async fn image_api_set_image_caption() {
    let name = "image_api/set_image_caption";
    let r = update_image(name, "00100000123BB132", "sp-caption").await;
    assert_eq!(r.json["title"], "A title!");
    assert_eq!(steps(&r.json["external_urls"]["fill100"]), "c_fit,w_300");
}

#[tokio::test]
async fn image_api_rotate_an_image() {
    let r = update_image("image_api/rotate_an_image", "00100000123BB162", "sp-rotate").await;
    // Where SharinPix's example puts the rotation in each URL.
    assert_eq!(
        steps(&r.json["external_urls"]["fill100"]),
        "a_90/c_fit,w_300"
    );
    assert_eq!(
        steps(&r.json["thumbnails"]["mini"]),
        "c_fit,h_1920,w_1920/a_90/c_fill,h_100,w_100/fl_attachment/dpr_auto,q_auto,f_auto"
    );
    assert_eq!(
        steps(&r.json["thumbnails"]["full_no_sharinpix"]),
        "c_fit,h_1920,w_1920/fl_attachment/dpr_auto,q_auto,f_auto"
    );
}

#[tokio::test]
async fn image_api_crop_an_image() {
    let r = update_image("image_api/crop_an_image", "00100000123BB136", "sp-crop").await;
    assert_eq!(r.json["original_width"], 48);
    assert_eq!(
        steps(&r.json["external_urls"]["fit2000"]),
        "c_crop,h_11,w_10,x_3,y_2/c_fit,h_2000,w_2000"
    );
    assert_eq!(
        steps(&r.json["thumbnails"]["large"]),
        "c_crop,h_11,w_10,x_3,y_2/c_fit,h_1920,w_1920/c_fill,h_200,w_200/fl_attachment/dpr_auto,q_auto,f_auto"
    );
}

/// A bulk delete of as many images of album `album` as example `name`
/// names, with the example's token (`abilities` replaced by `abilities`
/// when given).
async fn bulk_delete(
    name: &str,
    album: &str,
    tag: &str,
    abilities: Option<Value>,
) -> (Resp, TestEnv) {
    let ex = Example::load(name);
    let env = ex.env(tag).await;
    let theirs = form_image_ids(&ex);
    let ours = seed(&env, album, theirs.len() as u64).await;
    let pairs: Vec<(&str, &str)> = theirs
        .iter()
        .map(String::as_str)
        .zip(ours.iter().map(String::as_str))
        .collect();
    let mut e = ex.event(Endpoint::DeleteImages, None, &pairs);
    if let Some(a) = abilities {
        let token = env.token(ex.user(), Some(a));
        crate::support::security::set_header(
            &mut e,
            "authorization",
            Some(&crate::support::bearer(&token)),
        );
    }
    (ex.replay(&env, Endpoint::DeleteImages, &e).await, env)
}

/// SharinPix's example deletes with a token holding `image_list` alone;
/// ours needs `image_delete` (README, Differences from SharinPix): the
/// example's request with that ability.
#[tokio::test]
async fn image_api_it_deletes_images_and_returns_200() {
    let album = "00100000123BB121";
    let delete =
        serde_json::json!({ album: {"Access": {"image_list": true, "image_delete": true}} });
    let name = "image_api/it_deletes_images_and_returns_200";
    let (r, env) = bulk_delete(name, album, "sp-bulk-delete", Some(delete)).await;
    assert_eq!(r.array().len(), 9);
    let store = env.direct_store().await;
    crate::support::assert_album_exact(&store, album, 0, name).await;
}

#[tokio::test]
async fn image_api_it_does_not_delete_images_and_returns_401() {
    let album = "00100000123BB118";
    let name = "image_api/it_does_not_delete_images_and_returns_401";
    let (_, env) = bulk_delete(name, album, "sp-bulk-refused", None).await;
    let store = env.direct_store().await;
    crate::support::assert_album_exact(&store, album, 9, name).await;
}

/// A table where album `album` held `n` images and `deleted` of them were
/// deleted (into the trash); the deleted ids.
async fn trashed(env: &TestEnv, album: &str, n: u64, deleted: usize) -> Vec<String> {
    let ids = seed(env, album, n).await;
    let admin = crate::support::bearer(&env.token(crate::support::USER, None));
    for id in &ids[..deleted] {
        let e = Endpoint::DeleteImage.event(Some(&admin), Some(id));
        assert_eq!(call(&env.app, Endpoint::DeleteImage, &e).await.status, 204);
    }
    ids[..deleted].to_vec()
}

/// The example's request sent with our user's token holding the example
/// token's `abilities` (SharinPix's integrator tokens here carry `iss`
/// and no user).
fn with_abilities_of(ex: &Example, env: &TestEnv, ep: Endpoint, id: Option<&str>) -> Value {
    let token = env.token(crate::support::USER, Some(ex.claims["abilities"].clone()));
    let mut e = ep.event(Some(&crate::support::bearer(&token)), id);
    crate::support::security::set_query(&mut e, &[]);
    e
}

#[tokio::test]
async fn trashed_images_retrieve_all_deleted_images() {
    let ex = Example::load("trashed_images/retrieve_all_deleted_images");
    let env = ex.env("sp-trash-all").await;
    let deleted = trashed(&env, "00100000123BB190", 4, 2).await;
    let e = ex.event(Endpoint::ListTrashedImages, None, &[]);
    let r = ex.replay(&env, Endpoint::ListTrashedImages, &e).await;
    let mut listed = r.ids();
    listed.sort();
    let mut expected = deleted;
    expected.sort();
    assert_eq!(listed, expected);
}

#[tokio::test]
async fn trashed_images_retrieve_deleted_images_in_album() {
    let ex = Example::load("trashed_images/retrieve_deleted_images_in_album");
    let env = TestEnv::new("sp-trash-album").await;
    let deleted = trashed(&env, "00100000123BB192", 3, 1).await;
    trashed(&env, "another-album", 3, 2).await;
    let e = with_abilities_of(&ex, &env, Endpoint::ListTrashedImages, None);
    let r = ex.replay(&env, Endpoint::ListTrashedImages, &e).await;
    assert_eq!(r.ids(), deleted, "only the album the token holds trash on");
}

#[tokio::test]
async fn trashed_images_restore_deleted_images() {
    let ex = Example::load("trashed_images/restore_deleted_images");
    let env = TestEnv::new("sp-trash-restore").await;
    let album = "00100000123BB186";
    let deleted = trashed(&env, album, 2, 1).await;
    let e = with_abilities_of(&ex, &env, Endpoint::RestoreTrashedImage, Some(&deleted[0]));
    let r = ex.replay(&env, Endpoint::RestoreTrashedImage, &e).await;
    assert_eq!(r.json["id"], deleted[0].as_str());
    let store = env.direct_store().await;
    crate::support::assert_album_exact(&store, album, 2, "restored").await;
}

/// Album `album` with `n` images, all tagged with tag `name` (stored as
/// named); the image ids.
async fn tagged(env: &TestEnv, album: &str, n: u64, name: &str) -> Vec<String> {
    let ids = seed(env, album, n).await;
    let tag = seed_tag_default(env, name).await;
    let admin = env.token(crate::support::USER, None);
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    tag_images(&env.app, &admin, &tag, &refs).await;
    ids
}

#[tokio::test]
async fn tag_image_retrieve_tag_images() {
    let ex = Example::load("tag_image/retrieve_tag_images");
    let env = ex.env("sp-query-tag").await;
    let album = "00324000004ijWS";
    tagged(&env, album, 1, "MyTag").await;
    tagged(&env, "another-album", 2, "MyTag").await;
    let e = ex.event(Endpoint::QueryTagImages, None, &[]);
    let r = ex.replay(&env, Endpoint::QueryTagImages, &e).await;
    assert_eq!(r.array().len(), 1, "only the album's: {}", r.text);
    assert_eq!(r.array()[0]["image"]["album_id"], album);
}

#[tokio::test]
async fn tag_image_retrieve_tag_images_on_a_single_image() {
    let ex = Example::load("tag_image/retrieve_tag_images_on_a_single_image");
    let env = ex.env("sp-query-tag-image").await;
    let album = "00324000004ijWS";
    let ids = tagged(&env, album, 2, "MyTag").await;
    let mut e = ex.event(Endpoint::QueryTagImages, None, &[]);
    let q = [
        ("tag_name", "MyTag"),
        ("image_id", ids[1].as_str()),
        ("album_id", album),
    ];
    crate::support::security::set_query(&mut e, &q);
    let r = ex.replay(&env, Endpoint::QueryTagImages, &e).await;
    assert_eq!(r.array().len(), 1, "{}", r.text);
    assert_eq!(r.array()[0]["image"]["id"], ids[1].as_str());
}

/// Examples `name` (a search token, which we do not serve: sent with the
/// example's claims as a user token of ours) asking for the tag images of
/// `image_ids[]`: those of the images named, each with its tag.
async fn tag_images_of_ids(name: &str, tag: &str, tag_name: &str) {
    let ex = Example::load(name);
    let env = TestEnv::new(tag).await;
    let ids = tagged(&env, "00324000004ijWS", 3, tag_name).await;
    let token = env.token(crate::support::USER, None);
    let mut e = Endpoint::QueryTagImages.event(Some(&crate::support::bearer(&token)), None);
    let q: Vec<(&str, &str)> = ids[..2]
        .iter()
        .map(|id| ("image_ids[]", id.as_str()))
        .collect();
    crate::support::security::set_query(&mut e, &q);
    let r = ex.replay(&env, Endpoint::QueryTagImages, &e).await;
    let images: Vec<&str> = r
        .array()
        .iter()
        .map(|t| t["image"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(images, [ids[0].as_str(), ids[1].as_str()], "{name}");
    assert!(r.array().iter().all(|t| t["tag"]["name"] == tag_name));
}

#[tokio::test]
async fn tag_image_retrieve_tag_images_from_image_ids() {
    let name = "tag_image/retrieve_tag_images_from_image_ids";
    tag_images_of_ids(name, "sp-query-ids", "MyTag").await;
}

#[tokio::test]
async fn tag_image_return_subset_of_tag_images() {
    tag_images_of_ids(
        "tag_image/return_subset_of_tag_images",
        "sp-query-subset",
        "Kevan",
    )
    .await;
}

#[tokio::test]
async fn image_api_duplicate_an_image() {
    let ex = Example::load("image_api/duplicate_an_image");
    let env = ex.env("sp-duplicate-image").await;
    let album = "00100000123BB124";
    let ids = seed(&env, album, 1).await;
    let e = ex.event(Endpoint::DuplicateImage, Some(&ids[0]), &[]);
    let r = ex.replay(&env, Endpoint::DuplicateImage, &e).await;
    assert_ne!(r.json["id"], ids[0].as_str());
    assert_eq!(r.json["album_id"], album);
    let store = env.direct_store().await;
    crate::support::assert_album_exact(&store, album, 2, "a copy beside it").await;
}

/// SharinPix's example moves with a token holding `image_list` on the
/// source alone; ours needs `image_delete` there and `image_upload` on
/// each destination (README, Differences from SharinPix): the example's
/// request with those abilities.
#[tokio::test]
async fn image_api_move_multiple_images_across_multiple_albums() {
    let ex = Example::load("image_api/move_multiple_images_across_multiple_albums");
    let env = ex.env("sp-move-images").await;
    let source = "00100000123BB138";
    let body = ex.body.clone().unwrap();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap();
    let ours = seed(&env, source, pairs.len() as u64).await;
    seed(&env, "00100000123BB140", 0).await;
    seed(&env, "00100000123BB141", 0).await;
    let mapping: Vec<(&str, &str)> = pairs
        .iter()
        .zip(&ours)
        .map(|((k, _), id)| {
            let theirs = k
                .trim_start_matches("move_operations[")
                .trim_end_matches(']');
            (theirs, id.as_str())
        })
        .collect();
    let mut e = ex.event(Endpoint::MoveImages, None, &mapping);
    let up = serde_json::json!({"Access": {"image_upload": true}});
    let abilities = serde_json::json!({
        source: {"Access": {"image_list": true, "image_delete": true}},
        "00100000123BB140": up, "00100000123BB141": up, "custom_id": up,
    });
    let token = env.token(ex.user(), Some(abilities));
    crate::support::security::set_header(
        &mut e,
        "authorization",
        Some(&crate::support::bearer(&token)),
    );
    let r = ex.replay(&env, Endpoint::MoveImages, &e).await;
    assert_eq!(r.array().len(), 4, "{}", r.text);
    let store = env.direct_store().await;
    for (album, n) in [
        (source, 0),
        ("00100000123BB140", 2),
        ("00100000123BB141", 1),
        ("custom_id", 1),
    ] {
        crate::support::assert_album_exact(&store, album, n, album).await;
    }
}

/// An environment whose imports go to a local Cloudinary stand-in.
async fn with_stand_in(tag: &str) -> (TestEnv, crate::support::cloudinary_stand_in::StandIn) {
    let mut env = TestEnv::new(tag).await;
    let stand_in =
        crate::support::cloudinary_stand_in::StandIn::start(env.app.clone(), Default::default())
            .await;
    env.app.config.cloudinary_api_url = stand_in.url();
    (env, stand_in)
}

/// SharinPix's import examples carry integrator tokens (`iss`): sent with
/// their `abilities` as a user token of ours.
#[tokio::test]
async fn import_import_a_new_image() {
    let ex = Example::load("import/import_a_new_image");
    let (env, stand_in) = with_stand_in("sp-import").await;
    let e = with_abilities_of(&ex, &env, Endpoint::CreateImport, None);
    let mut e = e;
    crate::support::security::set_header(&mut e, "content-type", ex.content_type.as_deref());
    crate::support::security::set_body(&mut e, ex.body.as_deref().map(str::as_bytes), false);
    let r = ex.replay(&env, Endpoint::CreateImport, &e).await;
    assert_eq!(r.json["image_id"], Value::Null);
    stand_in.settle().await;
    let store = env.direct_store().await;
    crate::support::assert_album_exact(&store, "imported_album", 1, "imported").await;
}

/// SharinPix follows redirections with the `headers` it is given; we
/// refuse `headers` (Cloudinary fetches the URL itself, without them):
/// README, Differences from SharinPix.
#[tokio::test]
async fn import_follow_the_redirection_is_refused_for_its_headers() {
    let ex = Example::load("import/follow_the_redirection");
    let (env, _stand_in) = with_stand_in("sp-import-headers").await;
    let mut e = with_abilities_of(&ex, &env, Endpoint::CreateImport, None);
    crate::support::security::set_header(&mut e, "content-type", ex.content_type.as_deref());
    crate::support::security::set_body(&mut e, ex.body.as_deref().map(str::as_bytes), false);
    let r = call(&env.app, Endpoint::CreateImport, &e).await;
    crate::support::calls::assert_error(&r, 422, "unprocessable_entity", &ex.name);
}

/// `get_import_*`: an import of ours in the state the example records.
async fn get_import(name: &str, tag: &str, processed: bool) {
    let ex = Example::load(name);
    let env = ex.env(tag).await;
    let store = env.direct_store().await;
    // The example's import names an album its token holds no ability on;
    // ours must be one it may upload to: the token's album.
    let album = ex.claims["abilities"]
        .as_object()
        .and_then(|m| m.keys().next())
        .unwrap()
        .clone();
    let album = album.as_str();
    let ids = seed(&env, album, 1).await;
    let import = album_api::store::imports::Import {
        id: ex.json["id"].as_str().unwrap().into(),
        organization_id: ORG.into(),
        album_id: album.into(),
        params: ex.json["params"].clone(),
        status: album_api::store::imports::ImportStatus::Uploading,
        image_id: None,
        error: None,
        created_at: NOW.into(),
        updated_at: NOW.into(),
    };
    store.create_import(&import, 1_900_000_000).await.unwrap();
    if processed {
        store
            .complete_import(ORG, &import.id, album, &ids[0], NOW)
            .await
            .unwrap();
    }
    let e = ex.event(Endpoint::GetImport, Some(&import.id), &[]);
    let r = ex.replay(&env, Endpoint::GetImport, &e).await;
    assert_eq!(r.json["image_id"].is_string(), processed, "{}", r.text);
}

#[tokio::test]
async fn import_get_import_not_yet_processed() {
    get_import(
        "import/get_import_(not_yet_processed)",
        "sp-import-pending",
        false,
    )
    .await;
}

#[tokio::test]
async fn import_get_import_processed() {
    get_import("import/get_import_(processed)", "sp-import-done", true).await;
}

/// A listing of album `album` seeded with as many images as documented.
async fn listing(name: &str, album: &str, tag: &str) {
    let ex = Example::load(name);
    let env = ex.env(tag).await;
    let n = ex.json.as_array().expect("documented array").len() as u64;
    seed(&env, album, n).await;
    let e = ex.event(Endpoint::ListImages, Some(album), &[]);
    let r = ex.replay(&env, Endpoint::ListImages, &e).await;
    assert_eq!(r.array().len() as u64, n, "{name}");
}

#[tokio::test]
async fn image_api_listing_images() {
    listing(
        "image_api/listing_images",
        "00100000123BB151",
        "sp-list-images",
    )
    .await;
}

#[tokio::test]
async fn image_api_listing_images_of_an_album() {
    let name = "image_api/listing_images_of_an_album";
    listing(name, "00100000123BB150", "sp-list-images-0").await;
}

/// The webhook with the example's body, signed, under a notification
/// token of ours for album `123456789` (the example's claim).
async fn notification(name: &str, tag: &str) -> TestEnv {
    let ex = Example::load(name);
    let env = TestEnv::new(tag).await;
    seed(&env, "123456789", 0).await;
    let t = album_api::service::now();
    let token = album_api::auth::issue_notification_token(
        crate::support::USER,
        "123456789",
        ORG,
        &crate::support::security::notification_key(),
        t,
        3600,
    )
    .unwrap();
    let e = signed_webhook_event(Some(&token), ex.body.as_deref().unwrap());
    ex.replay(&env, Endpoint::Webhook, &e).await;
    env
}

async fn album_count(env: &TestEnv, id: &str) -> u64 {
    let store = env.direct_store().await;
    store
        .get_album(&crate::support::key(id))
        .await
        .unwrap()
        .unwrap()
        .images_count
}

/// SharinPix records the documented body, which has no `tags`; ours
/// refuses it (401 `forbidden`, nothing recorded): a form of ours signs `tags` with
/// its album, so a body without them came from no form of that album
/// (README, Differences from SharinPix). The same body tagged with the
/// album is recorded, as documented.
#[tokio::test]
async fn cloudinary_post_an_image() {
    let ex = Example::load("cloudinary/post_an_image");
    let env = TestEnv::new("sp-webhook").await;
    seed(&env, "123456789", 0).await;
    let token = album_api::auth::issue_notification_token(
        crate::support::USER,
        "123456789",
        ORG,
        &crate::support::security::notification_key(),
        album_api::service::now(),
        3600,
    )
    .unwrap();
    let documented = ex.body.as_deref().unwrap();
    let r = call(
        &env.app,
        Endpoint::Webhook,
        &signed_webhook_event(Some(&token), documented),
    )
    .await;
    assert_eq!(r.status, 401, "untagged: {}", r.text);
    assert_eq!(r.json["error"]["code"], "forbidden", "{}", r.text);
    assert_eq!(album_count(&env, "123456789").await, 0, "nothing recorded");
    let mut tagged: serde_json::Value = serde_json::from_str(documented).unwrap();
    tagged["tags"] = serde_json::json!(["123456789"]);
    let e = signed_webhook_event(Some(&token), &tagged.to_string());
    ex.replay(&env, Endpoint::Webhook, &e).await;
    assert_eq!(album_count(&env, "123456789").await, 1, "recorded");
}

#[tokio::test]
async fn cloudinary_do_not_create_images_when_there_is_an_error_but_accept_the_payload() {
    let name = "cloudinary/do_not_create_images_when_there_is_an_error_but_accept_the_payload";
    let env = notification(name, "sp-webhook-error").await;
    assert_eq!(album_count(&env, "123456789").await, 0, "nothing created");
}

/// A tag creation: the documented name (slugged) and flags.
async fn create_tag(name: &str, tag: &str) {
    let ex = Example::load(name);
    let env = ex.env(tag).await;
    let e = ex.event(Endpoint::CreateTag, None, &[]);
    let r = ex.replay(&env, Endpoint::CreateTag, &e).await;
    for key in ["name", "label", "public", "listed", "label_en", "label_fr"] {
        assert_eq!(r.json[key], ex.json[key], "{name}: {key}");
    }
}

#[tokio::test]
async fn tag_create_public_tag() {
    create_tag("tag/create_public_tag", "sp-tag-public").await;
}

#[tokio::test]
async fn tag_create_the_tag() {
    create_tag("tag/create_the_tag", "sp-tag-create").await;
}

/// The documented tags seeded as stored, then the listing.
async fn list_tags(name: &str, tag: &str, hidden: &[&str]) {
    let ex = Example::load(name);
    let env = ex.env(tag).await;
    let documented = ex.json.as_array().expect("documented array");
    for t in documented {
        let flags = TagFlags {
            visible: t["visible"].as_bool().unwrap(),
            ..TagFlags::default()
        };
        seed_tag(&env, t["name"].as_str().unwrap(), flags).await;
    }
    for h in hidden {
        seed_tag_default(&env, h).await;
    }
    let e = ex.event(Endpoint::ListTags, None, &[]);
    let r = ex.replay(&env, Endpoint::ListTags, &e).await;
    let names = |v: &[Value]| v.iter().map(|t| t["name"].clone()).collect::<Vec<_>>();
    assert_eq!(names(r.array()), names(documented), "{name}");
}

#[tokio::test]
async fn tag_retreive_visible_tags() {
    list_tags("tag/retreive_visible_tags", "sp-tags-visible", &["Hidden"]).await;
}

#[tokio::test]
async fn tag_retrieve_tags() {
    list_tags("tag/retrieve_tags", "sp-tags", &[]).await;
}

/// Tagging the example's three images (seeded in `00324000004ijWS`) with
/// tag `tag_name` (named in the path by its id, or by `path` when given).
async fn tagging(name: &str, tag_name: &str, path: Option<&str>, flags: TagFlags, tag: &str) {
    let ex = Example::load(name);
    let env = ex.env(tag).await;
    let ours = seed(&env, "00324000004ijWS", 3).await;
    let theirs = form_image_ids(&ex);
    let tag_id = seed_tag(&env, tag_name, flags).await;
    let ids: Vec<(&str, &str)> = theirs
        .iter()
        .zip(&ours)
        .map(|(t, o)| (t.as_str(), o.as_str()))
        .collect();
    let e = ex.event(Endpoint::TagImages, Some(path.unwrap_or(&tag_id)), &ids);
    let r = ex.replay(&env, Endpoint::TagImages, &e).await;
    assert_eq!(r.array().len(), 3, "{name}");
    for t in r.array() {
        assert_eq!(t["user"], ex.user(), "{name}: user is the id");
        assert_eq!(t["tag"]["id"], tag_id.as_str(), "{name}");
    }
}

#[tokio::test]
async fn tag_image_create_tag_images_from_tag_id() {
    let name = "tag_image/create_tag_images_from_tag_id";
    tagging(name, "MyTag", None, TagFlags::default(), "sp-tagging-id").await;
}

#[tokio::test]
async fn tag_image_create_tag_images_from_tag_name() {
    let name = "tag_image/create_tag_images_from_tag_name";
    let path = Some("My%2520Tag");
    tagging(name, "My Tag", path, TagFlags::default(), "sp-tagging-name").await;
}

#[tokio::test]
async fn tag_image_create_the_tag_images() {
    let flags = TagFlags {
        public: true,
        listed: false,
        ..TagFlags::default()
    };
    let name = "tag_image/create_the_tag_images";
    tagging(name, "My tag 1", None, flags, "sp-tagging-share").await;
}

#[tokio::test]
async fn tag_image_delete_a_tag_image() {
    let ex = Example::load("tag_image/delete_a_tag_image");
    let env = ex.env("sp-untag").await;
    let ids = seed(&env, "00324000004ijWS", 1).await;
    let tag = seed_tag_default(&env, "MyTag").await;
    let admin = env.token(ex.user(), None);
    let tagged = tag_images(&env.app, &admin, &tag, &[ids[0].as_str()]).await;
    let id = tagged[0]["id"].as_str().unwrap();
    let e = ex.event(Endpoint::DeleteTagImage, Some(id), &[]);
    ex.replay(&env, Endpoint::DeleteTagImage, &e).await;
}

// ------------------------------------------- image (embeddable URLs)

/// The album the embeddable URLs' images are seeded in.
const EMBED_ALBUM: &str = "embed_album";

/// An image of an embeddable URL's example: its id, its asset's public id,
/// version and delivery type, as the example's request and `Location` name
/// them.
type Asset<'a> = (&'a str, &'a str, u64, &'a str);

/// Seeds `assets` into album `album` of the seed organization (created
/// when absent), each a sample image with SharinPix's id and asset.
async fn seed_assets(env: &TestEnv, album: &str, assets: &[Asset<'_>]) {
    let store = env.direct_store().await;
    seed_album(&store, album, ORG, 0).await;
    let images: Vec<StoredImage> = assets
        .iter()
        .enumerate()
        .map(|(n, (id, public_id, version, kind))| {
            let mut image = albumctl::seed::sample_image(album, n as u64);
            image.id = id.to_string();
            image.record.asset_public_id = public_id.to_string();
            image.record.asset_version = *version;
            image.record.infos["type"] = Value::from(*kind);
            image
        })
        .collect();
    let count = store
        .put_images(&crate::support::key(album), &images)
        .await
        .unwrap();
    assert_eq!(count, assets.len() as u64);
}

/// The signature component of a signed delivery URL, and what follows it.
fn signed_part(url: &str) -> (&str, &str) {
    let at = url.find("/s--").expect("a signed URL") + 1;
    url[at..]
        .split_once('/')
        .expect("a path after the signature")
}

/// Replays the embeddable URL's example `image/<name>`: `assets` seeded
/// with SharinPix's ids, the example's token claims signed with an API
/// secret of the seed organization (in `?token=`, as recorded). The
/// documented 302 and `Access-Control-Allow-Origin`, an empty body, and
/// the documented `Location` (without SharinPix's test prefix) step for
/// step, asset for asset: only the signature differs, and it is
/// Cloudinary's for our secret.
async fn embed(name: &str, tag: &str, assets: &[Asset<'_>]) -> (Example, TestEnv, Resp) {
    let ex = Example::load(&format!("image/{name}"));
    let env = TestEnv::new(tag).await;
    seed_assets(&env, EMBED_ALBUM, assets).await;
    let secret = integrator::stored_secret(&env.direct_store().await, ORG, false).await;
    let e = ex.integrator_event(Endpoint::EmbedImage, &secret);
    let r = ex.replay(&env, Endpoint::EmbedImage, &e).await;
    let ours = r.header("location").expect("a Location").to_string();
    let documented = ex.headers["Location"]
        .as_str()
        .expect("a documented Location");
    let documented = documented
        .split_once('#')
        .map_or(documented, |(_, url)| url);
    assert_eq!(
        steps(&Value::from(ours.as_str())),
        steps(&Value::from(documented)),
        "{name}: the transformation steps"
    );
    let (sig, signed) = signed_part(&ours);
    let (_, documented_signed) = signed_part(documented);
    assert_eq!(
        signed, documented_signed,
        "{name}: steps, version and asset"
    );
    assert_eq!(
        ours.split("/s--").next(),
        documented.split("/s--").next(),
        "{name}: the cloud and delivery type"
    );
    // Cloudinary signs the steps and the asset, not the version.
    let (chain, file) = signed.rsplit_once('/').unwrap();
    let (chain, _version) = chain.rsplit_once('/').unwrap();
    let expected = album_api::cloudinary::url_signature(
        &format!("{chain}/{file}"),
        &album_api::secret::Secret::new(CLD_SECRET),
    );
    assert_eq!(sig, expected, "{name}: signed with our Cloudinary secret");
    assert!(r.header("x-token").is_none(), "{name}: no X-token");
    (ex, env, r)
}

#[tokio::test]
async fn image_pass_image_url() {
    // The path names `image.jpg`; the token's image_id the image.
    embed(
        "pass_image_url",
        "sp-embed-url",
        &[(
            "98b8feb9-be80-4bae-aaa8-9c2515ae35a1",
            "107e2d08fd11",
            123123,
            "authenticated",
        )],
    )
    .await;
}

#[tokio::test]
async fn image_take_image_id_in_token() {
    // The path names another image of the album: the token's wins.
    embed(
        "take_image_id_in_token",
        "sp-embed-token-id",
        &[
            (
                "6af98af2-3077-4f5c-9f80-12d7cb29bfc6",
                "azhar",
                44444,
                "authenticated",
            ),
            (
                "22d62e99-aff9-4c20-90c7-bcfd737a0081",
                "0a0a0a0a0a0a",
                123123,
                "authenticated",
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn image_response_has_header_access_control_allow_origin() {
    // Unknown keys (`miaim`, `super_plop`) are ignored; `tiled` stays with
    // the overlay only.
    embed(
        "response_has_header_access-control-allow-origin",
        "sp-embed-acao",
        &[
            (
                "58c524f2-5b14-4ae3-ab4f-a5e1b05f90eb",
                "dffc0901833e",
                123123,
                "authenticated",
            ),
            (
                "81499d23-c765-414e-8ac1-59f99654cbd5",
                "085494a9a403",
                123123,
                "authenticated",
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn image_retrieve_3_images_tiled() {
    embed(
        "retrieve_3_images_tiled",
        "sp-embed-tiled",
        &[
            (
                "133398b5-c4e1-4488-bbe1-81afd70546ae",
                "f7332109c6c5",
                123123,
                "authenticated",
            ),
            (
                "b48fff71-a649-41dc-8f35-67229b3fd584",
                "3bc669b21d8e",
                123123,
                "authenticated",
            ),
            (
                "372083d9-8179-4161-af8c-6cbfecd9219a",
                "e199b75435bf",
                123123,
                "authenticated",
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn image_retrieve_image_secured() {
    embed(
        "retrieve_image_secured",
        "sp-embed-secured",
        &[
            (
                "b3d4dc82-0ec9-486e-b7fd-db4a88106bf9",
                "2ced53451a65",
                123123,
                "authenticated",
            ),
            (
                "260a2c27-69eb-475b-a1a6-fffe342fa45a",
                "6e38507e19c5",
                123123,
                "authenticated",
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn image_retrieve_image_secured_with_private_overlay() {
    // The overlay's asset is private: l_private:<public id>.
    embed(
        "retrieve_image_secured_with_private_overlay",
        "sp-embed-private",
        &[
            (
                "161400d0-c894-42fd-8100-262361ea91ff",
                "ba5a440dbe3d",
                123123,
                "authenticated",
            ),
            (
                "3d616b4e-a597-4b23-aa3d-d7de678f0ba6",
                "d47e609177b4",
                123123,
                "private",
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn image_retrieve_image_secured_without_fl_attachment() {
    // sharinpix: {"download": false} drops fl_attachment.
    embed(
        "retrieve_image_secured_without_fl_attachment",
        "sp-embed-no-download",
        &[
            (
                "c26d70c2-370e-41dc-8352-606e3d3dd8b6",
                "12116b7f533f",
                123123,
                "authenticated",
            ),
            (
                "4b5f3fa2-a555-4d7d-b162-ef9231285361",
                "172982d0c04e",
                123123,
                "authenticated",
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn image_retrieve_image_with_angle_parameter() {
    // A text overlay, its escaped text as sent.
    embed(
        "retrieve_image_with_angle_parameter",
        "sp-embed-text",
        &[(
            "da1f44e3-d5ac-4ef5-b072-a92a678af67d",
            "df64184709b9",
            123123,
            "authenticated",
        )],
    )
    .await;
}

/// SharinPix records this 302 without a token; ours needs one, so the
/// replay sends a token of ours with no claim of its own (README,
/// Differences from SharinPix), and the same request without it is 401.
#[tokio::test]
async fn image_return_the_image_transformed() {
    let (ex, env, _) = embed(
        "return_the_image_transformed",
        "sp-embed-query",
        &[(
            "64171752-36dd-42aa-b3d3-d769a410b6bb",
            "deeb63e7d71e",
            123123,
            "authenticated",
        )],
    )
    .await;
    let query: Vec<(&str, &str)> = ex
        .query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let e = embed_event(None, "64171752-36dd-42aa-b3d3-d769a410b6bb", &query);
    let r = call(&env.app, Endpoint::EmbedImage, &e).await;
    assert_eq!(r.status, 401, "{}", r.text);
}

/// SharinPix answers 401 with an empty `text/html` body; ours is the JSON
/// error every route answers (README, Differences from SharinPix), with
/// the documented status and `Access-Control-Allow-Origin`.
#[tokio::test]
async fn image_retrieve_an_image() {
    let ex = Example::load("image/retrieve_an_image");
    let env = TestEnv::new("sp-embed-401").await;
    let id = ex.path.rsplit('/').next().unwrap();
    seed_assets(
        &env,
        EMBED_ALBUM,
        &[(id, "aaaaaaaaaaaa", 123123, "authenticated")],
    )
    .await;
    let r = call(&env.app, Endpoint::EmbedImage, &embed_event(None, id, &[])).await;
    assert_eq!(r.status, ex.status, "{}", r.text);
    assert_eq!(
        r.header("access-control-allow-origin"),
        ex.headers["Access-Control-Allow-Origin"].as_str()
    );
    check_error_response(r.status, &r.headers, &r.text).unwrap();
    assert_eq!(r.json["error"]["code"], "unauthorized");
}

/// SharinPix documents this case without recording a request: an image
/// the token names that does not exist is our 404, with
/// `Access-Control-Allow-Origin`, whether the path or the token names it.
#[tokio::test]
async fn image_image_id_not_found() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/it/fixtures/sharinpix/image/image_id_not_found.json"
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(doc["route"], "/images/:image_id");
    assert_eq!(doc["requests"], serde_json::json!([]));
    let env = TestEnv::new("sp-embed-404").await;
    seed_assets(
        &env,
        EMBED_ALBUM,
        &[("present-image", "aaaaaaaaaaaa", 1, "authenticated")],
    )
    .await;
    let secret = integrator::stored_secret(&env.direct_store().await, ORG, false).await;
    let t = album_api::service::now();
    let token = |claims: Value| {
        crate::support::security::sign_jwt(
            &serde_json::json!({"typ": "JWT", "alg": "HS256"}),
            &claims,
            secret.key.expose().as_bytes(),
            jsonwebtoken::Algorithm::HS256,
        )
    };
    let plain = token(serde_json::json!({"iss": secret.id, "exp": t + 600}));
    let naming =
        token(serde_json::json!({"iss": secret.id, "exp": t + 600, "image_id": "no-such-image"}));
    for (token, path_id) in [
        (&plain, "no-such-image"),
        (&naming, "present-image"),
        (&plain, "image.jpg"),
    ] {
        let r = call(
            &env.app,
            Endpoint::EmbedImage,
            &embed_event(Some(token), path_id, &[]),
        )
        .await;
        assert_eq!(r.status, 404, "{path_id}: {}", r.text);
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
        check_error_response(r.status, &r.headers, &r.text).unwrap();
    }
    let r = call(
        &env.app,
        Endpoint::EmbedImage,
        &embed_event(Some(&plain), "present-image", &[]),
    )
    .await;
    assert_eq!(r.status, 302, "the token was fine: {}", r.text);
}
