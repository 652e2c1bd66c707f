//! Album ids per organization (decision 0014): two organizations each hold
//! an album of the same id through every route, and neither's answers
//! depend on the other's; the migration of a table written in the layout
//! from before (`A#<album>`) to the new keys, whole and interrupted.

use std::time::Duration;

use crate::support::calls::*;
use crate::support::security::{
    Endpoint, notification_key, signed_webhook_event, upload_notification,
};
use crate::support::tagging::*;
use crate::support::*;
use album_api::album::{Album, AlbumKey};
use album_api::auth;
use album_api::handlers::scheduled_duplicate;
use album_api::store::Store;
use album_api::store::keys::{self, PK, SK};
use albumctl::migrate::{MigrateArgs, migrate};
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};

/// The album both organizations hold.
const X: &str = "00100000123BB44";

fn get(token: &str, album: &str) -> Value {
    api_event(
        Endpoint::GetAlbum,
        Some(&bearer(token)),
        Some(album),
        &[],
        None,
        Format::Http,
    )
}

fn post_duplicate(token: &str, album: &str, dest: Option<&str>) -> Value {
    let body = dest.map(|d| Payload::form(&[("destination_id", d)]));
    api_event(
        Endpoint::Duplicate,
        Some(&bearer(token)),
        Some(album),
        &[],
        body.as_ref(),
        Format::Http,
    )
}

fn rename(token: &str, album: &str, to: &str, merge: bool) -> Value {
    let body = move_body(to, merge.then_some("true"), false);
    update_album_event(Some(&bearer(token)), album, &body, Format::Http)
}

/// `GET /albums/{album}` for `token`: status and `images_count`.
async fn count_seen(app: &album_api::App, token: &str, album: &str) -> (u16, Value) {
    let r = call(app, Endpoint::GetAlbum, &get(token, album)).await;
    (r.status, r.json["images_count"].clone())
}

