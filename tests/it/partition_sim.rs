//! Self-tests of the production-physics simulator
//! (`albumctl::partition_sim`): exact accounting of write and read units per
//! partition of the table and of its indexes, DynamoDB's throttling shapes
//! through the real SDK client (its retries off), and an upper bound on what
//! one partition admits over time. Run in-process in front of the emulator
//! (dynalite or moto); items are set up and checked through a client that
//! goes to the emulator directly.
//!
//! The tests that count throttles use a clock moved by hand, so no figure
//! depends on how fast the machine is; the one on the real clock asserts
//! only an upper bound. How fast one key really goes (~1,000 items/s of
//! 1 KB at DynamoDB's limit) is measured by `make bench`, not here.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use albumctl::partition_sim::{self, Clock, Limits, LoadOptions, PartitionSim, Schema, SimConfig};
use albumctl::schema;
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, PutRequest, Select, WriteRequest,
};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::support::{client_for, emulator_endpoint, unique_table};

type Item = HashMap<String, AttributeValue>;

const UNLIMITED: Limits = Limits {
    wcu_per_partition: 1e9,
    rcu_per_partition: 1e9,
};

/// The SDK's client with its retries off, so every throttle reaches the test.
async fn no_retries(endpoint: &str) -> Client {
    let sdk = aws_config::defaults(BehaviorVersion::latest())
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
    let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .endpoint_url(endpoint)
        .build();
    Client::from_conf(conf)
}

struct Setup {
    sim: PartitionSim,
    /// Through the simulator, no retries.
    client: Client,
    /// Straight to the emulator.
    direct: Client,
    table: String,
}

