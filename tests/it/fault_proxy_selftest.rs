//! Self-test of the fault-injecting proxy (`tests/it/support/fault_proxy.rs`) with the real
//! `aws_sdk_dynamodb` client in front of a DynamoDB emulator.
//!
//! Needs `AWS_ENDPOINT_URL_DYNAMODB` (e.g. `http://127.0.0.1:4600` for
//! `node node_modules/dynalite/cli.js --port 4600 --createTableMs 0`); the tests fail, rather
//! than pass vacuously, when it is unset. Results are always checked through a second client
//! that talks to the emulator directly, never through the proxy under test.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::fault_proxy::{FaultConfig, FaultProxy};
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::RequestId;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, PutRequest,
    ScalarAttributeType, TableStatus, WriteRequest,
};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use rand::SeedableRng;
use rand::rngs::StdRng;

type Key = (String, String);

/// The emulator endpoint; panics with instructions when it is not configured.
fn emulator_endpoint() -> String {
    match std::env::var("AWS_ENDPOINT_URL_DYNAMODB") {
        Ok(v) if !v.trim().is_empty() => v.trim().to_string(),
        _ => panic!(
            "AWS_ENDPOINT_URL_DYNAMODB is not set: the fault-proxy self-tests need a DynamoDB \
             emulator. Start one, e.g. `node node_modules/dynalite/cli.js --port 4600 \
             --createTableMs 0 --deleteTableMs 0 --updateTableMs 0`, and run \
             `AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:4600 cargo test --test it fault_proxy_selftest`"
        ),
    }
}

/// An SDK client for `endpoint` with retries disabled, so every injected fault is visible.
async fn client_for(endpoint: &str) -> Client {
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region("us-east-1")
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(30))
                .build(),
        )
        .load()
        .await;
    // Set the endpoint on the service config as well, so it wins over any
    // AWS_ENDPOINT_URL_DYNAMODB in the environment whatever the SDK's precedence rules.
    let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .endpoint_url(endpoint)
        .build();
    Client::from_conf(conf)
}

/// A table name no other test (or earlier run against the same emulator) uses.
fn unique_table(tag: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "fp-selftest-{tag}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// `CreateTable` (`pk` S hash, `sk` S range, on-demand) and wait until it is ACTIVE.
async fn create_table(client: &Client, table: &str) {
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr_def("pk"))
        .attribute_definitions(attr_def("sk"))
        .key_schema(key_elem("pk", KeyType::Hash))
        .key_schema(key_elem("sk", KeyType::Range))
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateTable {table}: {e:?}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DescribeTable {table}: {e:?}"));
        if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "table {table} never became ACTIVE"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Best-effort clean-up, so a long-running emulator does not fill up with test tables.
async fn delete_table(client: &Client, table: &str) {
    let _ = client.delete_table().table_name(table).send().await;
}

fn attr_def(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("attribute definition")
}

fn key_elem(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .expect("key schema element")
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

/// The i-th test item: key (`album#selftest`, `photo#NN`) plus a couple of payload attributes.
fn item(i: usize) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_string(), s("album#selftest")),
        ("sk".to_string(), s(&format!("photo#{i:02}"))),
        ("n".to_string(), AttributeValue::N(i.to_string())),
        ("caption".to_string(), s(&format!("caption {i} ✓"))),
    ])
}

fn put(i: usize) -> WriteRequest {
    WriteRequest::builder()
        .put_request(
            PutRequest::builder()
                .set_item(Some(item(i)))
                .build()
                .expect("put request"),
        )
        .build()
}

fn key_of(attrs: &HashMap<String, AttributeValue>) -> Key {
    let get = |name: &str| match attrs.get(name) {
        Some(AttributeValue::S(v)) => v.clone(),
        other => panic!("attribute {name} is not a string: {other:?}"),
    };
    (get("pk"), get("sk"))
}

fn keys_of_writes(writes: &[WriteRequest]) -> BTreeSet<Key> {
    writes
        .iter()
        .map(|w| {
            key_of(
                w.put_request()
                    .expect("only PutRequests are written by these tests")
                    .item(),
            )
        })
        .collect()
}

fn all_keys(n: usize) -> BTreeSet<Key> {
    (0..n).map(|i| key_of(&item(i))).collect()
}

/// Every item of `table`, read straight from the emulator (paginated Scan).
async fn scan_items(direct: &Client, table: &str) -> Vec<HashMap<String, AttributeValue>> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = direct
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap_or_else(|e| panic!("Scan {table}: {e:?}"));
        items.extend(out.items().iter().cloned());
        match out.last_evaluated_key() {
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => return items,
        }
    }
}

