//! Imports by URL through a local Cloudinary stand-in: an import answers
//! at once, the stand-in uploads and notifies, the webhook records the
//! image and completes the import; a thousand imports into one album
//! record every image once with the count exact; a failed fetch says why;
//! a retry with its `Idempotency-Key` makes no second image; what may not
//! leave is refused before anything is written.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::support::calls::{self, Payload, access, call};
use crate::support::cloudinary_stand_in::{Behaviour, StandIn};
use crate::support::security::{Endpoint, set_header, table_snapshot};
use crate::support::*;

const ALBUM: &str = "imported_album";

fn import_event(auth: &str, album: &str, url: &str) -> Value {
    calls::api_event(
        Endpoint::CreateImport,
        Some(auth),
        None,
        &[],
        Some(&Payload::form(&[
            ("album_id", album),
            ("url", url),
            ("filename", "image123.JpG"),
            ("metadata[attachmentId]", "00P24000003vSXsEAM"),
        ])),
        calls::Format::Http,
    )
}

async fn env_with_stand_in(tag: &str, behaviour: Behaviour) -> (TestEnv, StandIn) {
    let mut env = TestEnv::new(tag).await;
    let stand_in = StandIn::start(env.app.clone(), behaviour).await;
    env.app.config.cloudinary_api_url = stand_in.url();
    (env, stand_in)
}

async fn get_import(env: &TestEnv, auth: &str, id: &str) -> calls::Resp {
    let e = Endpoint::GetImport.event(Some(auth), Some(id));
    call(&env.app, Endpoint::GetImport, &e).await
}

