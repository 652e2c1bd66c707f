//! Albums whose images spread over several partitions (decision 0012):
//! listing merges the shards newest first with stable cursors; copies read
//! every source shard and write every destination shard; counts, deletes,
//! uploads, tags, jobs, moves and re-sharding keep their guarantees; faults
//! end exact. Sharded albums are made directly (`Album { shards, .. }`): the
//! API shards only albums of 5,000 images or more, too large for the suites.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::support::fault_proxy::{FaultConfig, FaultProxy};
use crate::support::*;
use album_api::album::Album;
use album_api::handlers;
use album_api::store::keys::{IMAGE_SK_PREFIX, shard_pk};
use album_api::store::{RetryPolicy, Store, StoredImage};
use serde_json::{Value, json};

/// Creates album `id` with `shards` partitions and `n` sample images.
async fn sharded_album(store: &Store, id: &str, shards: u32, n: u64) -> Vec<StoredImage> {
    store
        .create_album_if_absent(&Album {
            shards,
            ..Album::new(id, ORG, "2019-04-08T17:38:46Z")
        })
        .await
        .unwrap();
    seed_album(store, id, ORG, n).await
}

/// Image items per shard of `album`.
async fn per_shard(store: &Store, album: &str, shards: u32) -> Vec<usize> {
    let mut out = Vec::new();
    for shard in 0..shards {
        let items = store
            .client()
            .query()
            .table_name(store.table())
            .key_condition_expression("pk = :pk AND begins_with(sk, :i)")
            .expression_attribute_values(
                ":pk",
                aws_sdk_dynamodb::types::AttributeValue::S(shard_pk(
                    &crate::support::key(album),
                    shard,
                )),
            )
            .expression_attribute_values(
                ":i",
                aws_sdk_dynamodb::types::AttributeValue::S(IMAGE_SK_PREFIX.into()),
            )
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        out.push(items.items().len());
    }
    out
}

fn list_event(token: &str, album: &str, limit: usize, cursor: Option<&str>) -> Value {
    let mut e = duplicate_event("duplicate-album.json", Some(&bearer(token)), album, None);
    let path = format!("/api/v1/albums/{album}/images");
    e["routeKey"] = json!("GET /api/v1/albums/{id}/images");
    e["rawPath"] = json!(path);
    e["requestContext"]["http"]["path"] = json!(path);
    e["requestContext"]["http"]["method"] = json!("GET");
    let mut q = format!("limit={limit}");
    let mut params = json!({"limit": limit.to_string()});
    if let Some(c) = cursor {
        q.push_str(&format!("&cursor={c}"));
        params["cursor"] = json!(c);
    }
    e["rawQueryString"] = json!(q);
    e["queryStringParameters"] = params;
    e
}

/// Every image id of `album` through `GET /albums/{id}/images`, page by
/// page, in the order listed, and the pages' sizes.
async fn list_all(env: &TestEnv, album: &str, limit: usize) -> (Vec<String>, Vec<usize>) {
    let token = env.token(USER, None);
    let (mut ids, mut pages) = (Vec::new(), Vec::new());
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let ev = list_event(&token, album, limit, cursor.as_deref());
        let (status, headers, body) = parts(
            handlers::list_images::handle(&env.app, request(&ev))
                .await
                .unwrap(),
        );
        assert_eq!(status, 200, "{body}");
        let page = body.as_array().unwrap();
        pages.push(page.len());
        ids.extend(page.iter().map(|i| i["id"].as_str().unwrap().to_string()));
        match headers.get("x-next-cursor") {
            Some(c) => cursor = Some(c.to_str().unwrap().to_string()),
            None => return (ids, pages),
        }
    }
    panic!("listing {album} did not end");
}

/// Ids of `images` newest first, as a listing must give them.
fn newest_first(images: &[StoredImage]) -> Vec<String> {
    let mut v: Vec<(String, String)> = images
        .iter()
        .map(|i| (i.record.created_at.clone(), i.id.clone()))
        .collect();
    // Sort keys are `<ms>#<id>`: by time, then id.
    v.sort_by(|a, b| {
        let ms = |s: &str| album_api::image::sort_millis(s).unwrap();
        (ms(&b.0), &b.1).cmp(&(ms(&a.0), &a.1))
    });
    v.into_iter().map(|(_, id)| id).collect()
}

