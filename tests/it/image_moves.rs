//! Duplicating and moving single images: copies and moves carry their tag
//! images, counts stay exact, a move cut off and retried finishes, and
//! racing moves (to two albums) and deletes of the same images leave each
//! image in one album, or deleted and in the trash.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::support::calls::{self, Payload, access, call};
use crate::support::fault_proxy::{FaultConfig, FaultProxy};
use crate::support::security::Endpoint;
use crate::support::tagging::{association_pairs, create_tag, tag_images};
use crate::support::*;
use album_api::store::Store;
use album_api::store::copy::copy_id;

const DEST: &str = "dest-album";
const OTHER: &str = "other-dest";

fn move_event(auth: &str, ops: &[(&str, &str)]) -> Value {
    let keys: Vec<String> = ops
        .iter()
        .map(|(image, _)| format!("move_operations[{image}]"))
        .collect();
    let pairs: Vec<(&str, &str)> = keys
        .iter()
        .zip(ops)
        .map(|(k, (_, album))| (k.as_str(), *album))
        .collect();
    calls::api_event(
        Endpoint::MoveImages,
        Some(auth),
        None,
        &[],
        Some(&Payload::form(&pairs)),
        calls::Format::Http,
    )
}

fn duplicate_event(auth: &str, image: &str, to: Option<&str>) -> Value {
    let body = to.map(|a| Payload::form(&[("album_id", a)]));
    calls::api_event(
        Endpoint::DuplicateImage,
        Some(auth),
        Some(image),
        &[],
        body.as_ref(),
        calls::Format::Http,
    )
}

