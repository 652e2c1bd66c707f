//! The emulator behind the proxy, which calls are sent on to.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::answer::Answer;
use super::call::Call;
use super::headers::copy_headers;

/// Where calls are forwarded: an `http://` URL's host and path, with one
/// pooled client (connections are kept alive between calls).
#[derive(Debug)]
pub struct Upstream {
    authority: String,
    base_path: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Upstream {
    /// From an `http://host:port[/path]` URL.
    pub(super) fn new(url: &str) -> Result<Self, String> {
        let uri: Uri = url
            .trim()
            .parse()
            .map_err(|e| format!("upstream {url:?}: {e}"))?;
        if !uri
            .scheme_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("http"))
        {
            return Err(format!("upstream {url:?} is not an http:// URL"));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("upstream {url:?} has no host"))?
            .to_string();
        Ok(Self {
            authority,
            base_path: uri.path().trim_end_matches('/').to_string(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        })
    }

    /// The upstream's host and port.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// Sends `body` (the client's, or one a layer rewrote) with the call's
    /// method, path and headers, and collects the answer.
    pub async fn send(&self, call: &Call, body: Bytes) -> Result<Answer, String> {
        let uri = self.uri_of(call);
        let req = self
            .request(call, &uri, body)
            .map_err(|e| format!("cannot build the upstream request: {e}"))?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| format!("upstream {uri}: {e}"))?;
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| format!("reading the upstream answer: {e}"))?
            .to_bytes();
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
            head: call.parts.method == Method::HEAD,
        })
    }

    fn uri_of(&self, call: &Call) -> String {
        let path = call
            .parts
            .uri
            .path_and_query()
            .map_or("/", |pq| pq.as_str());
        format!("http://{}{}{path}", self.authority, self.base_path)
    }

    /// The upstream request: the client's head, less what names this hop,
    /// its length that of `body`.
    fn request(
        &self,
        call: &Call,
        uri: &str,
        body: Bytes,
    ) -> Result<Request<Full<Bytes>>, hyper::http::Error> {
        let parts = &call.parts;
        let rewritten = body != call.body;
        let had_length = parts.headers.contains_key(header::CONTENT_LENGTH)
            || parts.headers.contains_key(header::TRANSFER_ENCODING);
        let mut builder = Request::builder().method(parts.method.clone()).uri(uri);
        if let Some(headers) = builder.headers_mut() {
            copy_headers(&parts.headers, headers, rewritten);
            headers.remove(header::HOST);
            headers.remove(header::CONTENT_LENGTH);
            if had_length || !body.is_empty() || rewritten {
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
            }
        }
        builder.body(Full::new(body))
    }
}