#[tokio::test]
async fn a_sharded_album_lists_newest_first_across_its_shards_with_stable_cursors() {
    let env = TestEnv::new("shard-list").await;
    let direct = env.direct_store().await;
    let images = sharded_album(&direct, "spread", 4, 230).await;
    let spread = per_shard(&direct, "spread", 4).await;
    assert!(
        spread.iter().all(|&n| n > 20),
        "every shard holds images: {spread:?}"
    );
    assert_eq!(spread.iter().sum::<usize>(), 230);

    let (ids, pages) = list_all(&env, "spread", 50).await;
    assert_eq!(ids, newest_first(&images), "newest first, each image once");
    assert_eq!(pages, vec![50, 50, 50, 50, 30]);
    // Thumbnails are the 4 newest, and the count is exact.
    let album = direct
        .get_album(&crate::support::key("spread"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(album.images_count, 230);
    let thumbs = direct.newest_images(&album, 4).await.unwrap();
    let thumb_ids: Vec<_> = thumbs.iter().map(|i| i.id.clone()).collect();
    assert_eq!(thumb_ids, ids[..4].to_vec());
}

#[tokio::test]
async fn copies_read_every_source_shard_and_write_every_destination_shard() {
    let env = TestEnv::new("shard-copy").await;
    let direct = env.direct_store().await;
    sharded_album(&direct, "many", 4, 300).await;
    // Into a destination spread over 3 shards, made beforehand.
    direct
        .create_album_if_absent(&Album {
            shards: 3,
            ..Album::new("three", ORG, "2019-04-08T17:38:46Z")
        })
        .await
        .unwrap();
    let token = env.token(USER, None);
    for (dest, shards) in [("three", 3u32), ("single", 1)] {
        let ev = duplicate_event(
            "duplicate-album.json",
            Some(&bearer(&token)),
            "many",
            Some(&format!("destination_id={dest}")),
        );
        let (status, _, body) = parts(
            handlers::duplicate_album::handle(&env.app, request(&ev))
                .await
                .unwrap(),
        );
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["images_count"], 300, "{dest}");
        assert_album_exact(&direct, dest, 300, dest).await;
        let spread = per_shard(&direct, dest, shards).await;
        assert!(spread.iter().all(|&n| n > 50), "{dest}: {spread:?}");
        // A repeat rewrites the same copies.
        let (status, _, body) = parts(
            handlers::duplicate_album::handle(&env.app, request(&ev))
                .await
                .unwrap(),
        );
        assert_eq!((status, body["images_count"].as_u64()), (200, Some(300)));
        let (ids, _) = list_all(&env, dest, 100).await;
        assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 300, "{dest}");
    }
}

#[tokio::test]
async fn a_sharded_copy_that_runs_as_a_job_resumes_across_shards_exactly() {
    let mut env = TestEnv::new("shard-job").await;
    let direct = env.direct_store().await;
    sharded_album(&direct, "jobsrc", 4, 600).await;
    direct
        .create_album_if_absent(&Album {
            shards: 4,
            ..Album::new("jobdst", ORG, "2019-04-08T17:38:46Z")
        })
        .await
        .unwrap();
    set_sync_copy_budget(&mut env.app, Duration::from_millis(1));
    env.app.copy.page_limit = Some(40);
    let ev = duplicate_event(
        "duplicate-album.json",
        Some(&bearer(&env.token(USER, None))),
        "jobsrc",
        Some("destination_id=jobdst"),
    );
    let (status, _, body) = parts(
        handlers::duplicate_album::handle(&env.app, request(&ev))
            .await
            .unwrap(),
    );
    assert_eq!(status, 202, "{body}");
    let job = body["job_id"].as_str().unwrap().to_string();
    // Slices of 100 items: several hand-offs, each resuming in some shard,
    // whatever the machine's speed.
    let mut app = env.app.clone();
    app.slice_items = Some(100);
    for _ in 0..20 {
        let deadline = std::time::SystemTime::now() + Duration::from_secs(60);
        if let album_api::jobs::SliceOutcome::Done(album) =
            album_api::jobs::run_slice(&app, &job, deadline, "w")
                .await
                .unwrap()
        {
            assert_eq!(album.images_count, 600);
            break;
        }
    }
    let stored = direct.get_job(&job).await.unwrap().unwrap();
    assert_eq!(stored.status.as_str(), "done");
    assert!(stored.slices > 1, "resumed at least once: {stored:?}");
    assert_album_exact(&direct, "jobdst", 600, "job").await;
}

