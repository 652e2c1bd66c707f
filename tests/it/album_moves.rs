//! Renaming an album and merging it into another, `PUT /api/v1/albums/{id}`
//! (`album[public_id]`, `merge`), end to end: every status of the spec
//! through the handler with real API Gateway events (both payload formats,
//! form and JSON bodies); the 202 move job run to done; the real
//! `update_album` binary killed with SIGKILL mid-move under the Lambda
//! Runtime Interface Emulator, then sent the same request again;
//! `UnprocessedItems` and throttling from the fault proxy; and moves racing
//! each other. Whatever happens, every image ends in exactly one album
//! (keeping its id and its tag associations), and every count is exact.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::calls::*;
use crate::support::fault_proxy::{FaultConfig, FaultProxy};
use crate::support::rie::{Function, http_answer, rie_path};
use crate::support::security::{Endpoint, snapshot_diff, table_snapshot};
use crate::support::tagging::*;
use crate::support::*;
use album_api::store::{RetryPolicy, Store, StoredImage};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

// ---------------------------------------------------------------- helpers

fn put(token: &str, album: &str, body: &Payload, format: Format) -> Value {
    update_album_event(Some(&bearer(token)), album, body, format)
}

fn rename_form(new_id: &str) -> Payload {
    move_body(new_id, None, false)
}

fn merge_form(new_id: &str) -> Payload {
    move_body(new_id, Some("true"), false)
}

fn ids_of(images: &[StoredImage]) -> BTreeSet<String> {
    images.iter().map(|i| i.id.clone()).collect()
}

/// Seeds `album` with `n` images and tags every `every`-th one with `tag`:
/// the image ids and the `(image id, tag id)` pairs.
async fn seed_tagged(
    env: &TestEnv,
    album: &str,
    n: u64,
    tag: &Value,
    every: usize,
) -> (BTreeSet<String>, BTreeSet<(String, String)>) {
    let images = seed_album(&env.direct_store().await, album, ORG, n).await;
    let tagged: Vec<String> = images.iter().step_by(every).map(|i| i.id.clone()).collect();
    let pairs = tag_all(&env.app, &env.token(USER, None), tag, &tagged).await;
    (ids_of(&images), pairs)
}

/// The state after a move of `source` into `destination`: the source is
/// gone (no album item, no item of any kind left in its partition), and the
/// destination holds exactly `images` (by id, each once, `images_count`
/// saying so) and exactly the associations `pairs`.
async fn assert_moved(
    store: &Store,
    source: &str,
    destination: &str,
    images: &BTreeSet<String>,
    pairs: &BTreeSet<(String, String)>,
    what: &str,
) {
    assert!(
        store
            .get_album(&crate::support::key(source))
            .await
            .unwrap()
            .is_none(),
        "{what}: {source} still exists"
    );
    let left = partition_sort_keys(store, source, "").await;
    assert!(left.is_empty(), "{what}: left in {source}: {left:?}");
    let got = album_image_ids(store, destination).await;
    let missing: Vec<_> = images.difference(&got).collect();
    let extra: Vec<_> = got.difference(images).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: {destination} misses {missing:?}, holds unexpected {extra:?}"
    );
    assert_album_exact(store, destination, images.len() as u64, what).await;
    assert_associations_exactly(store, destination, pairs, what).await;
}

/// Every image of `expected` is in at least one of `albums` (a move never
/// leaves an image in neither album); returns how many are in two.
async fn assert_nothing_lost(
    store: &Store,
    albums: &[&str],
    expected: &BTreeSet<String>,
    what: &str,
) -> usize {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for album in albums {
        for id in album_image_ids(store, album).await {
            *seen.entry(id).or_default() += 1;
        }
    }
    let lost: Vec<_> = expected
        .iter()
        .filter(|id| !seen.contains_key(*id))
        .collect();
    assert!(lost.is_empty(), "{what}: in no album: {lost:?}");
    seen.values().filter(|n| **n > 1).count()
}

async fn snapshot(env: &TestEnv) -> BTreeMap<String, String> {
    table_snapshot(&env.direct_store().await).await
}

fn seed_body() -> Value {
    serde_json::from_str(include_str!("fixtures/seed-duplicate-response.json")).unwrap()
}

// ---------------------------------------------------------------- rename

#[tokio::test]
async fn renaming_to_a_free_id_answers_200_under_the_new_id_and_the_old_id_is_404() {
    let env = TestEnv::new("rename").await;
    let store = env.direct_store().await;
    let token = env.token(USER, None);
    let auth = bearer(&token);
    let tag = create_tag(&env.app, &token, "moving").await;
    let (images, pairs) = seed_tagged(&env, "old_name", 6, &tag, 2).await;
    let listed = |album: &str| Endpoint::ListImages.event(Some(&auth), Some(album));
    let before = call(&env.app, Endpoint::ListImages, &listed("old_name")).await;
    assert_eq!(before.status, 200, "{}", before.text);
    let get_old = call(
        &env.app,
        Endpoint::GetAlbum,
        &Endpoint::GetAlbum.event(Some(&auth), Some("old_name")),
    )
    .await;
    let tagged_before = listed_tag_images(&env.app, &token, tag["id"].as_str().unwrap(), 50).await;

    let r = call(
        &env.app,
        Endpoint::UpdateAlbum,
        &put(&token, "old_name", &rename_form("new_name"), Format::Http),
    )
    .await;
    assert_success(&r, 200, USER, "rename");
    assert_same_shape("$", &r.json, &seed_body());
    assert_eq!(r.json["id"], "new_name");
    assert_eq!(r.json["public_id"], "new_name");
    assert_eq!(r.json["images_count"], 6);
    assert_eq!(r.json["organization_id"], ORG);
    assert_eq!(r.json["upload_form"]["name"], "new_name", "{}", r.text);
    assert_eq!(
        r.thumbnail_ids(),
        get_old.thumbnail_ids(),
        "the same images"
    );
    for t in r.json["thumbnails"].as_array().unwrap() {
        assert_eq!(t["album_id"], "new_name");
    }

    // The old id is gone; the new one lists the same images, newest first.
    let old = call(
        &env.app,
        Endpoint::GetAlbum,
        &Endpoint::GetAlbum.event(Some(&auth), Some("old_name")),
    )
    .await;
    assert_error(&old, 404, "not_found", "the old id");
    let old_list = call(&env.app, Endpoint::ListImages, &listed("old_name")).await;
    assert_error(&old_list, 404, "not_found", "the old id's images");
    let after = call(&env.app, Endpoint::ListImages, &listed("new_name")).await;
    assert_eq!(after.status, 200, "{}", after.text);
    assert_eq!(after.ids(), before.ids());
    assert_moved(&store, "old_name", "new_name", &images, &pairs, "rename").await;

    // Associations keep their ids and now name the new album.
    let tagged_after = listed_tag_images(&env.app, &token, tag["id"].as_str().unwrap(), 50).await;
    let ids = |els: &[Value]| -> Vec<Value> { els.iter().map(|e| e["id"].clone()).collect() };
    assert_eq!(ids(&tagged_after), ids(&tagged_before));
    for el in &tagged_after {
        assert_eq!(el["image"]["album_id"], "new_name", "{el}");
    }

    // Its images are found by id: deleting one keeps the count exact.
    let one = images.iter().next().unwrap();
    let d = call(
        &env.app,
        Endpoint::DeleteImage,
        &Endpoint::DeleteImage.event(Some(&auth), Some(one)),
    )
    .await;
    assert_success(&d, 204, USER, "delete a moved image");
    assert_album_exact(&store, "new_name", 5, "after a delete").await;
}

