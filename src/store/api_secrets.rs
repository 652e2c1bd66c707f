//! Organization API secrets in the table: one item per secret, found by
//! its id, listed by organization (decision 0013).
//!
//! `pk = S#<secret id>`, `sk = S`, with `organization_id` (so the keys-only
//! `by_organization` index lists an organization's secrets with
//! `sk = "S"`, as it lists albums with `sk = "A"`), `secret` (the HMAC key
//! itself: verifying HS256 needs it, so it cannot be stored as a hash),
//! `created_at` and, once revoked, `revoked_at`. The index projects keys
//! only, so the key never leaves this item.

use std::collections::HashMap;

use super::item::{Item, get_s, s};
use super::keys::*;
use super::{Store, StoreError, retry};
use crate::api_secret::ApiSecret;
use crate::secret::Secret;

/// The attribute holding the key.
const SECRET: &str = "secret";
/// Creation time (RFC 3339).
const CREATED_AT: &str = "created_at";
/// Revocation time (RFC 3339); absent while the secret is active.
const REVOKED_AT: &str = "revoked_at";

/// What revoking found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revoked {
    /// Active until now.
    Now,
    /// Already revoked before.
    Already,
    /// No secret has that id.
    Unknown,
}

fn from_item(id: &str, item: &Item) -> Result<ApiSecret, StoreError> {
    Ok(ApiSecret {
        id: id.to_string(),
        organization_id: get_s(item, ORGANIZATION_ID)?.to_string(),
        key: Secret::new(get_s(item, SECRET)?),
        created_at: get_s(item, CREATED_AT)?.to_string(),
        revoked_at: get_s(item, REVOKED_AT).ok().map(str::to_string),
    })
}

impl Store {
    /// Writes a new API secret; `false` (nothing written) when its id is
    /// taken, which a random id never is.
    pub async fn create_api_secret(&self, secret: &ApiSecret) -> Result<bool, StoreError> {
        let mut item = HashMap::from([
            (PK.into(), s(api_secret_pk(&secret.id))),
            (SK.into(), s(API_SECRET_SK)),
            (ORGANIZATION_ID.into(), s(&secret.organization_id)),
            (SECRET.into(), s(secret.key.expose())),
            (CREATED_AT.into(), s(&secret.created_at)),
        ]);
        if let Some(at) = &secret.revoked_at {
            item.insert(REVOKED_AT.into(), s(at));
        }
        self.put_if_absent(&item).await
    }

    /// The API secret `id`, active or revoked; `None` when there is none.
    /// One strongly consistent `GetItem`: a revocation is seen at once.
    pub async fn api_secret(&self, id: &str) -> Result<Option<ApiSecret>, StoreError> {
        match self.get_item(api_secret_pk(id), API_SECRET_SK).await? {
            None => Ok(None),
            Some(item) => from_item(id, &item).map(Some),
        }
    }

    /// Every API secret of an organization, oldest first: the index's
    /// keys, then each item (an organization holds a handful).
    pub async fn organization_api_secrets(
        &self,
        organization_id: &str,
    ) -> Result<Vec<ApiSecret>, StoreError> {
        let mut ids = Vec::new();
        let mut start = None;
        loop {
            let out = retry::bounded("Query", self.budgets.read, {
                self.organization_query(organization_id, API_SECRET_SK)
                    .set_exclusive_start_key(start.clone())
                    .send()
            })
            .await?;
            for item in out.items() {
                let pk = get_s(item, PK)?;
                ids.push(pk.trim_start_matches("S#").to_string());
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        let mut secrets = Vec::with_capacity(ids.len());
        for id in ids {
            // Keys-only index: one may be gone since (never deleted today).
            if let Some(found) = self.api_secret(&id).await? {
                secrets.push(found);
            }
        }
        secrets.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
        Ok(secrets)
    }

    /// Marks API secret `id` revoked at `now` (RFC 3339), keeping the first
    /// revocation time when it was revoked before.
    pub async fn revoke_api_secret(&self, id: &str, now: &str) -> Result<Revoked, StoreError> {
        let updated = retry::conditional("UpdateItem", self.budgets.write, {
            self.update_at(api_secret_pk(id), API_SECRET_SK)
                .update_expression("SET #r = :now")
                .condition_expression("attribute_exists(pk) AND attribute_not_exists(#r)")
                .expression_attribute_names("#r", REVOKED_AT)
                .expression_attribute_values(":now", s(now))
                .send()
        })
        .await?;
        if updated.is_some() {
            return Ok(Revoked::Now);
        }
        Ok(match self.api_secret(id).await? {
            Some(_) => Revoked::Already,
            None => Revoked::Unknown,
        })
    }
}