async fn scan_keys(direct: &Client, table: &str) -> BTreeSet<Key> {
    scan_items(direct, table).await.iter().map(key_of).collect()
}

/// Unprocessed writes for `table` from a BatchWriteItem answer.
fn unprocessed_for(
    out: &aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemOutput,
    table: &str,
) -> Vec<WriteRequest> {
    let unprocessed = out.unprocessed_items().cloned().unwrap_or_default();
    for other in unprocessed.keys() {
        assert_eq!(other, table, "UnprocessedItems names an unexpected table");
    }
    unprocessed.get(table).cloned().unwrap_or_default()
}

/// Proxy, a client through it and a client straight to the emulator.
async fn setup(cfg: FaultConfig) -> (FaultProxy, Client, Client) {
    let upstream = emulator_endpoint();
    let proxy = FaultProxy::start(&upstream, cfg).await;
    let via_proxy = client_for(&proxy.endpoint()).await;
    let direct = client_for(&upstream).await;
    (proxy, via_proxy, direct)
}

/// (a) `UnprocessedItems` injection: the answer lists a non-empty subset of the batch, exactly
/// the other items are stored, and resubmitting the unprocessed writes converges to all 25.
#[tokio::test]
async fn unprocessed_items_are_deferred_and_resubmission_completes() {
    let cfg = FaultConfig {
        unprocessed_rate: 1.0,
        operations: vec!["BatchWriteItem".into()],
        seed: 42,
        ..FaultConfig::default()
    };
    let (proxy, client, direct) = setup(cfg.clone()).await;
    let table = unique_table("unprocessed");
    // CreateTable is not targeted, so it goes through the proxy untouched even with faults on.
    create_table(&client, &table).await;

    let everything = all_keys(25);
    let out = client
        .batch_write_item()
        .request_items(&table, (0..25).map(put).collect())
        .send()
        .await
        .expect("BatchWriteItem through the proxy");
    let pending = unprocessed_for(&out, &table);
    let deferred = keys_of_writes(&pending);
    assert!(!pending.is_empty(), "no UnprocessedItems were injected");
    assert_eq!(deferred.len(), pending.len(), "a write was deferred twice");
    assert!(deferred.is_subset(&everything));
    let expected: BTreeSet<Key> = everything.difference(&deferred).cloned().collect();
    assert_eq!(
        scan_keys(&direct, &table).await,
        expected,
        "the emulator must hold exactly the writes that were not deferred"
    );
    // Deferred writes come back intact (all attributes, not only the key).
    for w in &pending {
        let written = w.put_request().unwrap().item();
        let i: usize = match written.get("n") {
            Some(AttributeValue::N(n)) => n.parse().unwrap(),
            other => panic!("bad n: {other:?}"),
        };
        assert_eq!(written, &item(i));
    }

    let stats = proxy.stats();
    assert_eq!(stats.batch_write, 1);
    assert_eq!(stats.unprocessed_calls, 1);
    assert_eq!(stats.items_deferred, pending.len() as u64);
    assert_eq!(stats.calls("CreateTable"), 1);

    // Resubmit what came back, as the application's retry loop would. While the rate is 1.0
    // every call defers at least one write; after a few rounds, lower the rate so it finishes.
    let mut pending = pending;
    let mut total_deferred = stats.items_deferred;
    let mut rounds = 0;
    while !pending.is_empty() {
        rounds += 1;
        assert!(rounds <= 60, "resubmission did not converge: {pending:?}");
        if rounds == 5 {
            proxy.set_config(FaultConfig {
                unprocessed_rate: 0.3,
                ..cfg.clone()
            });
        }
        let before = keys_of_writes(&pending);
        let out = client
            .batch_write_item()
            .request_items(&table, pending.clone())
            .send()
            .await
            .expect("resubmitted BatchWriteItem");
        let next = unprocessed_for(&out, &table);
        let after = keys_of_writes(&next);
        assert!(
            after.is_subset(&before),
            "proxy invented unprocessed writes"
        );
        if rounds < 5 {
            assert!(!next.is_empty(), "rate 1.0 must always defer something");
        }
        total_deferred += next.len() as u64;
        pending = next;
    }

    let items = scan_items(&direct, &table).await;
    assert_eq!(items.len(), 25);
    for stored in &items {
        let i: usize = stored["sk"].as_s().unwrap()[6..].parse().unwrap();
        assert_eq!(
            stored,
            &item(i),
            "stored item differs from what was written"
        );
    }
    let stats = proxy.stats();
    assert_eq!(stats.batch_write, 1 + rounds);
    assert_eq!(stats.items_deferred, total_deferred);
    assert!(stats.unprocessed_calls >= 5);
    assert_eq!(stats.throttled + stats.server_errors + stats.resets, 0);
    delete_table(&direct, &table).await;
}

