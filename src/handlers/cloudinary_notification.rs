//! `POST /api/v1/cloudinary?token=…`: Cloudinary's upload notification.
//!
//! Trusts nothing but the notification token in the URL (which names the
//! album and organization, signed with the notification key: this
//! function holds no key that signs user tokens, decision 0016) and
//! Cloudinary's signature over the raw body. Then it refuses, recording
//! nothing, what the upload form did not allow (decision 0016): another
//! resource type than `image`, a file over [`MAX_UPLOAD_BYTES`], a body
//! whose signed `tags` do not name the token's album (a notification of
//! another album replayed into this token), and a form whose user was
//! deleted (or whose API secret was revoked) since it was made.
//! Idempotent: the image id derives from the album and the asset, so a
//! re-delivered notification finds its image already there; an import's
//! upload is dated by its import, so a second upload of its asset names
//! the same image item too (decision 0022).

use crate::store::imports::ImportStatus;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::Value;

use crate::album::{AlbumKey, is_valid_id};
use crate::auth::{NotificationClaims, verify_notification_token};
use crate::cloudinary::{
    ALLOWED_RESOURCE_TYPE, MAX_UPLOAD_BYTES, WebhookError, verify_notification,
};
use crate::error::ApiError;
use crate::http::{Reply, answer, body_bytes, header};
use crate::image::from_upload;
use crate::metrics::{WebhookRejection, webhook_accepted, webhook_rejected};
use crate::service::{App, now, now_rfc3339};
use crate::store::{StoreError, StoredImage};

/// Handles one request inside the write budget (every outcome, running
/// out of time included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().write, serve(app, &req)).await)
}

/// Counts a refused notification under `reason` and passes its error on.
fn reject(reason: WebhookRejection, error: ApiError) -> ApiError {
    webhook_rejected(reason);
    error
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let now = now();
    app.config.keys.refresh_if_due().await?;
    let claims = verified_token(app, req, now)?;
    let notification = verified_notification(app, req, now)?;
    match notification
        .get("notification_type")
        .and_then(Value::as_str)
    {
        Some("error") => {
            tracing::warn!(album = %claims.album_id, "Cloudinary reported an upload error");
            if let Some(import) = import_of(req) {
                let why = notification["error"]["message"]
                    .as_str()
                    .unwrap_or("Cloudinary could not upload the file");
                app.store
                    .set_import_status(
                        &claims.organization_id,
                        &import,
                        &[ImportStatus::Pending, ImportStatus::Uploading],
                        ImportStatus::Failed,
                        Some(&format!("Cloudinary could not upload the file: {why}")),
                        &now_rfc3339(),
                    )
                    .await?;
            }
            return Ok(accepted());
        }
        Some("upload") | None => {}
        Some(other) => {
            tracing::info!(
                kind = other,
                "ignoring a notification that is not an upload"
            );
            return Ok(accepted());
        }
    }
    let import = match import_of(req) {
        Some(id) => app.store.get_import(&claims.organization_id, &id).await?,
        None => None,
    };
    let notification = match &import {
        // Its image is recorded and counted (`done` comes after both): a
        // second upload of the import's asset, asked for again by a
        // retried request, records nothing more.
        Some(i) if i.status == ImportStatus::Done => return Ok(accepted()),
        Some(i) if i.album_id == claims.album_id => dated_by_its_import(notification, i),
        _ => notification,
    };
    let image_id = match record(app, &claims, &notification).await {
        // Past the album's quota: a 2xx that records nothing, so that
        // Cloudinary does not retry it for ever (decision 0015).
        Err(ApiError::Quota(q)) => return Ok(crate::quota::upload_refused(q)),
        recorded => recorded?,
    };
    // An import's upload (`crate::imports`): done, with its image. Only
    // an import into the token's album is completed by it.
    if let Some(import) = import_of(req) {
        app.store
            .complete_import(
                &claims.organization_id,
                &import,
                &claims.album_id,
                &image_id,
                &now_rfc3339(),
            )
            .await?;
    }
    Ok(accepted())
}

/// `notification` with the creation time of the import it answers: the
/// image's sort key holds its creation time, and a retried import that
/// asked Cloudinary again gets the same asset (its `public_id` is the
/// import's id, decision 0022) uploaded anew, whose notification says a
/// later `created_at`. Dated by the import, both notifications name one
/// image item, which the conditional put records once.
fn dated_by_its_import(mut notification: Value, import: &crate::store::imports::Import) -> Value {
    notification["created_at"] = Value::from(import.created_at.clone());
    notification
}

/// The import a notification answers (`import=<id>` beside the token in
/// the notification URL an import gave Cloudinary), if any.
fn import_of(req: &Request) -> Option<String> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first("import").map(str::to_string))
        .filter(|id| is_valid_id(id))
}

/// The 201 (empty) of a notification taken, counted as accepted.
fn accepted() -> Reply {
    webhook_accepted();
    Reply::new(201, String::new())
}

/// The claims of the notification token in the URL (webhook-only, naming
/// the album and organization); 401 without a valid one.
fn verified_token(app: &App, req: &Request, now: i64) -> Result<NotificationClaims, ApiError> {
    let token = req
        .query_string_parameters_ref()
        .and_then(|q| q.first("token").map(str::to_string))
        .ok_or_else(|| {
            reject(
                WebhookRejection::BadToken,
                ApiError::Unauthorized("missing notification token".into()),
            )
        })?;
    app.config
        .notification_keys()?
        .verify(now, |key| verify_notification_token(&token, key, now))
        .map_err(|e| reject(WebhookRejection::BadToken, e))
}