#[tokio::test]
async fn a_rename_reads_form_and_json_bodies_in_both_payload_formats() {
    let env = TestEnv::new("rename-fmt").await;
    let store = env.direct_store().await;
    let token = env.token(USER, None);
    let tag = create_tag(&env.app, &token, "fmt").await;
    for (i, (json_body, format)) in [
        (true, Format::Http),
        (false, Format::Rest),
        (true, Format::Rest),
    ]
    .into_iter()
    .enumerate()
    {
        let old = format!("fmt_{i}");
        let new = format!("fmt_{i}_renamed");
        let (images, pairs) = seed_tagged(&env, &old, 5, &tag, 2).await;
        let r = call(
            &env.app,
            Endpoint::UpdateAlbum,
            &put(&token, &old, &move_body(&new, None, json_body), format),
        )
        .await;
        let what = format!("json={json_body} {format:?}");
        assert_success(&r, 200, USER, &what);
        assert_eq!(r.json["id"], new.as_str(), "{what}");
        assert_eq!(r.json["images_count"], 5, "{what}");
        assert_moved(&store, &old, &new, &images, &pairs, &what).await;
    }
}

#[tokio::test]
async fn the_renamed_albums_upload_form_is_null_unless_the_token_may_upload_to_the_new_id() {
    let env = TestEnv::new("rename-form").await;
    let store = env.direct_store().await;
    seed_album(&store, "plain_a", ORG, 2).await;
    seed_album(&store, "plain_b", ORG, 2).await;
    let rename_only = env.token(USER, Some(json!({"plain_a": access(&["rename"])})));
    let r = call(
        &env.app,
        Endpoint::UpdateAlbum,
        &put(
            &rename_only,
            "plain_a",
            &rename_form("plain_a2"),
            Format::Http,
        ),
    )
    .await;
    assert_success(&r, 200, USER, "rename only");
    assert_eq!(r.json["upload_form"], Value::Null, "{}", r.text);
    assert_eq!(r.json["images_count"], 2);
    let with_upload = env.token(
        USER,
        Some(json!({"plain_b": access(&["rename"]), "plain_b2": access(&["image_upload", "see"])})),
    );
    let r = call(
        &env.app,
        Endpoint::UpdateAlbum,
        &put(
            &with_upload,
            "plain_b",
            &rename_form("plain_b2"),
            Format::Rest,
        ),
    )
    .await;
    assert_success(
        &r,
        200,
        USER,
        "rename with image_upload and see on the new id",
    );
    assert_eq!(r.json["upload_form"]["name"], "plain_b2", "{}", r.text);
    assert_album_exact(&store, "plain_a2", 2, "plain_a2").await;
    assert_album_exact(&store, "plain_b2", 2, "plain_b2").await;
}

#[tokio::test]
async fn renaming_to_an_id_taken_in_the_organization_without_merge_is_409_and_changes_nothing() {
    let env = TestEnv::new("rename-409").await;
    let store = env.direct_store().await;
    let token = env.token(USER, None);
    let tag = create_tag(&env.app, &token, "kept").await;
    let (a_images, a_pairs) = seed_tagged(&env, "album_a", 4, &tag, 2).await;
    seed_album(&store, "album_b", ORG, 3).await;
    let before = snapshot(&env).await;
    for (what, body, format) in [
        ("no merge", rename_form("album_b"), Format::Http),
        (
            "merge=false",
            move_body("album_b", Some("false"), false),
            Format::Rest,
        ),
        (
            "merge=0",
            move_body("album_b", Some("0"), false),
            Format::Http,
        ),
        (
            "JSON merge false",
            move_body("album_b", Some("false"), true),
            Format::Http,
        ),
    ] {
        let r = call(
            &env.app,
            Endpoint::UpdateAlbum,
            &put(&token, "album_a", &body, format),
        )
        .await;
        assert_error(&r, 409, "conflict", what);
    }
    let after = snapshot(&env).await;
    assert_eq!(before, after, "{}", snapshot_diff(&before, &after));
    // Nothing was left marked: the album still renames elsewhere.
    let r = call(
        &env.app,
        Endpoint::UpdateAlbum,
        &put(&token, "album_a", &rename_form("album_c"), Format::Http),
    )
    .await;
    assert_success(&r, 200, USER, "a rename after the refusals");
    assert_moved(&store, "album_a", "album_c", &a_images, &a_pairs, "album_c").await;
    assert_album_exact(&store, "album_b", 3, "album_b").await;
}

// ---------------------------------------------------------------- merge

#[tokio::test]
async fn merging_moves_every_image_and_association_into_the_destination_and_deletes_the_source() {
    let env = TestEnv::new("merge").await;
    let store = env.direct_store().await;
    let token = env.token(USER, None);
    let t1 = create_tag(&env.app, &token, "src-tag").await;
    let t2 = create_tag(&env.app, &token, "dst-tag").await;
    for (i, (body_for, format)) in [
        (merge_form as fn(&str) -> Payload, Format::Http),
        (|id: &str| move_body(id, Some("1"), false), Format::Rest),
        (|id: &str| move_body(id, Some("true"), true), Format::Http),
        (|id: &str| move_body(id, Some("1"), true), Format::Rest),
    ]
    .into_iter()
    .enumerate()
    {
        let (src, dst) = (format!("m_src_{i}"), format!("m_dst_{i}"));
        let (src_images, src_pairs) = seed_tagged(&env, &src, 7, &t1, 2).await;
        let (dst_images, dst_pairs) = seed_tagged(&env, &dst, 5, &t2, 3).await;
        let r = call(
            &env.app,
            Endpoint::UpdateAlbum,
            &put(&token, &src, &body_for(&dst), format),
        )
        .await;
        let what = format!("merge {i} {format:?}");
        assert_success(&r, 200, USER, &what);
        assert_same_shape("$", &r.json, &seed_body());
        assert_eq!(r.json["id"], dst.as_str(), "{what}");
        assert_eq!(r.json["images_count"], 12, "{what}");
        for t in r.json["thumbnails"].as_array().unwrap() {
            assert_eq!(t["album_id"], dst.as_str(), "{what}");
        }
        let images: BTreeSet<String> = src_images.union(&dst_images).cloned().collect();
        let pairs: BTreeSet<(String, String)> = src_pairs.union(&dst_pairs).cloned().collect();
        assert_moved(&store, &src, &dst, &images, &pairs, &what).await;
        let gone = call(
            &env.app,
            Endpoint::GetAlbum,
            &Endpoint::GetAlbum.event(Some(&bearer(&token)), Some(&src)),
        )
        .await;
        assert_error(&gone, 404, "not_found", &what);
    }
}

