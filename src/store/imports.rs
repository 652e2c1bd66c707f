//! Imports: what an import by URL asked for and where it stands.
//!
//! One item per (organization, import): `pk = O#<org>`, `sk = IM#<id>`,
//! holding the album, the request's parameters (`p`, JSON), the status
//! (`pending` until Cloudinary has taken the upload, then `uploading`,
//! `done` with the recorded image's id, or `failed` with why), its times,
//! and `expires_at` (an import is kept [`IMPORT_TTL`], then DynamoDB's TTL
//! removes it). None of the indexes' key attributes.

use std::time::Duration;

use serde_json::Value;

use super::item::{Item, get_s, n, s};
use super::keys::{EXPIRES_AT, PK, SK, org_pk};
use super::{Store, StoreError, retry};

/// How long an import stays readable.
pub const IMPORT_TTL: Duration = Duration::from_secs(30 * 86_400);
const ALBUM: &str = "al";
const PARAMS: &str = "p";
const STATUS: &str = "st";
const IMAGE: &str = "im";
const ERROR: &str = "er";
const CREATED: &str = "c";
const UPDATED: &str = "u";

fn import_sk(id: &str) -> String {
    format!("IM#{id}")
}

/// Where an import stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportStatus {
    /// Recorded; Cloudinary not asked yet.
    Pending,
    /// Cloudinary has queued the upload.
    Uploading,
    /// The image is recorded.
    Done,
    /// Cloudinary refused the upload or could not fetch the file.
    Failed,
}

impl ImportStatus {
    /// Its name in the import JSON and the table.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Uploading => "uploading",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "pending" => Self::Pending,
            "uploading" => Self::Uploading,
            "done" => Self::Done,
            "failed" => Self::Failed,
            other => return Err(StoreError::Corrupt(format!("import status {other}"))),
        })
    }
}

/// An import as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Import {
    /// Its id.
    pub id: String,
    /// The organization.
    pub organization_id: String,
    /// The album the image goes to.
    pub album_id: String,
    /// The request's parameters (`album_id`, `url`, `filename`, `metadata`).
    pub params: Value,
    /// Where it stands.
    pub status: ImportStatus,
    /// The recorded image, once done.
    pub image_id: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// When it was asked for (RFC 3339).
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
}

fn decode(org: &str, item: &Item) -> Result<Import, StoreError> {
    let sk = get_s(item, SK)?;
    let id = sk
        .strip_prefix("IM#")
        .ok_or_else(|| StoreError::Corrupt(format!("import key {sk}")))?;
    let opt = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
    Ok(Import {
        id: id.to_string(),
        organization_id: org.to_string(),
        album_id: get_s(item, ALBUM)?.to_string(),
        params: serde_json::from_str(get_s(item, PARAMS)?)
            .map_err(|e| StoreError::Corrupt(format!("import {id}: {e}")))?,
        status: ImportStatus::parse(get_s(item, STATUS)?)?,
        image_id: opt(IMAGE),
        error: opt(ERROR),
        created_at: get_s(item, CREATED)?.to_string(),
        updated_at: get_s(item, UPDATED)?.to_string(),
    })
}

impl Store {
    /// Records `import` (pending) unless its id exists: whether it was new.
    pub async fn create_import(&self, import: &Import, now: u64) -> Result<bool, StoreError> {
        let item = Item::from([
            (PK.to_string(), s(org_pk(&import.organization_id))),
            (SK.to_string(), s(import_sk(&import.id))),
            (ALBUM.to_string(), s(&import.album_id)),
            (PARAMS.to_string(), s(import.params.to_string())),
            (STATUS.to_string(), s(import.status.name())),
            (CREATED.to_string(), s(&import.created_at)),
            (UPDATED.to_string(), s(&import.updated_at)),
            (EXPIRES_AT.to_string(), n(now + IMPORT_TTL.as_secs())),
        ]);
        self.put_if_absent(&item).await
    }

    /// Import `id` of `org`, if there is one.
    pub async fn get_import(&self, org: &str, id: &str) -> Result<Option<Import>, StoreError> {
        match self.get_item(org_pk(org), &import_sk(id)).await? {
            Some(item) => decode(org, &item).map(Some),
            None => Ok(None),
        }
    }

    /// Sets import `id`'s status (and why it failed) at `now`, if it is
    /// one of `from` (Cloudinary's notification may arrive before the
    /// request that asked for the upload records `uploading`, and a late
    /// error notice after a success must change nothing). Whether it
    /// changed.
    pub async fn set_import_status(
        &self,
        org: &str,
        id: &str,
        from: &[ImportStatus],
        status: ImportStatus,
        error: Option<&str>,
        now: &str,
    ) -> Result<bool, StoreError> {
        let allowed: Vec<String> = (0..from.len()).map(|i| format!(":f{i}")).collect();
        let condition = format!("attribute_exists(pk) AND #st IN ({})", allowed.join(", "));
        let res = retry::conditional("UpdateItem", self.budgets.write, {
            let mut u = self
                .update_at(org_pk(org), import_sk(id))
                .condition_expression(condition.clone())
                .expression_attribute_names("#st", STATUS)
                .expression_attribute_names("#u", UPDATED)
                .expression_attribute_values(":st", s(status.name()))
                .expression_attribute_values(":u", s(now));
            for (name, f) in allowed.iter().zip(from) {
                u = u.expression_attribute_values(name, s(f.name()));
            }
            match error {
                Some(e) => u
                    .update_expression("SET #st = :st, #u = :u, #er = :er")
                    .expression_attribute_names("#er", ERROR)
                    .expression_attribute_values(":er", s(e)),
                None => u.update_expression("SET #st = :st, #u = :u"),
            }
            .send()
        })
        .await?;
        Ok(res.is_some())
    }

    /// Marks import `id` of `org` done with image `image_id`, if it is an
    /// import into album `album_id` (a notification names its album: an
    /// import of another album is not completed by it). Whether it did.
    pub async fn complete_import(
        &self,
        org: &str,
        id: &str,
        album_id: &str,
        image_id: &str,
        now: &str,
    ) -> Result<bool, StoreError> {
        let res = retry::conditional("UpdateItem", self.budgets.write, {
            self.update_at(org_pk(org), import_sk(id))
                .condition_expression("attribute_exists(pk) AND #al = :al")
                .update_expression("SET #st = :st, #im = :im, #u = :u REMOVE #er")
                .expression_attribute_names("#al", ALBUM)
                .expression_attribute_names("#st", STATUS)
                .expression_attribute_names("#im", IMAGE)
                .expression_attribute_names("#u", UPDATED)
                .expression_attribute_names("#er", ERROR)
                .expression_attribute_values(":al", s(album_id))
                .expression_attribute_values(":st", s(ImportStatus::Done.name()))
                .expression_attribute_values(":im", s(image_id))
                .expression_attribute_values(":u", s(now))
                .send()
        })
        .await?;
        Ok(res.is_some())
    }
}