#[tokio::test]
async fn uploads_deletes_and_tags_in_a_sharded_album_keep_every_guarantee() {
    let env = TestEnv::new("shard-ops").await;
    let direct = env.direct_store().await;
    let images = sharded_album(&direct, "ops", 4, 40).await;
    let album = direct
        .get_album(&crate::support::key("ops"))
        .await
        .unwrap()
        .unwrap();
    // An upload lands in its shard; a repeat adds nothing.
    let extra = albumctl::seed::sample_image("ops", 1000);
    assert!(direct.add_image(&album, &extra).await.unwrap());
    assert!(!direct.add_image(&album, &extra).await.unwrap());
    assert_album_exact(&direct, "ops", 41, "after the upload").await;
    // Tag two images, then delete one: its association goes with it.
    let (tag, _) = direct
        .create_tag(ORG, "red", "2026-11-29T00:00:00Z")
        .await
        .unwrap();
    for img in &images[..2] {
        let key = direct.find_image(ORG, &img.id).await.unwrap().unwrap();
        assert_eq!(
            key.pk,
            album_api::store::keys::image_pk(&crate::support::key("ops"), 4, &img.id),
            "found in its shard"
        );
        direct
            .tag_image(&key, img, &tag, USER, "2026-11-29T00:00:01Z")
            .await
            .unwrap();
    }
    let (keys, _) = direct.tag_images_page(&tag.id, 10, None).await.unwrap();
    assert_eq!(direct.tag_images_with_images(&keys).await.unwrap().len(), 2);
    let key = direct
        .find_image(ORG, &images[0].id)
        .await
        .unwrap()
        .unwrap();
    assert!(direct.remove_image(&key).await.unwrap());
    assert!(!direct.remove_image(&key).await.unwrap());
    assert_album_exact(&direct, "ops", 40, "after the delete").await;
    let (keys, _) = direct.tag_images_page(&tag.id, 10, None).await.unwrap();
    let left = direct.tag_images_with_images(&keys).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].1.id, images[1].id);

    // tags=true into a sharded destination: each copy's association sits
    // in the copy's shard.
    direct
        .create_album_if_absent(&Album {
            shards: 3,
            ..Album::new("opscopy", ORG, "2019-04-08T17:38:46Z")
        })
        .await
        .unwrap();
    let ev = duplicate_event(
        "duplicate-album.json",
        Some(&bearer(&env.token(USER, None))),
        "ops",
        Some("destination_id=opscopy&tags=true"),
    );
    let (status, _, body) = parts(
        handlers::duplicate_album::handle(&env.app, request(&ev))
            .await
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["images_count"], 40);
    let (keys, _) = direct.tag_images_page(&tag.id, 10, None).await.unwrap();
    let tagged = direct.tag_images_with_images(&keys).await.unwrap();
    assert_eq!(tagged.len(), 2, "the source's and its copy's");
    let copy = tagged
        .iter()
        .find(|(a, _)| a.album_id == "opscopy")
        .unwrap();
    let copy_key = direct.find_image(ORG, &copy.1.id).await.unwrap().unwrap();
    assert_eq!(copy_key.album.id, "opscopy");
}

