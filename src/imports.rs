//! Imports by URL (`POST /api/v1/imports`): what an import may ask for,
//! and how it becomes one image of its album, once.
//!
//! The import is recorded (`store::imports`), then Cloudinary is asked to
//! upload the file from its URL (`cloudinary_api`, asynchronous) with the
//! import's id as the asset's `public_id`, the album as its tag and the
//! webhook (with a notification token for the album and `import=<id>`) as
//! its `notification_url`. The webhook records the image as it records a
//! browser upload, and marks the import done with the image's id; an
//! error notification marks it failed, saying why.
//!
//! Exactly once: with an `Idempotency-Key`, a retry finds the first
//! sending's import (and asks Cloudinary again only if that sending never
//! did); and because the asset's `public_id` is the import's id, asking
//! twice uploads one asset, whose notification names one image.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::album::{AlbumKey, is_valid_id};
use crate::auth::{Ability, Principal};
use crate::cloudinary_api::{RemoteUpload, UploadError, upload_from_url};
use crate::error::ApiError;
use crate::http::Params;
use crate::service::{App, NOTIFICATION_GRACE_SECONDS, moving_conflict, now_rfc3339};
use crate::store::imports::{Import, ImportStatus};

/// The longest URL taken.
pub const MAX_URL_CHARS: usize = 2_048;
/// The longest file name taken.
pub const MAX_FILENAME_CHARS: usize = 255;
/// The most metadata keys, and the longest value.
pub const MAX_METADATA_KEYS: usize = 20;
const MAX_METADATA_VALUE_CHARS: usize = 255;

/// What an import asks for, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportRequest {
    /// The album the image goes to.
    pub album_id: String,
    /// The file's URL.
    pub url: String,
    /// The original file name, when given.
    pub filename: Option<String>,
    /// Free-form string metadata (`metadata[<key>]=<value>`).
    pub metadata: Map<String, Value>,
}

fn unprocessable(msg: impl Into<String>) -> ApiError {
    ApiError::Unprocessable(msg.into())
}

/// Whether `url` may leave for Cloudinary: http or https, a host, no
/// credentials, no whitespace or control characters, at most
/// [`MAX_URL_CHARS`].
pub fn check_url(url: &str) -> Result<(), ApiError> {
    if url.chars().count() > MAX_URL_CHARS {
        return Err(unprocessable(format!(
            "url is longer than {MAX_URL_CHARS} characters"
        )));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(unprocessable("url holds whitespace or control characters"));
    }
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or_else(|| unprocessable("url must be an http:// or https:// URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(unprocessable(
            "url must not carry credentials (user:password@)",
        ));
    }
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    if host.is_empty() {
        return Err(unprocessable("url has no host"));
    }
    Ok(())
}

impl ImportRequest {
    /// Reads and checks an import's parameters (SharinPix's form:
    /// `album_id`, `url`, `filename`, `metadata[<key>]`; or JSON with a
    /// `metadata` object). `headers` are refused: Cloudinary fetches the
    /// URL itself, with none.
    pub fn from_params(params: &Params) -> Result<Self, ApiError> {
        let album_id = params
            .str("album_id")?
            .ok_or_else(|| unprocessable("album_id is required"))?
            .to_string();
        if !is_valid_id(&album_id) {
            return Err(unprocessable(
                "album_id must be 1-128 characters of A-Z, a-z, 0-9, '_' or '-'",
            ));
        }
        let url = params
            .str("url")?
            .ok_or_else(|| unprocessable("url is required"))?
            .to_string();
        check_url(&url)?;
        let filename = params.str("filename")?.map(str::to_string);
        if let Some(f) = &filename
            && (f.chars().count() > MAX_FILENAME_CHARS || f.chars().any(char::is_control))
        {
            return Err(unprocessable(format!(
                "filename must be at most {MAX_FILENAME_CHARS} printable characters"
            )));
        }
        if params.value("headers").is_some() || params.keys().any(|k| k.starts_with("headers[")) {
            return Err(unprocessable(
                "headers are not supported: Cloudinary fetches the URL itself, without them",
            ));
        }
        let metadata = metadata(params)?;
        Ok(Self {
            album_id,
            url,
            filename,
            metadata,
        })
    }