#[tokio::test]
async fn renaming_a_missing_or_foreign_album_answers_200_empty_and_writes_nothing() {
    let env = TestEnv::new("move-404").await;
    let store = env.direct_store().await;
    seed_album(&store, "ours", ORG, 3).await;
    seed_album(&store, "theirs", OTHER_ORG, 2).await;
    let token = env.token(USER, None);
    let their_token = env.token(OTHER_USER, None);
    let before = snapshot(&env).await;
    for (what, token, user, album) in [
        (
            "an album that does not exist",
            &token,
            USER,
            "never_created",
        ),
        ("another organization's album", &token, USER, "theirs"),
        ("our album, their user", &their_token, OTHER_USER, "ours"),
        ("a malformed id", &token, USER, "A#ours"),
        ("a 3,000-character id", &token, USER, &"a".repeat(3000)),
    ] {
        for merge in [None, Some("true")] {
            let r = call(
                &env.app,
                Endpoint::UpdateAlbum,
                &put(
                    token,
                    album,
                    &move_body("somewhere_new", merge, false),
                    Format::Http,
                ),
            )
            .await;
            // SharinPix's `do_not_create_an_album`: 200, an empty body.
            let what = format!("{what}, merge {merge:?}");
            assert_success(&r, 200, user, &what);
            assert!(r.text.is_empty(), "{what}: {}", r.text);
        }
    }
    let after = snapshot(&env).await;
    assert_eq!(before, after, "{}", snapshot_diff(&before, &after));
    assert!(
        store
            .get_album(&crate::support::key("somewhere_new"))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn moving_needs_rename_on_the_album_and_nothing_on_a_merge_destination() {
    let env = TestEnv::new("move-403").await;
    let store = env.direct_store().await;
    let a = seed_album(&store, "album_a", ORG, 3).await;
    let b = seed_album(&store, "album_b", ORG, 2).await;
    let before = snapshot(&env).await;
    let no_rename = env.token(
        USER,
        Some(json!({
            "album_a": access(&["see", "image_list", "image_upload", "image_delete"]),
            "album_b": access(&["see", "image_list", "image_upload", "image_delete", "rename"]),
            "album_new": access(&["see", "image_list", "image_upload", "image_delete", "rename"]),
        })),
    );
    for (what, token, body) in [
        (
            "a rename without rename",
            &no_rename,
            rename_form("album_new"),
        ),
        ("a merge without rename", &no_rename, merge_form("album_b")),
    ] {
        for format in Format::BOTH {
            let r = call(
                &env.app,
                Endpoint::UpdateAlbum,
                &put(token, "album_a", &body, format),
            )
            .await;
            assert_error(&r, 401, "forbidden", &format!("{what} {format:?}"));
        }
    }
    let r = call(
        &env.app,
        Endpoint::UpdateAlbum,
        &update_album_event(None, "album_a", &rename_form("album_new"), Format::Http),
    )
    .await;
    assert_error(&r, 401, "unauthorized", "no Authorization");
    let after = snapshot(&env).await;
    assert_eq!(before, after, "{}", snapshot_diff(&before, &after));

    // rename on the album is enough (SharinPix's
    // `moving_images_from_source_album_to_destination_album`): merged.
    let enough = env.token(USER, Some(json!({"album_a": access(&["rename"])})));
    let r = call(
        &env.app,
        Endpoint::UpdateAlbum,
        &put(&enough, "album_a", &merge_form("album_b"), Format::Http),
    )
    .await;
    assert_success(&r, 200, USER, "rename alone");
    assert_eq!(r.json["images_count"], 5);
    let all: BTreeSet<String> = ids_of(&a).union(&ids_of(&b)).cloned().collect();
    assert_moved(
        &store,
        "album_a",
        "album_b",
        &all,
        &BTreeSet::new(),
        "merged",
    )
    .await;
}

#[tokio::test]
async fn invalid_or_missing_public_ids_are_422_and_the_albums_own_id_is_200_unchanged() {
    let env = TestEnv::new("move-422").await;
    let store = env.direct_store().await;
    seed_album(&store, "album_a", ORG, 3).await;
    let token = env.token(USER, None);
    let before = snapshot(&env).await;
    let unprocessable: Vec<(&str, Payload)> = vec![
        ("no public_id", Payload::form(&[("merge", "true")])),
        ("no body", Payload::Raw(None, String::new())),
        ("an empty id", rename_form("")),
        ("a slash", rename_form("a/b")),
        ("a space", rename_form("a b")),
        ("a key separator", rename_form("A#x")),
        ("129 characters", rename_form(&"x".repeat(129))),
        ("3,000 characters", rename_form(&"x".repeat(3000))),
        (
            "a number",
            Payload::Json(json!({"album": {"public_id": 5}})),
        ),
        (
            "album not an object",
            Payload::Json(json!({"album": "album_b"})),
        ),
        ("an empty album", Payload::Json(json!({"album": {}}))),
        (
            "public_id at the top",
            Payload::Json(json!({"public_id": "album_b"})),
        ),
        (
            "merge neither true nor false",
            move_body("album_b", Some("maybe"), false),
        ),
        (
            "merge a string in JSON",
            Payload::Json(json!({"album": {"public_id": "album_b"}, "merge": "yes"})),
        ),
    ];
    for (what, body) in &unprocessable {
        for format in Format::BOTH {
            let r = call(
                &env.app,
                Endpoint::UpdateAlbum,
                &put(&token, "album_a", body, format),
            )
            .await;
            assert_error(
                &r,
                422,
                "unprocessable_entity",
                &format!("{what} {format:?}"),
            );
        }
    }
    for (what, body) in [
        (
            "JSON that does not parse",
            Payload::Raw(Some("application/json".into()), "{\"album\": ".into()),
        ),
        (
            "text/plain",
            Payload::Raw(Some("text/plain".into()), "album[public_id]=album_b".into()),
        ),
    ] {
        let r = call(
            &env.app,
            Endpoint::UpdateAlbum,
            &put(&token, "album_a", &body, Format::Http),
        )
        .await;
        assert_error(&r, 400, "bad_request", what);
    }
    let r = call(
        &env.app,
        Endpoint::UpdateAlbum,
        &put(
            &token,
            "album_a",
            &Payload::form(&[
                ("album[public_id]", "album_b"),
                ("pad", &"p".repeat(70 * 1024)),
            ]),
            Format::Http,
        ),
    )
    .await;
    assert_error(&r, 413, "payload_too_large", "a 70 KB body");
    let after = snapshot(&env).await;
    assert_eq!(before, after, "{}", snapshot_diff(&before, &after));

    // Its own id: 200 with the album as it is, nothing written.
    for body in [rename_form("album_a"), merge_form("album_a")] {
        let r = call(
            &env.app,
            Endpoint::UpdateAlbum,
            &put(&token, "album_a", &body, Format::Http),
        )
        .await;
        assert_success(&r, 200, USER, "its own id");
        assert_eq!(r.json["id"], "album_a");
        assert_eq!(r.json["images_count"], 3);
    }
    let after = snapshot(&env).await;
    assert_eq!(before, after, "{}", snapshot_diff(&before, &after));
}

#[tokio::test]
async fn the_sample_events_of_update_album_merge_and_rename_work_as_sent() {
    for format in Format::BOTH {
        let env = TestEnv::new("move-samples").await;
        let store = env.direct_store().await;
        let token = env.token(USER, None);
        let tag = create_tag(&env.app, &token, "summer").await;
        let (mut images, mut pairs) = seed_tagged(&env, SOURCE, 5, &tag, 2).await;
        let (team, team_pairs) = seed_tagged(&env, "team_album", 3, &tag, 1).await;
        let sample = |file: &str| {
            let mut e = event(file);
            crate::support::security::set_header(&mut e, "authorization", Some(&bearer(&token)));
            match format {
                Format::Http => e,
                Format::Rest => crate::support::security::to_rest(&e),
            }
        };
        // update-album-merge.json: team_album merged into the seed album.
        let r = call(
            &env.app,
            Endpoint::UpdateAlbum,
            &sample("update-album-merge.json"),
        )
        .await;
        assert_success(
            &r,
            200,
            USER,
            &format!("update-album-merge.json {format:?}"),
        );
        assert_eq!(r.json["id"], SOURCE);
        assert_eq!(r.json["images_count"], 8);
        images.extend(team);
        pairs.extend(team_pairs);
        assert_moved(
            &store,
            "team_album",
            SOURCE,
            &images,
            &pairs,
            "the sample merge",
        )
        .await;
        // update-album.json: the seed album renamed.
        let r = call(
            &env.app,
            Endpoint::UpdateAlbum,
            &sample("update-album.json"),
        )
        .await;
        assert_success(&r, 200, USER, &format!("update-album.json {format:?}"));
        assert_eq!(r.json["id"], "renamed_album");
        assert_eq!(r.json["images_count"], 8);
        assert_moved(
            &store,
            SOURCE,
            "renamed_album",
            &images,
            &pairs,
            "the sample rename",
        )
        .await;
    }
}

// ---------------------------------------------------------------- 202

#[tokio::test]
async fn a_move_too_large_for_one_request_answers_202_and_its_job_runs_to_done_exactly() {
    let mut env = TestEnv::new("move-job").await;
    let store = env.direct_store().await;
    let token = env.token(USER, None);
    let auth = bearer(&token);
    let n = if emulator_is_moto() { 120 } else { 250 };
    let tag = create_tag(&env.app, &token, "big").await;
    let (src_images, src_pairs) = seed_tagged(&env, "big_src", n, &tag, 5).await;
    let (m_images, m_pairs) = seed_tagged(&env, "merge_src", n, &tag, 7).await;
    let (d_images, d_pairs) = seed_tagged(&env, "merge_dst", 20, &tag, 3).await;
    seed_album(&store, "elsewhere", ORG, 1).await;
    // No inline time: every move answers 202 with its job at once.
    set_sync_copy_budget(&mut env.app, Duration::ZERO);

    for (src, dst, merge, images, pairs, total) in [
        (
            "big_src",
            "big_renamed",
            None,
            src_images.clone(),
            src_pairs.clone(),
            n,
        ),
        (
            "merge_src",
            "merge_dst",
            Some("true"),
            m_images.union(&d_images).cloned().collect(),
            m_pairs.union(&d_pairs).cloned().collect(),
            n + 20,
        ),
    ] {
        let ev = put(&token, src, &move_body(dst, merge, false), Format::Http);
        let r = call(&env.app, Endpoint::UpdateAlbum, &ev).await;
        assert_success(&r, 202, USER, src);
        let job = r.json["job_id"].as_str().expect("a job id").to_string();
        assert_eq!(r.json["kind"], "move", "{}", r.text);
        assert_eq!(r.json["status"], "running", "{}", r.text);
        assert_eq!(r.json["source_album_id"], src);
        assert_eq!(r.json["destination_id"], dst);
        assert_eq!(
            r.header("location"),
            Some(format!("/api/v1/duplications/{job}").as_str())
        );
        assert!(
            r.header("retry-after")
                .is_some_and(|v| v.parse::<u64>().is_ok_and(|s| s >= 1)),
            "Retry-After"
        );

        // While it moves: another destination is a 409 (rename and merge),
        // the same request is the same job.
        for body in [rename_form("not_there_yet"), merge_form("elsewhere")] {
            let r = call(
                &env.app,
                Endpoint::UpdateAlbum,
                &put(&token, src, &body, Format::Rest),
            )
            .await;
            assert_error(
                &r,
                409,
                "conflict",
                &format!("{src}: moved elsewhere meanwhile"),
            );
        }
        assert!(
            store
                .get_album(&crate::support::key("not_there_yet"))
                .await
                .unwrap()
                .is_none()
        );
        let again = call(&env.app, Endpoint::UpdateAlbum, &ev).await;
        assert_success(&again, 202, USER, "the same request again");
        assert_eq!(again.json["job_id"], job.as_str(), "the same job");

        let get = Endpoint::GetDuplication.event(Some(&auth), Some(&job));
        let running = call(&env.app, Endpoint::GetDuplication, &get).await;
        assert_success(&running, 200, USER, "the running job");
        assert_eq!(running.json["kind"], "move");
        assert_eq!(running.json["status"], "running");

        run_job_to_done(&env.app, &job, 50).await;
        assert_moved(&store, src, dst, &images, &pairs, src).await;
        let done = call(&env.app, Endpoint::GetDuplication, &get).await;
        assert_eq!(done.json["status"], "done", "{}", done.text);
        assert_eq!(done.json["kind"], "move");
        assert_eq!(done.json["album"]["id"], dst, "{}", done.text);
        assert_eq!(done.json["album"]["images_count"], total, "{}", done.text);
        // The same request after the move: the album is gone, and renaming
        // a missing album answers as SharinPix's does (200, empty).
        let late = call(&env.app, Endpoint::UpdateAlbum, &ev).await;
        assert_success(&late, 200, USER, "after the move");
        assert!(late.text.is_empty(), "{}", late.text);
        assert_moved(&store, src, dst, &images, &pairs, src).await;
    }
    assert_album_exact(&store, "elsewhere", 1, "elsewhere").await;
}

// ---------------------------------------------------------------- kill -9

/// (images, trials) of the crash test: moto's server moves several times
/// more slowly, so its run kills a smaller album fewer times.
fn crash_scale() -> (u64, u32) {
    if emulator_is_moto() {
        (400, 4)
    } else {
        (1500, 8)
    }
}

const MOVE_FUNCTION: &str = "UpdateAlbumFunction";

fn update_album_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_update_album"))
}

/// Sends `event` to a fresh `update_album` under the emulator and waits for
/// its answer; a 202 has its job run to done here, as the worker would.
/// Returns the status and how long the invocation took.
async fn send_to_completion(
    env: &TestEnv,
    rie: &std::path::Path,
    log: &std::path::Path,
    event: &Value,
    what: &str,
) -> (u64, Value, Duration) {
    let mut f = Function::start(rie, &update_album_exe(), MOVE_FUNCTION, &env.table, log);
    let started = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(240), Function::invoke(f.port, event))
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer in 240 s (log: {})", log.display()))
        .unwrap_or_else(|e| panic!("{what}: {e} (log: {})", log.display()));
    let took = started.elapsed();
    f.kill();
    let (status, body) = http_answer(&answer);
    if status == 202 {
        let job = body["job_id"].as_str().expect("a job id");
        run_job_to_done(&env.app, job, 50).await;
    }
    (status, body, took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_killed_mid_way_is_exact_once_the_same_request_is_sent_again() {
    let rie = rie_path();
    let env = TestEnv::new("move-crash").await;
    let direct = env.direct_store().await;
    let (n, trials) = crash_scale();
    let token = env.token(USER, None);
    let tag = create_tag(&env.app, &token, "crash").await;
    let emulator = if emulator_is_moto() {
        "moto"
    } else {
        "dynalite"
    };
    let log =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("album_moves-rie-{emulator}.log"));
    let _ = std::fs::remove_file(&log);
    let event_for = |src: &str, dst: &str, merge: bool| {
        put(
            &token,
            src,
            &move_body(dst, merge.then_some("true"), false),
            Format::Http,
        )
    };

    // An uncrashed run: the baseline for kill times (cold start included).
    let (images, pairs) = seed_tagged(&env, "base_src", n, &tag, 10).await;
    let (status, body, mut baseline) = send_to_completion(
        &env,
        &rie,
        &log,
        &event_for("base_src", "base_dst", false),
        "uncrashed",
    )
    .await;
    assert!(status == 200 || status == 202, "uncrashed: {status} {body}");
    assert_moved(
        &direct,
        "base_src",
        "base_dst",
        &images,
        &pairs,
        "uncrashed",
    )
    .await;

    let seed: u64 = rand::rng().random();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut outcomes: BTreeMap<&str, u32> = BTreeMap::new();
    let mut by_count_mid_move = 0;
    for trial in 0..trials {
        let by_count = trial % 2 == 1;
        let merge = (trial / 2) % 2 == 1;
        let (src, dst) = (format!("crash_src_{trial}"), format!("crash_dst_{trial}"));
        let (mut images, mut pairs) = seed_tagged(&env, &src, n, &tag, 10).await;
        let already = if merge {
            let (d_images, d_pairs) = seed_tagged(&env, &dst, 40, &tag, 4).await;
            images.extend(d_images);
            pairs.extend(d_pairs);
            40
        } else {
            0
        };
        let event = event_for(&src, &dst, merge);
        let mut f = Function::start(&rie, &update_album_exe(), MOVE_FUNCTION, &env.table, &log);
        let port = f.port;
        let call = tokio::spawn({
            let event = event.clone();
            async move { Function::invoke(port, &event).await }
        });
        let kill_point = if by_count {
            let target = already + rng.random_range(50..n * 8 / 10);
            let waiting = Instant::now();
            while direct
                .count_images(&crate::support::key(&dst))
                .await
                .unwrap()
                < target
            {
                assert!(
                    !call.is_finished(),
                    "trial {trial}: the request ended before {target} items"
                );
                assert!(
                    waiting.elapsed() < Duration::from_secs(120),
                    "trial {trial}: never reached {target} items"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            format!("at >= {target} images in {dst}")
        } else {
            let share = rng.random_range(0.3..0.9);
            let at = baseline.mul_f64(share);
            tokio::time::sleep(at).await;
            format!("after {} ms ({:.0} %)", at.as_millis(), share * 100.0)
        };
        let answered = call.is_finished();
        let function_ran = f.kill();
        call.abort();
        let _ = call.await;

        let src_exists = direct
            .get_album(&crate::support::key(&src))
            .await
            .unwrap()
            .is_some();
        let in_dst = direct
            .count_images(&crate::support::key(&dst))
            .await
            .unwrap();
        let when = if answered || !function_ran {
            "after the answer"
        } else if !src_exists {
            "after the move, before the answer"
        } else if in_dst == already {
            "before the first batch"
        } else {
            "mid-move"
        };
        *outcomes.entry(when).or_default() += 1;
        if by_count && when == "mid-move" {
            by_count_mid_move += 1;
        }
        let what = format!(
            "trial {trial} ({}, seed {seed}, killed {kill_point}, {when})",
            if merge { "merge" } else { "rename" }
        );
        // Killed anywhere, no image is in neither album.
        let twice = assert_nothing_lost(&direct, &[&src, &dst], &images, &what).await;
        eprintln!("{what}: {in_dst} images in {dst}, {twice} in both albums; sending it again");

        let (status, body, took) = send_to_completion(&env, &rie, &log, &event, &what).await;
        match status {
            // The move had finished before the kill: the album is gone, and
            // a rename of a missing album answers 200 with an empty body, as
            // SharinPix's does.
            200 if body.is_null() => {
                assert!(!src_exists, "{what}: an empty 200 while {src} existed")
            }
            200 => assert_eq!(body["images_count"], images.len(), "{what}: {body}"),
            202 => {}
            other => panic!("{what}: the same request again answered {other}: {body}"),
        }
        if status == 200 {
            baseline = took;
        }
        assert_moved(&direct, &src, &dst, &images, &pairs, &what).await;
    }
    eprintln!(
        "move crash trials={trials} images={n} exact={trials} outcomes={outcomes:?} seed={seed}"
    );
    assert_eq!(
        by_count_mid_move,
        trials / 2,
        "every kill at a count of moved images landed mid-move"
    );
}

// ---------------------------------------------------------------- faults

fn quick_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base: Duration::from_millis(2),
        cap: Duration::from_millis(40),
    }
}

/// Sends `event` until it answers 200 (a 503 is sent again, as a client
/// honouring Retry-After would; a 202's job is run to done): the last answer.
async fn send_until_done(env: &TestEnv, event: &Value, what: &str) -> Resp {
    for attempt in 1..=10 {
        let r = call(&env.app, Endpoint::UpdateAlbum, event).await;
        match r.status {
            200 => return r,
            202 => {
                run_job_to_done(&env.app, r.json["job_id"].as_str().unwrap(), 50).await;
                return r;
            }
            503 => eprintln!("{what}: attempt {attempt} answered 503; sent again"),
            other => panic!("{what}: {other} {}", r.text),
        }
    }
    panic!("{what}: still 503 after 10 attempts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rename_and_a_merge_end_exact_through_unprocessed_items_and_throttling() {
    let proxy = FaultProxy::start(&emulator_endpoint(), FaultConfig::none()).await;
    let mut env = TestEnv::with_endpoint("move-faults", &proxy.endpoint()).await;
    env.app.store = env.app.store.clone().with_retry_policy(quick_retries(30));
    let store = env.direct_store().await;
    let n = if emulator_is_moto() { 200 } else { 600 };
    let token = env.token(USER, None);
    let tag = create_tag(&env.app, &token, "faulty").await;
    let (images, pairs) = seed_tagged(&env, "faulty_src", n, &tag, 6).await;
    let (d_images, d_pairs) = seed_tagged(&env, "faulty_dst", 50, &tag, 5).await;
    proxy.set_config(FaultConfig {
        unprocessed_rate: 0.3,
        throttle_rate: 0.1,
        seed: 31,
        first_of_each_op: true,
        ..FaultConfig::default()
    });
    proxy.reset_stats();

    let r = send_until_done(
        &env,
        &put(
            &token,
            "faulty_src",
            &rename_form("faulty_renamed"),
            Format::Http,
        ),
        "rename",
    )
    .await;
    if r.status == 200 {
        assert_eq!(r.json["images_count"], n);
    }
    assert_moved(
        &store,
        "faulty_src",
        "faulty_renamed",
        &images,
        &pairs,
        "rename",
    )
    .await;
    let r = send_until_done(
        &env,
        &put(
            &token,
            "faulty_renamed",
            &merge_form("faulty_dst"),
            Format::Rest,
        ),
        "merge",
    )
    .await;
    if r.status == 200 {
        assert_eq!(r.json["images_count"], n + 50);
    }
    let all: BTreeSet<String> = images.union(&d_images).cloned().collect();
    let all_pairs: BTreeSet<(String, String)> = pairs.union(&d_pairs).cloned().collect();
    assert_moved(
        &store,
        "faulty_renamed",
        "faulty_dst",
        &all,
        &all_pairs,
        "merge",
    )
    .await;

    let stats = proxy.stats();
    eprintln!("move under faults: {stats:?}");
    assert!(stats.unprocessed_calls > 0, "{stats:?}");
    assert!(stats.items_deferred > 0, "{stats:?}");
    assert!(stats.throttled > 0, "{stats:?}");
    assert!(stats.faults_on("BatchWriteItem") > 0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_whose_writes_keep_failing_fails_clearly_and_the_same_request_then_finishes_exactly()
{
    let proxy = FaultProxy::start(&emulator_endpoint(), FaultConfig::none()).await;
    let mut env = TestEnv::with_endpoint("move-exhaust", &proxy.endpoint()).await;
    env.app.store = env.app.store.clone().with_retry_policy(quick_retries(3));
    let store = env.direct_store().await;
    let n = if emulator_is_moto() { 120 } else { 400 };
    let token = env.token(USER, None);
    let tag = create_tag(&env.app, &token, "exhaust").await;
    for (kind, cfg) in [
        (
            "unprocessed",
            FaultConfig {
                unprocessed_rate: 1.0,
                seed: 41,
                ..FaultConfig::default()
            }
            .only(["BatchWriteItem"]),
        ),
        (
            "throttled",
            FaultConfig {
                throttle_rate: 1.0,
                seed: 43,
                ..FaultConfig::default()
            }
            .only(["BatchWriteItem"]),
        ),
    ] {
        let (src, dst) = (format!("{kind}_src"), format!("{kind}_dst"));
        let (mut images, mut pairs) = seed_tagged(&env, &src, n, &tag, 4).await;
        let (d_images, d_pairs) = seed_tagged(&env, &dst, 30, &tag, 3).await;
        images.extend(d_images);
        pairs.extend(d_pairs);
        let ev = put(&token, &src, &merge_form(&dst), Format::Http);
        proxy.set_config(cfg);
        proxy.reset_stats();
        let r = call(&env.app, Endpoint::UpdateAlbum, &ev).await;
        let stats = proxy.stats();
        assert!(stats.faults_on("BatchWriteItem") > 0, "{kind}: {stats:?}");
        match r.status {
            503 => assert_error(&r, 503, "unavailable", kind),
            // Part of it moved before the trouble: saved as a job.
            202 => assert_eq!(r.json["kind"], "move", "{kind}: {}", r.text),
            other => panic!("{kind}: never a silent partial success: {other} {}", r.text),
        }
        let twice =
            assert_nothing_lost(&store, &[&src, &dst], &images, &format!("{kind}: stopped")).await;
        eprintln!(
            "{kind}: answered {} ({twice} images in both albums)",
            r.status
        );
        assert!(
            store
                .get_album(&crate::support::key(&src))
                .await
                .unwrap()
                .is_some(),
            "{kind}: the source is kept until everything moved"
        );

        proxy.set_config(FaultConfig::none());
        send_until_done(&env, &ev, kind).await;
        assert_moved(&store, &src, &dst, &images, &pairs, kind).await;
    }
}

// ---------------------------------------------------------------- other writers

#[tokio::test]
async fn an_album_being_moved_sends_uploads_to_its_destination_and_refuses_duplicates() {
    let mut env = TestEnv::new("move-writers").await;
    let store = env.direct_store().await;
    let token = env.token(USER, None);
    let tag = create_tag(&env.app, &token, "writers").await;
    let (mut images, pairs) = seed_tagged(&env, "moving", 40, &tag, 4).await;
    seed_album(&store, "bystander", ORG, 2).await;
    // No inline time: the move answers 202 and stays marked until its job runs.
    set_sync_copy_budget(&mut env.app, Duration::ZERO);
    let r = call(
        &env.app,
        Endpoint::UpdateAlbum,
        &put(&token, "moving", &rename_form("moved"), Format::Http),
    )
    .await;
    assert_success(&r, 202, USER, "the move");
    let job = r.json["job_id"].as_str().unwrap().to_string();
    set_sync_copy_budget(&mut env.app, Duration::from_secs(60));

    // A Cloudinary upload for the moving album, delivered twice: recorded
    // once, where its images go.
    let note = album_api::auth::issue_notification_token(
        USER,
        "moving",
        ORG,
        &crate::support::security::notification_key(),
        album_api::service::now(),
        3600,
    )
    .unwrap();
    let (asset, body) =
        crate::support::security::upload_notification("moving", 7, album_api::service::now() - 60);
    let delivery = crate::support::security::signed_webhook_event(Some(&note), &body);
    for attempt in ["first", "again"] {
        let r = call(&env.app, Endpoint::Webhook, &delivery).await;
        assert_eq!(r.status, 201, "{attempt}: {}", r.text);
    }
    images.insert(crate::support::security::upload_image_id("moving", &asset));

    // A duplicate from it or into it is refused while it moves; nothing copied.
    for (what, source, destination) in [
        ("from the moving album", "moving", "copy_of_moving"),
        ("into the moving album", "bystander", "moving"),
    ] {
        let r = call(
            &env.app,
            Endpoint::Duplicate,
            &api_event(
                Endpoint::Duplicate,
                Some(&bearer(&token)),
                Some(source),
                &[],
                Some(&Payload::form(&[("destination_id", destination)])),
                Format::Http,
            ),
        )
        .await;
        assert_error(&r, 409, "conflict", what);
    }
    assert!(
        store
            .get_album(&crate::support::key("copy_of_moving"))
            .await
            .unwrap()
            .is_none()
    );

    run_job_to_done(&env.app, &job, 50).await;
    assert_moved(&store, "moving", "moved", &images, &pairs, "after the move").await;
    assert_album_exact(&store, "bystander", 2, "bystander").await;
    // A late re-delivery finds no album: 404, nothing written.
    let before = snapshot(&env).await;
    let r = call(&env.app, Endpoint::Webhook, &delivery).await;
    assert_error(&r, 404, "not_found", "a delivery after the move");
    let after = snapshot(&env).await;
    assert_eq!(before, after, "{}", snapshot_diff(&before, &after));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_deleted_while_its_move_is_unfinished_stays_deleted_once_the_move_finishes() {
    let proxy = FaultProxy::start(&emulator_endpoint(), FaultConfig::none()).await;
    let mut env = TestEnv::with_endpoint("move-delete", &proxy.endpoint()).await;
    env.app.store = env.app.store.clone().with_retry_policy(quick_retries(3));
    let store = env.direct_store().await;
    let token = env.token(USER, None);
    let auth = bearer(&token);
    let tag = create_tag(&env.app, &token, "deleted").await;
    let n = if emulator_is_moto() { 100 } else { 200 };

    // The move's deletes fail: it stops at its first batch (one batch in
    // flight at a time), written to the new album and not deleted from the
    // old one, as a crash would leave it. Associations come first in a
    // move: one image in ten tagged, the first batch holds images too.
    env.app.copy.concurrency = 1;
    let (src, dst) = ("half_moved", "half_renamed");
    let (images, pairs) = seed_tagged(&env, src, n, &tag, 10).await;
    assert!(pairs.len() < 25, "the first batch holds images too");
    proxy.set_config(FaultConfig {
        throttle_rate: 1.0,
        deletes_only: true,
        seed: 47,
        ..FaultConfig::default()
    });
    let ev = put(&token, src, &rename_form(dst), Format::Http);
    let r = call(&env.app, Endpoint::UpdateAlbum, &ev).await;
    assert!(
        r.status == 503 || r.status == 202,
        "{} {}",
        r.status,
        r.text
    );
    proxy.set_config(FaultConfig::none());
    let old = album_image_ids(&store, src).await;
    let new = album_image_ids(&store, dst).await;
    let both: Vec<String> = old.intersection(&new).cloned().collect();
    let only_old: Vec<String> = old.difference(&new).cloned().collect();
    eprintln!(
        "stopped with {} images in both albums, {} only in the old one",
        both.len(),
        only_old.len()
    );
    assert!(!both.is_empty(), "the stop left images in both albums");
    assert!(!only_old.is_empty(), "the stop left images to move");

    // Deleting images and associations now: 204 each.
    let mut deleted = BTreeSet::new();
    for id in [&both[0], &only_old[0]] {
        let r = call(
            &env.app,
            Endpoint::DeleteImage,
            &Endpoint::DeleteImage.event(Some(&auth), Some(id)),
        )
        .await;
        assert_success(&r, 204, USER, &format!("deleting {id}"));
        deleted.insert(id.clone());
    }
    let untag = associations(&store, dst)
        .await
        .into_iter()
        .find(|a| !deleted.contains(&a.image_id) && old.contains(&a.image_id))
        .expect("an association in both albums");
    let r = call(
        &env.app,
        Endpoint::DeleteTagImage,
        &delete_tag_image_event(Some(&auth), &untag.id, Format::Http),
    )
    .await;
    assert_success(&r, 204, USER, "untagging an image in both albums");

    // The same move, sent again, finishes: what was deleted stays deleted.
    send_until_done(&env, &ev, "the move again").await;
    let after = album_image_ids(&store, dst).await;
    let back: Vec<&String> = deleted.iter().filter(|i| after.contains(*i)).collect();
    let untagged_back = association_pairs(&store, dst)
        .await
        .contains(&(untag.image_id.clone(), untag.tag_id.clone()));
    assert!(
        back.is_empty() && !untagged_back,
        "deleted (204) while the move was unfinished, yet there after it: images {back:?} \
         (of {both_0} in both albums, {only_0} only in the old one); association {} of \
         image {}: {untagged_back}",
        untag.id,
        untag.image_id,
        both_0 = both[0],
        only_0 = only_old[0],
    );
    let expected: BTreeSet<String> = images.difference(&deleted).cloned().collect();
    let expected_pairs: BTreeSet<(String, String)> = pairs
        .iter()
        .filter(|(i, _)| expected.contains(i) && *i != untag.image_id)
        .cloned()
        .collect();
    assert_moved(
        &store,
        src,
        dst,
        &expected,
        &expected_pairs,
        "deleted mid-move",
    )
    .await;
}

// ---------------------------------------------------------------- races

/// Shows the functions' warnings and errors in a failing test's output (a
/// 5xx is logged with its cause).
fn log_warnings() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("warn")
        .try_init();
}

/// Runs every event through the update handler at once, each as its own
/// task with its own clone of the app (as concurrent Lambda instances);
/// a 503 is sent again, as a client would. The final answers.
async fn race(env: &TestEnv, events: Vec<Value>) -> Vec<Resp> {
    log_warnings();
    let barrier = Arc::new(Barrier::new(events.len()));
    let mut set = JoinSet::new();
    for (i, ev) in events.into_iter().enumerate() {
        let app = env.app.clone();
        let barrier = barrier.clone();
        set.spawn(async move {
            barrier.wait().await;
            (
                i,
                call_retrying_503(&app, Endpoint::UpdateAlbum, &ev, 5).await,
            )
        });
    }
    let mut out: Vec<(usize, Resp)> = Vec::new();
    while let Some(done) = set.join_next().await {
        out.push(done.expect("no task panicked"));
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// Runs a 202's job to done (a move out of inline time behind the race).
async fn finish_if_202(env: &TestEnv, r: &Resp) {
    if r.status == 202 {
        run_job_to_done(&env.app, r.json["job_id"].as_str().unwrap(), 50).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_identical_merges_at_once_end_exact() {
    let env = TestEnv::new("race-merge-same").await;
    let store = env.direct_store().await;
    let token = env.token(USER, None);
    let tag = create_tag(&env.app, &token, "race").await;
    let rounds = if emulator_is_moto() { 2 } else { 4 };
    for round in 0..rounds {
        let (src, dst) = (format!("same_src_{round}"), format!("same_dst_{round}"));
        let (mut images, mut pairs) = seed_tagged(&env, &src, 80, &tag, 3).await;
        let (d_images, d_pairs) = seed_tagged(&env, &dst, 20, &tag, 4).await;
        images.extend(d_images);
        pairs.extend(d_pairs);
        let ev = put(&token, &src, &merge_form(&dst), Format::Http);
        let answers = race(&env, vec![ev; 5]).await;
        let mut statuses = Vec::new();
        for r in &answers {
            statuses.push(r.status);
            match r.status {
                // It came after the source was gone: as a rename of a
                // missing album, 200 with an empty body.
                200 if r.text.is_empty() => {}
                // It finished the move (alone or with the others).
                200 => assert_eq!(r.json["images_count"], 100, "round {round}: {}", r.text),
                202 => finish_if_202(&env, r).await,
                other => panic!("round {round}: {other} {}", r.text),
            }
        }
        assert!(
            answers
                .iter()
                .any(|r| (r.status == 200 && !r.text.is_empty()) || r.status == 202),
            "round {round}: nobody moved it: {statuses:?}"
        );
        eprintln!("round {round}: five identical merges answered {statuses:?}");
        assert_moved(
            &store,
            &src,
            &dst,
            &images,
            &pairs,
            &format!("round {round}"),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_albums_merged_at_once_into_one_destination_end_exact() {
    let env = TestEnv::new("race-merge-many").await;
    let store = env.direct_store().await;
    let token = env.token(USER, None);
    let tag = create_tag(&env.app, &token, "many").await;
    let (mut images, mut pairs) = seed_tagged(&env, "together", 10, &tag, 2).await;
    let mut events = Vec::new();
    let mut sources = Vec::new();
    for i in 0..5 {
        let src = format!("part_{i}");
        let (s_images, s_pairs) = seed_tagged(&env, &src, 30, &tag, 3).await;
        images.extend(s_images);
        pairs.extend(s_pairs);
        events.push(put(&token, &src, &merge_form("together"), Format::Http));
        sources.push(src);
    }
    for (i, r) in race(&env, events).await.iter().enumerate() {
        match r.status {
            200 => {
                let count = r.json["images_count"].as_u64().unwrap();
                assert!(
                    (40..=160).contains(&count),
                    "merge {i}: at least its own and the destination's: {count}"
                );
            }
            202 => finish_if_202(&env, r).await,
            other => panic!("merge {i}: {other} {}", r.text),
        }
    }
    assert_eq!(images.len(), 160);
    for src in &sources {
        assert!(
            store
                .get_album(&crate::support::key(src))
                .await
                .unwrap()
                .is_none(),
            "{src}"
        );
        assert!(
            partition_sort_keys(&store, src, "").await.is_empty(),
            "{src}"
        );
    }
    assert_moved(&store, &sources[0], "together", &images, &pairs, "together").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_renames_of_one_album_at_once_leave_it_under_exactly_one_new_id() {
    let env = TestEnv::new("race-rename").await;
    let store = env.direct_store().await;
    let token = env.token(USER, None);
    let tag = create_tag(&env.app, &token, "one").await;
    let rounds = if emulator_is_moto() { 2 } else { 4 };
    for round in 0..rounds {
        let src = format!("contested_{round}");
        let (images, pairs) = seed_tagged(&env, &src, 60, &tag, 3).await;
        let targets: Vec<String> = (0..5).map(|i| format!("claim_{round}_{i}")).collect();
        let events = targets
            .iter()
            .map(|t| put(&token, &src, &rename_form(t), Format::Http))
            .collect();
        let answers = race(&env, events).await;
        let mut winners = Vec::new();
        for (t, r) in targets.iter().zip(&answers) {
            match r.status {
                // Came after the source was gone (a rename of a missing
                // album: 200, empty).
                200 if r.text.is_empty() => {}
                200 | 202 => {
                    finish_if_202(&env, r).await;
                    winners.push(t.clone());
                }
                409 => assert_error(r, 409, "conflict", t),
                other => panic!("round {round} {t}: {other} {}", r.text),
            }
        }
        let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one rename wins: {statuses:?}"
        );
        let winner = &winners[0];
        assert_moved(
            &store,
            &src,
            winner,
            &images,
            &pairs,
            &format!("round {round}"),
        )
        .await;
        for t in targets.iter().filter(|t| *t != winner) {
            assert!(
                store
                    .get_album(&crate::support::key(t))
                    .await
                    .unwrap()
                    .is_none(),
                "round {round}: {t} was created"
            );
            assert!(partition_sort_keys(&store, t, "").await.is_empty(), "{t}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn merging_a_into_b_while_b_merges_into_c_loses_strands_and_blocks_nothing() {
    let env = TestEnv::new("race-chain").await;
    let store = env.direct_store().await;
    let token = env.token(USER, None);
    let tag = create_tag(&env.app, &token, "chain").await;
    let rounds = if emulator_is_moto() { 2 } else { 5 };
    for round in 0..rounds {
        let (a, b, c) = (
            format!("chain_a_{round}"),
            format!("chain_b_{round}"),
            format!("chain_c_{round}"),
        );
        let mut images = BTreeSet::new();
        let mut pairs = BTreeSet::new();
        let b_images = 120;
        for (album, n) in [(&a, 300), (&b, b_images), (&c, 10)] {
            let (i, p) = seed_tagged(&env, album, n, &tag, 3).await;
            images.extend(i);
            pairs.extend(p);
        }
        let a_into_b = put(&token, &a, &merge_form(&b), Format::Http);
        let b_into_c = put(&token, &b, &merge_form(&c), Format::Http);
        // Even rounds start both at once; odd rounds start B into C once
        // A's images are arriving in B (A's move slowed to one batch at a time).
        let answers = if round % 2 == 0 {
            race(&env, vec![a_into_b, b_into_c]).await
        } else {
            let mut slow = env.app.clone();
            slow.copy.concurrency = 1;
            slow.copy.page_limit = Some(25);
            let first = tokio::spawn(async move {
                call_retrying_503(&slow, Endpoint::UpdateAlbum, &a_into_b, 5).await
            });
            let waiting = Instant::now();
            while store.count_images(&crate::support::key(&b)).await.unwrap() <= b_images
                && !first.is_finished()
            {
                assert!(
                    waiting.elapsed() < Duration::from_secs(60),
                    "round {round}: A's images never reached B"
                );
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let second = call_retrying_503(&env.app, Endpoint::UpdateAlbum, &b_into_c, 5).await;
            vec![first.await.expect("no panic"), second]
        };
        for r in &answers {
            match r.status {
                200 | 409 | 404 => {}
                202 => finish_if_202(&env, r).await,
                other => panic!("round {round}: {other} {}", r.text),
            }
        }
        let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
        eprintln!("round {round}: A into B, B into C answered {statuses:?}");
        // An album still there takes uploads (Cloudinary's notification is
        // recorded, 201), whatever was refused.
        if store
            .get_album(&crate::support::key(&a))
            .await
            .unwrap()
            .is_some()
        {
            let note = album_api::auth::issue_notification_token(
                USER,
                &a,
                ORG,
                &crate::support::security::notification_key(),
                album_api::service::now(),
                3600,
            )
            .unwrap();
            let (asset, body) = crate::support::security::upload_notification(
                &a,
                round,
                album_api::service::now() - 60,
            );
            let r = call(
                &env.app,
                Endpoint::Webhook,
                &crate::support::security::signed_webhook_event(Some(&note), &body),
            )
            .await;
            assert_eq!(
                r.status, 201,
                "round {round} ({statuses:?}): an upload into {a}: {}",
                r.text
            );
            images.insert(crate::support::security::upload_image_id(&a, &asset));
        }
        // A refused move changes nothing: no mark is left on the album it refused.
        for (r, album) in answers.iter().zip([&a, &b]) {
            if r.status == 409 {
                assert_eq!(
                    store.album_move(&crate::support::key(album)).await.unwrap(),
                    None,
                    "round {round}: {album}'s move answered 409 ({}) yet left it marked",
                    r.text
                );
            }
        }
        // Every image is in exactly one album, and every album holding
        // anything exists with an exact count.
        let mut holders: BTreeMap<String, usize> = BTreeMap::new();
        let mut seen = BTreeSet::new();
        for album in [&a, &b, &c] {
            let ids = album_image_ids(&store, album).await;
            let keys = partition_sort_keys(&store, album, "").await;
            let exists = store
                .get_album(&crate::support::key(album))
                .await
                .unwrap()
                .is_some();
            assert!(
                exists || keys.is_empty(),
                "round {round} ({statuses:?}): {} items stranded in deleted album {album}",
                keys.len()
            );
            if exists {
                assert_album_exact(&store, album, ids.len() as u64, album).await;
            }
            for id in ids {
                assert!(
                    seen.insert(id.clone()),
                    "round {round}: image {id} in two albums"
                );
            }
            holders.insert(album.clone(), keys.len());
        }
        assert_eq!(seen, images, "round {round}: images lost");
        let mut stored_pairs = BTreeSet::new();
        for album in [&a, &b, &c] {
            stored_pairs.extend(association_pairs(&store, album).await);
        }
        assert_eq!(stored_pairs, pairs, "round {round}: associations");
        assert!(
            store
                .get_album(&crate::support::key(&c))
                .await
                .unwrap()
                .is_some(),
            "round {round}: C exists"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn merging_two_albums_into_each_other_at_once_loses_and_strands_nothing() {
    let env = TestEnv::new("race-cycle").await;
    let store = env.direct_store().await;
    let token = env.token(USER, None);
    let tag = create_tag(&env.app, &token, "cycle").await;
    let rounds = if emulator_is_moto() { 3 } else { 8 };
    for round in 0..rounds {
        let (a, b) = (format!("cycle_a_{round}"), format!("cycle_b_{round}"));
        let mut images = BTreeSet::new();
        let mut pairs = BTreeSet::new();
        for album in [&a, &b] {
            let (i, p) = seed_tagged(&env, album, 100, &tag, 3).await;
            images.extend(i);
            pairs.extend(p);
        }
        let answers = race(
            &env,
            vec![
                put(&token, &a, &merge_form(&b), Format::Http),
                put(&token, &b, &merge_form(&a), Format::Http),
            ],
        )
        .await;
        for r in &answers {
            match r.status {
                200 | 404 | 409 => {}
                202 => finish_if_202(&env, r).await,
                other => panic!("round {round}: {other} {}", r.text),
            }
        }
        let mut statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
        eprintln!("round {round}: A into B, B into A answered {statuses:?}");
        // Refused both ways: each request sent again, one after the other,
        // as their clients would; the first must then merge.
        if statuses.iter().all(|s| *s == 409) {
            let marks = (
                store.album_move(&crate::support::key(&a)).await.unwrap(),
                store.album_move(&crate::support::key(&b)).await.unwrap(),
            );
            for (src, dst) in [(&a, &b), (&b, &a)] {
                let r = call(
                    &env.app,
                    Endpoint::UpdateAlbum,
                    &put(&token, src, &merge_form(dst), Format::Http),
                )
                .await;
                finish_if_202(&env, &r).await;
                statuses.push(r.status);
            }
            eprintln!("round {round}: marks after the race {marks:?}; sent again: {statuses:?}");
        }
        // Exactly one album is left, holding every image and association.
        let left: Vec<&String> = {
            let mut v = Vec::new();
            for album in [&a, &b] {
                if store
                    .get_album(&crate::support::key(album))
                    .await
                    .unwrap()
                    .is_some()
                {
                    v.push(album);
                }
            }
            v
        };
        let mut seen = BTreeSet::new();
        for album in [&a, &b] {
            let keys = partition_sort_keys(&store, album, "").await;
            assert!(
                left.contains(&album) || keys.is_empty(),
                "round {round} ({statuses:?}): {} items stranded in deleted album {album}",
                keys.len()
            );
            for id in album_image_ids(&store, album).await {
                assert!(
                    seen.insert(id.clone()),
                    "round {round}: {id} in both albums"
                );
            }
        }
        assert_eq!(seen, images, "round {round} ({statuses:?}): images lost");
        assert_eq!(
            left.len(),
            1,
            "round {round} ({statuses:?}): albums left: {left:?}"
        );
        let survivor = left[0].clone();
        let other = if survivor == a { &b } else { &a };
        assert_moved(
            &store,
            other,
            &survivor,
            &images,
            &pairs,
            &format!("round {round}"),
        )
        .await;
    }
}
