//! What the SAM template says about the functions that the dev server
//! copies: their HTTP routes, the retries of the worker's stream.
//!
//! Read from the embedded `template.yaml`, so the local dev server serves
//! exactly the routes API Gateway will, and retries a job's slice as the
//! stream does; a change to the template needs no other edit.

use serde_norway::Value;

use crate::schema::TEMPLATE;

/// One `HttpApi` route of the template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// HTTP method (upper case).
    pub method: String,
    /// Path pattern, e.g. `/api/v1/albums/{id}`.
    pub path: String,
    /// Logical id of the function.
    pub function: String,
    /// Binary (`Metadata.BuildProperties.Binary`).
    pub binary: String,
}

impl Route {
    /// The path parameters when `path` matches this route's pattern.
    pub fn matches(&self, method: &str, path: &str) -> Option<Vec<(String, String)>> {
        if !self.method.eq_ignore_ascii_case(method) && self.method != "ANY" {
            return None;
        }
        let pattern: Vec<&str> = self.path.trim_matches('/').split('/').collect();
        let actual: Vec<&str> = path.trim_matches('/').split('/').collect();
        if pattern.len() != actual.len() {
            return None;
        }
        let mut params = Vec::new();
        for (p, a) in pattern.iter().zip(&actual) {
            match p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) if !a.is_empty() => params.push((name.to_string(), (*a).to_string())),
                Some(_) => return None,
                None if p == a => {}
                None => return None,
            }
        }
        Some(params)
    }
}

/// Every `HttpApi` route of the shipped template.
pub fn http_routes() -> Result<Vec<Route>, String> {
    routes_of(TEMPLATE)
}

/// Every `HttpApi` route of `template`.
pub fn routes_of(template: &str) -> Result<Vec<Route>, String> {
    let doc: Value = serde_norway::from_str(template).map_err(|e| e.to_string())?;
    let resources = doc
        .get("Resources")
        .and_then(Value::as_mapping)
        .ok_or("template has no Resources")?;
    let mut routes = Vec::new();
    for (name, res) in resources {
        if res.get("Type").and_then(Value::as_str) != Some("AWS::Serverless::Function") {
            continue;
        }
        let function = name.as_str().unwrap_or_default().to_string();
        let binary = res
            .get("Metadata")
            .and_then(|m| m.get("BuildProperties"))
            .and_then(|b| b.get("Binary"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let events = res
            .get("Properties")
            .and_then(|p| p.get("Events"))
            .and_then(Value::as_mapping);
        for (_, ev) in events.into_iter().flatten() {
            if ev.get("Type").and_then(Value::as_str) != Some("HttpApi") {
                continue;
            }
            let props = ev.get("Properties");
            let method = props.and_then(|p| p.get("Method")).and_then(Value::as_str);
            let path = props.and_then(|p| p.get("Path")).and_then(Value::as_str);
            if let (Some(method), Some(path)) = (method, path) {
                routes.push(Route {
                    method: method.to_ascii_uppercase(),
                    path: path.to_string(),
                    function: function.clone(),
                    binary: binary.clone(),
                });
            }
        }
    }
    // Literal segments before parameters, so /albums wins over /albums/{id} patterns alike.
    routes.sort_by_key(|r| r.path.matches('{').count());
    Ok(routes)
}

/// How many times the stream delivers a failed job hand-off again
/// (`MaximumRetryAttempts` of `DuplicationWorkerFunction`'s DynamoDB event).
pub fn stream_retry_attempts() -> Result<u32, String> {
    let doc: Value = serde_norway::from_str(TEMPLATE).map_err(|e| e.to_string())?;
    doc.get("Resources")
        .and_then(|r| r.get("DuplicationWorkerFunction"))
        .and_then(|f| f.get("Properties"))
        .and_then(|p| p.get("Events"))
        .and_then(Value::as_mapping)
        .into_iter()
        .flatten()
        .filter(|(_, ev)| ev.get("Type").and_then(Value::as_str) == Some("DynamoDB"))
        .find_map(|(_, ev)| ev.get("Properties")?.get("MaximumRetryAttempts")?.as_u64())
        .map(|n| n as u32)
        .ok_or_else(|| "the worker's DynamoDB event has no MaximumRetryAttempts".into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_worker_stream_retries_as_the_template_says() {
        assert_eq!(super::stream_retry_attempts(), Ok(5));
    }

    use super::*;

    #[test]
    fn the_template_routes_every_http_function() {
        let routes = http_routes().unwrap();
        let binaries: Vec<&str> = routes.iter().map(|r| r.binary.as_str()).collect();
        for b in [
            "duplicate_album",
            "create_album",
            "get_album",
            "list_albums",
            "list_images",
            "delete_image",
            "cloudinary_notification",
            "get_duplication",
            "update_album",
            "create_tag",
            "list_tags",
            "tag_images",
            "list_tag_images",
            "delete_tag_image",
            "get_usage",
            "get_image",
            "update_image",
            "delete_images",
            "list_trashed_images",
            "restore_trashed_image",
            "query_tag_images",
            "duplicate_image",
            "move_images",
            "embed_image",
            "create_import",
            "get_import",
        ] {
            assert!(binaries.contains(&b), "{b} has no route");
        }
        let dup = routes
            .iter()
            .find(|r| r.binary == "duplicate_album")
            .unwrap();
        assert_eq!(
            dup.matches("POST", "/api/v1/albums/abc/duplicate"),
            Some(vec![("id".to_string(), "abc".to_string())])
        );
        assert_eq!(dup.matches("GET", "/api/v1/albums/abc/duplicate"), None);
        assert_eq!(dup.matches("POST", "/api/v1/albums//duplicate"), None);
    }
}