    /// The import's `params`, as its JSON shows them.
    fn params_json(&self) -> Value {
        let mut p = Map::new();
        p.insert("album_id".into(), Value::from(self.album_id.clone()));
        if let Some(f) = &self.filename {
            p.insert("filename".into(), Value::from(f.clone()));
        }
        p.insert("metadata".into(), Value::Object(self.metadata.clone()));
        p.insert("url".into(), Value::from(self.url.clone()));
        // SharinPix's import JSON shows its request's routing keys too.
        p.insert("controller".into(), Value::from("api/v1/imports"));
        p.insert("action".into(), Value::from("create"));
        Value::Object(p)
    }

    /// The metadata as Cloudinary's `context` (`key=value|…`, `=` and `|`
    /// escaped), when there is any.
    fn context(&self) -> Option<String> {
        let escape = |s: &str| {
            s.replace('\\', "\\\\")
                .replace('=', "\\=")
                .replace('|', "\\|")
        };
        let pairs: Vec<String> = self
            .metadata
            .iter()
            .map(|(k, v)| format!("{}={}", escape(k), escape(v.as_str().unwrap_or_default())))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("|"))
    }
}

/// `metadata[<key>]=<value>` pairs of a form, or a JSON `metadata` object
/// of strings.
fn metadata(params: &Params) -> Result<Map<String, Value>, ApiError> {
    let bad = || {
        unprocessable(format!(
            "metadata holds at most {MAX_METADATA_KEYS} keys of 1-64 characters of \
             A-Z, a-z, 0-9, '_' or '-', each a string of at most {MAX_METADATA_VALUE_CHARS} characters"
        ))
    };
    let mut out = Map::new();
    match params.value("metadata") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => out.extend(m.clone()),
        Some(_) => return Err(bad()),
    }
    for key in params.keys() {
        if let Some(name) = key
            .strip_prefix("metadata[")
            .and_then(|k| k.strip_suffix(']'))
        {
            let value = params.str(key).map_err(|_| bad())?.unwrap_or_default();
            out.insert(name.to_string(), Value::from(value));
        }
    }
    let valid_key = |k: &str| (1..=64).contains(&k.len()) && is_valid_id(k);
    let valid = out.len() <= MAX_METADATA_KEYS
        && out.iter().all(|(k, v)| {
            valid_key(k)
                && v.as_str()
                    .is_some_and(|s| s.chars().count() <= MAX_METADATA_VALUE_CHARS)
        });
    if !valid {
        return Err(bad());
    }
    Ok(out)
}

/// The import JSON: SharinPix's keys (`image_id` null until recorded),
/// then `status` and `error`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ImportJson {
    /// The import's id.
    pub id: String,
    /// The organization.
    pub organization_id: String,
    /// The recorded image, once done.
    pub image_id: Option<String>,
    /// Always `url`.
    pub import_type: &'static str,
    /// The album.
    pub album_id: String,
    /// What was asked for.
    pub params: Value,
    /// When it was asked for.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
    /// `pending`, `uploading`, `done` or `failed`.
    pub status: &'static str,
    /// Why it failed.
    pub error: Option<String>,
}

impl From<&Import> for ImportJson {
    fn from(i: &Import) -> Self {
        Self {
            id: i.id.clone(),
            organization_id: i.organization_id.clone(),
            image_id: i.image_id.clone(),
            import_type: "url",
            album_id: i.album_id.clone(),
            params: i.params.clone(),
            created_at: i.created_at.clone(),
            updated_at: i.updated_at.clone(),
            status: i.status.name(),
            error: i.error.clone(),
        }
    }
}