#[tokio::test]
async fn two_organizations_each_hold_album_x_and_every_route_reaches_only_its_own() {
    let mut env = TestEnv::new("org-ids").await;
    let store = env.direct_store().await;
    // The same id, and (derived from it) the same image ids, in both.
    let ours = seed_album(&store, X, ORG, 3).await;
    seed_album(&store, X, OTHER_ORG, 2).await;
    let (us, them) = (env.token(USER, None), env.token(OTHER_USER, None));
    let app = &env.app;

    // get / list: each its own X.
    assert_eq!(count_seen(app, &us, X).await, (200, json!(3)));
    assert_eq!(count_seen(app, &them, X).await, (200, json!(2)));
    let r = call(app, Endpoint::GetAlbum, &get(&them, X)).await;
    assert_eq!(r.json["organization_id"], OTHER_ORG, "{}", r.text);
    for (token, n) in [(&us, 3), (&them, 2)] {
        let list = api_event(
            Endpoint::ListAlbums,
            Some(&bearer(token)),
            None,
            &[],
            None,
            Format::Http,
        );
        let r = call(app, Endpoint::ListAlbums, &list).await;
        assert_eq!(r.ids(), vec![X.to_string()], "{}", r.text);
        assert_eq!(r.array()[0]["images_count"], n, "{}", r.text);
    }

    // duplicate into "copy" in each (with destination_id), and without one.
    for (token, n) in [(&us, 3), (&them, 2)] {
        let r = call(
            app,
            Endpoint::Duplicate,
            &post_duplicate(token, X, Some("copy")),
        )
        .await;
        assert_eq!(
            (r.status, r.json["images_count"].clone()),
            (200, json!(n)),
            "{}",
            r.text
        );
        let r = call(app, Endpoint::Duplicate, &post_duplicate(token, X, None)).await;
        assert_eq!(
            (r.status, r.json["images_count"].clone()),
            (200, json!(n)),
            "{}",
            r.text
        );
    }
    assert_eq!(count_seen(app, &us, "copy").await, (200, json!(3)));
    assert_eq!(count_seen(app, &them, "copy").await, (200, json!(2)));

    // rename to an id the other organization holds: a rename (200), not a
    // 409; then a merge into an id both hold merges into the caller's.
    let r = call(
        app,
        Endpoint::UpdateAlbum,
        &rename(&us, "copy", "renamed", false),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    seed_album(&store, "renamed", OTHER_ORG, 1).await;
    let r = call(
        app,
        Endpoint::UpdateAlbum,
        &rename(&them, "copy", "renamed", false),
    )
    .await;
    assert_error(
        &r,
        409,
        "conflict",
        "their own renamed exists: without merge",
    );
    let r = call(
        app,
        Endpoint::UpdateAlbum,
        &rename(&them, "copy", "renamed", true),
    )
    .await;
    assert_eq!(
        (r.status, r.json["images_count"].clone()),
        (200, json!(3)),
        "{}",
        r.text
    );
    assert_eq!(count_seen(app, &us, "renamed").await, (200, json!(3)));
    assert_eq!(count_seen(app, &us, "copy").await.0, 404);
    assert_eq!(count_seen(app, &them, "copy").await.0, 404);

    // webhook: the same upload into each organization's X (one token each).
    let t = album_api::service::now();
    let (_, body) = upload_notification(X, 1, t - 5);
    for (user, org) in [(USER, ORG), (OTHER_USER, OTHER_ORG)] {
        let token =
            auth::issue_notification_token(user, X, org, &notification_key(), t, 3600).unwrap();
        let r = call(
            app,
            Endpoint::Webhook,
            &signed_webhook_event(Some(&token), &body),
        )
        .await;
        assert_eq!(r.status, 201, "{org}: {}", r.text);
    }
    assert_eq!(count_seen(app, &us, X).await, (200, json!(4)));
    assert_eq!(count_seen(app, &them, X).await, (200, json!(3)));

    // tags: the same image id tagged in each; each lists only its own.
    let image = ours[0].id.as_str();
    let mut tag_image_ids = Vec::new();
    for token in [&us, &them] {
        create_tag(app, token, "red").await;
        let tagged = tag_images(app, token, "red", &[image]).await;
        tag_image_ids.push(tagged[0]["id"].as_str().unwrap().to_string());
        let listed = listed_tag_images(app, token, "red", 10).await;
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0]["id"], tagged[0]["id"]);
    }
    // Another organization's tag image is missing; its own deletes.
    let r = call(
        app,
        Endpoint::DeleteTagImage,
        &delete_tag_image_event(Some(&bearer(&us)), &tag_image_ids[1], Format::Http),
    )
    .await;
    assert_error(&r, 404, "not_found", "their tag image");
    assert_eq!(listed_tag_images(app, &them, "red", 10).await.len(), 1);

    // delete image: the id both hold goes from the caller's X only.
    let del = |token: &str, id: &str| {
        api_event(
            Endpoint::DeleteImage,
            Some(&bearer(token)),
            Some(id),
            &[],
            None,
            Format::Http,
        )
    };
    let r = call(app, Endpoint::DeleteImage, &del(&them, image)).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = call(app, Endpoint::DeleteImage, &del(&them, image)).await;
    assert_error(&r, 404, "not_found", "deleted from their X already");
    assert_eq!(count_seen(app, &them, X).await, (200, json!(2)));
    assert_eq!(count_seen(app, &us, X).await, (200, json!(4)));
    assert_eq!(listed_tag_images(app, &us, "red", 10).await.len(), 1);

    // schedule: the EventBridge event names the organization.
    for (org, n) in [(ORG, 4), (OTHER_ORG, 2)] {
        let mut e = event("scheduled-duplicate.json");
        e["source_album_id"] = json!(X);
        e["destination_id"] = json!("weekly");
        e["organization_id"] = json!(org);
        let ctx = lambda_context(&format!("r-{org}"), Duration::from_secs(60));
        let out = scheduled_duplicate::handle(app, LambdaEvent::new(e, ctx))
            .await
            .unwrap();
        assert_eq!(out["status"], "done", "{out}");
        assert_album_exact(&store, "weekly", 4, "our weekly copy").await;
        let theirs = store
            .get_album(&AlbumKey::new(OTHER_ORG, "weekly"))
            .await
            .unwrap();
        assert_eq!(
            theirs.map(|a| a.images_count),
            (org == OTHER_ORG).then_some(n)
        );
    }

    // jobs: a 202 duplicate in each; each sees its own job only.
    set_sync_copy_budget(&mut env.app, Duration::ZERO);
    let app = &env.app;
    let mut jobs = Vec::new();
    for token in [&us, &them] {
        let r = call(
            app,
            Endpoint::Duplicate,
            &post_duplicate(token, X, Some("later")),
        )
        .await;
        assert_eq!(r.status, 202, "{}", r.text);
        jobs.push(r.json["job_id"].as_str().unwrap().to_string());
    }
    for job in &jobs {
        run_job_to_done(app, job, 10).await;
    }
    let job_event = |token: &str, id: &str| {
        api_event(
            Endpoint::GetDuplication,
            Some(&bearer(token)),
            Some(id),
            &[],
            None,
            Format::Http,
        )
    };
    for (token, own, other, n) in [(&us, &jobs[0], &jobs[1], 4), (&them, &jobs[1], &jobs[0], 2)] {
        let r = call(app, Endpoint::GetDuplication, &job_event(token, own)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["status"], "done", "{}", r.text);
        let r = call(app, Endpoint::GetDuplication, &job_event(token, other)).await;
        assert_error(&r, 404, "not_found", "the other organization's job");
        assert_eq!(count_seen(app, token, "later").await, (200, json!(n)));
    }
}

