//! `GET /images/{image_id}`: 302 to the signed Cloudinary URL of an image,
//! SharinPix's embeddable URL, for an `<img src>`: the token in `?token=`
//! (or `Authorization`), its `image_id`, `transformations` and `sharinpix`
//! claims and the query's `width`, `height`, `crop` applied (decision 0019).

use lambda_http::http::HeaderValue;
use lambda_http::{Body, Request, RequestExt, Response};

use crate::album::is_valid_id;
use crate::embed;
use crate::error::ApiError;
use crate::http::{Reply, answer, header, path_item_id};
use crate::service::{App, authenticate, now};

/// Handles one request inside the read budget (every outcome, running
/// out of time included, is an HTTP response). Every answer, errors
/// included, carries `Access-Control-Allow-Origin: *`, as SharinPix's do
/// (its 401 too): the URL is meant for any page. Behind the deployed HTTP
/// API, whose CORS configuration answers for the functions, a browser's
/// cross-origin `fetch` sees `CorsAllowedOrigins` instead; an `<img>`
/// needs no CORS.
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let mut resp = answer(&req, app.budgets().read, serve(app, &req)).await;
    resp.headers_mut()
        .insert("access-control-allow-origin", HeaderValue::from_static("*"));
    Ok(resp)
}

/// The 302 carries no `X-token`: the URL sits in pages and caches, and a
/// renewed token there would let whoever reads it extend the access the
/// token's issuer bounded with `exp`.
async fn serve(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let authorization = credentials(req).ok_or_else(|| {
        ApiError::Unauthorized(
            "missing token: send it as ?token= or in the Authorization header".into(),
        )
    })?;
    let principal = authenticate(app, Some(&authorization), now()).await?;
    let asked = embed::from_claims(&principal.claims)?;
    let extra = embed::query_step(
        query(req, "width"),
        query(req, "height"),
        query(req, "crop"),
    )?;
    // The token's image wins over the path's (SharinPix's
    // `take_image_id_in_token`; `pass_image_url` names `image.jpg` there).
    let id = match &asked.image_id {
        Some(id) if is_valid_id(id) => id.clone(),
        Some(_) => return Err(ApiError::NotFound("image not found".into())),
        None => path_item_id(req, "image_id", "images", "image")?,
    };
    let url = embed::signed_url(app, &principal, &id, &asked, extra.as_ref()).await?;
    Ok(Reply::new(302, String::new()).header("location", url))
}

/// The request's credentials as an `Authorization` value: the header when
/// sent, else the `token` query parameter as a bearer token. Neither is
/// ever logged: nothing logs a request's query string or headers, and API
/// Gateway's access log has the path without the query string.
fn credentials(req: &Request) -> Option<String> {
    if let Some(h) = header(req, "authorization") {
        return Some(h.to_string());
    }
    query(req, "token")
        .filter(|t| !t.is_empty())
        .map(|t| format!("Bearer {t}"))
}

/// A query parameter's (first) value.
fn query<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name))
}