/// (b) Throttling: every call gets ProvisionedThroughputExceededException or
/// ThrottlingException (both kinds occur), nothing reaches the emulator, nothing is written.
#[tokio::test]
async fn throttling_errors_are_returned_and_nothing_is_written() {
    let (proxy, client, direct) = setup(FaultConfig {
        throttle_rate: 1.0,
        seed: 7,
        ..FaultConfig::default()
    })
    .await;
    let table = unique_table("throttle");
    create_table(&direct, &table).await;

    let (mut ptee, mut throttling) = (0, 0);
    for i in 0..12 {
        let err = client
            .put_item()
            .table_name(&table)
            .set_item(Some(item(i)))
            .send()
            .await
            .expect_err("PutItem must be throttled");
        assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
        let err = err.into_service_error();
        match err.code() {
            Some("ProvisionedThroughputExceededException") => {
                assert!(err.is_provisioned_throughput_exceeded_exception());
                ptee += 1;
            }
            Some("ThrottlingException") => {
                assert!(err.is_throttling_exception());
                throttling += 1;
            }
            other => panic!("unexpected error code {other:?}: {err:?}"),
        }
    }
    for _ in 0..4 {
        let err = client
            .batch_write_item()
            .request_items(&table, (0..25).map(put).collect())
            .send()
            .await
            .expect_err("BatchWriteItem must be throttled")
            .into_service_error();
        assert!(
            err.is_provisioned_throughput_exceeded_exception() || err.is_throttling_exception(),
            "unexpected error: {err:?}"
        );
    }
    assert!(
        ptee > 0 && throttling > 0,
        "both throttling flavours should occur (ptee={ptee}, throttling={throttling})"
    );

    assert!(
        scan_keys(&direct, &table).await.is_empty(),
        "a throttled write was stored"
    );
    let stats = proxy.stats();
    assert_eq!(stats.throttled, 16);
    // The 12 PutItem answers are known; the 4 BatchWriteItem ones may be either kind.
    let te = stats.throttling_exceptions as usize;
    assert!((throttling..=throttling + 4).contains(&te), "{stats:?}");
    assert_eq!(stats.calls("PutItem"), 12);
    assert_eq!(stats.batch_write, 4);
    assert_eq!(stats.forwarded, 0);
    delete_table(&direct, &table).await;
}

/// `deletes_only`: batches that only put pass, a batch with a delete is faulted, other
/// operations pass.
#[tokio::test]
async fn deletes_only_faults_the_batches_that_delete_and_nothing_else() {
    let (proxy, client, direct) = setup(FaultConfig {
        throttle_rate: 1.0,
        deletes_only: true,
        seed: 9,
        ..FaultConfig::default()
    })
    .await;
    let table = unique_table("deletes-only");
    create_table(&direct, &table).await;
    client
        .batch_write_item()
        .request_items(&table, (0..10).map(put).collect())
        .send()
        .await
        .expect("a batch of puts passes");
    client
        .put_item()
        .table_name(&table)
        .set_item(Some(item(10)))
        .send()
        .await
        .expect("PutItem passes");
    let delete = |i: usize| {
        let mut key = item(i);
        key.retain(|k, _| k == "pk" || k == "sk");
        WriteRequest::builder()
            .delete_request(
                aws_sdk_dynamodb::types::DeleteRequest::builder()
                    .set_key(Some(key))
                    .build()
                    .expect("delete request"),
            )
            .build()
    };
    let err = client
        .batch_write_item()
        .request_items(&table, vec![put(11), delete(0)])
        .send()
        .await
        .expect_err("a batch with a delete is throttled")
        .into_service_error();
    assert!(
        err.is_provisioned_throughput_exceeded_exception() || err.is_throttling_exception(),
        "{err:?}"
    );
    assert_eq!(scan_keys(&direct, &table).await, all_keys(11));
    let stats = proxy.stats();
    assert_eq!((stats.targeted, stats.throttled), (1, 1), "{stats:?}");
    delete_table(&direct, &table).await;
}