#[tokio::test]
async fn an_id_only_another_organization_holds_answers_as_if_nobody_held_it() {
    let env = TestEnv::new("org-ids-absent").await;
    let store = env.direct_store().await;
    let theirs = seed_album(&store, X, OTHER_ORG, 2).await;
    let us = env.token(USER, None);
    let app = &env.app;
    // What a free id answers, before and after they hold it, is the same.
    let free = call(app, Endpoint::GetAlbum, &get(&us, "free")).await;
    let held = call(app, Endpoint::GetAlbum, &get(&us, X)).await;
    assert_eq!((free.status, held.status), (404, 404));
    assert_eq!(free.json["error"]["code"], held.json["error"]["code"]);
    let r = call(
        app,
        Endpoint::DeleteImage,
        &api_event(
            Endpoint::DeleteImage,
            Some(&bearer(&us)),
            Some(&theirs[0].id),
            &[],
            None,
            Format::Http,
        ),
    )
    .await;
    assert_error(&r, 404, "not_found", "their image");
    // Creating our X (by duplicating into it) is a fresh album: no 409.
    seed_album(&store, "src", ORG, 1).await;
    let r = call(
        app,
        Endpoint::Duplicate,
        &post_duplicate(&us, "src", Some(X)),
    )
    .await;
    assert_eq!(
        (r.status, r.json["images_count"].clone()),
        (200, json!(1)),
        "{}",
        r.text
    );
    let them = store
        .get_album(&AlbumKey::new(OTHER_ORG, X))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(them.images_count, 2, "their X untouched");
}

/// Writes `items` as they are (the layout from before decision 0014).
async fn put_raw(store: &Store, items: Vec<album_api::store::Item>) {
    album_api::store::batch::write_all(store, items)
        .await
        .unwrap();
}