#[tokio::test]
async fn an_import_answers_at_once_and_its_image_is_recorded_by_the_webhook() {
    let (env, stand_in) = env_with_stand_in("import-one", Behaviour::default()).await;
    let auth = bearer(&env.token(USER, None));
    let r = call(
        &env.app,
        Endpoint::CreateImport,
        &import_event(&auth, ALBUM, "https://example.org/a.jpg"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["image_id"], Value::Null);
    assert_eq!(r.json["album_id"], ALBUM);
    assert_eq!(
        r.json["params"]["metadata"]["attachmentId"],
        "00P24000003vSXsEAM"
    );
    let id = r.json["id"].as_str().unwrap().to_string();
    stand_in.settle().await;
    let got = get_import(&env, &auth, &id).await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.json["status"], "done", "{}", got.text);
    let image = got.json["image_id"]
        .as_str()
        .expect("an image id")
        .to_string();
    let store = env.direct_store().await;
    assert_album_exact(&store, ALBUM, 1, "one import").await;
    assert_eq!(
        calls::album_image_ids(&store, ALBUM).await,
        BTreeSet::from([image])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_imports_into_one_album_record_every_image_once_with_the_count_exact() {
    // A thousand on dynalite; moto's slower server takes a fifth.
    let n: usize = if emulator_is_moto() { 200 } else { 1000 };
    let behaviour = Behaviour {
        redeliver_every: Some(7),
        ..Behaviour::default()
    };
    let (env, stand_in) = env_with_stand_in("import-many", behaviour).await;
    let auth = bearer(&env.token(USER, None));
    let mut set = tokio::task::JoinSet::new();
    let started = std::time::Instant::now();
    for sender in 0..16 {
        let (app, auth) = (env.app.clone(), auth.clone());
        set.spawn(async move {
            let mut ids = Vec::new();
            for i in (sender..n).step_by(16) {
                let e = import_event(&auth, ALBUM, &format!("https://example.org/{i}.jpg"));
                let r = calls::call_retrying_503(&app, Endpoint::CreateImport, &e, 10).await;
                assert_eq!(r.status, 200, "{}", r.text);
                ids.push(r.json["id"].as_str().unwrap().to_string());
            }
            ids
        });
    }
    let mut imports = Vec::new();
    while let Some(done) = set.join_next().await {
        imports.extend(done.unwrap());
    }
    stand_in.settle().await;
    eprintln!(
        "imports={n} seconds={:.1} delivered={}",
        started.elapsed().as_secs_f64(),
        stand_in
            .counts
            .delivered
            .load(std::sync::atomic::Ordering::SeqCst)
    );
    let store = env.direct_store().await;
    assert_album_exact(&store, ALBUM, n as u64, "every import once").await;
    let mut images = BTreeSet::new();
    for id in imports.iter().step_by(50) {
        let got = get_import(&env, &auth, id).await;
        assert_eq!(got.json["status"], "done", "{}", got.text);
        images.insert(got.json["image_id"].as_str().unwrap().to_string());
    }
    let held = calls::album_image_ids(&store, ALBUM).await;
    assert!(images.is_subset(&held));
}

#[tokio::test]
async fn an_import_whose_file_cannot_be_fetched_fails_saying_why() {
    let behaviour = Behaviour {
        unreachable: Some("gone".into()),
        ..Behaviour::default()
    };
    let (env, stand_in) = env_with_stand_in("import-failed", behaviour).await;
    let auth = bearer(&env.token(USER, None));
    let r = call(
        &env.app,
        Endpoint::CreateImport,
        &import_event(&auth, ALBUM, "https://example.org/gone.jpg"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    stand_in.settle().await;
    let got = get_import(&env, &auth, r.json["id"].as_str().unwrap()).await;
    assert_eq!(got.json["status"], "failed", "{}", got.text);
    assert!(
        got.json["error"]
            .as_str()
            .is_some_and(|e| e.contains("gone.jpg")),
        "{}",
        got.text
    );
    assert_eq!(got.json["image_id"], Value::Null);
    assert_album_exact(&env.direct_store().await, ALBUM, 0, "nothing recorded").await;
}

#[tokio::test]
async fn an_import_retried_with_its_idempotency_key_makes_one_image() {
    let (env, stand_in) = env_with_stand_in("import-retried", Behaviour::default()).await;
    let auth = bearer(&env.token(USER, None));
    let mut e = import_event(&auth, ALBUM, "https://example.org/once.jpg");
    set_header(&mut e, "idempotency-key", Some("import-once-1"));
    let first = call(&env.app, Endpoint::CreateImport, &e).await;
    let again = call(&env.app, Endpoint::CreateImport, &e).await;
    assert_eq!((first.status, again.status), (200, 200), "{}", again.text);
    assert_eq!(first.json["id"], again.json["id"]);
    stand_in.settle().await;
    assert_album_exact(&env.direct_store().await, ALBUM, 1, "one image").await;
    assert_eq!(
        stand_in
            .counts
            .taken
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

/// A retried import may ask Cloudinary again (its first sending may have
/// asked before it answered 503), and the same asset (`public_id` = the
/// import's id) is uploaded anew: its notification says a later
/// `created_at`, which put the image's item under a second sort key. Both
/// notifications, delivered side by side, record one image.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_whose_asset_cloudinary_uploads_twice_records_one_image() {
    let twice = Behaviour {
        uploaded_twice: true,
        ..Behaviour::default()
    };
    let (env, stand_in) = env_with_stand_in("import-twice", twice).await;
    let auth = bearer(&env.token(USER, None));
    let mut ids = Vec::new();
    for i in 0..12 {
        let url = format!("https://example.org/twice-{i}.jpg");
        let r = call(
            &env.app,
            Endpoint::CreateImport,
            &import_event(&auth, ALBUM, &url),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        ids.push(r.json["id"].as_str().unwrap().to_string());
    }
    stand_in.settle().await;
    let delivered = stand_in
        .counts
        .delivered
        .load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        delivered, 24,
        "both notifications of every import were taken"
    );
    let mut images = BTreeSet::new();
    for id in &ids {
        let got = get_import(&env, &auth, id).await;
        assert_eq!(got.json["status"], "done", "{}", got.text);
        images.insert(got.json["image_id"].as_str().unwrap().to_string());
    }
    let store = env.direct_store().await;
    assert_album_exact(&store, ALBUM, 12, "one image per import").await;
    assert_eq!(calls::album_image_ids(&store, ALBUM).await, images);
}

#[tokio::test]
async fn what_may_not_leave_or_may_not_upload_is_refused_before_anything_is_written() {
    let (env, stand_in) = env_with_stand_in("import-refused", Behaviour::default()).await;
    let store = env.direct_store().await;
    let before = table_snapshot(&store).await;
    let auth = bearer(&env.token(USER, None));
    for url in [
        "ftp://example.org/a.jpg",
        "https://user:secret@example.org/a.jpg",
        "file:///etc/passwd",
        "https://",
    ] {
        let r = call(
            &env.app,
            Endpoint::CreateImport,
            &import_event(&auth, ALBUM, url),
        )
        .await;
        calls::assert_error(&r, 422, "unprocessable_entity", url);
    }
    let mut headers = import_event(&auth, ALBUM, "https://example.org/a.jpg");
    headers["body"] = Value::from(format!(
        "{}&headers%5BAuthorization%5D=secret",
        headers["body"].as_str().unwrap()
    ));
    let r = call(&env.app, Endpoint::CreateImport, &headers).await;
    calls::assert_error(&r, 422, "unprocessable_entity", "headers");
    let other = bearer(&env.token(
        USER,
        Some(json!({ "elsewhere": access(&["image_upload"]) })),
    ));
    let r = call(
        &env.app,
        Endpoint::CreateImport,
        &import_event(&other, ALBUM, "https://example.org/a.jpg"),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(
        before,
        table_snapshot(&store).await,
        "a refused import wrote"
    );
    assert_eq!(
        stand_in
            .counts
            .taken
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    // Another organization's import is no import of ours.
    let r = call(
        &env.app,
        Endpoint::CreateImport,
        &import_event(&auth, ALBUM, "https://example.org/a.jpg"),
    )
    .await;
    let id = r.json["id"].as_str().unwrap().to_string();
    let theirs = bearer(&env.token(OTHER_USER, None));
    assert_eq!(get_import(&env, &theirs, &id).await.status, 404);
}
