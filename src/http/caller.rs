//! The authenticated caller of a request: what every route extracts first.

use lambda_http::Request;
use serde::Serialize;

use crate::album::Album;
use crate::auth::{Ability, Principal};
use crate::error::ApiError;
use crate::service::{App, album_for, authenticate, now, render_album, x_token};

use super::{RETRY_AFTER_SECONDS, Reply, header};
use crate::jobs::JobJson;
use crate::store::jobs::Job;

/// Who calls, and when: the principal of the request's `Authorization`
/// header, and the instant its tokens and forms are signed at. Every
/// success a caller gets back carries its token renewed (`X-token`), so
/// replies are built here.
#[derive(Clone, Debug)]
pub struct Caller<'a> {
    app: &'a App,
    /// The verified token's user, organization and abilities.
    pub principal: Principal,
    /// Unix time of the request (one clock reading per request).
    pub now: i64,
}

impl<'a> Caller<'a> {
    /// Authenticates `req`: 401 without a valid token of an existing user.
    pub async fn of(app: &'a App, req: &Request) -> Result<Self, ApiError> {
        let now = now();
        let principal = authenticate(app, header(req, "authorization"), now).await?;
        Ok(Self {
            app,
            principal,
            now,
        })
    }

    /// The caller's token re-signed with a fresh `exp` (`X-token`).
    pub fn x_token(&self) -> Result<String, ApiError> {
        x_token(self.app, &self.principal, self.now)
    }

    /// A success with `body`, carrying `X-token`.
    pub fn reply(&self, status: u16, body: String) -> Result<Reply, ApiError> {
        Ok(Reply::new(status, body).token(self.x_token()?))
    }

    /// A success with `value` as its JSON body, carrying `X-token`.
    pub fn json<T: Serialize + ?Sized>(&self, status: u16, value: &T) -> Result<Reply, ApiError> {
        Ok(Reply::json(status, value)?.token(self.x_token()?))
    }

    /// A 204, carrying `X-token`.
    pub fn no_content(&self) -> Result<Reply, ApiError> {
        self.reply(204, String::new())
    }

    /// A success with the album JSON of `album` as the caller sees it
    /// (its upload form only when the caller may upload there).
    pub async fn album_reply(&self, status: u16, album: &Album) -> Result<Reply, ApiError> {
        let body = render_album(self.app, &self.principal, album, self.now).await?;
        self.reply(status, body)
    }

    /// The answer of a rename, merge or duplicate that ended in `album`:
    /// its album JSON when the caller may `see` it, else only what the
    /// caller knows already, `{"id", "images_count"}`. Renaming, merging
    /// or being a duplicate's destination needs no `see`, and the full
    /// JSON would show that album's images (URLs, GPS) to a token that may
    /// not read them (decision 0016; README, Differences from SharinPix).
    pub async fn moved_album_reply(&self, status: u16, album: &Album) -> Result<Reply, ApiError> {
        if self.principal.can(&album.id, Ability::See) {
            return self.album_reply(status, album).await;
        }
        self.json(
            status,
            &serde_json::json!({"id": album.id, "images_count": album.images_count}),
        )
    }

    /// The 202 of a request that continues as `job`: the job JSON, where to
    /// follow it and when to look. Counted as a hand-off.
    pub fn accepted(&self, job: &Job) -> Result<Reply, ApiError> {
        crate::metrics::handed_off();
        crate::telemetry::annotate_job(&job.id);
        Ok(self
            .json(202, &JobJson::of(job, None))?
            .header("location", format!("/api/v1/duplications/{}", job.id))
            .header("retry-after", RETRY_AFTER_SECONDS.to_string()))
    }

    /// Album `id` if the caller may do all of `abilities` on it (see
    /// [`album_for`]).
    pub async fn album(&self, id: &str, abilities: &[Ability]) -> Result<Album, ApiError> {
        album_for(self.app, &self.principal, id, abilities).await
    }
}
