//! Tags, tag associations and album moves through their handlers (real API
//! Gateway events), and the association items as the table holds them:
//! `pk = A#<org>/<album>` (or a shard), `sk = G#<image created ms>#<image id>#<tag id>`,
//! `iid` = the association's id, `tg` = the tag's id.

use std::collections::{BTreeMap, BTreeSet};

use album_api::App;
use album_api::store::Store;
use serde_json::{Value, json};

use super::bearer;
use super::calls::*;
use super::security::Endpoint;

/// An association as stored: which image, which tag, its id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct StoredAssociation {
    pub image_id: String,
    pub tag_id: String,
    /// `iid`: the association's id.
    pub id: String,
    /// `sk`.
    pub sk: String,
}

/// Every association item of album `album`, in key order.
pub async fn associations(store: &Store, album: &str) -> Vec<StoredAssociation> {
    partition_items(store, album, "G#")
        .await
        .iter()
        .map(|item| {
            let sk = item["sk"].as_s().expect("sk").clone();
            let mut parts = sk
                .strip_prefix("G#")
                .expect("an association key")
                .splitn(3, '#');
            let millis = parts.next().unwrap_or_default();
            assert!(
                millis.len() == 13 && millis.bytes().all(|b| b.is_ascii_digit()),
                "{album}: association key {sk} without a 13-digit time"
            );
            let image_id = parts.next().expect("an image id").to_string();
            let tag_id = parts.next().expect("a tag id").to_string();
            let id = item
                .get("iid")
                .and_then(|v| v.as_s().ok())
                .unwrap_or_else(|| panic!("{album}: association {sk} without iid"))
                .clone();
            let tg = item
                .get("tg")
                .and_then(|v| v.as_s().ok())
                .unwrap_or_else(|| panic!("{album}: association {sk} without tg"));
            assert_eq!(tg, &tag_id, "{album}: tg of {sk}");
            StoredAssociation {
                image_id,
                tag_id,
                id,
                sk,
            }
        })
        .collect()
}

/// Asserts album `album` holds exactly one association per `(image id, tag
/// id)` of `expected` and no other, each with its own id.
pub async fn assert_associations_exactly(
    store: &Store,
    album: &str,
    expected: &BTreeSet<(String, String)>,
    what: &str,
) {
    let stored = associations(store, album).await;
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    for a in &stored {
        *seen
            .entry((a.image_id.clone(), a.tag_id.clone()))
            .or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "{what}: {album} holds twice: {twice:?}");
    let got: BTreeSet<(String, String)> = seen.into_keys().collect();
    let missing: Vec<_> = expected.difference(&got).collect();
    let extra: Vec<_> = got.difference(expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: {album} associations missing {missing:?}, unexpected {extra:?}"
    );
    let ids: BTreeSet<&String> = stored.iter().map(|a| &a.id).collect();
    assert_eq!(
        ids.len(),
        stored.len(),
        "{what}: {album}: two associations share an id"
    );
}

/// The `(image id, tag id)` pairs of album `album`'s associations.
pub async fn association_pairs(store: &Store, album: &str) -> BTreeSet<(String, String)> {
    associations(store, album)
        .await
        .into_iter()
        .map(|a| (a.image_id, a.tag_id))
        .collect()
}

// ---------------------------------------------------------------- events

/// `POST /api/v1/tags` with `body`.
pub fn create_tag_event(authorization: Option<&str>, body: &Payload, format: Format) -> Value {
    api_event(
        Endpoint::CreateTag,
        authorization,
        None,
        &[],
        Some(body),
        format,
    )
}

/// `GET /api/v1/tags` with `query`.
pub fn list_tags_event(
    authorization: Option<&str>,
    query: &[(&str, &str)],
    format: Format,
) -> Value {
    api_event(Endpoint::ListTags, authorization, None, query, None, format)
}

/// `POST /api/v1/tags/{tag}/tag_images` with `body`.
pub fn tag_images_event(
    authorization: Option<&str>,
    tag: &str,
    body: &Payload,
    format: Format,
) -> Value {
    api_event(
        Endpoint::TagImages,
        authorization,
        Some(tag),
        &[],
        Some(body),
        format,
    )
}

/// The form body `image_ids[]=a&image_ids[]=b…`.
pub fn image_ids_form(ids: &[&str]) -> Payload {
    Payload::Form(
        ids.iter()
            .map(|id| ("image_ids[]".to_string(), id.to_string()))
            .collect(),
    )
}

