//! Tags and the images they tag, end to end: `POST`/`GET /api/v1/tags`,
//! `POST`/`GET /api/v1/tags/{tag_id}/tag_images`, `DELETE
//! /api/v1/tag_images/{id}`, the associations `DELETE /api/v1/images/{id}`
//! removes, and `tags=true` on a duplicate (inline, through the 202 job
//! path and from a schedule). Every call is a real API Gateway event
//! (HTTP API 2.0, and REST 1.0 where the format matters) through the
//! handler, against the local DynamoDB; what the table holds afterwards is
//! read back directly.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::support::calls::*;
use crate::support::security::{Endpoint, snapshot_diff, table_snapshot};
use crate::support::tagging::*;
use crate::support::*;
use album_api::handlers::scheduled_duplicate;
use album_api::store::StoredImage;
use album_api::store::copy::copy_id;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};

// ---------------------------------------------------------------- helpers

/// The image JSON of `image` in `album`, as the API renders it.
fn rendered(env: &TestEnv, album: &str, image: &StoredImage) -> Value {
    let cld = env.app.config.cloudinary().expect("cloudinary config");
    serde_json::to_value(image.record.render(&image.id, album, cld)).expect("image JSON")
}

/// Checks one element of a tag-images answer: an association of `image`
/// (in `album`) with `tag`, made by `user`.
fn assert_association_json(
    env: &TestEnv,
    el: &Value,
    album: &str,
    image: &StoredImage,
    tag: &Value,
    user: &str,
) {
    let keys: BTreeSet<&str> = el
        .as_object()
        .unwrap_or_else(|| panic!("an object: {el}"))
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(["id", "created_at", "user", "image", "tag"]),
        "{el}"
    );
    let id = el["id"].as_str().unwrap_or_else(|| panic!("id: {el}"));
    assert_eq!(
        uuid::Uuid::parse_str(id).map(|u| u.get_version_num()).ok(),
        Some(5),
        "an association id is a UUIDv5: {el}"
    );
    assert!(
        el["created_at"].as_str().is_some_and(|c| !c.is_empty()),
        "{el}"
    );
    assert_eq!(el["user"], user, "the user id, as SharinPix sends it: {el}");
    assert_eq!(
        el["image"],
        rendered(env, album, image),
        "image JSON of {el}"
    );
    assert_eq!(el["tag"], *tag, "tag of {el}");
}

fn tag_id(tag: &Value) -> &str {
    tag["id"].as_str().expect("a tag id")
}

fn ids_of(images: &[StoredImage]) -> Vec<String> {
    images.iter().map(|i| i.id.clone()).collect()
}

async fn snapshot(env: &TestEnv) -> std::collections::BTreeMap<String, String> {
    table_snapshot(&env.direct_store().await).await
}

/// The image ids in a tag-images listing, in order.
fn listed_image_ids(elements: &[Value]) -> Vec<String> {
    elements
        .iter()
        .map(|e| e["image"]["id"].as_str().expect("an image id").to_string())
        .collect()
}

// ---------------------------------------------------------------- tags

#[tokio::test]
async fn creating_a_tag_answers_200_with_its_slugged_name_and_the_same_name_again_the_stored_tag() {
    let env = TestEnv::new("tag-create").await;
    let auth = bearer(&env.token(USER, None));

    let first = call(
        &env.app,
        Endpoint::CreateTag,
        &create_tag_event(
            Some(&auth),
            &Payload::form(&[("name", "Beach")]),
            Format::Http,
        ),
    )
    .await;
    assert_success(&first, 200, USER, "a new tag (200, as SharinPix answers)");
    let keys: BTreeSet<&str> = first
        .json
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "id",
            "created_at",
            "name",
            "label",
            "url",
            "public",
            "listed",
            "action",
            "visible",
            "color",
            "color_contrast",
            "allow_download",
            "label_en",
            "label_fr"
        ]),
        "SharinPix's keys"
    );
    assert_eq!(first.json["name"], "beach", "slugged");
    assert_eq!(first.json["label_en"], "Beach", "as sent");
    assert_eq!(first.json["listed"], true);
    assert_eq!(first.json["visible"], false);
    let id = tag_id(&first.json).to_string();
    assert_eq!(
        uuid::Uuid::parse_str(&id).unwrap().get_version_num(),
        5,
        "a tag id is a UUIDv5"
    );
    let keys = snapshot(&env).await;
    assert!(keys.contains_key(&format!("O#{ORG}|T#beach")), "{keys:?}");
    assert!(keys.contains_key(&format!("O#{ORG}|TI#{id}")), "{keys:?}");
    let before = snapshot(&env).await;

    // The same name again, trimmed, as JSON or as a form, in either payload
    // format: 200 with the stored tag, nothing written.
    for (body, format) in [
        (Payload::Json(json!({"name": "  Beach "})), Format::Rest),
        (Payload::form(&[("name", "Beach")]), Format::Rest),
        (Payload::form(&[("name", "\tBeach")]), Format::Http),
    ] {
        let again = call(
            &env.app,
            Endpoint::CreateTag,
            &create_tag_event(Some(&auth), &body, format),
        )
        .await;
        assert_success(&again, 200, USER, &format!("{body:?} {format:?}"));
        assert_eq!(again.json, first.json, "the stored tag");
    }
    let after = snapshot(&env).await;
    assert_eq!(before, after, "{}", snapshot_diff(&before, &after));

    // Another name (REST first), and the same name in another organization:
    // new tags with their own ids.
    let other = call(
        &env.app,
        Endpoint::CreateTag,
        &create_tag_event(
            Some(&auth),
            &Payload::Json(json!({"name": "Mountains"})),
            Format::Rest,
        ),
    )
    .await;
    assert_success(&other, 200, USER, "another name");
    assert_ne!(tag_id(&other.json), id);
    let theirs = call(
        &env.app,
        Endpoint::CreateTag,
        &create_tag_event(
            Some(&bearer(&env.token(OTHER_USER, None))),
            &Payload::form(&[("name", "Beach")]),
            Format::Http,
        ),
    )
    .await;
    assert_success(
        &theirs,
        200,
        OTHER_USER,
        "the same name in another organization",
    );
    assert_ne!(tag_id(&theirs.json), id);

    // Names are slugged as SharinPix does (letters, digits, `-`, `_`;
    // other runs one `-`); the label keeps them as given.
    for (name, slug) in [
        ("a/b#c", "a-b-c"),
        ("Été 🙂", "été"),
        (&"x".repeat(100), &"x".repeat(100)),
    ] {
        let r = call(
            &env.app,
            Endpoint::CreateTag,
            &create_tag_event(Some(&auth), &Payload::form(&[("name", name)]), Format::Http),
        )
        .await;
        assert_success(&r, 200, USER, name);
        assert_eq!(r.json["name"], slug);
        assert_eq!(r.json["label_en"], name);
    }
}