#[tokio::test]
async fn moves_between_sharded_and_unsharded_albums_keep_every_image_once() {
    let env = TestEnv::new("shard-move").await;
    let direct = env.direct_store().await;
    let a = sharded_album(&direct, "movea", 4, 120).await;
    let b = sharded_album(&direct, "moveb", 1, 30).await;
    let token = env.token(USER, None);
    let put = |from: &str, body: &str| {
        let mut e = duplicate_event(
            "duplicate-album.json",
            Some(&bearer(&token)),
            from,
            Some(body),
        );
        let path = format!("/api/v1/albums/{from}");
        e["routeKey"] = json!("PUT /api/v1/albums/{id}");
        e["rawPath"] = json!(path);
        e["requestContext"]["http"]["path"] = json!(path);
        e["requestContext"]["http"]["method"] = json!("PUT");
        e
    };
    // The sharded album merges into the unsharded one.
    let ev = put("movea", "album%5Bpublic_id%5D=moveb&merge=true");
    let (status, _, body) = parts(
        handlers::update_album::handle(&env.app, request(&ev))
            .await
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["images_count"], 150);
    assert!(
        direct
            .get_album(&crate::support::key("movea"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(per_shard(&direct, "movea", 4).await, vec![0, 0, 0, 0]);
    assert_album_exact(&direct, "moveb", 150, "merged").await;
    let (ids, _) = list_all(&env, "moveb", 100).await;
    let want: BTreeSet<String> = a.iter().chain(&b).map(|i| i.id.clone()).collect();
    assert_eq!(
        ids.iter().cloned().collect::<BTreeSet<_>>(),
        want,
        "same ids, once each"
    );
    assert_eq!(ids.len(), 150);
    // And into a sharded album (pre-made with 3 shards) by a merge.
    direct
        .create_album_if_absent(&Album {
            shards: 3,
            ..Album::new("movec", ORG, "2019-04-08T17:38:46Z")
        })
        .await
        .unwrap();
    let ev = put("moveb", "album%5Bpublic_id%5D=movec&merge=true");
    let (status, _, body) = parts(
        handlers::update_album::handle(&env.app, request(&ev))
            .await
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    assert_album_exact(&direct, "movec", 150, "merged into shards").await;
    let spread = per_shard(&direct, "movec", 3).await;
    assert!(spread.iter().all(|&n| n > 20), "{spread:?}");
}

#[tokio::test]
async fn resharding_an_existing_album_spreads_it_without_losing_or_doubling() {
    let env = TestEnv::new("reshard").await;
    let direct = env.direct_store().await;
    let images = seed_album(&direct, "grow", ORG, 200).await;
    let album = direct
        .get_album(&crate::support::key("grow"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(album.shards, 1, "albums start with one partition");
    let moved = direct
        .reshard(&crate::support::key("grow"), 4)
        .await
        .unwrap();
    assert!(moved > 100, "most images change partition: {moved}");
    let spread = per_shard(&direct, "grow", 4).await;
    assert!(spread.iter().all(|&n| n > 20), "{spread:?}");
    assert_album_exact(&direct, "grow", 200, "re-sharded").await;
    let (ids, _) = list_all(&env, "grow", 64).await;
    assert_eq!(ids, newest_first(&images));
    // A re-run moves nothing; shrinking is refused.
    assert_eq!(
        direct
            .reshard(&crate::support::key("grow"), 4)
            .await
            .unwrap(),
        0
    );
    assert!(
        direct
            .reshard(&crate::support::key("grow"), 2)
            .await
            .is_err()
    );
    assert_album_exact(&direct, "grow", 200, "after the re-run").await;
}

#[tokio::test]
async fn a_copy_into_shards_ends_exact_through_unprocessed_items_and_throttling() {
    let proxy = FaultProxy::start(
        &emulator_endpoint(),
        FaultConfig {
            unprocessed_rate: 0.3,
            throttle_rate: 0.15,
            operations: vec!["BatchWriteItem".into()],
            seed: 11,
            ..FaultConfig::default()
        },
    )
    .await;
    let mut env = TestEnv::with_endpoint("shard-faults", &proxy.endpoint()).await;
    env.app.store = env.app.store.clone().with_retry_policy(RetryPolicy {
        max_attempts: 30,
        base: Duration::from_millis(2),
        cap: Duration::from_millis(40),
    });
    let direct = env.direct_store().await;
    sharded_album(&direct, "fsrc", 3, 800).await;
    direct
        .create_album_if_absent(&Album {
            shards: 5,
            ..Album::new("fdst", ORG, "2019-04-08T17:38:46Z")
        })
        .await
        .unwrap();
    let ev = duplicate_event(
        "duplicate-album.json",
        Some(&bearer(&env.token(USER, None))),
        "fsrc",
        Some("destination_id=fdst"),
    );
    let (status, _, body) = parts(
        handlers::duplicate_album::handle(&env.app, request(&ev))
            .await
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["images_count"], 800);
    let stats = proxy.stats();
    assert!(
        stats.items_deferred > 50 && stats.throttled > 2,
        "{stats:?}"
    );
    assert_album_exact(&direct, "fdst", 800, "through faults").await;
}