/// Refuses an upload the form did not allow: 422 for another resource
/// type or a file too large (Cloudinary signs neither limit), and a
/// `forbidden` (401, as every refusal of access, README) when the signed
/// `tags` do not name the token's album (the form signed
/// `tags=<album id>`, so only a body from another form can lack it).
fn allowed_by_the_form(claims: &NotificationClaims, notification: &Value) -> Result<(), ApiError> {
    let refuse = |e| Err(reject(WebhookRejection::BadRequest, e));
    let kind = notification.get("resource_type").and_then(Value::as_str);
    if kind.is_some_and(|k| k != ALLOWED_RESOURCE_TYPE) {
        return refuse(ApiError::Unprocessable(format!(
            "upload form allows resource type {ALLOWED_RESOURCE_TYPE} only"
        )));
    }
    let bytes = notification.get("bytes").and_then(Value::as_u64);
    if bytes.is_some_and(|b| b > MAX_UPLOAD_BYTES) {
        return refuse(ApiError::Unprocessable(format!(
            "upload larger than {MAX_UPLOAD_BYTES} bytes"
        )));
    }
    let tagged = notification
        .get("tags")
        .and_then(Value::as_array)
        .is_some_and(|tags| tags.iter().any(|t| t.as_str() == Some(&claims.album_id)));
    if !tagged {
        return Err(reject(
            WebhookRejection::BadToken,
            ApiError::Forbidden("the notification's tags do not name the token's album".into()),
        ));
    }
    Ok(())
}

/// Refuses (401) the form of a user deleted since it was made, or of an
/// API secret since revoked: one strongly consistent `GetItem` of the user
/// (or secret) item per notification: ~1 ms and one read unit.
async fn issuer_still_there(app: &App, claims: &NotificationClaims) -> Result<(), ApiError> {
    let there = match &claims.iss {
        None => app
            .store
            .user_organization(&claims.user_id)
            .await?
            .is_some_and(|org| org == claims.organization_id),
        Some(iss) => app
            .store
            .api_secret(iss)
            .await?
            .is_some_and(|s| s.is_active() && s.organization_id == claims.organization_id),
    };
    if there {
        Ok(())
    } else {
        Err(reject(
            WebhookRejection::BadToken,
            ApiError::Unauthorized(
                "the upload form's user (or API secret) no longer exists".into(),
            ),
        ))
    }
}

/// The notification, a JSON object, once Cloudinary's signature over the
/// raw body is checked (401 when wrong or stale, 400 when not an object).
fn verified_notification(app: &App, req: &Request, now: i64) -> Result<Value, ApiError> {
    let body = body_bytes(req)?;
    verify_notification(
        body,
        header(req, "x-cld-timestamp"),
        header(req, "x-cld-signature"),
        &app.config.cloudinary()?.api_secret,
        now,
    )
    .map_err(|e| {
        let reason = match e {
            WebhookError::Stale => WebhookRejection::Stale,
            _ => WebhookRejection::BadSignature,
        };
        reject(reason, ApiError::Unauthorized(e.to_string()))
    })?;
    let notification: Value = serde_json::from_slice(body).map_err(|_| {
        reject(
            WebhookRejection::BadRequest,
            ApiError::BadRequest("body is not valid JSON".into()),
        )
    })?;
    if !notification.is_object() {
        return Err(reject(
            WebhookRejection::BadRequest,
            ApiError::BadRequest("body must be a JSON object".into()),
        ));
    }
    Ok(notification)
}

/// Records the uploaded image in the token's album (or where that album's
/// images are moving), once the form allowed it and its user (or API
/// secret) is still there; nothing new when it is already there. The
/// image's id.
async fn record(
    app: &App,
    claims: &NotificationClaims,
    notification: &Value,
) -> Result<String, ApiError> {
    let (id, record) =
        from_upload(&claims.album_id, notification, &now_rfc3339()).map_err(|e| {
            reject(
                WebhookRejection::BadRequest,
                ApiError::BadRequest(format!("upload notification: {e}")),
            )
        })?;
    // The token names the organization as well as the album: its `X`,
    // not another organization's (decision 0014).
    let key = AlbumKey::new(&claims.organization_id, &claims.album_id);
    let valid = is_valid_id(&key.org) && is_valid_id(&key.id);
    let found = match valid {
        true => app.store.get_album(&key).await?,
        false => None,
    };
    let album = found.ok_or_else(|| {
        reject(
            WebhookRejection::NotFound,
            ApiError::NotFound("the album of this upload no longer exists".into()),
        )
    })?;
    // After the album: a token naming an album its organization does not
    // hold stays a 404, like any album this token cannot reach.
    allowed_by_the_form(claims, notification)?;
    issuer_still_there(app, claims).await?;
    crate::quota::check_destination_grows(app, &album, 1).await?;
    let image = StoredImage {
        id: id.clone(),
        record,
    };
    let (album_id, created) = match app.store.add_image(&album, &image).await {
        Ok(created) => (album.id.clone(), created),
        // The album is being renamed or merged: the upload goes where its
        // images go (decision 0011).
        Err(StoreError::Moving { to, .. }) => {
            let destination = app
                .store
                .get_album(&key.sibling(&to))
                .await?
                .ok_or_else(|| {
                    ApiError::Unavailable(format!(
                        "album {to}, where this upload goes, is not there yet"
                    ))
                })?;
            let created = app.store.add_image(&destination, &image).await?;
            (to, created)
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(album = %album_id, created, "upload recorded");
    Ok(id)
}