/// (c) Server errors: the SDK sees a 500 `InternalServerError` and nothing is written.
#[tokio::test]
async fn server_errors_are_returned_as_500() {
    let (proxy, client, direct) = setup(FaultConfig {
        server_error_rate: 1.0,
        operations: vec!["PutItem".into(), "DynamoDB_20120810.BatchWriteItem".into()],
        seed: 3,
        ..FaultConfig::default()
    })
    .await;
    let table = unique_table("server-error");
    create_table(&client, &table).await; // not targeted: passes

    let err = client
        .put_item()
        .table_name(&table)
        .set_item(Some(item(0)))
        .send()
        .await
        .expect_err("PutItem must fail with 500");
    let SdkError::ServiceError(ref service) = err else {
        panic!("expected a service error, got {err:?}");
    };
    assert_eq!(service.raw().status().as_u16(), 500);
    assert!(service.err().is_internal_server_error(), "{err:?}");
    assert_eq!(service.err().code(), Some("InternalServerError"));
    assert!(
        service
            .err()
            .meta()
            .request_id()
            .is_some_and(|id| id.starts_with("FAULTPROXY")),
        "injected x-amzn-RequestId missing: {err:?}"
    );

    let err = client
        .batch_write_item()
        .request_items(&table, (0..25).map(put).collect())
        .send()
        .await
        .expect_err("BatchWriteItem must fail with 500");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(500));
    assert!(err.into_service_error().is_internal_server_error());

    assert!(scan_keys(&direct, &table).await.is_empty());
    let stats = proxy.stats();
    assert_eq!(stats.server_errors, 2);
    assert_eq!(stats.targeted, 2);
    // Only the untargeted CreateTable / DescribeTable calls were forwarded.
    assert_eq!(
        stats.forwarded,
        stats.calls("CreateTable") + stats.calls("DescribeTable")
    );
    delete_table(&direct, &table).await;
}

/// (d) Connection resets: the SDK sees a dispatch (I/O) failure, the request never reaches the
/// emulator, and once faults are switched off the same client works again.
#[tokio::test]
async fn resets_give_dispatch_errors_and_are_not_forwarded() {
    let (proxy, client, direct) = setup(FaultConfig {
        reset_rate: 1.0,
        operations: vec!["PutItem".into(), "BatchWriteItem".into()],
        seed: 11,
        ..FaultConfig::default()
    })
    .await;
    let table = unique_table("reset");
    create_table(&direct, &table).await;

    for i in 0..3 {
        let err = client
            .put_item()
            .table_name(&table)
            .set_item(Some(item(i)))
            .send()
            .await
            .expect_err("PutItem must fail when the connection is reset");
        match &err {
            SdkError::DispatchFailure(failure) => {
                assert!(
                    failure.is_io(),
                    "expected an I/O dispatch failure: {failure:?}"
                );
            }
            other => panic!("expected a dispatch failure, got {other:?}"),
        }
    }
    let err = client
        .batch_write_item()
        .request_items(&table, (0..25).map(put).collect())
        .send()
        .await
        .expect_err("BatchWriteItem must fail when the connection is reset");
    assert!(matches!(err, SdkError::DispatchFailure(_)), "{err:?}");

    assert!(
        scan_keys(&direct, &table).await.is_empty(),
        "a reset request was forwarded"
    );
    let stats = proxy.stats();
    assert_eq!(stats.resets, 4);
    assert_eq!(stats.forwarded, 0);

    // Turn faults off at run time: the same client recovers on a fresh connection.
    proxy.set_config(FaultConfig::none());
    client
        .put_item()
        .table_name(&table)
        .set_item(Some(item(7)))
        .send()
        .await
        .expect("PutItem after faults were switched off");
    assert_eq!(
        scan_keys(&direct, &table).await,
        BTreeSet::from([key_of(&item(7))])
    );
    assert_eq!(proxy.stats().resets, 4);
    delete_table(&direct, &table).await;
}

