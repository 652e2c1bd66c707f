//! Reading a dead letter: which failure path it came by, the duplication
//! it reports, how to re-run it.

use album_api::schedule;
use serde_json::Value;

use super::message::{ErrorInfo, FailedDuplication, Kind, Parsed, RawMessage, StreamBatch, Work};

/// Parses a dead letter into the duplication that failed. Never fails:
/// whatever is not a duplication is [`Parsed::Unreadable`].
pub(crate) fn parse_message(m: &RawMessage) -> Parsed {
    let letter = Letter {
        m,
        sent: m.sent_ms.and_then(rfc3339_of_ms),
    };
    let body: Result<Value, _> = serde_json::from_str(&m.body);
    if let Some(request_id) = letter.attr("RequestID") {
        return letter.async_invoke(body, request_id);
    }
    if ["ERROR_CODE", "SCHEDULE_ARN", "EXECUTION_ID", "TARGET_ARN"]
        .iter()
        .any(|a| letter.attr(a).is_some())
    {
        return letter.schedule(body);
    }
    match body {
        Ok(body) => letter.stream_failure(&body),
        Err(e) => letter.unreadable(
            format!("no dead-letter attributes and the body is not JSON: {e}"),
            None,
            ErrorInfo::default(),
        ),
    }
}

fn rfc3339_of_ms(ms: u64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()?;
    t.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// One message being read, with when it was sent.
struct Letter<'a> {
    m: &'a RawMessage,
    sent: Option<String>,
}