#[tokio::test]
async fn create_tag_refuses_missing_blank_overlong_and_control_character_names_and_writes_nothing()
{
    let env = TestEnv::new("tag-create-422").await;
    let auth = bearer(&env.token(USER, None));
    let before = snapshot(&env).await;
    let unprocessable = [
        ("no name", Payload::form(&[("title", "Beach")])),
        ("no body", Payload::Raw(None, String::new())),
        ("empty name", Payload::form(&[("name", "")])),
        ("blank name", Payload::form(&[("name", "   \t ")])),
        (
            "101 characters",
            Payload::form(&[("name", &"x".repeat(101))]),
        ),
        ("a bell", Payload::form(&[("name", "be\u{7}ach")])),
        ("a line break", Payload::form(&[("name", "be\nach")])),
        ("a NUL", Payload::Json(json!({"name": "be\u{0}ach"}))),
        ("a number", Payload::Json(json!({"name": 5}))),
        ("a list", Payload::Json(json!({"name": ["Beach"]}))),
        (
            "an object",
            Payload::Json(json!({"name": {"name": "Beach"}})),
        ),
    ];
    for (what, body) in &unprocessable {
        for format in Format::BOTH {
            let r = call(
                &env.app,
                Endpoint::CreateTag,
                &create_tag_event(Some(&auth), body, format),
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
    let unreadable = [
        (
            "JSON that does not parse",
            Payload::Raw(Some("application/json".into()), "{\"name\": ".into()),
        ),
        (
            "a JSON array",
            Payload::Raw(Some("application/json".into()), "[\"Beach\"]".into()),
        ),
        (
            "text/plain",
            Payload::Raw(Some("text/plain".into()), "name=Beach".into()),
        ),
    ];
    for (what, body) in &unreadable {
        let r = call(
            &env.app,
            Endpoint::CreateTag,
            &create_tag_event(Some(&auth), body, Format::Http),
        )
        .await;
        assert_error(&r, 400, "bad_request", what);
    }
    let r = call(
        &env.app,
        Endpoint::CreateTag,
        &create_tag_event(
            Some(&auth),
            &Payload::form(&[("name", &"p".repeat(70 * 1024))]),
            Format::Http,
        ),
    )
    .await;
    assert_error(&r, 413, "payload_too_large", "a 70 KB body");
    let r = call(
        &env.app,
        Endpoint::CreateTag,
        &create_tag_event(None, &Payload::form(&[("name", "Beach")]), Format::Http),
    )
    .await;
    assert_error(&r, 401, "unauthorized", "no Authorization");
    let after = snapshot(&env).await;
    assert_eq!(before, after, "{}", snapshot_diff(&before, &after));
}

#[tokio::test]
async fn listing_tags_orders_them_by_name_and_pages_with_x_next_cursor() {
    let env = TestEnv::new("tag-list").await;
    let token = env.token(USER, None);
    let auth = bearer(&token);
    let names = [
        "delta", "alpha", "echo", "charlie", "bravo", "golf", "foxtrot",
    ];
    let mut created = Vec::new();
    for name in names {
        created.push(create_tag(&env.app, &token, name).await);
    }
    // Another organization's tags are never listed to us.
    create_tag(&env.app, &env.token(OTHER_USER, None), "aaa-theirs").await;
    created.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));

    for format in Format::BOTH {
        let all = call(
            &env.app,
            Endpoint::ListTags,
            &list_tags_event(Some(&auth), &[], format),
        )
        .await;
        assert_success(&all, 200, USER, &format!("{format:?}"));
        assert_eq!(all.json, Value::Array(created.clone()), "{format:?}");
        assert_eq!(all.header("x-next-cursor"), None, "one page: no cursor");
    }
    let exact = call(
        &env.app,
        Endpoint::ListTags,
        &list_tags_event(Some(&auth), &[("limit", "7")], Format::Http),
    )
    .await;
    assert_eq!(exact.array().len(), 7, "{}", exact.text);
    assert_eq!(
        exact.header("x-next-cursor"),
        None,
        "no cursor when nothing follows"
    );

    let pages = follow_pages(&env.app, Endpoint::ListTags, |cursor| {
        let mut q = vec![("limit", "3")];
        q.extend(cursor.map(|c| ("cursor", c)));
        list_tags_event(Some(&auth), &q, Format::Http)
    })
    .await;
    let sizes: Vec<usize> = pages.iter().map(|p| p.array().len()).collect();
    assert_eq!(sizes, vec![3, 3, 1]);
    let listed: Vec<Value> = pages.iter().flat_map(|p| p.array().clone()).collect();
    assert_eq!(listed, created);

    // Their listing holds their tag alone.
    let theirs = call(
        &env.app,
        Endpoint::ListTags,
        &list_tags_event(
            Some(&bearer(&env.token(OTHER_USER, None))),
            &[],
            Format::Http,
        ),
    )
    .await;
    assert_eq!(theirs.status, 200, "{}", theirs.text);
    let their_names: Vec<&str> = theirs
        .array()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(their_names, vec!["aaa-theirs"]);

    // Bad limits and cursors are 400.
    let cursor = pages[0].header("x-next-cursor").unwrap().to_string();
    let mut tampered = cursor.clone().into_bytes();
    let mid = tampered.len() / 2;
    tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for (what, q) in [
        ("limit 0", vec![("limit", "0")]),
        ("limit 101", vec![("limit", "101")]),
        ("limit abc", vec![("limit", "abc")]),
        ("tampered cursor", vec![("cursor", tampered.as_str())]),
        ("garbage cursor", vec![("cursor", "garbage")]),
    ] {
        let r = call(
            &env.app,
            Endpoint::ListTags,
            &list_tags_event(Some(&auth), &q, Format::Http),
        )
        .await;
        assert_error(&r, 400, "bad_request", what);
    }
    // Our cursor does not page their listing.
    let r = call(
        &env.app,
        Endpoint::ListTags,
        &list_tags_event(
            Some(&bearer(&env.token(OTHER_USER, None))),
            &[("cursor", &cursor)],
            Format::Http,
        ),
    )
    .await;
    assert_error(&r, 400, "bad_request", "another organization's cursor");
    let r = call(
        &env.app,
        Endpoint::ListTags,
        &list_tags_event(None, &[], Format::Http),
    )
    .await;
    assert_error(&r, 401, "unauthorized", "no Authorization");
}

// ---------------------------------------------------------------- tagging

#[tokio::test]
async fn tagging_images_by_tag_id_or_name_answers_one_association_per_image_in_request_order() {
    let env = TestEnv::new("tag-images").await;
    let store = env.direct_store().await;
    let album = "tagged";
    let images = seed_album(&store, album, ORG, 6).await;
    let token = env.token(USER, None);
    let auth = bearer(&token);
    let tag = create_tag(&env.app, &token, "sunset").await;

    // By id, as a form with repeated `image_ids[]`.
    let order = [3usize, 0, 5];
    let refs: Vec<&str> = order.iter().map(|&i| images[i].id.as_str()).collect();
    let by_id = call(
        &env.app,
        Endpoint::TagImages,
        &tag_images_event(
            Some(&auth),
            tag_id(&tag),
            &image_ids_form(&refs),
            Format::Http,
        ),
    )
    .await;
    assert_success(&by_id, 200, USER, "tagging by id");
    assert_eq!(by_id.array().len(), 3, "{}", by_id.text);
    for (el, &i) in by_id.array().iter().zip(&order) {
        assert_association_json(&env, el, album, &images[i], &tag, USER);
    }

    // By name, as JSON, in the REST format.
    let by_name = call(
        &env.app,
        Endpoint::TagImages,
        &tag_images_event(
            Some(&auth),
            "sunset",
            &image_ids_json(&[&images[1].id]),
            Format::Rest,
        ),
    )
    .await;
    assert_success(&by_name, 200, USER, "tagging by name");
    assert_eq!(by_name.array().len(), 1, "{}", by_name.text);
    assert_association_json(&env, &by_name.array()[0], album, &images[1], &tag, USER);

    // The table holds those four, each under the id the answer gave.
    let stored = associations(&store, album).await;
    let expected: BTreeSet<(String, String)> = [3usize, 0, 5, 1]
        .iter()
        .map(|&i| (images[i].id.clone(), tag_id(&tag).to_string()))
        .collect();
    assert_associations_exactly(&store, album, &expected, "tagged").await;
    let answered: BTreeSet<String> = by_id.ids().into_iter().chain(by_name.ids()).collect();
    let stored_ids: BTreeSet<String> = stored.iter().map(|a| a.id.clone()).collect();
    assert_eq!(answered, stored_ids, "the answers' ids are the stored ones");
    // Tagging changes no image count.
    assert_album_exact(&store, album, 6, "tagged").await;
}

#[tokio::test]
async fn tagging_the_same_images_again_creates_nothing_twice() {
    let env = TestEnv::new("tag-twice").await;
    let store = env.direct_store().await;
    let album = "twice";
    let images = seed_album(&store, album, ORG, 4).await;
    let token = env.token(USER, None);
    let auth = bearer(&token);
    let tag = create_tag(&env.app, &token, "again").await;
    let (a, b, c) = (&images[0].id, &images[1].id, &images[2].id);
    let first = tag_images(&env.app, &token, tag_id(&tag), &[a, b]).await;
    let before = snapshot(&env).await;

    // The very same request (form and JSON, both formats, by id and name).
    for (tag_ref, body, format) in [
        (tag_id(&tag), image_ids_form(&[a, b]), Format::Http),
        (tag_id(&tag), image_ids_json(&[a, b]), Format::Rest),
        ("again", image_ids_form(&[a, b]), Format::Rest),
    ] {
        let r = call(
            &env.app,
            Endpoint::TagImages,
            &tag_images_event(Some(&auth), tag_ref, &body, format),
        )
        .await;
        assert_success(&r, 200, USER, "tagging again");
        assert_eq!(
            r.json,
            Value::Array(first.clone()),
            "the same associations, same ids and created_at"
        );
        let after = snapshot(&env).await;
        assert_eq!(before, after, "{}", snapshot_diff(&before, &after));
    }

    // Overlapping: b is found as it was, c is new.
    let overlap = tag_images(&env.app, &token, tag_id(&tag), &[b, c]).await;
    assert_eq!(overlap[0], first[1], "b's association is the first one");
    assert_ne!(overlap[1]["id"], first[0]["id"]);
    assert_ne!(overlap[1]["id"], first[1]["id"]);
    let expected: BTreeSet<(String, String)> = [a, b, c]
        .iter()
        .map(|i| (i.to_string(), tag_id(&tag).to_string()))
        .collect();
    assert_associations_exactly(&store, album, &expected, "after tagging twice").await;
    assert_eq!(
        listed_tag_images(&env.app, &token, tag_id(&tag), 50)
            .await
            .len(),
        3
    );
}

#[tokio::test]
async fn tagging_is_404_for_a_missing_or_foreign_image_or_an_unknown_tag_and_writes_nothing() {
    let env = TestEnv::new("tag-404").await;
    let store = env.direct_store().await;
    let own = seed_album(&store, "own", ORG, 3).await;
    let foreign = seed_album(&store, "foreign", OTHER_ORG, 2).await;
    let token = env.token(USER, None);
    let auth = bearer(&token);
    let their_token = env.token(OTHER_USER, None);
    let ours = create_tag(&env.app, &token, "ours").await;
    let theirs = create_tag(&env.app, &their_token, "theirs").await;
    let before = snapshot(&env).await;

    let unknown_image = uuid::Uuid::new_v4().to_string();
    let unknown_tag = uuid::Uuid::new_v4().to_string();
    let cases: Vec<(&str, &str, Vec<&str>)> = vec![
        (
            "one image of another organization among ours",
            tag_id(&ours),
            vec![&own[0].id, &foreign[0].id, &own[1].id],
        ),
        (
            "an image that does not exist",
            tag_id(&ours),
            vec![&own[0].id, &unknown_image],
        ),
        ("a malformed image id", tag_id(&ours), vec!["not#an/id"]),
        ("an unknown tag id", &unknown_tag, vec![&own[0].id]),
        ("an unknown tag name", "nope", vec![&own[0].id]),
        (
            "another organization's tag, by id",
            tag_id(&theirs),
            vec![&own[0].id],
        ),
        (
            "another organization's tag, by name",
            "theirs",
            vec![&own[0].id],
        ),
    ];
    for (what, tag, ids) in &cases {
        for format in Format::BOTH {
            let r = call(
                &env.app,
                Endpoint::TagImages,
                &tag_images_event(Some(&auth), tag, &image_ids_form(ids), format),
            )
            .await;
            assert_error(&r, 404, "not_found", &format!("{what} {format:?}"));
        }
    }
    // Their user cannot tag our images with their tag either.
    let r = call(
        &env.app,
        Endpoint::TagImages,
        &tag_images_event(
            Some(&bearer(&their_token)),
            tag_id(&theirs),
            &image_ids_json(&[&own[0].id]),
            Format::Http,
        ),
    )
    .await;
    assert_error(&r, 404, "not_found", "our image, their user");
    let after = snapshot(&env).await;
    assert_eq!(before, after, "{}", snapshot_diff(&before, &after));

    // The same images, all ours, with our tag: tagged.
    tag_images(&env.app, &token, tag_id(&ours), &[&own[0].id, &own[1].id]).await;
    assert_eq!(associations(&store, "own").await.len(), 2);
    assert!(associations(&store, "foreign").await.is_empty());
}

#[tokio::test]
async fn tagging_needs_see_and_image_tag_or_share_on_the_album_of_every_image() {
    let env = TestEnv::new("tag-401").await;
    let store = env.direct_store().await;
    let a = seed_album(&store, "album_a", ORG, 3).await;
    let b = seed_album(&store, "album_b", ORG, 3).await;
    let foreign = seed_album(&store, "foreign", OTHER_ORG, 1).await;
    let tag = create_tag(&env.app, &env.token(USER, None), "listed").await;
    let list_a = bearer(&env.token(
        USER,
        Some(json!({"album_a": access(&["see", "image_tag"])})),
    ));
    let all_but_list = bearer(&env.token(
        USER,
        Some(json!({
            "album_a": access(&["see", "image_list", "image_upload", "image_delete", "rename"]),
            "album_b": access(&["see", "image_list", "image_upload", "image_delete", "rename"]),
        })),
    ));
    let tag_without_see =
        bearer(&env.token(USER, Some(json!({"album_a": access(&["image_tag"])}))));
    let before = snapshot(&env).await;
    for (what, auth, ids, status) in [
        (
            "an image of an album without see and image_tag",
            &list_a,
            vec![a[0].id.as_str(), b[0].id.as_str()],
            401,
        ),
        (
            "every flag but image_tag and share",
            &all_but_list,
            vec![a[0].id.as_str()],
            401,
        ),
        (
            "image_tag without see",
            &tag_without_see,
            vec![a[0].id.as_str()],
            401,
        ),
        (
            "another organization's image: 404 before 401",
            &list_a,
            vec![a[0].id.as_str(), foreign[0].id.as_str()],
            404,
        ),
    ] {
        for format in Format::BOTH {
            let r = call(
                &env.app,
                Endpoint::TagImages,
                &tag_images_event(Some(auth), tag_id(&tag), &image_ids_form(&ids), format),
            )
            .await;
            let code = if status == 401 {
                "forbidden"
            } else {
                "not_found"
            };
            assert_error(&r, status, code, &format!("{what} {format:?}"));
        }
    }
    let after = snapshot(&env).await;
    assert_eq!(before, after, "{}", snapshot_diff(&before, &after));

    // see and image_tag on the album is all it takes.
    let r = call(
        &env.app,
        Endpoint::TagImages,
        &tag_images_event(
            Some(&list_a),
            tag_id(&tag),
            &image_ids_form(&[&a[0].id, &a[2].id]),
            Format::Http,
        ),
    )
    .await;
    assert_success(&r, 200, USER, "see and image_tag on album_a");
    let expected: BTreeSet<(String, String)> = [&a[0].id, &a[2].id]
        .iter()
        .map(|i| (i.to_string(), tag_id(&tag).to_string()))
        .collect();
    assert_associations_exactly(&store, "album_a", &expected, "album_a").await;
    assert!(associations(&store, "album_b").await.is_empty());

    // So is share (SharinPix's `create_the_tag_images`).
    let share_b = bearer(&env.token(USER, Some(json!({"album_b": access(&["share"])}))));
    let r = call(
        &env.app,
        Endpoint::TagImages,
        &tag_images_event(
            Some(&share_b),
            tag_id(&tag),
            &image_ids_form(&[&b[1].id]),
            Format::Http,
        ),
    )
    .await;
    assert_success(&r, 200, USER, "share on album_b");
    let expected = BTreeSet::from([(b[1].id.clone(), tag_id(&tag).to_string())]);
    assert_associations_exactly(&store, "album_b", &expected, "album_b").await;
}

#[tokio::test]
async fn tag_images_refuses_malformed_image_id_lists_and_unreadable_bodies_and_writes_nothing() {
    let env = TestEnv::new("tag-422").await;
    let store = env.direct_store().await;
    // 100 images: the most one request tags.
    let images = seed_album(&store, "hundred", ORG, 100).await;
    let token = env.token(USER, None);
    let auth = bearer(&token);
    let tag = create_tag(&env.app, &token, "bulk").await;
    let ids = ids_of(&images);
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut too_many: Vec<String> = ids.clone();
    too_many.push(uuid::Uuid::new_v4().to_string());
    let before = snapshot(&env).await;

    let unprocessable: Vec<(&str, Payload)> = vec![
        ("no image_ids", Payload::form(&[("ids[]", &ids[0])])),
        ("no body", Payload::Raw(None, String::new())),
        ("an empty list", Payload::Json(json!({"image_ids": []}))),
        ("101 ids", Payload::Json(json!({ "image_ids": too_many }))),
        (
            "101 ids as a form",
            Payload::Form(
                too_many
                    .iter()
                    .map(|i| ("image_ids[]".to_string(), i.clone()))
                    .collect(),
            ),
        ),
        ("numbers", Payload::Json(json!({"image_ids": [1, 2]}))),
        (
            "a number among strings",
            Payload::Json(json!({"image_ids": [ids[0], 7]})),
        ),
        (
            "objects",
            Payload::Json(json!({"image_ids": [{"id": ids[0]}]})),
        ),
        ("null", Payload::Json(json!({"image_ids": null}))),
        (
            "an object, not a list",
            Payload::Json(json!({"image_ids": {"0": ids[0]}})),
        ),
    ];
    for (what, body) in &unprocessable {
        let r = call(
            &env.app,
            Endpoint::TagImages,
            &tag_images_event(Some(&auth), tag_id(&tag), body, Format::Http),
        )
        .await;
        assert_error(&r, 422, "unprocessable_entity", what);
    }
    let unreadable = [
        (
            "JSON that does not parse",
            Payload::Raw(Some("application/json".into()), "{\"image_ids\": [".into()),
        ),
        (
            "a JSON array",
            Payload::Raw(Some("application/json".into()), format!("[\"{}\"]", ids[0])),
        ),
        (
            "text/plain",
            Payload::Raw(Some("text/plain".into()), format!("image_ids[]={}", ids[0])),
        ),
        (
            "XML",
            Payload::Raw(
                Some("application/xml".into()),
                format!("<image_ids><id>{}</id></image_ids>", ids[0]),
            ),
        ),
    ];
    for (what, body) in &unreadable {
        let r = call(
            &env.app,
            Endpoint::TagImages,
            &tag_images_event(Some(&auth), tag_id(&tag), body, Format::Http),
        )
        .await;
        assert_error(&r, 400, "bad_request", what);
    }
    // Oversized ids and bodies: refused, never a 5xx.
    let long_id = "a".repeat(3000);
    let r = call(
        &env.app,
        Endpoint::TagImages,
        &tag_images_event(
            Some(&auth),
            tag_id(&tag),
            &image_ids_json(&[&long_id]),
            Format::Http,
        ),
    )
    .await;
    assert!(
        r.status == 404 || r.status == 422,
        "a 3,000-character id: {} {}",
        r.status,
        r.text
    );
    assert_error(
        &r,
        r.status,
        if r.status == 404 {
            "not_found"
        } else {
            "unprocessable_entity"
        },
        "a 3,000-character id",
    );
    let r = call(
        &env.app,
        Endpoint::TagImages,
        &tag_images_event(
            Some(&auth),
            &"t".repeat(3000),
            &image_ids_json(&[&ids[0]]),
            Format::Http,
        ),
    )
    .await;
    assert_error(&r, 404, "not_found", "a 3,000-character tag");
    let r = call(
        &env.app,
        Endpoint::TagImages,
        &tag_images_event(
            Some(&auth),
            tag_id(&tag),
            &Payload::Json(json!({"image_ids": [ids[0]], "pad": "p".repeat(70 * 1024)})),
            Format::Http,
        ),
    )
    .await;
    assert_error(&r, 413, "payload_too_large", "a 70 KB body");
    let after = snapshot(&env).await;
    assert_eq!(before, after, "{}", snapshot_diff(&before, &after));

    // 100 ids, in both body encodings: each tagged once.
    let r = call(
        &env.app,
        Endpoint::TagImages,
        &tag_images_event(
            Some(&auth),
            tag_id(&tag),
            &image_ids_json(&refs),
            Format::Http,
        ),
    )
    .await;
    assert_success(&r, 200, USER, "100 ids");
    let answered: Vec<String> = r
        .array()
        .iter()
        .map(|e| e["image"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(answered, ids, "one element per id, in request order");
    let r = call(
        &env.app,
        Endpoint::TagImages,
        &tag_images_event(
            Some(&auth),
            tag_id(&tag),
            &image_ids_form(&refs),
            Format::Rest,
        ),
    )
    .await;
    assert_success(&r, 200, USER, "100 ids as a form");
    assert_eq!(r.array().len(), 100);
    let expected: BTreeSet<(String, String)> = ids
        .iter()
        .map(|i| (i.clone(), tag_id(&tag).to_string()))
        .collect();
    assert_associations_exactly(&store, "hundred", &expected, "100 ids").await;
}

// ---------------------------------------------------------------- listing

#[tokio::test]
async fn a_tags_images_are_listed_newest_image_first_and_paginated() {
    let env = TestEnv::new("tag-list-images").await;
    let store = env.direct_store().await;
    let album = "gallery";
    let images = seed_album(&store, album, ORG, 9).await;
    let token = env.token(USER, None);
    let auth = bearer(&token);
    let tag = create_tag(&env.app, &token, "favourites").await;
    let other = create_tag(&env.app, &token, "other").await;
    // Tagged in no particular order; sample image n is newer than n - 1.
    let chosen = [4usize, 0, 8, 2, 7, 1, 5];
    let refs: Vec<&str> = chosen.iter().map(|&i| images[i].id.as_str()).collect();
    let answered = tag_images(&env.app, &token, tag_id(&tag), &refs).await;
    tag_images(&env.app, &token, tag_id(&other), &[&images[3].id]).await;
    let mut newest_first: Vec<usize> = chosen.to_vec();
    newest_first.sort_unstable_by(|a, b| b.cmp(a));
    let expected: Vec<Value> = newest_first
        .iter()
        .map(|&i| {
            let at = chosen.iter().position(|&c| c == i).unwrap();
            answered[at].clone()
        })
        .collect();

    for (tag_ref, format) in [
        (tag_id(&tag), Format::Http),
        ("favourites", Format::Http),
        (tag_id(&tag), Format::Rest),
    ] {
        let all = call(
            &env.app,
            Endpoint::ListTagImages,
            &list_tag_images_event(Some(&auth), tag_ref, &[], format),
        )
        .await;
        assert_success(&all, 200, USER, &format!("{tag_ref} {format:?}"));
        assert_eq!(
            all.json,
            Value::Array(expected.clone()),
            "newest image first, as tagged"
        );
        assert_eq!(all.header("x-next-cursor"), None);
    }
    for el in &expected {
        let i = images
            .iter()
            .position(|img| img.id == el["image"]["id"])
            .unwrap();
        assert_association_json(&env, el, album, &images[i], &tag, USER);
    }

    let pages = follow_pages(&env.app, Endpoint::ListTagImages, |cursor| {
        let mut q = vec![("limit", "3")];
        q.extend(cursor.map(|c| ("cursor", c)));
        list_tag_images_event(Some(&auth), tag_id(&tag), &q, Format::Http)
    })
    .await;
    let sizes: Vec<usize> = pages.iter().map(|p| p.array().len()).collect();
    assert_eq!(sizes, vec![3, 3, 1]);
    let listed: Vec<Value> = pages.iter().flat_map(|p| p.array().clone()).collect();
    assert_eq!(listed, expected);
    assert_eq!(
        listed_image_ids(&listed),
        newest_first
            .iter()
            .map(|&i| images[i].id.clone())
            .collect::<Vec<_>>()
    );

    // Unknown tags are 404; bad limits and cursors (tampered, or of another
    // tag's listing) are 400.
    for tag_ref in ["nope", &uuid::Uuid::new_v4().to_string()] {
        let r = call(
            &env.app,
            Endpoint::ListTagImages,
            &list_tag_images_event(Some(&auth), tag_ref, &[], Format::Http),
        )
        .await;
        assert_error(&r, 404, "not_found", tag_ref);
    }
    let cursor = pages[0].header("x-next-cursor").unwrap().to_string();
    let other_cursor = {
        tag_images(&env.app, &token, tag_id(&other), &[&images[6].id]).await;
        let r = call(
            &env.app,
            Endpoint::ListTagImages,
            &list_tag_images_event(Some(&auth), tag_id(&other), &[("limit", "1")], Format::Http),
        )
        .await;
        r.header("x-next-cursor")
            .expect("a cursor of the other tag")
            .to_string()
    };
    for (what, q) in [
        ("limit 0", vec![("limit", "0")]),
        ("limit 101", vec![("limit", "101")]),
        ("garbage cursor", vec![("cursor", "garbage")]),
        (
            "another tag's cursor",
            vec![("cursor", other_cursor.as_str())],
        ),
    ] {
        let r = call(
            &env.app,
            Endpoint::ListTagImages,
            &list_tag_images_event(Some(&auth), tag_id(&tag), &q, Format::Http),
        )
        .await;
        assert_error(&r, 400, "bad_request", what);
    }
    let r = call(
        &env.app,
        Endpoint::ListTagImages,
        &list_tag_images_event(
            Some(&bearer(&env.token(OTHER_USER, None))),
            tag_id(&tag),
            &[("cursor", &cursor)],
            Format::Http,
        ),
    )
    .await;
    assert_error(&r, 404, "not_found", "our tag, their user");
}

#[tokio::test]
async fn a_restricted_token_lists_only_associations_in_albums_where_it_has_image_list() {
    let env = TestEnv::new("tag-restricted").await;
    let store = env.direct_store().await;
    let token = env.token(USER, None);
    let tag = create_tag(&env.app, &token, "shared").await;
    let mut by_album = std::collections::BTreeMap::new();
    for album in ["album_a", "album_b", "album_c"] {
        let imgs = seed_album(&store, album, ORG, 3).await;
        tag_all(&env.app, &token, &tag, &ids_of(&imgs)).await;
        by_album.insert(album, ids_of(&imgs));
    }
    let everything = listed_tag_images(&env.app, &token, tag_id(&tag), 50).await;
    assert_eq!(everything.len(), 9);

    let restricted = env.token(
        USER,
        Some(json!({
            "album_a": access(&["image_list"]),
            "album_b": access(&["see", "image_upload", "image_delete", "rename"]),
            "album_c": access(&["see", "image_list"]),
        })),
    );
    let expected: BTreeSet<String> = by_album["album_a"]
        .iter()
        .chain(&by_album["album_c"])
        .cloned()
        .collect();
    for limit in [50, 2, 1] {
        let listed = listed_tag_images(&env.app, &restricted, tag_id(&tag), limit).await;
        let ids = listed_image_ids(&listed);
        let set: BTreeSet<String> = ids.iter().cloned().collect();
        assert_eq!(set.len(), ids.len(), "limit {limit}: listed twice: {ids:?}");
        assert_eq!(set, expected, "limit {limit}");
        for el in &listed {
            assert_ne!(el["image"]["album_id"], "album_b", "limit {limit}");
        }
    }
    // A token that may list no album sees no association.
    let none = env.token(
        USER,
        Some(json!({"album_b": access(&["see", "image_upload"])})),
    );
    let r = call(
        &env.app,
        Endpoint::ListTagImages,
        &list_tag_images_event(Some(&bearer(&none)), tag_id(&tag), &[], Format::Rest),
    )
    .await;
    assert_success(&r, 200, USER, "no image_list anywhere");
    assert_eq!(r.json, json!([]));
}

// ---------------------------------------------------------------- deleting

#[tokio::test]
async fn deleting_a_tag_image_answers_204_then_404_and_needs_see_and_image_tag_or_share() {
    let env = TestEnv::new("tag-delete").await;
    let store = env.direct_store().await;
    let album = "album_a";
    let images = seed_album(&store, album, ORG, 3).await;
    let token = env.token(USER, None);
    let auth = bearer(&token);
    let tag = create_tag(&env.app, &token, "doomed").await;
    let made = tag_images(
        &env.app,
        &token,
        tag_id(&tag),
        &[&images[0].id, &images[1].id],
    )
    .await;
    let (e0, e1) = (
        made[0]["id"].as_str().unwrap().to_string(),
        made[1]["id"].as_str().unwrap().to_string(),
    );
    let before = snapshot(&env).await;

    let no_list = bearer(&env.token(
        USER,
        Some(json!({ album: access(&["see", "image_list", "image_upload", "image_delete", "rename"]) })),
    ));
    for format in Format::BOTH {
        let r = call(
            &env.app,
            Endpoint::DeleteTagImage,
            &delete_tag_image_event(Some(&no_list), &e0, format),
        )
        .await;
        assert_error(&r, 401, "forbidden", &format!("no image_tag {format:?}"));
        for (what, auth, id) in [
            (
                "another organization's user",
                bearer(&env.token(OTHER_USER, None)),
                e0.clone(),
            ),
            (
                "an unknown id",
                auth.clone(),
                uuid::Uuid::new_v4().to_string(),
            ),
            ("a malformed id", auth.clone(), "G#x/../y".to_string()),
            ("a 3,000-character id", auth.clone(), "g".repeat(3000)),
        ] {
            let r = call(
                &env.app,
                Endpoint::DeleteTagImage,
                &delete_tag_image_event(Some(&auth), &id, format),
            )
            .await;
            assert_error(&r, 404, "not_found", &format!("{what} {format:?}"));
        }
        let r = call(
            &env.app,
            Endpoint::DeleteTagImage,
            &delete_tag_image_event(None, &e0, format),
        )
        .await;
        assert_error(&r, 401, "unauthorized", "no Authorization");
    }
    let after = snapshot(&env).await;
    assert_eq!(before, after, "{}", snapshot_diff(&before, &after));

    let r = call(
        &env.app,
        Endpoint::DeleteTagImage,
        &delete_tag_image_event(Some(&auth), &e0, Format::Http),
    )
    .await;
    assert_success(&r, 204, USER, "delete");
    assert_eq!(r.text, "", "204 has no body");
    let left = associations(&store, album).await;
    assert_eq!(
        left.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
        vec![e1.clone()]
    );
    assert_eq!(
        listed_image_ids(&listed_tag_images(&env.app, &token, tag_id(&tag), 50).await),
        vec![images[1].id.clone()]
    );
    assert_album_exact(&store, album, 3, "the image stays").await;
    let r = call(
        &env.app,
        Endpoint::DeleteTagImage,
        &delete_tag_image_event(Some(&auth), &e0, Format::Http),
    )
    .await;
    assert_error(&r, 404, "not_found", "deleted twice");

    // share alone is enough (REST format).
    let list_only = bearer(&env.token(USER, Some(json!({ album: access(&["share"]) }))));
    let r = call(
        &env.app,
        Endpoint::DeleteTagImage,
        &delete_tag_image_event(Some(&list_only), &e1, Format::Rest),
    )
    .await;
    assert_success(&r, 204, USER, "share alone");
    assert!(associations(&store, album).await.is_empty());

    // Tagging again brings the association back under the same id.
    let again = tag_images(&env.app, &token, tag_id(&tag), &[&images[0].id]).await;
    assert_eq!(
        again[0]["id"],
        json!(e0),
        "the id is derived from image and tag"
    );
}

#[tokio::test]
async fn deleting_an_image_removes_its_tag_associations() {
    let env = TestEnv::new("tag-image-delete").await;
    let store = env.direct_store().await;
    let album = "album_a";
    let images = seed_album(&store, album, ORG, 4).await;
    let token = env.token(USER, None);
    let t1 = create_tag(&env.app, &token, "one").await;
    let t2 = create_tag(&env.app, &token, "two").await;
    let on_a0 = tag_images(
        &env.app,
        &token,
        tag_id(&t1),
        &[&images[0].id, &images[1].id],
    )
    .await;
    tag_images(&env.app, &token, tag_id(&t2), &[&images[0].id]).await;

    let r = call(
        &env.app,
        Endpoint::DeleteImage,
        &Endpoint::DeleteImage.event(Some(&bearer(&token)), Some(&images[0].id)),
    )
    .await;
    assert_success(&r, 204, USER, "delete the image");
    let expected = BTreeSet::from([(images[1].id.clone(), tag_id(&t1).to_string())]);
    assert_associations_exactly(&store, album, &expected, "after deleting image 0").await;
    assert_album_exact(&store, album, 3, "after deleting image 0").await;
    assert_eq!(
        listed_image_ids(&listed_tag_images(&env.app, &token, tag_id(&t1), 50).await),
        vec![images[1].id.clone()]
    );
    assert!(
        listed_tag_images(&env.app, &token, tag_id(&t2), 50)
            .await
            .is_empty()
    );
    let gone = on_a0[0]["id"].as_str().unwrap();
    let r = call(
        &env.app,
        Endpoint::DeleteTagImage,
        &delete_tag_image_event(Some(&bearer(&token)), gone, Format::Http),
    )
    .await;
    assert_error(&r, 404, "not_found", "the deleted image's association");
}

// ---------------------------------------------------------------- duplicate

/// Seeds `album` with `n` images and tags them: tag `a` on every image
/// whose number is divisible by 2, tag `b` on those divisible by 3 (some
/// have both, some neither). Returns the images and the `(image, tag)` pairs.
async fn seed_tagged(
    env: &TestEnv,
    album: &str,
    n: u64,
) -> (Vec<StoredImage>, Value, Value, BTreeSet<(String, String)>) {
    let store = env.direct_store().await;
    let images = seed_album(&store, album, ORG, n).await;
    let token = env.token(USER, None);
    let a = create_tag(&env.app, &token, "even").await;
    let b = create_tag(&env.app, &token, "thirds").await;
    let evens: Vec<String> = images.iter().step_by(2).map(|i| i.id.clone()).collect();
    let thirds: Vec<String> = images.iter().step_by(3).map(|i| i.id.clone()).collect();
    let mut pairs = tag_all(&env.app, &token, &a, &evens).await;
    pairs.extend(tag_all(&env.app, &token, &b, &thirds).await);
    assert_associations_exactly(&store, album, &pairs, "seeded").await;
    (images, a, b, pairs)
}

/// The associations the copies in `destination` should carry.
fn copied_pairs(
    destination: &str,
    source_pairs: &BTreeSet<(String, String)>,
) -> BTreeSet<(String, String)> {
    source_pairs
        .iter()
        .map(|(img, tag)| (copy_id(destination, img), tag.clone()))
        .collect()
}

fn duplicate(token: &str, body: Payload, format: Format) -> Value {
    api_event(
        Endpoint::Duplicate,
        Some(&bearer(token)),
        Some(SOURCE),
        &[],
        Some(&body),
        format,
    )
}

#[tokio::test]
async fn a_duplicate_with_tags_gives_each_copy_its_sources_associations_exactly_once() {
    let env = TestEnv::new("dup-tags").await;
    let store = env.direct_store().await;
    let (images, even, _thirds, pairs) = seed_tagged(&env, SOURCE, 10).await;
    let token = env.token(USER, None);
    let seed_body: Value =
        serde_json::from_str(include_str!("fixtures/seed-duplicate-response.json")).unwrap();

    let requests = [
        (
            "form tags=true",
            "with_tags",
            Payload::form(&[("destination_id", "with_tags"), ("tags", "true")]),
            Format::Http,
        ),
        (
            "form tags=1, REST",
            "with_tags_1",
            Payload::form(&[("destination_id", "with_tags_1"), ("tags", "1")]),
            Format::Rest,
        ),
        (
            "JSON true",
            "with_tags_json",
            Payload::Json(json!({"destination_id": "with_tags_json", "tags": true})),
            Format::Http,
        ),
        (
            "JSON 1, REST",
            "with_tags_json_1",
            Payload::Json(json!({"destination_id": "with_tags_json_1", "tags": 1})),
            Format::Rest,
        ),
    ];
    for (what, dest, body, format) in &requests {
        let ev = duplicate(&token, body.clone(), *format);
        let r = call(&env.app, Endpoint::Duplicate, &ev).await;
        assert_success(&r, 200, USER, what);
        assert_eq!(r.json["id"], *dest, "{what}");
        assert_eq!(r.json["images_count"], 10, "{what}");
        // The contract's body, key for key (4 thumbnails, as the seed's).
        assert_same_shape("$", &r.json, &seed_body);
        assert_album_exact(&store, dest, 10, what).await;
        let expected = copied_pairs(dest, &pairs);
        assert_associations_exactly(&store, dest, &expected, what).await;

        // The same request again adds nothing: the associations are the same items.
        let before = partition_items(&store, dest, "G#").await;
        let again = call(&env.app, Endpoint::Duplicate, &ev).await;
        assert_success(&again, 200, USER, &format!("{what}, again"));
        assert_eq!(again.json["images_count"], 10, "{what}, again");
        assert_eq!(
            partition_items(&store, dest, "G#").await,
            before,
            "{what}: a repeated duplicate rewrote or added associations"
        );
        assert_album_exact(&store, dest, 10, what).await;
    }
    // The source keeps its own, and the tag now lists every copy too.
    assert_associations_exactly(&store, SOURCE, &pairs, "the source").await;
    let listed = listed_tag_images(&env.app, &token, tag_id(&even), 100).await;
    let evens = images.iter().step_by(2).count();
    assert_eq!(listed.len(), evens * (1 + requests.len()));
    for (_, dest, _, _) in &requests {
        let in_dest = listed
            .iter()
            .filter(|e| e["image"]["album_id"] == *dest)
            .count();
        assert_eq!(in_dest, evens, "{dest}");
    }
}

#[tokio::test]
async fn a_duplicate_without_tags_copies_no_associations_and_answers_as_before() {
    let env = TestEnv::new("dup-no-tags").await;
    let store = env.direct_store().await;
    let (_, _, _, pairs) = seed_tagged(&env, SOURCE, 6).await;
    let token = env.token(USER, None);
    let seed_body: Value =
        serde_json::from_str(include_str!("fixtures/seed-duplicate-response.json")).unwrap();
    for (what, dest, body, format) in [
        (
            "no tags parameter",
            "plain",
            Payload::form(&[("destination_id", "plain")]),
            Format::Http,
        ),
        (
            "tags=false",
            "plain_false",
            Payload::form(&[("destination_id", "plain_false"), ("tags", "false")]),
            Format::Rest,
        ),
        (
            "tags=0",
            "plain_0",
            Payload::form(&[("destination_id", "plain_0"), ("tags", "0")]),
            Format::Http,
        ),
        (
            "JSON false",
            "plain_json",
            Payload::Json(json!({"destination_id": "plain_json", "tags": false})),
            Format::Http,
        ),
        (
            "JSON 0",
            "plain_json_0",
            Payload::Json(json!({"destination_id": "plain_json_0", "tags": 0})),
            Format::Rest,
        ),
    ] {
        let r = call(
            &env.app,
            Endpoint::Duplicate,
            &duplicate(&token, body, format),
        )
        .await;
        assert_success(&r, 200, USER, what);
        // The contract's body, key for key (6 images: 4 thumbnails, as the seed's 5).
        assert_same_shape("$", &r.json, &seed_body);
        assert_eq!(r.json["id"], dest);
        assert_eq!(r.json["images_count"], 6);
        assert_album_exact(&store, dest, 6, what).await;
        assert!(
            associations(&store, dest).await.is_empty(),
            "{what}: associations were copied"
        );
    }
    assert_associations_exactly(&store, SOURCE, &pairs, "the source").await;
}

#[tokio::test]
async fn a_tagged_duplicate_that_answers_202_copies_associations_exactly_once_when_its_job_is_done()
{
    let mut env = TestEnv::new("dup-tags-job").await;
    let store = env.direct_store().await;
    let n = if emulator_is_moto() { 150 } else { 300 };
    let (_, _, _, pairs) = seed_tagged(&env, SOURCE, n).await;
    let token = env.token(USER, None);
    // No inline copy: the duplicate answers 202 with a job at once.
    set_sync_copy_budget(&mut env.app, Duration::ZERO);
    let ev = duplicate(
        &token,
        Payload::form(&[("destination_id", "tagged_job"), ("tags", "true")]),
        Format::Http,
    );
    let r = call(&env.app, Endpoint::Duplicate, &ev).await;
    assert_success(&r, 202, USER, "a tagged duplicate without inline time");
    let job = r.json["job_id"].as_str().expect("a job id").to_string();
    assert_eq!(
        r.header("location"),
        Some(format!("/api/v1/duplications/{job}").as_str())
    );
    assert!(r.header("retry-after").is_some(), "Retry-After");
    assert_eq!(r.json["status"], "running");
    assert_eq!(r.json["kind"], "duplicate", "{}", r.text);
    assert_eq!(r.json["tags"], true, "{}", r.text);
    assert_eq!(r.json["images_total"], n);

    let get = Endpoint::GetDuplication.event(Some(&bearer(&token)), Some(&job));
    let running = call(&env.app, Endpoint::GetDuplication, &get).await;
    assert_success(&running, 200, USER, "the running job");
    assert_eq!(running.json["kind"], "duplicate");
    assert_eq!(running.json["tags"], true);

    run_job_to_done(&env.app, &job, 50).await;
    assert_album_exact(&store, "tagged_job", n, "the job's copy").await;
    let expected = copied_pairs("tagged_job", &pairs);
    assert_associations_exactly(&store, "tagged_job", &expected, "the job's copy").await;
    let done = call(&env.app, Endpoint::GetDuplication, &get).await;
    assert_eq!(done.json["status"], "done", "{}", done.text);
    assert_eq!(done.json["tags"], true);
    assert_eq!(done.json["album"]["images_count"], n);

    // The same request again, now with time to copy inline: 200, nothing added.
    set_sync_copy_budget(&mut env.app, Duration::from_secs(60));
    let before = partition_items(&store, "tagged_job", "G#").await;
    let again = call(&env.app, Endpoint::Duplicate, &ev).await;
    assert_success(&again, 200, USER, "the same request, inline");
    assert_eq!(again.json["images_count"], n);
    assert_eq!(partition_items(&store, "tagged_job", "G#").await, before);
    assert_associations_exactly(&store, SOURCE, &pairs, "the source").await;
}

fn scheduled(destination: &str, tags: Option<Value>) -> Value {
    let mut e = event("scheduled-duplicate.json");
    e["source_album_id"] = json!(SOURCE);
    e["destination_id"] = json!(destination);
    e["organization_id"] = json!(ORG);
    if let Some(t) = tags {
        e["tags"] = t;
    }
    e
}

#[tokio::test]
async fn a_scheduled_duplicate_with_tags_copies_associations_exactly_once_even_when_redelivered() {
    let env = TestEnv::new("sched-tags").await;
    let store = env.direct_store().await;
    let (_, _, _, pairs) = seed_tagged(&env, SOURCE, 40).await;
    let ctx = |id: &str| lambda_context(id, Duration::from_secs(60));

    let mut envelope = event("scheduled-duplicate-eventbridge.json");
    envelope["detail"]["source_album_id"] = json!(SOURCE);
    envelope["detail"]["organization_id"] = json!(ORG);
    envelope["detail"]["destination_id"] = json!("rule_tags");
    envelope["detail"]["tags"] = json!(true);
    for (dest, payload) in [
        ("weekly_tags", scheduled("weekly_tags", Some(json!(true)))),
        ("rule_tags", envelope),
    ] {
        for delivery in ["first", "again"] {
            let out = scheduled_duplicate::handle(
                &env.app,
                LambdaEvent::new(payload.clone(), ctx(&format!("{dest}-{delivery}"))),
            )
            .await
            .unwrap_or_else(|e| panic!("{dest} {delivery}: {e}"));
            assert_eq!(out["status"], "done", "{dest} {delivery}: {out}");
            assert_album_exact(&store, dest, 40, dest).await;
            assert_associations_exactly(&store, dest, &copied_pairs(dest, &pairs), dest).await;
        }
    }
    for (dest, tags) in [("weekly_plain", None), ("weekly_false", Some(json!(false)))] {
        let out = scheduled_duplicate::handle(
            &env.app,
            LambdaEvent::new(scheduled(dest, tags), ctx(dest)),
        )
        .await
        .unwrap_or_else(|e| panic!("{dest}: {e}"));
        assert_eq!(out["status"], "done", "{dest}: {out}");
        assert_album_exact(&store, dest, 40, dest).await;
        assert!(
            associations(&store, dest).await.is_empty(),
            "{dest}: associations were copied"
        );
    }
}

/// The sample event with our token instead of the sample's (signed with the
/// local-only secret), in `format`.
fn sample(file: &str, token: &str, format: Format) -> Value {
    let mut e = event(file);
    crate::support::security::set_header(&mut e, "authorization", Some(&bearer(token)));
    match format {
        Format::Http => e,
        Format::Rest => crate::support::security::to_rest(&e),
    }
}

#[tokio::test]
async fn the_sample_events_of_the_tag_functions_work_as_sent() {
    for format in Format::BOTH {
        let env = TestEnv::new("tag-samples").await;
        let store = env.direct_store().await;
        // The demo data the samples name: the seed album, tagged `summer`.
        let images = seed_album(&store, SOURCE, ORG, 5).await;
        let token = env.token(USER, None);
        let what = |f: &str| format!("{f} {format:?}");

        let r = call(
            &env.app,
            Endpoint::CreateTag,
            &sample("create-tag.json", &token, format),
        )
        .await;
        assert_success(&r, 200, USER, &what("create-tag.json"));
        assert_eq!(r.json["name"], "summer");
        let tag = r.json.clone();

        let r = call(
            &env.app,
            Endpoint::TagImages,
            &sample("tag-images.json", &token, format),
        )
        .await;
        assert_success(&r, 200, USER, &what("tag-images.json"));
        let tagged = listed_image_ids(r.array());
        assert_eq!(tagged, vec![images[0].id.clone(), images[1].id.clone()]);
        for el in r.array() {
            assert_eq!(el["tag"], tag);
        }

        let r = call(
            &env.app,
            Endpoint::ListTags,
            &sample("list-tags.json", &token, format),
        )
        .await;
        assert_success(&r, 200, USER, &what("list-tags.json"));
        assert_eq!(r.json, json!([tag]));

        let r = call(
            &env.app,
            Endpoint::ListTagImages,
            &sample("list-tag-images.json", &token, format),
        )
        .await;
        assert_success(&r, 200, USER, &what("list-tag-images.json"));
        assert_eq!(
            listed_image_ids(r.array()),
            vec![images[1].id.clone(), images[0].id.clone()],
            "newest first"
        );

        let named = event("delete-tag-image.json")["pathParameters"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let r = call(
            &env.app,
            Endpoint::DeleteTagImage,
            &sample("delete-tag-image.json", &token, format),
        )
        .await;
        assert_success(&r, 204, USER, &what("delete-tag-image.json"));
        let left = associations(&store, SOURCE).await;
        assert_eq!(left.len(), 1, "{left:?}");
        assert_ne!(left[0].id, named);
    }
}

#[tokio::test]
async fn an_idempotency_key_on_the_tag_routes_replays_its_request_and_refuses_another() {
    let env = TestEnv::new("tag-idem").await;
    let store = env.direct_store().await;
    let images = seed_album(&store, "keyed", ORG, 2).await;
    let token = env.token(USER, None);
    let auth = bearer(&token);
    let keyed = |mut e: Value, key: &str| {
        crate::support::security::set_header(&mut e, "idempotency-key", Some(key));
        e
    };
    let create = |name: &str| {
        keyed(
            create_tag_event(Some(&auth), &Payload::form(&[("name", name)]), Format::Http),
            "tag-key",
        )
    };
    let first = call(&env.app, Endpoint::CreateTag, &create("Sea")).await;
    assert_success(&first, 200, USER, "a keyed tag");
    let again = call(&env.app, Endpoint::CreateTag, &create("Sea")).await;
    assert_success(&again, 200, USER, "the keyed request again");
    assert_eq!(again.json["id"], first.json["id"]);
    let before = snapshot(&env).await;
    let other = call(&env.app, Endpoint::CreateTag, &create("Sky")).await;
    assert_eq!(other.status, 422, "{}", other.json);
    assert_eq!(other.json["error"]["code"], "idempotency_key_reused");
    let after = snapshot(&env).await;
    assert_eq!(before, after, "{}", snapshot_diff(&before, &after));

    // Tagging: the same key on another tag's route is another request.
    let (a, b) = (&images[0].id, &images[1].id);
    let sky = create_tag(&env.app, &token, "sky").await;
    let tagging = |tag: &str| {
        keyed(
            tag_images_event(Some(&auth), tag, &image_ids_form(&[a, b]), Format::Http),
            "tagging-key",
        )
    };
    let tagged = call(&env.app, Endpoint::TagImages, &tagging(tag_id(&first.json))).await;
    assert_success(&tagged, 200, USER, "keyed tagging");
    let replay = call(&env.app, Endpoint::TagImages, &tagging(tag_id(&first.json))).await;
    assert_eq!(replay.json, tagged.json, "the same associations");
    let before = snapshot(&env).await;
    let elsewhere = call(&env.app, Endpoint::TagImages, &tagging(tag_id(&sky))).await;
    assert_eq!(elsewhere.status, 422, "{}", elsewhere.json);
    let after = snapshot(&env).await;
    assert_eq!(before, after, "{}", snapshot_diff(&before, &after));
}
