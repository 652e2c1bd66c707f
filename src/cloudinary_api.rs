//! Cloudinary's upload API, called by the service itself: an upload from a
//! remote URL, which Cloudinary fetches and announces to the webhook.
//!
//! The upload is asynchronous (`async=true`): Cloudinary answers at once
//! and posts the result to `notification_url` (the webhook, with a
//! notification token for the album and the import's id) when it has
//! fetched the file, or an error notification when it could not. The
//! parameters are those of an upload form (`cloudinary::upload_form`:
//! formats, resource type, delivery type, the album as a tag), signed the
//! same way; the request carries the API key, never the secret.
//!
//! One HTTP client per process (its TLS roots read once), HTTP/1.1, with
//! a connect and a whole-request timeout: the request that asks for the
//! import waits for this call, inside its own budget.

use std::sync::OnceLock;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::cloudinary::{ALLOWED_FORMATS, CloudinaryConfig, sign_params};

/// The longest wait for Cloudinary's answer.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// What an import asks Cloudinary to upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteUpload {
    /// The file's URL (checked: http or https, no credentials).
    pub file_url: String,
    /// Where Cloudinary posts the result.
    pub notification_url: String,
    /// The album, as the upload's tag (the webhook checks it).
    pub album_id: String,
    /// The asset's `public_id` (the import's id: asking twice uploads one
    /// asset).
    pub public_id: String,
    /// The original file name to record, when given.
    pub filename: Option<String>,
    /// Cloudinary `context` (`key=value|…`, the import's metadata), when any.
    pub context: Option<String>,
}

/// Why Cloudinary did not take an upload.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UploadError {
    /// Cloudinary refused it (a 4xx): the import fails, saying why.
    #[error("Cloudinary refused the upload: {0}")]
    Refused(String),
    /// No answer, or a 5xx: worth trying again later.
    #[error("Cloudinary did not answer: {0}")]
    Unavailable(String),
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The process's client, built once (reading the system's TLS roots).
fn client() -> Result<&'static HttpsClient, UploadError> {
    static CLIENT: OnceLock<Result<HttpsClient, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let provider = rustls::crypto::aws_lc_rs::default_provider();
            let https = hyper_rustls::HttpsConnectorBuilder::new()
                .with_provider_and_native_roots(provider)
                .map_err(|e| format!("TLS roots: {e}"))?
                .https_or_http()
                .enable_http1()
                .build();
            Ok(Client::builder(TokioExecutor::new()).build(https))
        })
        .as_ref()
        .map_err(|e| UploadError::Unavailable(e.clone()))
}

/// The signed form fields of `upload` at `timestamp` (sorted as signed,
/// then the file, signature and API key).
pub fn upload_fields(
    cfg: &CloudinaryConfig,
    upload: &RemoteUpload,
    timestamp: i64,
) -> Vec<(&'static str, String)> {
    let mut signed = vec![
        ("allowed_formats", ALLOWED_FORMATS.to_string()),
        ("async", "true".to_string()),
        ("colors", "1".to_string()),
        ("faces", "1".to_string()),
        ("image_metadata", "1".to_string()),
        ("notification_url", upload.notification_url.clone()),
        ("phash", "1".to_string()),
        ("public_id", upload.public_id.clone()),
        ("tags", upload.album_id.clone()),
        ("timestamp", timestamp.to_string()),
        ("type", "authenticated".to_string()),
    ];
    if let Some(c) = &upload.context {
        signed.push(("context", c.clone()));
    }
    if let Some(f) = &upload.filename {
        signed.push(("filename_override", f.clone()));
    }
    signed.sort_by(|a, b| a.0.cmp(b.0));
    let signature = sign_params(&signed, &cfg.api_secret);
    signed.push(("file", upload.file_url.clone()));
    signed.push(("signature", signature));
    signed.push(("api_key", cfg.api_key.clone()));
    signed
}

/// Asks Cloudinary (its API at `api_base`, e.g. `https://api.cloudinary.com`)
/// to upload `upload`: `Ok` once it has queued it.
pub async fn upload_from_url(
    cfg: &CloudinaryConfig,
    api_base: &str,
    upload: &RemoteUpload,
    timestamp: i64,
) -> Result<(), UploadError> {
    let fields = upload_fields(cfg, upload, timestamp);
    let body = serde_urlencoded::to_string(&fields)
        .map_err(|e| UploadError::Refused(format!("unencodable upload: {e}")))?;
    let uri = format!("{api_base}/v1_1/{}/image/upload", cfg.cloud_name);
    let req = hyper::Request::post(&uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| UploadError::Refused(format!("bad upload request: {e}")))?;
    let call = async {
        let resp = client()?
            .request(req)
            .await
            .map_err(|e| UploadError::Unavailable(e.to_string()))?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| UploadError::Unavailable(e.to_string()))?
            .to_bytes();
        Ok::<_, UploadError>((status, bytes))
    };
    let (status, bytes) = tokio::time::timeout(CALL_TIMEOUT, call)
        .await
        .map_err(|_| UploadError::Unavailable(format!("no answer in {CALL_TIMEOUT:?}")))??;
    if status.is_success() {
        return Ok(());
    }
    let message = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| format!("HTTP {status}"));
    if status.is_server_error() || status.as_u16() == 429 {
        Err(UploadError::Unavailable(message))
    } else {
        Err(UploadError::Refused(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fields_are_signed_as_an_upload_form_is_with_the_file_and_key_outside() {
        let cfg = CloudinaryConfig::parse("cloudinary://123:s3cr3t@demo").unwrap();
        let upload = RemoteUpload {
            file_url: "https://example.org/a.jpg".into(),
            notification_url: "https://api/x?token=t".into(),
            album_id: "album".into(),
            public_id: "import-1".into(),
            filename: Some("a.jpg".into()),
            context: Some("attachmentId=00P".into()),
        };
        let fields = upload_fields(&cfg, &upload, 1_700_000_000);
        let names: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            [
                "allowed_formats",
                "async",
                "colors",
                "context",
                "faces",
                "filename_override",
                "image_metadata",
                "notification_url",
                "phash",
                "public_id",
                "tags",
                "timestamp",
                "type",
                "file",
                "signature",
                "api_key"
            ]
        );
        let signed: Vec<(&str, String)> = fields[..13].to_vec();
        assert_eq!(fields[14].1, sign_params(&signed, &cfg.api_secret));
        assert!(fields.iter().all(|(_, v)| !v.contains("s3cr3t")));
    }
}
