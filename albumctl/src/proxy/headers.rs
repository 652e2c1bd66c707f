//! Which headers a proxy copies from one hop to the next.

use hyper::header::{HeaderMap, HeaderName};

/// Headers that describe a single hop.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "proxy-authenticate"
            | "proxy-authorization"
    )
}

/// Headers that vouch for the exact body bytes, so become wrong when a
/// layer rewrites the body.
fn is_body_digest(name: &HeaderName) -> bool {
    let n = name.as_str();
    n == "x-amz-crc32"
        || n == "content-md5"
        || n == "x-amz-content-sha256"
        || n.starts_with("x-amz-checksum-")
}

/// Copies the end-to-end headers; with `drop_digests`, not those a new
/// body would contradict.
pub(super) fn copy_headers(from: &HeaderMap, to: &mut HeaderMap, drop_digests: bool) {
    for (name, value) in from {
        if is_hop_by_hop(name) || (drop_digests && is_body_digest(name)) {
            continue;
        }
        to.append(name.clone(), value.clone());
    }
}