/// (e) With every rate at 0 the proxy is transparent: CreateTable, PutItem, GetItem and a full
/// BatchWriteItem behave exactly as against the emulator, and no fault is counted.
#[tokio::test]
async fn zero_rates_pass_traffic_unchanged() {
    let (proxy, client, direct) = setup(FaultConfig {
        seed: 5,
        ..FaultConfig::default()
    })
    .await;
    let table = unique_table("passthrough");
    create_table(&client, &table).await;

    client
        .put_item()
        .table_name(&table)
        .set_item(Some(item(1)))
        .send()
        .await
        .expect("PutItem through the proxy");
    let got = client
        .get_item()
        .table_name(&table)
        .key("pk", s("album#selftest"))
        .key("sk", s("photo#01"))
        .consistent_read(true)
        .send()
        .await
        .expect("GetItem through the proxy");
    assert_eq!(got.item(), Some(&item(1)));
    let missing = client
        .get_item()
        .table_name(&table)
        .key("pk", s("album#selftest"))
        .key("sk", s("photo#99"))
        .send()
        .await
        .expect("GetItem of a missing key");
    assert!(missing.item().is_none());

    let out = client
        .batch_write_item()
        .request_items(&table, (0..25).map(put).collect())
        .send()
        .await
        .expect("BatchWriteItem through the proxy");
    assert!(unprocessed_for(&out, &table).is_empty());
    assert_eq!(scan_keys(&direct, &table).await, all_keys(25));

    // Errors from the emulator pass through unchanged too.
    let err = client
        .put_item()
        .table_name(format!("{table}-missing"))
        .set_item(Some(item(1)))
        .send()
        .await
        .expect_err("PutItem into a missing table");
    assert!(err.into_service_error().is_resource_not_found_exception());

    let stats = proxy.stats();
    assert_eq!(stats.faults(), 0, "{stats:?}");
    assert_eq!(stats.items_deferred, 0);
    assert_eq!(stats.forwarded, stats.total);
    assert_eq!(stats.calls("PutItem"), 2);
    assert_eq!(stats.calls("GetItem"), 2);
    assert_eq!(stats.calls("CreateTable"), 1);
    assert_eq!(stats.batch_write, 1);
    assert_eq!(stats.upstream_errors, 0);
    delete_table(&direct, &table).await;
}

/// Delays: targeted calls are held for `delay` and then forwarded normally.
#[tokio::test]
async fn delayed_calls_are_slow_but_succeed() {
    let delay = Duration::from_millis(300);
    let (proxy, client, direct) = setup(FaultConfig {
        delay_rate: 1.0,
        delay,
        operations: vec!["getitem".into()],
        seed: 9,
        ..FaultConfig::default()
    })
    .await;
    let table = unique_table("delay");
    create_table(&direct, &table).await;
    client
        .put_item()
        .table_name(&table)
        .set_item(Some(item(2)))
        .send()
        .await
        .expect("PutItem (not delayed)");

    let started = Instant::now();
    let got = client
        .get_item()
        .table_name(&table)
        .key("pk", s("album#selftest"))
        .key("sk", s("photo#02"))
        .send()
        .await
        .expect("delayed GetItem");
    assert!(started.elapsed() >= delay, "GetItem was not delayed");
    assert_eq!(got.item(), Some(&item(2)));
    let stats = proxy.stats();
    assert_eq!(stats.delayed, 1);
    assert_eq!(stats.targeted, 1);
    delete_table(&direct, &table).await;
}

/// Non-DynamoDB and non-JSON traffic is passed through untouched even with every fault at
/// 100%: answers match what the emulator gives directly.
#[tokio::test]
async fn untargeted_and_non_json_traffic_passes_through() {
    let upstream = emulator_endpoint();
    let proxy = FaultProxy::start(
        &upstream,
        FaultConfig {
            unprocessed_rate: 1.0,
            operations: vec!["BatchWriteItem".into()],
            seed: 1,
            ..FaultConfig::default()
        },
    )
    .await;
    let http = HyperClient::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let send = |base: String, target: Option<&'static str>, body: &'static [u8]| {
        let http = http.clone();
        async move {
            let mut req = hyper::Request::builder()
                .method(if body.is_empty() { "GET" } else { "POST" })
                .uri(format!("{base}/"))
                .header("content-type", "application/x-amz-json-1.0");
            if let Some(target) = target {
                req = req.header("x-amz-target", target);
            }
            let resp = http
                .request(req.body(Full::new(Bytes::from_static(body))).unwrap())
                .await
                .expect("raw HTTP request");
            let status = resp.status();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            (status, body)
        }
    };

    let cases: [(Option<&'static str>, &'static [u8]); 4] = [
        (None, b""),
        (None, b"{\"hello\": 1}"),
        (
            Some("DynamoDB_20120810.BatchWriteItem"),
            b"this is not json",
        ),
        (
            Some("DynamoDB_20120810.BatchWriteItem"),
            b"{\"RequestItems\": \"not a map\"}",
        ),
    ];
    for (target, body) in cases {
        let direct = send(upstream.clone(), target, body).await;
        let proxied = send(proxy.endpoint(), target, body).await;
        assert_eq!(proxied, direct, "target={target:?} body={body:?}");
    }
    let stats = proxy.stats();
    assert_eq!(stats.total, 4);
    assert_eq!(stats.forwarded, 4);
    assert_eq!(stats.batch_write, 2);
    assert_eq!(stats.unprocessed_calls, 0);
}