impl Letter<'_> {
    /// A message attribute, trimmed; `None` when missing or blank.
    fn attr(&self, name: &str) -> Option<String> {
        self.m
            .attributes
            .get(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    fn unreadable(&self, reason: String, kind: Option<Kind>, error: ErrorInfo) -> Parsed {
        Parsed::Unreadable {
            message_id: self.m.message_id.clone(),
            reason,
            kind,
            error,
            when: self.sent.clone(),
        }
    }

    /// The scheduled run a dead letter's payload asks for, as `request_id`.
    fn scheduled(
        &self,
        kind: Kind,
        error: ErrorInfo,
        when: Option<String>,
        payload: Value,
        request_id: String,
    ) -> Parsed {
        match schedule::parse(&payload, &request_id) {
            Ok(run) => Parsed::Failed(FailedDuplication {
                message_id: self.m.message_id.clone(),
                kind,
                error,
                when,
                work: Work::Scheduled {
                    payload,
                    request_id,
                    run,
                },
            }),
            Err(e) => {
                let what = match kind {
                    Kind::AsyncInvoke => "an event",
                    _ => "an input",
                };
                let reason = format!("not {what} the scheduled function takes: {e}");
                self.unreadable(reason, Some(kind), error)
            }
        }
    }

    /// Lambda's asynchronous-invocation dead letter: the event, re-run as
    /// the request that failed.
    fn async_invoke(&self, body: serde_json::Result<Value>, request_id: String) -> Parsed {
        let error = ErrorInfo {
            code: self.attr("ErrorCode"),
            message: self.attr("ErrorMessage"),
        };
        match body {
            Ok(payload) => self.scheduled(
                Kind::AsyncInvoke,
                error,
                self.sent.clone(),
                payload,
                request_id,
            ),
            Err(e) => self.unreadable(
                format!("the body is not JSON: {e}"),
                Some(Kind::AsyncInvoke),
                error,
            ),
        }
    }

    /// EventBridge Scheduler's dead letter: the target's input.
    fn schedule(&self, body: serde_json::Result<Value>) -> Parsed {
        let error = ErrorInfo {
            code: self.attr("ERROR_CODE"),
            message: self.attr("ERROR_MESSAGE"),
        };
        let mut payload = match body {
            Ok(v) => v,
            Err(e) => {
                let reason = format!("the body is not JSON: {e}");
                return self.unreadable(reason, Some(Kind::Schedule), error);
            }
        };
        // The run's identity, as the function would have had it: the
        // input's execution id, else Scheduler's, else this message's id
        // (the same for every redrive of this message).
        if let (Some(exec), Some(obj)) = (self.attr("EXECUTION_ID"), payload.as_object_mut())
            && !obj.contains_key("detail")
            && !obj.contains_key("detail-type")
            && obj
                .get("execution_id")
                .and_then(Value::as_str)
                .is_none_or(|s| s.is_empty() || s.starts_with("<aws."))
        {
            obj.insert("execution_id".into(), Value::from(exec));
        }
        let when = self.attr("SCHEDULED_TIME").or(self.sent.clone());
        let request_id = self.m.message_id.clone();
        self.scheduled(Kind::Schedule, error, when, payload, request_id)
    }

    /// The worker's stream on-failure record: where its batch sits in the
    /// stream, not the batch itself.
    fn stream_failure(&self, body: &Value) -> Parsed {
        let Some(info) = body.get("DDBStreamBatchInfo") else {
            return self.unreadable(
                "neither a Lambda nor a Scheduler dead letter, nor a stream failure record".into(),
                None,
                ErrorInfo::default(),
            );
        };
        let error = stream_error(body);
        let (Some(stream_arn), Some(shard_id), Some(start), Some(end)) = (
            text(info, "streamArn"),
            text(info, "shardId"),
            text(info, "startSequenceNumber"),
            text(info, "endSequenceNumber"),
        ) else {
            return self.unreadable(
                "a stream failure record without streamArn, shardId and sequence numbers".into(),
                Some(Kind::WorkerJob),
                error,
            );
        };
        Parsed::Failed(FailedDuplication {
            message_id: self.m.message_id.clone(),
            kind: Kind::WorkerJob,
            error,
            when: text(body, "timestamp").or(self.sent.clone()),
            work: Work::Worker(StreamBatch {
                stream_arn,
                shard_id,
                start_sequence_number: start,
                end_sequence_number: end,
                batch_size: info["batchSize"].as_u64(),
            }),
        })
    }
}

/// A non-empty string field.
fn text(v: &Value, k: &str) -> Option<String> {
    v.get(k)
        .and_then(Value::as_str)
        .map(str::to_string)
        .filter(|s| !s.is_empty())
}

/// The error a stream failure record reports: the function's error, else
/// the failure's condition, with the invocations and status it names.
fn stream_error(body: &Value) -> ErrorInfo {
    let request = &body["requestContext"];
    let response = &body["responseContext"];
    let condition = text(request, "condition");
    ErrorInfo {
        code: text(response, "functionError").or_else(|| condition.clone()),
        message: condition.map(|c| {
            let mut m = c;
            if let Some(n) = request["approximateInvokeCount"].as_u64() {
                m.push_str(&format!(" after {n} invocations"));
            }
            if let Some(s) = response["statusCode"].as_u64() {
                m.push_str(&format!(" (status {s})"));
            }
            m
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/tests/fixtures/dlq/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    /// A message as ReceiveMessage answers it (the fixtures are the JSON of
    /// `aws sqs receive-message --message-attribute-names All`).
    fn message(name: &str) -> RawMessage {
        let m = fixture(name);
        RawMessage {
            message_id: m["MessageId"].as_str().unwrap().into(),
            body: m["Body"].as_str().unwrap().into(),
            attributes: m["MessageAttributes"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v["StringValue"].as_str().unwrap().into()))
                .collect(),
            sent_ms: m["Attributes"]["SentTimestamp"]
                .as_str()
                .and_then(|t| t.parse().ok()),
        }
    }

    fn failed(p: Parsed) -> FailedDuplication {
        match p {
            Parsed::Failed(f) => f,
            other => panic!("expected a failed duplication, got {other:?}"),
        }
    }

    #[test]
    fn an_async_invoke_dead_letter_is_the_scheduled_run_of_its_request() {
        let m = message("async-invoke.json");
        let f = failed(parse_message(&m));
        assert_eq!(f.kind, Kind::AsyncInvoke);
        assert_eq!(f.error.code.as_deref(), Some("200"));
        assert!(
            f.error
                .message
                .as_deref()
                .unwrap()
                .contains("Task timed out")
        );
        assert_eq!(f.when.as_deref(), Some("2026-11-30T06:15:02.123Z"));
        let Work::Scheduled {
            request_id, run, ..
        } = &f.work
        else {
            panic!("scheduled work")
        };
        assert_eq!(request_id, "3f6b2c1e-8f7a-4b9d-a2c3-5e6f7a8b9c0d");
        assert_eq!(run.source_album_id, "00100000123BB44");
        assert_eq!(run.destination_id, "weekly_copy");
        // The input has no identity of its own: the failed invocation's
        // request id is the run's, so the redrive finds the job it left.
        let same = schedule::parse(
            &serde_json::from_str(&m.body).unwrap(),
            "3f6b2c1e-8f7a-4b9d-a2c3-5e6f7a8b9c0d",
        )
        .unwrap();
        assert_eq!(run.job_id(), same.job_id());
    }

    #[test]
    fn an_async_invoke_dead_letter_of_an_eventbridge_event_uses_the_event_id() {
        let mut m = message("async-invoke.json");
        m.body = serde_json::to_string(&json!({"version":"0","id":"ev-42","detail-type":"Duplicate album",
            "source":"ops","account":"123456789012","time":"2026-11-30T06:00:00Z","region":"eu-west-1",
            "resources":[],"detail":{"source_album_id":"a","destination_id":"b","organization_id":"o"}}))
        .unwrap();
        let f = failed(parse_message(&m));
        let Work::Scheduled { run, .. } = f.work else {
            panic!("scheduled work")
        };
        assert_eq!(run.delivery_key, "ev-42");
    }

    #[test]
    fn a_scheduler_dead_letter_takes_its_execution_id() {
        let f = failed(parse_message(&message("scheduler.json")));
        assert_eq!(f.kind, Kind::Schedule);
        assert_eq!(
            f.error.code.as_deref(),
            Some("AWS.Lambda.TooManyRequestsException")
        );
        assert!(
            f.error
                .message
                .as_deref()
                .unwrap()
                .contains("Rate Exceeded")
        );
        let Work::Scheduled { payload, run, .. } = &f.work else {
            panic!("scheduled work")
        };
        // The body's placeholder stands for Scheduler's execution id.
        assert_eq!(run.delivery_key, "f2b5a0c4-3a8e-4d1f-9c6b-7e8d9f0a1b2c");
        assert_eq!(
            payload["execution_id"],
            "f2b5a0c4-3a8e-4d1f-9c6b-7e8d9f0a1b2c"
        );
        assert_eq!(run.organization_id, "a89b5b70-d820-4911-8c6d-25ab6181e9be");
    }

    #[test]
    fn a_scheduler_dead_letter_keeps_an_execution_id_the_input_has() {
        let mut m = message("scheduler.json");
        m.body = r#"{"source_album_id":"a","destination_id":"b","organization_id":"o","execution_id":"given"}"#.into();
        let Work::Scheduled { run, .. } = failed(parse_message(&m)).work else {
            panic!("scheduled work")
        };
        assert_eq!(run.delivery_key, "given");
    }

    #[test]
    fn a_stream_failure_record_points_at_its_batch() {
        let f = failed(parse_message(&message("worker.json")));
        assert_eq!(f.kind, Kind::WorkerJob);
        assert_eq!(f.error.code.as_deref(), Some("Unhandled"));
        assert_eq!(
            f.error.message.as_deref(),
            Some("RetryAttemptsExhausted after 6 invocations (status 200)")
        );
        assert_eq!(f.when.as_deref(), Some("2026-11-30T06:31:12.842Z"));
        assert_eq!(
            f.work,
            Work::Worker(StreamBatch {
                stream_arn: "arn:aws:dynamodb:eu-west-1:123456789012:table/album-api-AlbumsTable-1A2B3C4D5E6F/stream/2026-11-02T09:14:07.311".into(),
                shard_id: "shardId-00000001764400000000-4f1e2d3c".into(),
                start_sequence_number: "4421584500000000017450439091".into(),
                end_sequence_number: "4421584500000000017450439091".into(),
                batch_size: Some(1),
            })
        );
    }

    #[test]
    fn unreadable_messages_say_why_and_keep_what_they_report() {
        let cases = [
            ("not json at all", BTreeMap::new(), None),
            ("{\"hello\": 1}", BTreeMap::new(), None),
            (
                "{\"source_album_id\": \"a\"}",
                BTreeMap::from([
                    ("RequestID".to_string(), "r-1".to_string()),
                    ("ErrorCode".to_string(), "200".to_string()),
                    (
                        "ErrorMessage".to_string(),
                        "invalid duplication input".to_string(),
                    ),
                ]),
                Some(Kind::AsyncInvoke),
            ),
            (
                "{oops",
                BTreeMap::from([("ERROR_CODE".to_string(), "AWS.Scheduler.X".to_string())]),
                Some(Kind::Schedule),
            ),
            (
                "{\"DDBStreamBatchInfo\": {\"shardId\": \"s\"}}",
                BTreeMap::new(),
                Some(Kind::WorkerJob),
            ),
        ];
        for (body, attributes, kind) in cases {
            let m = RawMessage {
                message_id: "m-1".into(),
                body: body.into(),
                attributes,
                sent_ms: Some(1_796_000_000_000),
            };
            match parse_message(&m) {
                Parsed::Unreadable {
                    message_id,
                    reason,
                    kind: k,
                    when,
                    ..
                } => {
                    assert_eq!(message_id, "m-1");
                    assert!(!reason.is_empty());
                    assert_eq!(k, kind, "{body}");
                    assert!(when.is_some());
                }
                other => panic!("{body}: expected unreadable, got {other:?}"),
            }
        }
        let empty = RawMessage::default();
        assert!(matches!(parse_message(&empty), Parsed::Unreadable { .. }));
    }
}
