//! `POST /api/v1/cloudinary?token=…`: Cloudinary's upload notification.
//!
//! Trusts nothing but the notification token in the URL (which names the
//! album and organization) and Cloudinary's signature over the raw body.
//! Idempotent: the image id derives from the album and the asset, so a
//! re-delivered notification finds its image already there.

use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::Value;

use crate::auth::verify_notification_token;
use crate::cloudinary::{WebhookError, verify_notification};
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
    let token = req
        .query_string_parameters_ref()
        .and_then(|q| q.first("token").map(str::to_string))
        .ok_or_else(|| {
            reject(
                WebhookRejection::BadToken,
                ApiError::Unauthorized("missing notification token".into()),
            )
        })?;
    let claims = verify_notification_token(&token, app.config.jwt_secret()?, now)
        .map_err(|e| reject(WebhookRejection::BadToken, e))?;
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
    match notification
        .get("notification_type")
        .and_then(Value::as_str)
    {
        Some("error") => {
            tracing::warn!(album = %claims.album_id, "Cloudinary reported an upload error");
            webhook_accepted();
            return Ok(Reply::new(201, String::new()));
        }
        Some("upload") | None => {}
        Some(other) => {
            tracing::info!(
                kind = other,
                "ignoring a notification that is not an upload"
            );
            webhook_accepted();
            return Ok(Reply::new(201, String::new()));
        }
    }
    let (id, record) =
        from_upload(&claims.album_id, &notification, &now_rfc3339()).map_err(|e| {
            reject(
                WebhookRejection::BadRequest,
                ApiError::BadRequest(format!("upload notification: {e}")),
            )
        })?;
    let album = app
        .store
        .get_album(&claims.album_id)
        .await?
        .filter(|a| a.organization_id == claims.organization_id)
        .ok_or_else(|| {
            reject(
                WebhookRejection::NotFound,
                ApiError::NotFound("the album of this upload no longer exists".into()),
            )
        })?;
    let image = StoredImage { id, record };
    let (album_id, created) = match app.store.add_image(&album.id, &image).await {
        Ok(created) => (album.id.clone(), created),
        // The album is being renamed or merged: the upload goes where its
        // images go (decision 0011).
        Err(StoreError::Moving { to, .. }) => {
            let created = app.store.add_image(&to, &image).await?;
            (to, created)
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(album = %album_id, created, "upload recorded");
    webhook_accepted();
    Ok(Reply::new(201, String::new()))
}