/// A legacy album of `org` with `images` images over `shards` shards,
/// written directly: its album item (`extra` attributes added) and images.
async fn legacy_album(
    store: &Store,
    id: &str,
    org: &str,
    images: u64,
    shards: u32,
    extra: &[(&str, AttributeValue)],
) -> Vec<album_api::store::StoredImage> {
    let s = |v: &str| AttributeValue::S(v.into());
    let n = |v: u64| AttributeValue::N(v.to_string());
    let mut album = album_api::store::Item::from([
        (PK.into(), s(&format!("A#{id}"))),
        (SK.into(), s("A")),
        (keys::ORGANIZATION_ID.into(), s(org)),
        ("images_count".into(), n(images)),
        ("views_count".into(), n(0)),
        ("created_at".into(), s("2019-04-08T17:38:46Z")),
        ("seq".into(), n(0)),
        (keys::SHARDS.into(), n(u64::from(shards))),
    ]);
    for (k, v) in extra {
        album.insert(k.to_string(), v.clone());
    }
    let sample: Vec<_> = (0..images)
        .map(|i| albumctl::seed::sample_image(id, i))
        .collect();
    let shape = Album {
        shards,
        ..Album::new(id, org, "2019-04-08T17:38:46Z")
    };
    let mut items = vec![album];
    for img in &sample {
        let mut item = store.image_item(&shape, &img.id, &img.record).unwrap();
        let shard = keys::shard_of(&img.id, shards);
        let pk = if shard == 0 {
            format!("A#{id}")
        } else {
            format!("A#{id}#{shard}")
        };
        item.insert(PK.into(), s(&pk));
        items.push(item);
    }
    put_raw(store, items).await;
    sample
}

/// Every item still under a legacy album key (`A#` without `/`).
async fn legacy_items(store: &Store) -> usize {
    let out = store
        .client()
        .scan()
        .table_name(store.table())
        .send()
        .await
        .unwrap();
    out.items()
        .iter()
        .filter(|i| {
            i[PK]
                .as_s()
                .is_ok_and(|pk| pk.starts_with("A#") && !pk.contains('/'))
        })
        .count()
}

/// The table as the migration tests start it: `one` (3 images, one tagged,
/// one shard), `many` (12 images over 4 shards) and `moving` (2 images,
/// marked as being merged into `one`), all of [`ORG`]; `X` of
/// [`OTHER_ORG`] (1 image). Returns the tag's id and the tagged image's.
async fn legacy_table(store: &Store) -> (String, String) {
    let one = legacy_album(store, "one", ORG, 3, 1, &[]).await;
    legacy_album(store, "many", ORG, 12, 4, &[]).await;
    let s = |v: &str| AttributeValue::S(v.into());
    let marks = [
        ("moving_to", s("one")),
        ("move_id", s("move-job-1")),
        ("move_merge", AttributeValue::Bool(true)),
    ];
    legacy_album(store, "moving", ORG, 2, 1, &marks).await;
    legacy_album(store, X, OTHER_ORG, 1, 1, &[]).await;
    let now = album_api::service::now_rfc3339();
    let (tag, _) = store.create_tag(ORG, "red", &now).await.unwrap();
    let img = &one[1];
    let ms = album_api::image::sort_millis(&img.record.created_at).unwrap();
    put_raw(
        store,
        vec![album_api::store::Item::from([
            (PK.into(), s("A#one")),
            (SK.into(), s(&keys::tag_image_sk(ms, &img.id, &tag.id))),
            (
                keys::IMAGE_ID.into(),
                s(&album_api::store::tags::tag_image_id(&img.id, &tag.id)),
            ),
            (keys::TAG_ID.into(), s(&tag.id)),
            ("c".into(), s(&now)),
            ("u".into(), s(USER)),
        ])],
    )
    .await;
    (tag.id, img.id.clone())
}

