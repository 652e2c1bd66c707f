//! Idempotency keys of the album-creating routes: which album a caller's key created.
//!
//! One item per (user, key) in the user's partition: `pk = U#<user>`,
//! `sk = K#<key>` (decision 0001), holding the album id the key created,
//! the request's fingerprint and `expires_at` (and, for a duplicate that
//! answered 202, its `job_id`). Claiming a key is one
//! conditional `PutItem` that succeeds when no live claim exists, so two
//! requests with the same key, however close, agree on one album.

use std::time::Duration;

use super::item::{Item, get_s, n, s};
use super::keys::{EXPIRES_AT, PK, SK, user_pk};
use super::{Store, StoreError, retry};

/// Sort-key prefix of idempotency-key items.
pub const KEY_SK_PREFIX: &str = "K#";
/// The attribute naming the job a key's request answered 202 with.
const JOB_ID: &str = "job_id";

/// What a claim found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The key was free (or its last claim expired): it now names `album_id`.
    New,
    /// The key was claimed before, for `album_id` with a body whose
    /// fingerprint is `fingerprint`.
    Claimed {
        /// The album the key names.
        album_id: String,
        /// The fingerprint of the request that claimed it.
        fingerprint: String,
        /// The job that request answered 202 with, once recorded.
        job_id: Option<String>,
    },
}

impl Store {
    /// Claims `key` of `user_id` for `album_id`, created from a request
    /// whose body has `fingerprint`, for `ttl` from `now` (epoch seconds).
    /// A claim older than its `ttl` counts as free even before DynamoDB's
    /// TTL deletes it (which may take a day or two).
    pub async fn claim_idempotency_key(
        &self,
        user_id: &str,
        key: &str,
        album_id: &str,
        fingerprint: &str,
        now: u64,
        ttl: Duration,
    ) -> Result<Claim, StoreError> {
        let sk = format!("{KEY_SK_PREFIX}{key}");
        let item = Item::from([
            (PK.into(), s(user_pk(user_id))),
            (SK.into(), s(&sk)),
            ("album_id".into(), s(album_id)),
            ("fingerprint".into(), s(fingerprint)),
            (EXPIRES_AT.into(), n(now + ttl.as_secs())),
        ]);
        let claimed = retry::conditional("PutItem", self.budgets.write, {
            self.put_of(item.clone())
                .condition_expression("attribute_not_exists(pk) OR #x <= :now")
                .expression_attribute_names("#x", EXPIRES_AT)
                .expression_attribute_values(":now", n(now))
                .send()
        })
        .await?;
        if claimed.is_some() {
            return Ok(Claim::New);
        }
        let existing = self.get_item(user_pk(user_id), &sk).await?.ok_or_else(|| {
            // Deleted by TTL between the two calls: a retry claims it.
            StoreError::Unavailable("the idempotency key changed while read".into())
        })?;
        Ok(Claim::Claimed {
            album_id: get_s(&existing, "album_id")?.to_string(),
            fingerprint: get_s(&existing, "fingerprint")?.to_string(),
            job_id: existing.get(JOB_ID).and_then(|v| v.as_s().ok()).cloned(),
        })
    }

    /// Records on `user_id`'s claimed `key` the job its request answered
    /// 202 with (a duplicate's), for a retry to answer it too. Only a key
    /// still claimed is written: a lapsed one is left to TTL.
    pub async fn record_idempotent_job(
        &self,
        user_id: &str,
        key: &str,
        job_id: &str,
    ) -> Result<(), StoreError> {
        let sk = format!("{KEY_SK_PREFIX}{key}");
        retry::conditional("UpdateItem", self.budgets.write, {
            self.update_at(user_pk(user_id), &sk)
                .update_expression("SET #j = :job")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_names("#j", JOB_ID)
                .expression_attribute_values(":job", s(job_id))
                .send()
        })
        .await?;
        Ok(())
    }
}