/// The JSON body `{"image_ids": [...]}`.
pub fn image_ids_json(ids: &[&str]) -> Payload {
    Payload::Json(json!({ "image_ids": ids }))
}

/// `GET /api/v1/tags/{tag}/tag_images` with `query`.
pub fn list_tag_images_event(
    authorization: Option<&str>,
    tag: &str,
    query: &[(&str, &str)],
    format: Format,
) -> Value {
    api_event(
        Endpoint::ListTagImages,
        authorization,
        Some(tag),
        query,
        None,
        format,
    )
}

/// `DELETE /api/v1/tag_images/{id}`.
pub fn delete_tag_image_event(authorization: Option<&str>, id: &str, format: Format) -> Value {
    api_event(
        Endpoint::DeleteTagImage,
        authorization,
        Some(id),
        &[],
        None,
        format,
    )
}

/// The body of a move of an album to `new_id`: `album[public_id]=<new_id>`
/// (and `merge=<merge>`) as a form, or `{"album": {"public_id"}, "merge"}`
/// as JSON (`merge` a boolean when it reads as one).
pub fn move_body(new_id: &str, merge: Option<&str>, json_body: bool) -> Payload {
    if json_body {
        let mut v = json!({ "album": { "public_id": new_id } });
        if let Some(m) = merge {
            v["merge"] = match m {
                "true" => json!(true),
                "false" => json!(false),
                "1" => json!(1),
                "0" => json!(0),
                other => json!(other),
            };
        }
        Payload::Json(v)
    } else {
        let mut pairs = vec![("album[public_id]".to_string(), new_id.to_string())];
        if let Some(m) = merge {
            pairs.push(("merge".to_string(), m.to_string()));
        }
        Payload::Form(pairs)
    }
}

/// `PUT /api/v1/albums/{album}` with `body`.
pub fn update_album_event(
    authorization: Option<&str>,
    album: &str,
    body: &Payload,
    format: Format,
) -> Value {
    api_event(
        Endpoint::UpdateAlbum,
        authorization,
        Some(album),
        &[],
        Some(body),
        format,
    )
}

// ---------------------------------------------------------------- calls

/// Creates (or finds) tag `name` with `token`: the tag JSON of the 201 or
/// 200 (sent again after a 503, as a client would: it is idempotent).
pub async fn create_tag(app: &App, token: &str, name: &str) -> Value {
    let r = call_retrying_503(
        app,
        Endpoint::CreateTag,
        &create_tag_event(
            Some(&bearer(token)),
            &Payload::form(&[("name", name)]),
            Format::Http,
        ),
        5,
    )
    .await;
    assert!(
        r.status == 201 || r.status == 200,
        "creating tag {name}: {} {}",
        r.status,
        r.text
    );
    r.json
}

/// Tags `images` with `tag` (its id or name) using `token`: the answer's
/// elements, one per image, in request order (sent again after a 503, as a
/// client would: tagging twice creates nothing twice).
pub async fn tag_images(app: &App, token: &str, tag: &str, images: &[&str]) -> Vec<Value> {
    let r = call_retrying_503(
        app,
        Endpoint::TagImages,
        &tag_images_event(
            Some(&bearer(token)),
            tag,
            &image_ids_form(images),
            Format::Http,
        ),
        5,
    )
    .await;
    assert_eq!(r.status, 200, "tagging with {tag}: {}", r.text);
    assert_eq!(r.array().len(), images.len(), "{}", r.text);
    r.array().clone()
}

/// Every element of tag `tag`'s listing for `token`, following the cursor
/// with pages of `limit`.
pub async fn listed_tag_images(app: &App, token: &str, tag: &str, limit: usize) -> Vec<Value> {
    let auth = bearer(token);
    let limit = limit.to_string();
    follow_pages(app, Endpoint::ListTagImages, |cursor| {
        let mut q = vec![("limit", limit.as_str())];
        q.extend(cursor.map(|c| ("cursor", c)));
        list_tag_images_event(Some(&auth), tag, &q, Format::Http)
    })
    .await
    .iter()
    .flat_map(|r| r.array().clone())
    .collect()
}

/// Tags `images` with tag `tag`, 50 a request; returns the expected
/// `(image id, tag id)` pairs.
pub async fn tag_all(
    app: &App,
    token: &str,
    tag: &Value,
    images: &[String],
) -> BTreeSet<(String, String)> {
    let tag_id = tag["id"].as_str().expect("a tag id");
    for chunk in images.chunks(50) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        tag_images(app, token, tag_id, &refs).await;
    }
    images
        .iter()
        .map(|i| (i.clone(), tag_id.to_string()))
        .collect()
}