/// What the API answers about the migrated table, checked exactly.
async fn assert_migrated(env: &TestEnv, store: &Store, tagged: &str) {
    assert_eq!(
        legacy_items(store).await,
        0,
        "nothing left under legacy keys"
    );
    let (us, them) = (env.token(USER, None), env.token(OTHER_USER, None));
    let app = &env.app;
    assert_eq!(count_seen(app, &us, "one").await, (200, json!(3)));
    assert_eq!(count_seen(app, &us, "many").await, (200, json!(12)));
    assert_eq!(
        count_seen(app, &us, "moving").await.0,
        200,
        "carried over mid-move"
    );
    assert_eq!(count_seen(app, &them, X).await, (200, json!(1)));
    assert_eq!(count_seen(app, &us, X).await.0, 404);
    for (album, n) in [("one", 3), ("many", 12)] {
        assert_album_exact(store, album, n, album).await;
        let list = api_event(
            Endpoint::ListImages,
            Some(&bearer(&us)),
            Some(album),
            &[("limit", "100")],
            None,
            Format::Http,
        );
        let r = call(app, Endpoint::ListImages, &list).await;
        assert_eq!(r.array().len(), n as usize, "{album}: {}", r.text);
    }
    let listed = listed_tag_images(app, &us, "red", 10).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        listed[0]["image"]["id"]
            .as_str()
            .or(listed[0]["image_id"].as_str()),
        Some(tagged),
        "{listed:?}"
    );
    // The move carried over finishes as the same request, sent again.
    let r = call(
        app,
        Endpoint::UpdateAlbum,
        &rename(&us, "moving", "one", true),
    )
    .await;
    assert_eq!(
        (r.status, r.json["images_count"].clone()),
        (200, json!(5)),
        "{}",
        r.text
    );
    assert_eq!(count_seen(app, &us, "moving").await.0, 404);
    // by_image finds a migrated image (and its association) by id.
    let r = call(
        app,
        Endpoint::DeleteImage,
        &api_event(
            Endpoint::DeleteImage,
            Some(&bearer(&us)),
            Some(tagged),
            &[],
            None,
            Format::Http,
        ),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_album_exact(store, "one", 4, "one after the merge and a delete").await;
    assert!(listed_tag_images(app, &us, "red", 10).await.is_empty());
}

/// A crash after a page was written to the new keys and before it was
/// deleted from the legacy ones: album `album`'s legacy items (not its
/// album item) also under its new partition.
async fn written_not_deleted(store: &Store, album: &str) {
    let out = store
        .client()
        .query()
        .table_name(store.table())
        .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
        .expression_attribute_values(":pk", AttributeValue::S(format!("A#{album}")))
        .expression_attribute_values(":lo", AttributeValue::S("G#".into()))
        .expression_attribute_values(":hi", AttributeValue::S(keys::ALBUM_CONTENT_END.into()))
        .send()
        .await
        .unwrap();
    let copies = out
        .items()
        .iter()
        .cloned()
        .map(|mut i| {
            i.insert(PK.into(), AttributeValue::S(keys::album_pk(&key(album))));
            i
        })
        .collect();
    put_raw(store, copies).await;
}

#[tokio::test]
async fn a_legacy_table_migrated_in_interrupted_runs_reads_back_exactly_with_nothing_lost_or_doubled()
 {
    let env = TestEnv::new("migrate").await;
    let store = env.direct_store().await;
    let (_, tagged) = legacy_table(&store).await;
    // Nothing of the legacy layout is visible before.
    let us = env.token(USER, None);
    assert_eq!(count_seen(&env.app, &us, "one").await.0, 404);
    // An earlier run died between writing a page and deleting it.
    written_not_deleted(&store, "one").await;
    // The API made `many` under the new key meanwhile (one shard where the
    // legacy one has 4): the legacy items join it, each in a shard it reads.
    seed_album(&store, "many", ORG, 0).await;
    // Steps of 5 item writes, pages of 2: every album is cut somewhere.
    let step = MigrateArgs {
        max_items: Some(5),
        page_size: Some(2),
    };
    let mut runs = 0;
    let mut total = albumctl::migrate::Summary::default();
    loop {
        runs += 1;
        let s = migrate(&store, &step).await.unwrap();
        total.items_moved += s.items_moved;
        total.albums_migrated += s.albums_migrated;
        total.moves_carried += s.moves_carried;
        if s.finished {
            break;
        }
        assert!(runs < 20, "the migration must finish");
    }
    assert!(runs >= 5, "the runs were interrupted ({runs})");
    // 3 images + 1 association, 12, 2, 1: each moved once.
    assert_eq!(
        (
            total.items_moved,
            total.albums_migrated,
            total.moves_carried
        ),
        (19, 4, 1)
    );
    let again = migrate(&store, &MigrateArgs::default()).await.unwrap();
    assert_eq!(
        (again.albums_found, again.items_moved, again.finished),
        (0, 0, true)
    );
    assert_migrated(&env, &store, &tagged).await;
}