/// Dropping the proxy stops it: new connections are refused.
#[tokio::test]
async fn dropping_the_proxy_stops_it() {
    let proxy = FaultProxy::start(&emulator_endpoint(), FaultConfig::none()).await;
    let addr = proxy.endpoint().trim_start_matches("http://").to_string();
    drop(proxy);
    tokio::task::yield_now().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while tokio::net::TcpStream::connect(&addr).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "proxy still accepting after drop"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// Unit tests of the body rewriting, independent of the emulator.

fn batch_body(n: usize) -> Vec<u8> {
    let writes: Vec<serde_json::Value> = (0..n)
        .map(|i| serde_json::json!({"PutRequest": {"Item": {"pk": {"S": format!("k{i}")}}}}))
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "RequestItems": {"t": writes},
        "ReturnConsumedCapacity": "TOTAL"
    }))
    .unwrap()
}

#[test]
fn split_defers_at_least_one_and_keeps_every_item_once() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut saw_all = false;
    let mut saw_partial = false;
    for round in 0..200 {
        let n = 1 + round % 30;
        let (request, items) = crate::support::fault_proxy::parse_batch(&batch_body(n)).unwrap();
        let d = crate::support::fault_proxy::split_batch(&mut rng, request, items);
        let kept = d.kept_request["RequestItems"]
            .get("t")
            .and_then(serde_json::Value::as_array)
            .map_or(0, Vec::len);
        let deferred = d.deferred["t"].as_array().unwrap().len();
        assert!(deferred >= 1);
        assert_eq!(kept + deferred, n);
        assert_eq!(d.deferred_count as usize, deferred);
        assert_eq!(d.all, kept == 0);
        assert_eq!(d.kept_request["ReturnConsumedCapacity"], "TOTAL");
        saw_all |= d.all && n > 1;
        saw_partial |= !d.all;
    }
    assert!(saw_all && saw_partial);
}

#[test]
fn merge_appends_to_existing_unprocessed_items() {
    let upstream = br#"{"UnprocessedItems":{"t":[{"DeleteRequest":{"Key":{"pk":{"S":"x"}}}}]}}"#;
    let mut deferred = serde_json::Map::new();
    deferred.insert(
        "t".into(),
        serde_json::json!([{"PutRequest": {"Item": {}}}]),
    );
    deferred.insert(
        "u".into(),
        serde_json::json!([{"PutRequest": {"Item": {}}}]),
    );
    let merged =
        albumctl::proxy::merge_unprocessed(upstream, "UnprocessedItems", deferred.clone()).unwrap();
    let merged: serde_json::Value = serde_json::from_slice(&merged).unwrap();
    assert_eq!(merged["UnprocessedItems"]["t"].as_array().unwrap().len(), 2);
    assert_eq!(merged["UnprocessedItems"]["u"].as_array().unwrap().len(), 1);
    let from_empty =
        albumctl::proxy::merge_unprocessed(b"{}", "UnprocessedItems", deferred).unwrap();
    let from_empty: serde_json::Value = serde_json::from_slice(&from_empty).unwrap();
    assert_eq!(
        from_empty["UnprocessedItems"]["u"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(
        albumctl::proxy::merge_unprocessed(b"not json", "UnprocessedItems", serde_json::Map::new())
            .is_none()
    );
}

#[test]
fn unexpected_bodies_are_not_batches_and_rates_never_panic() {
    for body in [
        &b""[..],
        b"[1,2]",
        br#"{"RequestItems": {"t": 3}}"#,
        br#"{"RequestItems": {}}"#,
    ] {
        assert!(crate::support::fault_proxy::parse_batch(body).is_none());
    }
    let mut rng = StdRng::seed_from_u64(1);
    assert!(!crate::support::fault_proxy::roll(&mut rng, f64::NAN));
    assert!(!crate::support::fault_proxy::roll(&mut rng, -1.0));
    assert!(crate::support::fault_proxy::roll(&mut rng, 1.0));
    assert!(crate::support::fault_proxy::roll(&mut rng, 7.0));
}
