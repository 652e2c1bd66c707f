//! Organizations and users: who may call the API, and in which organization.

use std::collections::HashMap;

use super::item::{get_s, s};
use super::keys::*;
use super::{Store, StoreError};

impl Store {
    /// Creates or replaces an organization.
    pub async fn put_organization(&self, id: &str, name: &str) -> Result<(), StoreError> {
        self.put(HashMap::from([
            (PK.into(), s(org_pk(id))),
            (SK.into(), s(ORG_SK)),
            ("name".into(), s(name)),
        ]))
        .await
    }

    /// Whether an organization exists.
    pub async fn organization_exists(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.get_item(org_pk(id), ORG_SK).await?.is_some())
    }

    /// Creates or replaces a user of `organization_id`.
    pub async fn put_user(&self, id: &str, organization_id: &str) -> Result<(), StoreError> {
        self.put(HashMap::from([
            (PK.into(), s(user_pk(id))),
            (SK.into(), s(USER_SK)),
            (ORGANIZATION_ID.into(), s(organization_id)),
        ]))
        .await
    }

    /// The organization of user `id`, if the user exists.
    pub async fn user_organization(&self, id: &str) -> Result<Option<String>, StoreError> {
        match self.get_item(user_pk(id), USER_SK).await? {
            None => Ok(None),
            Some(item) => Ok(Some(get_s(&item, ORGANIZATION_ID)?.to_string())),
        }
    }
}
