//! The trash and bulk deletes: a deleted image is listed and restored with
//! its tag images and exact counts; a bulk delete is all-or-nothing on
//! abilities; a bulk delete or a restore cut off half-way and retried, and
//! restores racing deletes of the same image, leave every count exact and
//! each image in its album once or in the trash.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::support::calls::{self, Payload, Resp, access, call};
use crate::support::fault_proxy::{FaultConfig, FaultProxy};
use crate::support::security::Endpoint;
use crate::support::tagging::{association_pairs, create_tag, tag_images};
use crate::support::*;
use album_api::App;
use album_api::store::trash::TrashedImage;

const OTHER_ALBUM: &str = "other-album";

fn delete_event(auth: &str, image: &str) -> Value {
    Endpoint::DeleteImage.event(Some(auth), Some(image))
}

fn bulk_event(auth: &str, ids: &[&str]) -> Value {
    let pairs: Vec<(&str, &str)> = ids.iter().map(|id| ("image_ids[]", *id)).collect();
    calls::api_event(
        Endpoint::DeleteImages,
        Some(auth),
        None,
        &[],
        Some(&Payload::form(&pairs)),
        calls::Format::Http,
    )
}

/// Deletes image `image` through its handler.
async fn delete(app: &App, auth: &str, image: &str) -> Resp {
    call(app, Endpoint::DeleteImage, &delete_event(auth, image)).await
}

/// Restores trashed image `image` through its handler.
async fn restore(app: &App, auth: &str, image: &str) -> Resp {
    call(
        app,
        Endpoint::RestoreTrashedImage,
        &restore_event(auth, image),
    )
    .await
}

fn restore_event(auth: &str, image: &str) -> Value {
    Endpoint::RestoreTrashedImage.event(Some(auth), Some(image))
}

fn list_event(auth: &str, album: Option<&str>) -> Value {
    let mut e = Endpoint::ListTrashedImages.event(Some(auth), None);
    if let Some(a) = album {
        crate::support::security::set_query(&mut e, &[("album_id", a)]);
    }
    e
}

/// The ids a trash listing shows, following every page.
async fn trashed_ids(env: &TestEnv, auth: &str, album: Option<&str>) -> BTreeSet<String> {
    let pages = calls::follow_pages(&env.app, Endpoint::ListTrashedImages, |cursor| {
        let mut e = list_event(auth, album);
        let mut q: Vec<(&str, &str)> = vec![("limit", "2")];
        if let Some(a) = album {
            q.push(("album_id", a));
        }
        if let Some(c) = cursor {
            q.push(("cursor", c));
        }
        crate::support::security::set_query(&mut e, &q);
        e
    })
    .await;
    pages.iter().flat_map(|p| p.ids()).collect()
}

#[tokio::test]
async fn a_deleted_image_is_listed_then_restored_with_its_tag_images_and_exact_counts() {
    let env = TestEnv::new("trash-restore").await;
    let store = env.direct_store().await;
    let images = seed_album(&store, SOURCE, ORG, 5).await;
    let token = env.token(USER, None);
    let auth = bearer(&token);
    let tag = create_tag(&env.app, &token, "kept").await;
    let tag_id = tag["id"].as_str().unwrap();
    tag_images(&env.app, &token, tag_id, &[&images[1].id, &images[2].id]).await;
    let tags_before = association_pairs(&store, SOURCE).await;

    let r = delete(&env.app, &auth, &images[1].id).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_album_exact(&store, SOURCE, 4, "after the delete").await;
    assert_eq!(association_pairs(&store, SOURCE).await.len(), 1);

    let listed = call(
        &env.app,
        Endpoint::ListTrashedImages,
        &list_event(&auth, None),
    )
    .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let entry = &listed.array()[0];
    assert_eq!(entry["id"], images[1].id.as_str());
    assert_eq!(entry["album_id"], SOURCE);
    assert!(
        entry["deleted_at"]
            .as_str()
            .is_some_and(|d| d.ends_with('Z'))
    );
    assert!(
        entry["thumbnail_url"]
            .as_str()
            .is_some_and(|u| u.contains("/c_fill,h_200,w_200/")),
        "{entry}"
    );

    let restored = restore(&env.app, &auth, &images[1].id).await;
    assert_eq!(restored.status, 200, "{}", restored.text);
    assert_eq!(restored.json["id"], images[1].id.as_str());
    assert_eq!(restored.json["album_id"], SOURCE);
    assert_album_exact(&store, SOURCE, 5, "after the restore").await;
    assert_eq!(association_pairs(&store, SOURCE).await, tags_before);
    assert!(trashed_ids(&env, &auth, None).await.is_empty());

    // Sent again (as after an answer lost on the way back), the restore
    // answers the image it restored, and changes nothing.
    let again = restore(&env.app, &auth, &images[1].id).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json, restored.json);
    assert_album_exact(&store, SOURCE, 5, "after a second restore").await;
    assert!(trashed_ids(&env, &auth, None).await.is_empty());

    // Deleted again, it is in the trash again, and restored again.
    let r = delete(&env.app, &auth, &images[1].id).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(
        trashed_ids(&env, &auth, None).await,
        BTreeSet::from([images[1].id.clone()])
    );
    let third = restore(&env.app, &auth, &images[1].id).await;
    assert_eq!(third.status, 200, "{}", third.text);
    assert_album_exact(&store, SOURCE, 5, "after the third restore").await;
    assert_eq!(association_pairs(&store, SOURCE).await, tags_before);

    // Never deleted: nothing to restore.
    let never = restore(&env.app, &auth, &images[0].id).await;
    assert_eq!(never.status, 404, "{}", never.text);
}

