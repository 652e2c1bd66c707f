//! `Idempotency-Key` on `POST /api/v1/albums/{id}/duplicate`: a retry of a
//! duplicate without `destination_id` continues into the album its first
//! sending created, and a retry of a 202 answers the same job.

use std::time::{Duration, Instant};

use crate::support::security::set_header;
use crate::support::*;
use album_api::handlers::duplicate_album;
use serde_json::Value;

fn duplicate_with_key(token: &str, key: &str, body: Option<&str>) -> Value {
    let mut e = duplicate_event("duplicate-album.json", Some(token), SOURCE, body);
    set_header(&mut e, "idempotency-key", Some(key));
    e
}

async fn send(env: &TestEnv, event: &Value) -> (u16, Value) {
    let (status, _, body) = parts(
        duplicate_album::handle(&env.app, request(event))
            .await
            .expect("an HTTP response"),
    );
    (status, body)
}

#[tokio::test]
async fn a_duplicate_cut_off_mid_copy_and_retried_with_its_key_completes_one_album_exactly() {
    const IMAGES: u64 = 1200;
    let env = TestEnv::new("idem-dup").await;
    let store = env.direct_store().await;
    seed_album(&store, SOURCE, ORG, IMAGES).await;
    let token = bearer(&env.token(USER, None));
    let before = organization_albums(&env).await;
    let event = duplicate_with_key(&token, "copy-order-7", None);

    // The first sending is cut off (a client's timeout, a lost answer)
    // once its copy has written some of the images.
    let call = tokio::spawn({
        let (app, event) = (env.app.clone(), event.clone());
        async move { duplicate_album::handle(&app, request(&event)).await }
    });
    let started = Instant::now();
    let (created, written) = loop {
        let fresh: Vec<_> = organization_albums(&env)
            .await
            .difference(&before)
            .cloned()
            .collect();
        if let [id] = fresh.as_slice() {
            let written = store.count_images(&key(id)).await.unwrap();
            if written >= 100 {
                break (id.clone(), written);
            }
        }
        assert!(!call.is_finished(), "the copy ended before it was cut off");
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the copy never started"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    call.abort();
    let _ = call.await;
    let left = store.count_images(&key(&created)).await.unwrap();
    eprintln!("cut off with {written}..{left} of {IMAGES} images copied");

    // The retry, and one more: the same album, complete, no second one.
    for attempt in ["retry", "second retry"] {
        let (status, body) = send(&env, &event).await;
        assert_eq!(status, 200, "{attempt}: {body}");
        assert_eq!(body["id"], created.as_str(), "{attempt}");
        assert_eq!(body["images_count"], IMAGES, "{attempt}");
        assert_album_exact(&store, &created, IMAGES, attempt).await;
    }
    let after = organization_albums(&env).await;
    assert_eq!(after.len(), before.len() + 1, "{after:?}");

    // The key with another request: refused, nothing created.
    let other = duplicate_with_key(&token, "copy-order-7", Some("destination_id=elsewhere"));
    let (status, body) = send(&env, &other).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "idempotency_key_reused");
    assert_eq!(organization_albums(&env).await, after);

    // Without a key, a retry is a new request: a second album.
    let (status, body) = send(
        &env,
        &duplicate_event("duplicate-album.json", Some(&token), SOURCE, None),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(body["id"], created.as_str());
}

#[tokio::test]
async fn a_duplicate_answered_202_and_retried_with_its_key_answers_the_same_job() {
    let mut env = TestEnv::new("idem-job").await;
    set_sync_copy_budget(&mut env.app, Duration::ZERO);
    env.app.slice_items = Some(500);
    let store = env.direct_store().await;
    seed_album(&store, SOURCE, ORG, 1200).await;
    let token = bearer(&env.token(USER, None));
    let before = organization_albums(&env).await;
    let event = duplicate_with_key(&token, "job-order-9", None);

    let (status, first) = send(&env, &event).await;
    assert_eq!(status, 202, "{first}");
    let job_id = first["job_id"].as_str().expect("a job").to_string();
    let (status, again) = send(&env, &event).await;
    assert_eq!(status, 202, "{again}");
    assert_eq!(again["job_id"], job_id.as_str());
    assert_eq!(job_items(&store).await, 1, "one job for one key");

    // The job finishes the copy: one new album, exact.
    run_job_to_done(&env.app, &job_id, 10).await;
    let fresh: Vec<_> = organization_albums(&env)
        .await
        .difference(&before)
        .cloned()
        .collect();
    assert_eq!(fresh.len(), 1, "{fresh:?}");
    assert_album_exact(&store, &fresh[0], 1200, "the job's copy").await;

    // A retry after the job ended still names it (GET shows its outcome).
    let (status, late) = send(&env, &event).await;
    assert_eq!(status, 202, "{late}");
    assert_eq!(late["job_id"], job_id.as_str());
    assert_eq!(late["status"], "done");
}
