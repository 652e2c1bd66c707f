//! Single-image writes cut off between their steps. A delete cut off
//! after its image is gone (its count update failing, a 503) and retried
//! (a 404, the image being gone) leaves `images_count` exact: the retry
//! settles what the first left (`store::delete_intents`). An upload whose
//! count update applied but whose answer was lost counts its image once.

use crate::support::fault_proxy::{FaultConfig, FaultProxy};
use crate::support::security::Endpoint;
use crate::support::*;

async fn delete(env: &TestEnv, auth: &str, image: &str) -> (u16, serde_json::Value) {
    let event = Endpoint::DeleteImage.event(Some(auth), Some(image));
    let resp = Endpoint::DeleteImage
        .call(&env.app, request(&event))
        .await
        .expect("an HTTP response");
    let (status, _, body) = parts(resp);
    (status, body)
}

#[tokio::test]
async fn a_delete_whose_count_update_fails_then_retried_as_a_404_leaves_the_count_exact() {
    // Every UpdateItem fails once the image's DeleteItem has gone through:
    // the image is gone, its album's count not yet lowered.
    let failing = FaultConfig {
        server_error_rate: 1.0,
        armed_after: Some("DeleteItem".into()),
        ..FaultConfig::none()
    }
    .only(["UpdateItem"]);
    let proxy = FaultProxy::start(&emulator_endpoint(), failing).await;
    let env = TestEnv::with_endpoint("cut-delete", &proxy.endpoint()).await;
    let store = env.direct_store().await;
    let images = seed_album(&store, SOURCE, ORG, 5).await;
    let auth = bearer(&env.token(USER, None));
    let image = &images[2].id;

    let (status, body) = delete(&env, &auth, image).await;
    assert_eq!(status, 503, "{body}");
    assert!(proxy.stats().faults_on("UpdateItem") > 0);
    let album = store.get_album(&key(SOURCE)).await.unwrap().unwrap();
    let held = store.count_images(&key(SOURCE)).await.unwrap();
    assert_eq!(
        (held, album.images_count),
        (4, 5),
        "the state a cut-off delete leaves: the image gone, the count not lowered"
    );

    // DynamoDB answers again; the client retries: the image is gone (404),
    // and the count is settled all the same.
    proxy.set_config(FaultConfig::none());
    let (status, body) = delete(&env, &auth, image).await;
    assert_eq!(status, 404, "{body}");
    assert_album_exact(&store, SOURCE, 4, "after the retried delete").await;

    // Settled once: the intent is gone, and a third try (or a delete of
    // an id never held) is a plain 404 that leaves the count as it is.
    assert!(
        store
            .delete_intent_albums(ORG, image)
            .await
            .unwrap()
            .is_empty()
    );
    for id in [image.as_str(), "never-held"] {
        let (status, _) = delete(&env, &auth, id).await;
        assert_eq!(status, 404);
    }
    assert_album_exact(&store, SOURCE, 4, "after two more deletes").await;
}

#[tokio::test]
async fn an_upload_whose_count_answer_is_lost_counts_it_once() {
    // The upload's guarded ±1 reaches DynamoDB, which applies it, but its
    // answer is lost (the proxy resets the connection after forwarding the
    // first UpdateItem after the image's put). Sending it again would
    // apply it twice (its guard, the recount epoch, does not change with
    // it): the write recounts instead.
    let lost = FaultConfig {
        lost_answer_rate: f64::MIN_POSITIVE,
        first_of_each_op: true,
        armed_after: Some("PutItem".into()),
        ..FaultConfig::none()
    }
    .only(["UpdateItem"]);
    let proxy = FaultProxy::start(&emulator_endpoint(), lost).await;
    let env = TestEnv::with_endpoint("lost-count-answer", &proxy.endpoint()).await;
    let store = env.direct_store().await;
    seed_album(&store, SOURCE, ORG, 2).await;
    let token = album_api::auth::issue_notification_token(
        USER,
        SOURCE,
        ORG,
        &crate::support::security::notification_key(),
        album_api::service::now(),
        3600,
    )
    .unwrap();
    let (_, body) =
        crate::support::security::upload_notification(SOURCE, 1, album_api::service::now() - 60);
    let event = crate::support::security::signed_webhook_event(Some(&token), &body);
    let resp = Endpoint::Webhook
        .call(&env.app, request(&event))
        .await
        .unwrap();
    let (status, _, text) = parts(resp);
    assert_eq!(status, 201, "{text}");
    assert_eq!(proxy.stats().lost_answers, 1, "the ±1's answer was lost");
    assert_album_exact(
        &store,
        SOURCE,
        3,
        "after an upload whose ±1 answer was lost",
    )
    .await;
}