async fn setup(tag: &str, limits: Limits, clock: Clock) -> Setup {
    let upstream = emulator_endpoint();
    let direct = client_for(&upstream).await;
    let table = unique_table(tag);
    schema::create_table(&direct, &table).await.unwrap();
    let sim = PartitionSim::start(
        &upstream,
        "127.0.0.1:0".parse().unwrap(),
        SimConfig {
            limits,
            schema: Schema::shipped().unwrap(),
            clock,
        },
    )
    .await
    .unwrap();
    let client = no_retries(&sim.endpoint()).await;
    Setup {
        sim,
        client,
        direct,
        table,
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

/// An item of exactly `total` bytes by DynamoDB's rule: `attrs` and a
/// padding attribute `d`.
fn sized(attrs: &[(&str, &str)], total: usize) -> Item {
    let used: usize = attrs.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>() + 1;
    let mut item: Item = attrs.iter().map(|(k, v)| (k.to_string(), s(v))).collect();
    item.insert("d".into(), s(&"x".repeat(total - used)));
    assert_eq!(album_api::store::item_size(&item), total);
    item
}

fn key(pk: &str, sk: &str) -> Item {
    [("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))].into()
}

fn put(item: Item) -> WriteRequest {
    WriteRequest::builder()
        .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
        .build()
}

async fn put_direct(setup: &Setup, item: Item) {
    setup
        .direct
        .put_item()
        .table_name(&setup.table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
}

async fn exists(setup: &Setup, pk: &str, sk: &str) -> bool {
    setup
        .direct
        .get_item()
        .table_name(&setup.table)
        .set_key(Some(key(pk, sk)))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .is_some()
}

fn is_throttle<E: ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("ProvisionedThroughputExceededException")
}

#[tokio::test]
async fn writes_are_charged_per_started_kb_to_the_table_and_index_partitions() {
    let st = setup("sim-writes", UNLIMITED, Clock::manual()).await;
    let t = st.table.as_str();
    // An image of 1,500 bytes: 2 units; its by_image entry (pk, sk, iid): 1.
    let image = sized(
        &[
            ("pk", "A#alb"),
            ("sk", "I#0000000000001#img1"),
            ("iid", "img1"),
        ],
        1500,
    );
    st.client
        .put_item()
        .table_name(t)
        .set_item(Some(image))
        .send()
        .await
        .unwrap();
    // An album: 1 unit, and its by_organization entry (organization_id, sk): 1.
    let album: Item = [
        ("pk".to_string(), s("A#alb")),
        ("sk".to_string(), s("A")),
        ("organization_id".to_string(), s("org1")),
        ("images_count".to_string(), AttributeValue::N("0".into())),
    ]
    .into();
    st.client
        .put_item()
        .table_name(t)
        .set_item(Some(album))
        .send()
        .await
        .unwrap();
    // In one batch: a tag image (1 unit, and by_image and by_tag entries),
    // and items of exactly 1,024 bytes (1 unit) and 1,025 (2 units).
    let tag_image = sized(
        &[
            ("pk", "A#alb"),
            ("sk", "G#0000000000001#img1#tag1"),
            ("iid", "ti1"),
            ("tg", "tag1"),
        ],
        300,
    );
    let batch = vec![
        put(tag_image),
        put(sized(&[("pk", "A#k1024"), ("sk", "x")], 1024)),
        put(sized(&[("pk", "A#k1025"), ("sk", "x")], 1025)),
    ];
    let out = st
        .client
        .batch_write_item()
        .request_items(t, batch)
        .send()
        .await
        .unwrap();
    assert!(out.unprocessed_items.unwrap_or_default().is_empty());
    // A delete: 1 unit whatever the old item weighed (a proxy cannot know).
    st.client
        .delete_item()
        .table_name(t)
        .set_key(Some(key("A#k1025", "x")))
        .send()
        .await
        .unwrap();
    // An update: its key and values (11 bytes here): 1 unit.
    st.client
        .update_item()
        .table_name(t)
        .set_key(Some(key("A#alb", "A")))
        .update_expression("SET images_count = :c")
        .expression_attribute_values(":c", AttributeValue::N("1".into()))
        .send()
        .await
        .unwrap();

    let stats = st.sim.stats();
    let wcu = |index: Option<&str>, k: &str| stats.partition(t, index, k).wcu;
    assert_eq!(wcu(None, "A#alb"), 2.0 + 1.0 + 1.0 + 1.0);
    assert_eq!(wcu(Some("by_image"), "img1"), 1.0);
    assert_eq!(wcu(Some("by_image"), "ti1"), 1.0);
    assert_eq!(wcu(Some("by_organization"), "org1"), 1.0);
    assert_eq!(wcu(Some("by_tag"), "tag1"), 1.0);
    assert_eq!(wcu(None, "A#k1024"), 1.0);
    assert_eq!(wcu(None, "A#k1025"), 2.0 + 1.0);
    assert_eq!(stats.totals.wcu, 13.0);
    assert_eq!(stats.target(t, Some("by_image")).wcu, 2.0);
    assert_eq!(stats.operation("PutItem").wcu, 5.0);
    assert_eq!(stats.operation("BatchWriteItem").wcu, 6.0);
    assert_eq!(stats.totals.rcu, 0.0);
    assert_eq!((stats.totals.throttled, stats.totals.deferred), (0, 0));
    // Everything reached the emulator.
    assert!(exists(&st, "A#alb", "I#0000000000001#img1").await);
    assert!(exists(&st, "A#alb", "G#0000000000001#img1#tag1").await);
    assert!(exists(&st, "A#k1024", "x").await);
    assert!(!exists(&st, "A#k1025", "x").await);
}

#[tokio::test]
async fn reads_are_charged_per_started_4_kb_consistent_in_full_eventual_at_half() {
    let st = setup("sim-reads", UNLIMITED, Clock::manual()).await;
    let t = st.table.as_str();
    put_direct(&st, sized(&[("pk", "A#r"), ("sk", "I#big")], 5000)).await;
    for n in 1..=3 {
        let sk = format!("I#{n}");
        let iid = format!("q{n}");
        put_direct(
            &st,
            sized(&[("pk", "A#q"), ("sk", &sk), ("iid", &iid)], 1500),
        )
        .await;
    }
    let get = |k: Item, consistent: bool| {
        st.client
            .get_item()
            .table_name(t)
            .set_key(Some(k))
            .consistent_read(consistent)
    };
    // 5,000 bytes: 2 units strongly consistent, 1 eventually.
    assert!(
        get(key("A#r", "I#big"), true)
            .send()
            .await
            .unwrap()
            .item
            .is_some()
    );
    get(key("A#r", "I#big"), false).send().await.unwrap();
    // A missing item costs the minimum.
    assert!(
        get(key("A#r", "none"), true)
            .send()
            .await
            .unwrap()
            .item
            .is_none()
    );
    get(key("A#r", "none"), false).send().await.unwrap();
    // A projection answers less but reads (and costs) the whole item.
    let narrow = get(key("A#r", "I#big"), true)
        .projection_expression("sk")
        .send()
        .await
        .unwrap();
    assert_eq!(narrow.item.unwrap().len(), 1);
    assert_eq!(
        st.sim.stats().partition(t, None, "A#r").rcu,
        2.0 + 1.0 + 1.0 + 0.5 + 2.0
    );

    // A Query pays for the sum of what it reads: 4,500 bytes, 2 units (1 eventually),
    // whether it answers the items, some attributes or a count.
    let query = |consistent: bool| {
        st.client
            .query()
            .table_name(t)
            .key_condition_expression("pk = :pk AND begins_with(sk, :i)")
            .expression_attribute_values(":pk", s("A#q"))
            .expression_attribute_values(":i", s("I#"))
            .consistent_read(consistent)
    };
    assert_eq!(query(true).send().await.unwrap().count, 3);
    query(false).send().await.unwrap();
    query(true)
        .projection_expression("sk, d")
        .send()
        .await
        .unwrap();
    let counted = query(true).select(Select::Count).send().await.unwrap();
    assert_eq!(
        (counted.count, counted.items.unwrap_or_default().len()),
        (3, 0)
    );
    // An index read is eventually consistent and reads the index entry.
    let by_image = st
        .client
        .query()
        .table_name(t)
        .index_name("by_image")
        .key_condition_expression("#i = :i")
        .expression_attribute_names("#i", "iid")
        .expression_attribute_values(":i", s("q1"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_image.count, 1);
    // A batch read pays per item: 2 + 1, and 1 for the missing key, with a
    // projection or not.
    let keys = KeysAndAttributes::builder()
        .keys(key("A#r", "I#big"))
        .keys(key("A#q", "I#1"))
        .keys(key("A#q", "none"))
        .consistent_read(true)
        .projection_expression("pk")
        .build()
        .unwrap();
    let got = st
        .client
        .batch_get_item()
        .request_items(t, keys)
        .send()
        .await
        .unwrap();
    assert_eq!(got.responses.unwrap()[t].len(), 2);

    let stats = st.sim.stats();
    assert_eq!(stats.partition(t, None, "A#r").rcu, 6.5 + 2.0);
    assert_eq!(
        stats.partition(t, None, "A#q").rcu,
        2.0 + 1.0 + 2.0 + 2.0 + 1.0 + 1.0
    );
    assert_eq!(stats.partition(t, Some("by_image"), "q1").rcu, 0.5);
    assert_eq!(stats.totals.rcu, 8.5 + 9.0 + 0.5);
    assert_eq!(stats.operation("Query").rcu, 7.5);
    assert_eq!(stats.operation("BatchGetItem").rcu, 4.0);
    // The projected GetItem, Query and BatchGetItem and the COUNT were sized again.
    assert_eq!(stats.totals.sizing_reads, 4);
    assert_eq!(stats.totals.wcu, 0.0);
}

#[tokio::test]
async fn over_its_limit_a_partition_refuses_single_calls_as_dynamodb_does() {
    let limits = Limits {
        wcu_per_partition: 3.0,
        rcu_per_partition: 2.0,
    };
    let st = setup("sim-throttle", limits, Clock::manual()).await;
    let t = st.table.as_str();
    let put_1kb = |pk: &str, sk: &str| {
        st.client
            .put_item()
            .table_name(t)
            .set_item(Some(sized(&[("pk", pk), ("sk", sk)], 1000)))
            .send()
    };
    // One second's worth (3 units) goes at once; the fourth write does not.
    for n in 1..=3 {
        put_1kb("A#hot", &format!("{n}")).await.unwrap();
    }
    let refused = put_1kb("A#hot", "4").await.unwrap_err();
    let service = refused.as_service_error().expect("a service error");
    assert!(
        service.is_provisioned_throughput_exceeded_exception(),
        "{service:?}"
    );
    assert!(
        !exists(&st, "A#hot", "4").await,
        "a refused write is not forwarded"
    );
    // Another key has its own budget.
    put_1kb("A#cold", "1").await.unwrap();
    // A third of a second later, one more unit.
    st.sim.clock().advance(Duration::from_millis(334));
    put_1kb("A#hot", "4").await.unwrap();
    assert!(is_throttle(&put_1kb("A#hot", "5").await.unwrap_err()));

    // An index partition over its limit refuses the table's writes too.
    for n in 1..=3 {
        let pk = format!("A#img{n}");
        let item = sized(&[("pk", &pk), ("sk", "I#1"), ("iid", "shared")], 200);
        st.client
            .put_item()
            .table_name(t)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
    let item = sized(&[("pk", "A#img4"), ("sk", "I#1"), ("iid", "shared")], 200);
    let e = st
        .client
        .put_item()
        .table_name(t)
        .set_item(Some(item))
        .send()
        .await
        .unwrap_err();
    assert!(is_throttle(&e));

    // Reads: 8 KB strongly consistent is 2 units, the whole second's worth.
    put_direct(&st, sized(&[("pk", "A#read"), ("sk", "x")], 8000)).await;
    let get = || {
        st.client
            .get_item()
            .table_name(t)
            .set_key(Some(key("A#read", "x")))
            .consistent_read(true)
            .send()
    };
    get().await.unwrap();
    assert!(is_throttle(&get().await.unwrap_err()));
    // Half a unit back: admitted (not in debt), charged 2 when answered: in debt.
    st.sim.clock().advance(Duration::from_millis(250));
    get().await.unwrap();
    st.sim.clock().advance(Duration::from_millis(500));
    let q = st
        .client
        .query()
        .table_name(t)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", s("A#read"))
        .send()
        .await;
    assert!(
        is_throttle(&q.unwrap_err()),
        "the partition is still in debt"
    );

    let stats = st.sim.stats();
    let hot = stats.partition(t, None, "A#hot");
    assert_eq!((hot.wcu, hot.throttled), (4.0, 2));
    assert_eq!(stats.partition(t, None, "A#cold").throttled, 0);
    assert_eq!(stats.partition(t, Some("by_image"), "shared").throttled, 1);
    assert_eq!(stats.partition(t, None, "A#img4").throttled, 0);
    let read = stats.partition(t, None, "A#read");
    assert_eq!((read.rcu, read.throttled), (4.0, 2));
    assert_eq!(stats.totals.throttled, 5);
}

#[tokio::test]
async fn over_its_limit_a_partition_sends_batch_items_and_keys_back() {
    let limits = Limits {
        wcu_per_partition: 10.0,
        rcu_per_partition: 3.0,
    };
    let st = setup("sim-batch", limits, Clock::manual()).await;
    let t = st.table.as_str();
    let items = |pk: &str, from: usize, n: usize| -> Vec<WriteRequest> {
        (from..from + n)
            .map(|i| put(sized(&[("pk", pk), ("sk", &format!("{i:02}"))], 1000)))
            .collect()
    };
    let batch =
        |writes: Vec<WriteRequest>| st.client.batch_write_item().request_items(t, writes).send();
    // 25 items of 1 KB into one key: its 10 units take the first 10.
    let out = batch(items("A#batch", 0, 25)).await.unwrap();
    let back = out.unprocessed_items.unwrap().remove(t).unwrap();
    let back_sks: Vec<String> = back
        .iter()
        .map(|w| {
            w.put_request().unwrap().item()["sk"]
                .as_s()
                .unwrap()
                .clone()
        })
        .collect();
    assert_eq!(
        back_sks,
        (10..25).map(|i| format!("{i:02}")).collect::<Vec<_>>()
    );
    for i in 0..25 {
        assert_eq!(
            exists(&st, "A#batch", &format!("{i:02}")).await,
            i < 10,
            "item {i}"
        );
    }
    // Sent again at once: none is admitted, so the whole call is refused.
    assert!(is_throttle(&batch(back.clone()).await.unwrap_err()));
    // Two keys in one batch: the spent one's items come back, the other's go.
    let mut mixed = items("A#batch", 30, 5);
    mixed.extend(items("A#other", 0, 5));
    let out = batch(mixed).await.unwrap();
    let back_mixed = out.unprocessed_items.unwrap().remove(t).unwrap();
    assert_eq!(back_mixed.len(), 5);
    assert!(
        back_mixed
            .iter()
            .all(|w| w.put_request().unwrap().item()["pk"].as_s().unwrap() == "A#batch")
    );
    assert!(exists(&st, "A#other", "04").await);
    // A second later the key takes 10 more.
    st.sim.clock().advance(Duration::from_secs(1));
    let out = batch(back).await.unwrap();
    assert_eq!(out.unprocessed_items.unwrap().remove(t).unwrap().len(), 5);

    // BatchGetItem: a key whose partition is spent comes back unprocessed.
    put_direct(&st, sized(&[("pk", "A#bg"), ("sk", "x")], 12_000)).await;
    put_direct(&st, sized(&[("pk", "A#bg2"), ("sk", "y")], 100)).await;
    st.client
        .get_item()
        .table_name(t)
        .set_key(Some(key("A#bg", "x")))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    let both = KeysAndAttributes::builder()
        .keys(key("A#bg", "x"))
        .keys(key("A#bg2", "y"))
        .consistent_read(true)
        .build()
        .unwrap();
    let out = st
        .client
        .batch_get_item()
        .request_items(t, both)
        .send()
        .await
        .unwrap();
    let got = &out.responses.unwrap()[t];
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["pk"].as_s().unwrap(), "A#bg2");
    let unprocessed = out.unprocessed_keys.unwrap();
    assert_eq!(unprocessed[t].keys(), [key("A#bg", "x")]);
    assert_eq!(unprocessed[t].consistent_read(), Some(true));
    let alone = KeysAndAttributes::builder()
        .keys(key("A#bg", "x"))
        .build()
        .unwrap();
    let e = st
        .client
        .batch_get_item()
        .request_items(t, alone)
        .send()
        .await
        .unwrap_err();
    assert!(is_throttle(&e));

    let stats = st.sim.stats();
    let hot = stats.partition(t, None, "A#batch");
    assert_eq!(
        (hot.wcu, hot.deferred, hot.throttled),
        (20.0, 15 + 5 + 5, 1)
    );
    assert_eq!(stats.partition(t, None, "A#other").wcu, 5.0);
    let bg = stats.partition(t, None, "A#bg");
    assert_eq!((bg.rcu, bg.deferred, bg.throttled), (3.0, 1, 1));
    assert_eq!(stats.operation("BatchWriteItem").deferred, 25);
    assert_eq!(stats.operation("BatchGetItem").throttled, 1);
}

#[tokio::test]
async fn one_partition_never_admits_more_than_its_limit_over_time() {
    // Real time: whatever the machine's speed, what one key admits in T
    // seconds is at most the limit times T plus one second's burst.
    let limit = 40.0;
    let limits = Limits {
        wcu_per_partition: limit,
        rcu_per_partition: 3.0 * limit,
    };
    let st = setup("sim-rate", limits, Clock::real()).await;
    let opts = LoadOptions {
        table: st.table.clone(),
        keys: 1,
        item_bytes: 1024,
        warmup: Duration::ZERO,
        window: Duration::from_millis(1500),
        concurrency: 2,
        prefix: "A#rate".into(),
    };
    // The bucket is full from its first use on; time counts from before it.
    let started = Instant::now();
    let report = partition_sim::self_test_load(&st.client, &opts)
        .await
        .unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    assert!(
        report.items_total as f64 <= limit * elapsed + limit,
        "{} items in {elapsed:.2} s at {limit} WCU/s",
        report.items_total
    );
    // The very first 25-item batch is over the burst: items came back.
    assert!(report.deferred_items > 0);
    // The client's count and the simulator's agree, and so does the table.
    let stats = st.sim.stats();
    let hot = stats.partition(&st.table, None, "A#rate-0");
    assert_eq!(hot.wcu, report.items_total as f64);
    let mut stored = 0;
    let mut start = None;
    loop {
        let out = st
            .direct
            .query()
            .table_name(&st.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s("A#rate-0"))
            .select(Select::Count)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        stored += out.count;
        start = out.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    assert_eq!(stored as u64, report.items_total);
}

async fn http(method: &str, url: &str) -> (u16, Bytes) {
    let client = HyperClient::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let req = hyper::Request::builder()
        .method(method)
        .uri(url)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.into_body().collect().await.unwrap().to_bytes())
}

#[tokio::test]
async fn its_accounting_is_served_reset_and_what_it_cannot_read_passes_through() {
    let limits = Limits {
        wcu_per_partition: 2.0,
        rcu_per_partition: 6.0,
    };
    let st = setup("sim-stats", limits, Clock::manual()).await;
    let t = st.table.as_str();
    let put_to = |pk: &str, sk: &str| {
        st.client
            .put_item()
            .table_name(t)
            .set_item(Some(sized(&[("pk", pk), ("sk", sk)], 100)))
            .send()
    };
    put_to("A#a", "1").await.unwrap();
    put_to("A#a", "2").await.unwrap();
    put_to("A#b", "1").await.unwrap();
    assert!(is_throttle(&put_to("A#a", "3").await.unwrap_err()));

    let (status, body) = http("GET", &format!("{}/__sim/stats?top=1", st.sim.endpoint())).await;
    assert_eq!(status, 200);
    let stats: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(stats["totals"]["wcu"], 3.0);
    assert_eq!(stats["totals"]["throttled"], 1);
    assert_eq!(stats["partitions_total"], 2);
    assert_eq!(stats["partitions"].as_array().unwrap().len(), 1);
    assert_eq!(stats["partitions"][0]["key"], "A#a");
    assert_eq!(stats["partitions"][0]["wcu"], 2.0);
    assert_eq!(stats["partitions"][0]["throttled"], 1);
    assert_eq!(stats["operations"]["PutItem"]["calls"], 4);
    assert_eq!(stats["limits"]["wcu_per_partition"], 2.0);

    // A reset clears the accounting and refills the buckets.
    let (status, _) = http("POST", &format!("{}/__sim/reset", st.sim.endpoint())).await;
    assert_eq!(status, 200);
    assert_eq!(st.sim.stats().totals.calls, 0);
    put_to("A#a", "3").await.unwrap();
    assert_eq!(
        http("GET", &format!("{}/__sim/nothing", st.sim.endpoint()))
            .await
            .0,
        404
    );

    // Calls it does not model, and items it cannot place, go through untouched.
    st.client
        .describe_table()
        .table_name(t)
        .send()
        .await
        .unwrap();
    let keyless = st
        .client
        .put_item()
        .table_name(t)
        .item("sk", s("no partition key"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(keyless.code(), Some("ValidationException"));
    let stats = st.sim.stats();
    assert_eq!(stats.totals.passed_through, 2);
    assert_eq!(stats.totals.accounted, 1);
    assert_eq!(stats.totals.wcu, 1.0);
}
