//! Scheduled duplications: the input EventBridge delivers.
//!
//! Two shapes are accepted: EventBridge Scheduler's constant `Input`
//! (`{"source_album_id", "destination_id", "organization_id"}`, optionally
//! with `"execution_id": "<aws.scheduler.execution-id>"`), and a regular
//! EventBridge event (a rule's target or a custom `PutEvents`) carrying the
//! same fields under `detail`. Anything else is refused before any write.

use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::album::is_valid_id;

/// Namespace of scheduled job ids. Never change it: a re-delivery after the
/// change would not find its job and would start over (still exact, slower).
pub const JOB_NAMESPACE: Uuid = Uuid::from_u128(0x7a0e_44c1_3d5b_4f86_a2c9_18e7_5b60_d3f2);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    source_album_id: String,
    destination_id: String,
    organization_id: String,
    /// Scheduler's execution id (the same for its retries of one run).
    #[serde(default)]
    execution_id: Option<String>,
    /// Scheduler's scheduled time, an alternative run identity.
    #[serde(default)]
    scheduled_time: Option<String>,
    /// Copy tag associations too (decision 0011).
    #[serde(default)]
    tags: bool,
}

/// A duplication a schedule asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduledDuplication {
    /// Album to copy.
    pub source_album_id: String,
    /// Album to copy into (created when missing).
    pub destination_id: String,
    /// The organization the schedule acts for.
    pub organization_id: String,
    /// What identifies this run across re-deliveries.
    pub delivery_key: String,
    /// Copy the images' tag associations too.
    pub tags: bool,
}

impl ScheduledDuplication {
    /// The job of this run: the same for every re-delivery of it.
    pub fn job_id(&self) -> String {
        let name = format!(
            "{}/{}/{}/{}",
            self.organization_id, self.source_album_id, self.destination_id, self.delivery_key
        );
        Uuid::new_v5(&JOB_NAMESPACE, name.as_bytes()).to_string()
    }
}

/// Parses a schedule's payload. `request_id` (the Lambda request id, the
/// same for Lambda's own async retries) identifies the run when the payload
/// carries no identity of its own.
pub fn parse(payload: &Value, request_id: &str) -> Result<ScheduledDuplication, String> {
    let obj = payload
        .as_object()
        .ok_or("the event is not a JSON object")?;
    let (fields, key) = if obj.contains_key("detail-type") || obj.contains_key("detail") {
        let detail = obj
            .get("detail")
            .ok_or("EventBridge event without detail")?;
        let event_id = obj
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or("EventBridge event without id")?;
        (detail.clone(), event_id.to_string())
    } else {
        (payload.clone(), String::new())
    };
    let f: Fields =
        serde_json::from_value(fields).map_err(|e| format!("invalid duplication input: {e}"))?;
    for (name, v) in [
        ("source_album_id", &f.source_album_id),
        ("destination_id", &f.destination_id),
        ("organization_id", &f.organization_id),
    ] {
        if !is_valid_id(v) {
            return Err(format!("{name} must be 1-128 characters of A-Za-z0-9_-"));
        }
    }
    let delivery_key = if !key.is_empty() {
        key
    } else if let Some(id) = f
        .execution_id
        .filter(|s| !s.is_empty() && !s.starts_with("<aws."))
    {
        id
    } else if let Some(t) = f
        .scheduled_time
        .filter(|s| !s.is_empty() && !s.starts_with("<aws."))
    {
        t
    } else {
        request_id.to_string()
    };
    Ok(ScheduledDuplication {
        source_album_id: f.source_album_id,
        destination_id: f.destination_id,
        organization_id: f.organization_id,
        delivery_key,
        tags: f.tags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scheduler_input_uses_its_execution_id() {
        let p = json!({"source_album_id":"a","destination_id":"b","organization_id":"o","execution_id":"x-1"});
        let d = parse(&p, "req").unwrap();
        assert_eq!(d.delivery_key, "x-1");
        assert_eq!(d.job_id(), parse(&p, "other-req").unwrap().job_id());
    }

    #[test]
    fn bare_input_falls_back_to_the_request_id() {
        let p = json!({"source_album_id":"a","destination_id":"b","organization_id":"o"});
        assert_eq!(parse(&p, "req-7").unwrap().delivery_key, "req-7");
    }

    #[test]
    fn eventbridge_envelope_uses_detail_and_event_id() {
        let p = json!({"version":"0","id":"ev-1","detail-type":"Duplicate album","source":"ops","account":"1",
            "time":"2026-11-30T06:00:00Z","region":"eu-west-1","resources":[],
            "detail":{"source_album_id":"a","destination_id":"b","organization_id":"o"}});
        let d = parse(&p, "req").unwrap();
        assert_eq!(
            (d.source_album_id.as_str(), d.delivery_key.as_str()),
            ("a", "ev-1")
        );
    }

    #[test]
    fn malformed_or_unknown_input_is_refused() {
        for p in [
            json!([1]),
            json!({"source_album_id":"a","destination_id":"b"}),
            json!({"source_album_id":"a","destination_id":"b","organization_id":"o","extra":1}),
            json!({"source_album_id":"a/../b","destination_id":"b","organization_id":"o"}),
            json!({"source_album_id":1,"destination_id":"b","organization_id":"o"}),
            json!({"detail-type":"x","detail":{"source_album_id":"a"}}),
        ] {
            assert!(parse(&p, "req").is_err(), "{p}");
        }
    }
}