#[tokio::test]
async fn the_trash_shows_each_token_the_albums_it_holds_trash_on_and_refuses_one_without() {
    let env = TestEnv::new("trash-scope").await;
    let store = env.direct_store().await;
    let ours = seed_album(&store, SOURCE, ORG, 3).await;
    let theirs = seed_album(&store, OTHER_ALBUM, ORG, 3).await;
    let auth = bearer(&env.token(USER, None));
    let r = call(
        &env.app,
        Endpoint::DeleteImages,
        &bulk_event(&auth, &[&ours[0].id, &ours[1].id, &theirs[0].id]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.array().len(), 3);

    let everything = trashed_ids(&env, &auth, None).await;
    assert_eq!(everything.len(), 3);
    let only_source = trashed_ids(&env, &auth, Some(SOURCE)).await;
    let expected: BTreeSet<String> = [ours[0].id.clone(), ours[1].id.clone()].into();
    assert_eq!(only_source, expected);

    // `trash` on one album: that album's trash, nothing else.
    let one = bearer(&env.token(USER, Some(json!({ SOURCE: access(&["trash"]) }))));
    assert_eq!(trashed_ids(&env, &one, None).await, expected);
    let other = restore(&env.app, &one, &theirs[0].id).await;
    assert_eq!(other.status, 401, "{}", other.text);
    let listed_other = call(
        &env.app,
        Endpoint::ListTrashedImages,
        &list_event(&one, Some(OTHER_ALBUM)),
    )
    .await;
    assert_eq!(listed_other.status, 401, "{}", listed_other.text);

    // A token with no `trash` anywhere may not use the trash.
    let none = bearer(&env.token(
        USER,
        Some(json!({ SOURCE: access(&["see", "image_delete"]) })),
    ));
    let refused = call(
        &env.app,
        Endpoint::ListTrashedImages,
        &list_event(&none, None),
    )
    .await;
    calls::assert_error(&refused, 401, "forbidden", "no trash ability");
    assert_album_exact(&store, OTHER_ALBUM, 2, "after the refused restore").await;
}

#[tokio::test]
async fn a_bulk_delete_naming_an_album_the_token_may_not_delete_from_is_401_and_deletes_nothing() {
    let env = TestEnv::new("bulk-refused").await;
    let store = env.direct_store().await;
    let ours = seed_album(&store, SOURCE, ORG, 3).await;
    let theirs = seed_album(&store, OTHER_ALBUM, ORG, 3).await;
    let token = env.token(
        USER,
        Some(json!({ SOURCE: access(&["image_delete"]), OTHER_ALBUM: access(&["see", "image_list"]) })),
    );
    let auth = bearer(&token);
    let before = crate::support::security::table_snapshot(&store).await;
    let r = call(
        &env.app,
        Endpoint::DeleteImages,
        &bulk_event(&auth, &[&ours[0].id, &theirs[0].id, &ours[1].id]),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.header("x-message"), Some("Access denied"));
    let after = crate::support::security::table_snapshot(&store).await;
    assert_eq!(before, after, "a refused bulk delete wrote");

    // Our two, an id of no image and one named twice: the two, once each.
    let r = call(
        &env.app,
        Endpoint::DeleteImages,
        &bulk_event(
            &auth,
            &[&ours[0].id, "no-such-image", &ours[1].id, &ours[0].id],
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let deleted: Vec<&str> = r.array().iter().filter_map(Value::as_str).collect();
    assert_eq!(deleted, [ours[0].id.as_str(), ours[1].id.as_str()]);
    assert_album_exact(&store, SOURCE, 1, "after the bulk delete").await;
    assert_album_exact(&store, OTHER_ALBUM, 3, "untouched").await;

    // More than 100 ids is a 422 before anything is read.
    let many: Vec<String> = (0..101).map(|i| format!("img-{i}")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let r = call(&env.app, Endpoint::DeleteImages, &bulk_event(&auth, &refs)).await;
    calls::assert_error(&r, 422, "unprocessable_entity", "101 ids");
}

/// The fault proxy failing every `UpdateItem` once `armed_after` went
/// through, an app behind it, a direct store.
async fn cut_off(tag: &str, armed_after: &str) -> (FaultProxy, TestEnv, album_api::store::Store) {
    let failing = FaultConfig {
        server_error_rate: 1.0,
        armed_after: Some(armed_after.into()),
        ..FaultConfig::none()
    }
    .only(["UpdateItem"]);
    let proxy = FaultProxy::start(&emulator_endpoint(), failing).await;
    let env = TestEnv::with_endpoint(tag, &proxy.endpoint()).await;
    let store = env.direct_store().await;
    (proxy, env, store)
}

#[tokio::test]
async fn a_bulk_delete_cut_off_by_failing_count_updates_then_retried_leaves_counts_exact() {
    let (proxy, env, store) = cut_off("bulk-cut", "DeleteItem").await;
    let ours = seed_album(&store, SOURCE, ORG, 4).await;
    let theirs = seed_album(&store, OTHER_ALBUM, ORG, 4).await;
    let auth = bearer(&env.token(USER, None));
    let ids = [&ours[0].id, &ours[1].id, &theirs[0].id, &theirs[1].id];
    let ids: Vec<&str> = ids.iter().map(|s| s.as_str()).collect();
    let r: Resp = call(&env.app, Endpoint::DeleteImages, &bulk_event(&auth, &ids)).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(proxy.stats().faults_on("UpdateItem") > 0);

    proxy.set_config(FaultConfig::none());
    let r = call(&env.app, Endpoint::DeleteImages, &bulk_event(&auth, &ids)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_album_exact(&store, SOURCE, 2, "after the retried bulk delete").await;
    assert_album_exact(&store, OTHER_ALBUM, 2, "after the retried bulk delete").await;
    let trashed = trashed_ids(&env, &auth, None).await;
    let expected: BTreeSet<String> = ids.iter().map(|s| s.to_string()).collect();
    assert_eq!(trashed, expected, "every deleted image is in the trash");
}

#[tokio::test]
async fn a_delete_cut_off_after_its_tag_images_went_then_retried_keeps_them_in_the_trash() {
    // Every DeleteItem fails once a BatchWriteItem went through: the
    // delete has trashed the image and deleted its tag associations, the
    // image itself is still in its album.
    let failing = FaultConfig {
        server_error_rate: 1.0,
        armed_after: Some("BatchWriteItem".into()),
        ..FaultConfig::none()
    }
    .only(["DeleteItem"]);
    let proxy = FaultProxy::start(&emulator_endpoint(), failing).await;
    let env = TestEnv::with_endpoint("delete-cut-tags", &proxy.endpoint()).await;
    let store = env.direct_store().await;
    let images = seed_album(&store, SOURCE, ORG, 3).await;
    let token = env.token(USER, None);
    let auth = bearer(&token);
    // Tagged around the proxy, which a batch write would arm.
    let direct = album_api::App::new(config(&env.table), store.clone());
    let tag = create_tag(&direct, &token, "kept").await;
    tag_images(
        &direct,
        &token,
        tag["id"].as_str().unwrap(),
        &[&images[0].id],
    )
    .await;
    let tags_before = association_pairs(&store, SOURCE).await;
    assert_eq!(tags_before.len(), 1);

    let r = delete(&env.app, &auth, &images[0].id).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(proxy.stats().faults_on("DeleteItem") > 0);
    assert!(association_pairs(&store, SOURCE).await.is_empty());
    assert_album_exact(&store, SOURCE, 3, "cut off before the image went").await;

    proxy.set_config(FaultConfig::none());
    let r = delete(&env.app, &auth, &images[0].id).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_album_exact(&store, SOURCE, 2, "after the retried delete").await;
    let now = album_api::service::now() as u64;
    let kept = store.trashed(ORG, &images[0].id, now).await.unwrap();
    let kept_tags: Vec<String> = kept
        .expect("in the trash")
        .tags
        .into_iter()
        .map(|t| t.tag_id)
        .collect();
    assert_eq!(
        kept_tags,
        [tag["id"].as_str().unwrap()],
        "the trash keeps its tag"
    );

    let r = restore(&env.app, &auth, &images[0].id).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_album_exact(&store, SOURCE, 3, "after the restore").await;
    assert_eq!(association_pairs(&store, SOURCE).await, tags_before);
}

#[tokio::test]
async fn a_restore_cut_off_after_its_image_is_back_then_retried_leaves_the_count_exact() {
    // The restore's count update fails once the image's PutItem went
    // through: the image is back, its album's count not yet raised.
    let (proxy, env, store) = cut_off("restore-cut", "PutItem").await;
    let images = seed_album(&store, SOURCE, ORG, 3).await;
    let auth = bearer(&env.token(USER, None));
    proxy.set_config(FaultConfig::none());
    let r = delete(&env.app, &auth, &images[0].id).await;
    assert_eq!(r.status, 204, "{}", r.text);
    // Armed again: the trash is read, the image put back, then every
    // UpdateItem fails.
    proxy.set_config(
        FaultConfig {
            server_error_rate: 1.0,
            armed_after: Some("PutItem".into()),
            ..FaultConfig::none()
        }
        .only(["UpdateItem"]),
    );
    let r = restore(&env.app, &auth, &images[0].id).await;
    assert_eq!(r.status, 503, "{}", r.text);

    proxy.set_config(FaultConfig::none());
    let r = restore(&env.app, &auth, &images[0].id).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_album_exact(&store, SOURCE, 3, "after the retried restore").await;
    assert!(trashed_ids(&env, &auth, None).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restores_racing_deletes_of_the_same_images_leave_each_in_its_album_once_or_in_the_trash() {
    let env = TestEnv::new("trash-race").await;
    let store = env.direct_store().await;
    let images = seed_album(&store, SOURCE, ORG, 6).await;
    let auth = bearer(&env.token(USER, None));
    let raced: Vec<String> = images[..3].iter().map(|i| i.id.clone()).collect();
    for id in &raced {
        let r = delete(&env.app, &auth, id).await;
        assert_eq!(r.status, 204);
    }
    for round in 0..3 {
        let mut set = tokio::task::JoinSet::new();
        for id in &raced {
            for ep in [
                Endpoint::RestoreTrashedImage,
                Endpoint::DeleteImage,
                Endpoint::RestoreTrashedImage,
            ] {
                let app = env.app.clone();
                let e = match ep {
                    Endpoint::DeleteImage => delete_event(&auth, id),
                    _ => restore_event(&auth, id),
                };
                set.spawn(async move {
                    let r = calls::call_retrying_503(&app, ep, &e, 10).await;
                    (ep, r.status, r.text)
                });
            }
        }
        while let Some(done) = set.join_next().await {
            let (ep, status, text) = done.unwrap();
            assert!(
                [200, 204, 404, 409].contains(&status),
                "round {round}: {ep:?} {status} {text}"
            );
        }
        // Each raced image: in the album once, or in the trash; the count exact.
        let held = calls::album_image_ids(&store, SOURCE).await;
        let mut trashed = 0;
        for id in &raced {
            // Marked restored is out of the trash.
            let in_trash = store
                .trashed(ORG, id, album_api::service::now() as u64)
                .await
                .unwrap()
                .is_some_and(|t| t.restored_at.is_none());
            trashed += u64::from(in_trash && !held.contains(id));
            assert!(
                held.contains(id) || in_trash,
                "round {round}: {id} is neither in its album nor in the trash"
            );
        }
        assert_album_exact(&store, SOURCE, 6 - trashed, &format!("round {round}")).await;
        // The next round starts from every raced image in the trash.
        for id in &raced {
            if held.contains(id) {
                let r = delete(&env.app, &auth, id).await;
                assert_eq!(r.status, 204);
            }
        }
    }
}

#[tokio::test]
async fn a_trashed_image_past_its_retention_is_neither_listed_nor_restored() {
    let env = TestEnv::new("trash-expired").await;
    let store = env.direct_store().await;
    let images = seed_album(&store, SOURCE, ORG, 2).await;
    let auth = bearer(&env.token(USER, None));
    let r = delete(&env.app, &auth, &images[0].id).await;
    assert_eq!(r.status, 204);
    let now = album_api::service::now() as u64;
    let kept = store
        .trashed(ORG, &images[0].id, now)
        .await
        .unwrap()
        .unwrap();
    // Kept for the configured retention (30 days by default)…
    let later = now + 29 * 86_400;
    assert!(
        store
            .trashed(ORG, &images[0].id, later)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .trashed(ORG, &images[0].id, now + 31 * 86_400)
            .await
            .unwrap()
            .is_none()
    );
    // …and once past it (DynamoDB's TTL removes such items within days,
    // not at once), as gone as if removed.
    let expired = TrashedImage { ..kept };
    store.put_trashed(ORG, &expired, now - 1).await.unwrap();
    assert!(trashed_ids(&env, &auth, None).await.is_empty());
    let r = restore(&env.app, &auth, &images[0].id).await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_album_exact(&store, SOURCE, 1, "nothing restored").await;
}
