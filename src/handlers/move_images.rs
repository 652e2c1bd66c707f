//! `POST /api/v1/images/move` with `move_operations[<image_id>]=<album_id>`
//! (or JSON `{"move_operations": {"<image_id>": "<album_id>"}}`): moves
//! each image to its album; 200 with the ids moved, as SharinPix's
//! `image_api/move_multiple_images_across_multiple_albums` records it
//! (`crate::image_move`).

use lambda_http::{Body, Request, Response};
use serde_json::Value;

use crate::error::ApiError;
use crate::http::{Caller, Reply, answer, body_bytes, header, params};
use crate::image_move::{MoveOperation, move_images};
use crate::service::App;

/// Handles one request inside the duplicate's budget: a hundred moves
/// are a thousand DynamoDB calls (every outcome, running out of time
/// included, is an HTTP response).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(answer(&req, app.budgets().duplicate(), serve(app, &req)).await)
}

async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = Caller::of(app, req).await?;
    let operations = operations(req)?;
    let moved = move_images(app, &caller.principal, &operations).await?;
    caller.json(200, &moved)
}

/// The operations in the order sent: a form's `move_operations[<id>]`
/// pairs, or a JSON body's `move_operations` object.
fn operations(req: &Request) -> Result<Vec<MoveOperation>, ApiError> {
    let bad = || ApiError::Unprocessable("move_operations must map image ids to album ids".into());
    let params = params(req)?;
    if let Some(v) = params.value("move_operations") {
        let Value::Object(map) = v else {
            return Err(bad());
        };
        return map
            .iter()
            .map(|(image, album)| match album {
                Value::String(a) => Ok((image.clone(), a.clone())),
                _ => Err(bad()),
            })
            .collect();
    }
    let is_json = header(req, "content-type").is_some_and(|c| c.contains("json"));
    let mut out: Vec<MoveOperation> = Vec::new();
    if !is_json {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body_bytes(req)?)
            .map_err(|_| ApiError::BadRequest("body is not valid form data".into()))?;
        for (k, v) in pairs {
            let Some(image) = k
                .strip_prefix("move_operations[")
                .and_then(|r| r.strip_suffix(']'))
            else {
                continue;
            };
            match out.iter_mut().find(|(i, _)| i == image) {
                Some(op) => op.1 = v,
                None => out.push((image.to_string(), v)),
            }
        }
    }
    if out.is_empty() {
        return Err(ApiError::Unprocessable(
            "move_operations is required".into(),
        ));
    }
    Ok(out)
}