fn strings(r: &calls::Resp) -> Vec<String> {
    r.array()
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// Which album each of `ids` is in now (absent: in none).
async fn albums_of(store: &Store, ids: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for id in ids {
        let copies = store.find_image_copies(ORG, id).await.unwrap();
        out.insert(
            id.clone(),
            copies.into_iter().map(|k| k.album.id).collect::<Vec<_>>(),
        );
    }
    out
}

#[tokio::test]
async fn a_duplicated_image_has_its_tag_images_and_a_repeat_makes_no_second_copy() {
    let env = TestEnv::new("image-duplicate").await;
    let store = env.direct_store().await;
    let images = seed_album(&store, SOURCE, ORG, 3).await;
    let token = env.token(USER, None);
    let auth = bearer(&token);
    let tag = create_tag(&env.app, &token, "travels").await;
    tag_images(
        &env.app,
        &token,
        tag["id"].as_str().unwrap(),
        &[&images[0].id],
    )
    .await;

    // Into its own album, twice: one copy.
    for _ in 0..2 {
        let r = call(
            &env.app,
            Endpoint::DuplicateImage,
            &duplicate_event(&auth, &images[0].id, None),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["id"], copy_id(SOURCE, &images[0].id).as_str());
        assert_eq!(r.json["album_id"], SOURCE);
    }
    assert_album_exact(&store, SOURCE, 4, "one copy in its album").await;
    assert_eq!(
        association_pairs(&store, SOURCE).await.len(),
        2,
        "the copy is tagged too"
    );

    // Into a new album.
    let r = call(
        &env.app,
        Endpoint::DuplicateImage,
        &duplicate_event(&auth, &images[1].id, Some(DEST)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["album_id"], DEST);
    assert_album_exact(&store, DEST, 1, "the new album").await;
    assert_album_exact(&store, SOURCE, 4, "the source unchanged").await;

    // `image_duplicate` is needed on the image's album, `image_upload` on another.
    let only_dup = bearer(&env.token(USER, Some(json!({ SOURCE: access(&["image_duplicate"]) }))));
    let r = call(
        &env.app,
        Endpoint::DuplicateImage,
        &duplicate_event(&only_dup, &images[2].id, Some(OTHER)),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text);
    let none = bearer(&env.token(
        USER,
        Some(json!({ SOURCE: access(&["see", "image_list"]) })),
    ));
    let r = call(
        &env.app,
        Endpoint::DuplicateImage,
        &duplicate_event(&none, &images[2].id, None),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(store.get_album(&key(OTHER)).await.unwrap().is_none());
}

#[tokio::test]
async fn images_move_to_several_albums_with_their_tag_images_and_exact_counts() {
    let env = TestEnv::new("image-move").await;
    let store = env.direct_store().await;
    let images = seed_album(&store, SOURCE, ORG, 6).await;
    seed_album(&store, DEST, ORG, 2).await;
    let token = env.token(USER, None);
    let auth = bearer(&token);
    let tag = create_tag(&env.app, &token, "moves").await;
    tag_images(
        &env.app,
        &token,
        tag["id"].as_str().unwrap(),
        &[&images[0].id, &images[3].id],
    )
    .await;

    let ops = [
        (images[0].id.as_str(), DEST),
        (images[1].id.as_str(), DEST),
        ("no-such-image", DEST),
        (images[3].id.as_str(), OTHER),
    ];
    let r = call(&env.app, Endpoint::MoveImages, &move_event(&auth, &ops)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        strings(&r),
        [
            images[0].id.clone(),
            images[1].id.clone(),
            images[3].id.clone()
        ]
    );
    assert_album_exact(&store, SOURCE, 3, "the source").await;
    assert_album_exact(&store, DEST, 4, "an existing destination").await;
    assert_album_exact(&store, OTHER, 1, "a destination created").await;
    assert!(association_pairs(&store, SOURCE).await.is_empty());
    assert_eq!(association_pairs(&store, DEST).await.len(), 1);
    assert_eq!(association_pairs(&store, OTHER).await.len(), 1);

    // Sent again: nothing moves twice.
    let r = call(&env.app, Endpoint::MoveImages, &move_event(&auth, &ops)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_album_exact(&store, DEST, 4, "after a repeat").await;
    assert_album_exact(&store, SOURCE, 3, "after a repeat").await;
}

#[tokio::test]
async fn a_move_naming_an_album_the_token_may_not_leave_or_enter_is_401_and_moves_nothing() {
    let env = TestEnv::new("image-move-refused").await;
    let store = env.direct_store().await;
    let images = seed_album(&store, SOURCE, ORG, 2).await;
    let token = env.token(
        USER,
        Some(json!({ SOURCE: access(&["image_delete"]), DEST: access(&["image_upload"]) })),
    );
    let auth = bearer(&token);
    let before = crate::support::security::table_snapshot(&store).await;
    for ops in [
        vec![
            (images[0].id.as_str(), DEST),
            (images[1].id.as_str(), OTHER),
        ],
        vec![(images[0].id.as_str(), "bad id!")],
    ] {
        let r = call(&env.app, Endpoint::MoveImages, &move_event(&auth, &ops)).await;
        assert!([401, 422].contains(&r.status), "{}", r.text);
    }
    assert_eq!(
        before,
        crate::support::security::table_snapshot(&store).await
    );
    let ops = [(images[0].id.as_str(), DEST)];
    let r = call(&env.app, Endpoint::MoveImages, &move_event(&auth, &ops)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_album_exact(&store, DEST, 1, "allowed").await;
}

#[tokio::test]
async fn a_move_cut_off_by_failing_count_updates_then_retried_leaves_one_image_and_exact_counts() {
    // Every UpdateItem fails once a DeleteItem went through: the images
    // are in their destination, the source's count not yet lowered.
    let failing = FaultConfig {
        server_error_rate: 1.0,
        armed_after: Some("DeleteItem".into()),
        ..FaultConfig::none()
    }
    .only(["UpdateItem"]);
    let proxy = FaultProxy::start(&emulator_endpoint(), failing.clone()).await;
    let env = TestEnv::with_endpoint("image-move-cut", &proxy.endpoint()).await;
    let store = env.direct_store().await;
    let images = seed_album(&store, SOURCE, ORG, 4).await;
    proxy.set_config(FaultConfig::none());
    seed_album(&store, DEST, ORG, 0).await;
    proxy.set_config(failing);
    let auth = bearer(&env.token(USER, None));
    let ops = [(images[0].id.as_str(), DEST), (images[1].id.as_str(), DEST)];
    let r = call(&env.app, Endpoint::MoveImages, &move_event(&auth, &ops)).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(proxy.stats().faults_on("UpdateItem") > 0);

    proxy.set_config(FaultConfig::none());
    let r = call(&env.app, Endpoint::MoveImages, &move_event(&auth, &ops)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_album_exact(&store, SOURCE, 2, "after the retried move").await;
    assert_album_exact(&store, DEST, 2, "after the retried move").await;
    let ids = vec![images[0].id.clone(), images[1].id.clone()];
    for (id, albums) in albums_of(&store, &ids).await {
        assert_eq!(albums, [DEST], "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn moves_to_two_albums_racing_deletes_leave_each_image_in_one_album_or_the_trash() {
    let env = TestEnv::new("image-move-race").await;
    let store = env.direct_store().await;
    let images = seed_album(&store, SOURCE, ORG, 8).await;
    let auth = bearer(&env.token(USER, None));
    let raced: Vec<String> = images[..4].iter().map(|i| i.id.clone()).collect();
    let mut set = tokio::task::JoinSet::new();
    for (n, id) in raced.iter().enumerate() {
        for to in [DEST, OTHER, DEST] {
            let app = env.app.clone();
            let e = move_event(&auth, &[(id.as_str(), to)]);
            set.spawn(async move {
                let r = calls::call_retrying_503(&app, Endpoint::MoveImages, &e, 10).await;
                (r.status, r.text)
            });
        }
        if n % 2 == 0 {
            let app = env.app.clone();
            let e = Endpoint::DeleteImage.event(Some(&auth), Some(id));
            set.spawn(async move {
                let r = calls::call_retrying_503(&app, Endpoint::DeleteImage, &e, 10).await;
                (r.status, r.text)
            });
        }
    }
    while let Some(done) = set.join_next().await {
        let (status, text) = done.unwrap();
        assert!([200, 204, 404, 409].contains(&status), "{status} {text}");
    }
    let now = album_api::service::now() as u64;
    let placed = albums_of(&store, &raced).await;
    for (id, albums) in &placed {
        let trashed = store
            .trashed(ORG, id, now)
            .await
            .unwrap()
            .is_some_and(|t| t.restored_at.is_none());
        assert!(
            albums.len() == 1 || (albums.is_empty() && trashed),
            "{id}: in {albums:?}, trashed {trashed}"
        );
    }
    let mut held: BTreeMap<&str, u64> = BTreeMap::new();
    for albums in placed.values() {
        for a in albums {
            *held.entry(a.as_str()).or_default() += 1;
        }
    }
    let untouched = 4;
    assert_album_exact(
        &store,
        SOURCE,
        untouched + held.get(SOURCE).copied().unwrap_or(0),
        "the source",
    )
    .await;
    for album in [DEST, OTHER] {
        if let Some(n) = held.get(album) {
            assert_album_exact(&store, album, *n, album).await;
        }
    }
    let every: BTreeSet<&str> = placed.keys().map(String::as_str).collect();
    assert_eq!(every.len(), 4);
}
