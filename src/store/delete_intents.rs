//! Delete intents: the albums an image delete under way counts down.
//!
//! A delete removes the image item, then settles its album's count
//! (decision 0003). When the settling fails (DynamoDB trouble: the answer
//! is a 503), the retry finds no image, so without a trace it could not
//! know which album to recount, and the count would stay one too high.
//! The intent is that trace: one item per (organization, image),
//! `pk = O#<org>`, `sk = D#<image id>`, naming the albums of the image's
//! copies (`albums`, a string set), written before anything is deleted
//! and deleted once every count is settled. A delete that finds no image
//! reads it (one strongly consistent `GetItem`) and recounts what it
//! names. It expires after [`INTENT_TTL`] (DynamoDB's TTL), like an
//! idempotency key.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;

use super::item::n;
use super::keys::{EXPIRES_AT, org_pk};
use super::{Store, StoreError, retry};
use crate::album::AlbumKey;

/// Sort-key prefix of delete intents in the organization's partition.
pub const INTENT_SK_PREFIX: &str = "D#";
/// How long an intent waits for a retry to settle it.
pub const INTENT_TTL: Duration = Duration::from_secs(24 * 3600);
/// The attribute naming the albums to recount.
const ALBUMS: &str = "albums";

fn intent_sk(image_id: &str) -> String {
    format!("{INTENT_SK_PREFIX}{image_id}")
}

impl Store {
    /// Records that image `image_id` of `org` is about to be deleted from
    /// `albums` (added to any intent already there: a retry's albums are
    /// the first's, or fewer).
    pub async fn record_delete_intent(
        &self,
        org: &str,
        image_id: &str,
        albums: &BTreeSet<String>,
        now: u64,
    ) -> Result<(), StoreError> {
        let sk = intent_sk(image_id);
        let set = AttributeValue::Ss(albums.iter().cloned().collect());
        retry::bounded("UpdateItem", self.budgets.write, {
            self.update_at(org_pk(org), &sk)
                .update_expression("ADD #a :albums SET #x = :x")
                .expression_attribute_names("#a", ALBUMS)
                .expression_attribute_names("#x", EXPIRES_AT)
                .expression_attribute_values(":albums", set.clone())
                .expression_attribute_values(":x", n(now + INTENT_TTL.as_secs()))
                .send()
        })
        .await
        .map(|_| ())
    }

    /// The albums of `org` a delete of `image_id` left unsettled (none
    /// when no intent is left).
    pub async fn delete_intent_albums(
        &self,
        org: &str,
        image_id: &str,
    ) -> Result<Vec<AlbumKey>, StoreError> {
        let Some(item) = self.get_item(org_pk(org), &intent_sk(image_id)).await? else {
            return Ok(Vec::new());
        };
        let albums = item.get(ALBUMS).and_then(|v| v.as_ss().ok());
        Ok(albums
            .into_iter()
            .flatten()
            .map(|album| AlbumKey::new(org, album))
            .collect())
    }

    /// Forgets the intent once every album it names is settled.
    pub async fn clear_delete_intent(&self, org: &str, image_id: &str) -> Result<(), StoreError> {
        let sk = intent_sk(image_id);
        retry::bounded("DeleteItem", self.budgets.write, {
            self.delete_at(org_pk(org), &sk).send()
        })
        .await
        .map(|_| ())
    }
}