/// Starts import `id` of `request` for `principal` (`image_upload` on the
/// album, created if absent as a duplicate's destination is): the import
/// as it stands once Cloudinary was asked. An import of that id that
/// exists already (a retry with the same `Idempotency-Key`) is answered
/// as it stands, and Cloudinary asked only if it never was.
pub async fn start(
    app: &App,
    principal: &Principal,
    id: &str,
    request: &ImportRequest,
) -> Result<Import, ApiError> {
    let org = &principal.organization_id;
    if !principal.can(&request.album_id, Ability::ImageUpload) {
        return Err(ApiError::Forbidden(format!(
            "this token may not add images to album {}",
            request.album_id
        )));
    }
    let existing = match app
        .store
        .get_album_and_move(&AlbumKey::new(org, &request.album_id))
        .await?
    {
        Some((_, Some(m))) => return Err(moving_conflict(&request.album_id, &m.to)),
        Some((album, None)) => Some(album),
        None => None,
    };
    let (album, _) =
        crate::duplicate::ensure_destination(app, org, &request.album_id, 1, existing).await?;
    crate::quota::check_destination_grows(app, &album, 1).await?;
    let now = crate::service::now();
    let stamp = now_rfc3339();
    let import = Import {
        id: id.to_string(),
        organization_id: org.clone(),
        album_id: album.id.clone(),
        params: request.params_json(),
        status: ImportStatus::Pending,
        image_id: None,
        error: None,
        created_at: stamp.clone(),
        updated_at: stamp.clone(),
    };
    if !app.store.create_import(&import, now.max(0) as u64).await? {
        let first = app
            .store
            .get_import(org, id)
            .await?
            .ok_or_else(|| ApiError::Unavailable("the import vanished".into()))?;
        if first.status != ImportStatus::Pending {
            return Ok(first);
        }
    }
    let cfg = &app.config;
    let token = crate::auth::issue_notification_token_for(
        &principal.user_id,
        principal.issuer.as_ref().map(|i| i.secret_id.as_str()),
        &album.id,
        org,
        cfg.notification_keys()?.signing(now),
        now,
        cfg.upload_form_ttl_seconds + NOTIFICATION_GRACE_SECONDS,
    )?;
    let upload = RemoteUpload {
        file_url: request.url.clone(),
        notification_url: format!(
            "{}/api/v1/cloudinary?token={token}&import={id}",
            cfg.public_api_url
        ),
        album_id: album.id.clone(),
        public_id: id.to_string(),
        filename: request.filename.clone(),
        context: request.context(),
    };
    let outcome = upload_from_url(cfg.cloudinary()?, &cfg.cloudinary_api_url, &upload, now).await;
    let (status, error) = match &outcome {
        Ok(()) => (ImportStatus::Uploading, None),
        Err(e) => (ImportStatus::Failed, Some(e.to_string())),
    };
    // Only from `pending`: the notification may have come first.
    let from = [ImportStatus::Pending];
    app.store
        .set_import_status(org, id, &from, status, error.as_deref(), &now_rfc3339())
        .await?;
    if let Err(UploadError::Unavailable(why)) = outcome {
        return Err(ApiError::Unavailable(format!(
            "Cloudinary did not take the upload ({why}); send the import again"
        )));
    }
    app.store
        .get_import(org, id)
        .await?
        .ok_or_else(|| ApiError::Unavailable("the import vanished".into()))
}

/// Import `id` of the caller's organization, if the token may upload to
/// its album (404 otherwise, as one that does not exist).
pub async fn find(app: &App, principal: &Principal, id: &str) -> Result<Import, ApiError> {
    let not_found = || ApiError::NotFound("import not found".into());
    if !is_valid_id(id) {
        return Err(not_found());
    }
    let import = app
        .store
        .get_import(&principal.organization_id, id)
        .await?
        .ok_or_else(not_found)?;
    if !principal.can(&import.album_id, Ability::ImageUpload)
        && !principal.can(&import.album_id, Ability::See)
    {
        return Err(not_found());
    }
    Ok(import)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_leave_only_as_plain_http_or_https() {
        for ok in [
            "http://lorempixel.com/100/100/",
            "https://exa.com/q",
            "https://host:8443/a.jpg?x=1#f",
        ] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ftp://host/a.jpg",
            "file:///etc/passwd",
            "https://user:pass@host/a.jpg",
            "https://@host/a.jpg",
            "https:///a.jpg",
            "https://host/a b.jpg",
            "javascript:alert(1)",
            "",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        let long = format!("https://host/{}", "a".repeat(MAX_URL_CHARS));
        assert!(check_url(&long).is_err());
    }
}
