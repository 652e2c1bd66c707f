//! The local DynamoDB's write ceiling, for `make bench`: how fast it takes
//! pre-built 25-item `BatchWriteItem` calls of real image items, at several
//! client concurrencies.
//!
//! It reads the source album's image items once (not timed), builds every
//! batch in memory (new partition `A#bench/<uuid>`, new id in `sk` and `iid`, the
//! `d` attribute as stored: the same item sizes a copy writes), then times
//! only the writes. One line of JSON per run on stdout:
//! `{"rep", "concurrency", "items", "seconds", "items_per_s", "client_cpu_s", "server_cpu_s", "retries"}`;
//! `client_cpu_s` (this process's user+system CPU over the run) shows the
//! probe is not what limits the rate; `server_cpu_s` (with `--server-pid`)
//! that the server is.
//!
//! ```sh
//! TABLE_NAME=albums-local AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000 \
//!   bench_ceiling --source <album> --org <org> --items 5000 --concurrency 1,2,4,8,16 --repeats 3 [--server-pid <pid>]
//! ```

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use album_api::album::AlbumKey;
use album_api::store::Item;
use album_api::store::keys::{DATA, IMAGE_ID, IMAGE_SK_PREFIX, PK, SK, album_pk};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use clap::Parser;
use serde_json::json;

#[derive(Parser)]
#[command(about = "Write ceiling of the local DynamoDB with pre-built 25-item batches")]
struct Args {
    /// Album whose image items give the items' shape and sizes.
    #[arg(long)]
    source: String,
    /// The source album's organization (album ids are per organization).
    #[arg(long)]
    org: String,
    /// Items written per run.
    #[arg(long, default_value_t = 5000)]
    items: usize,
    /// Comma-separated client concurrencies (BatchWriteItem calls in flight).
    #[arg(long, default_value = "1,2,4,8,16", value_delimiter = ',')]
    concurrency: Vec<usize>,
    /// Runs per concurrency (interleaved: every concurrency once per round).
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Table (default: TABLE_NAME).
    #[arg(long, env = "TABLE_NAME")]
    table: String,
    /// Pid of the local DynamoDB server: its CPU time over each timed run is
    /// reported as `server_cpu_s` (Linux /proc).
    #[arg(long)]
    server_pid: Option<u32>,
}

const BATCH: usize = 25;
const MAX_ATTEMPTS: u32 = 20;

/// A process's user + system CPU time, from /proc/<pid>/stat (`self`: this one).
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here.
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

async fn source_items(client: &Client, table: &str, album: &AlbumKey) -> Result<Vec<Item>, String> {
    let mut items = Vec::new();
    let mut start: Option<Item> = None;
    for _ in 0..10_000 {
        let out = client
            .query()
            .table_name(table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :img)")
            .expression_attribute_values(":pk", AttributeValue::S(album_pk(album)))
            .expression_attribute_values(":img", AttributeValue::S(IMAGE_SK_PREFIX.into()))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| format!("query: {e:?}"))?;
        items.extend(out.items.unwrap_or_default());
        match out.last_evaluated_key.filter(|k| !k.is_empty()) {
            Some(k) => start = Some(k),
            None => return Ok(items),
        }
    }
    Err("too many pages".into())
}

/// `n` items shaped like `source` (cycled), in a fresh partition.
fn build_batches(source: &[Item], n: usize) -> Vec<Mutex<Option<Vec<WriteRequest>>>> {
    let fresh = AlbumKey::new("bench", &uuid::Uuid::new_v4().to_string());
    let dest = AttributeValue::S(album_pk(&fresh));
    let requests: Vec<WriteRequest> = (0..n)
        .map(|i| {
            let src = &source[i % source.len()];
            let sk = match src.get(SK) {
                Some(AttributeValue::S(s)) => s.as_str(),
                _ => "I#0000000000000#x",
            };
            let prefix = sk.rsplit_once('#').map(|(p, _)| p).unwrap_or("I#0");
            let id = uuid::Uuid::new_v4().to_string();
            let item = Item::from([
                (PK.to_string(), dest.clone()),
                (SK.to_string(), AttributeValue::S(format!("{prefix}#{id}"))),
                (IMAGE_ID.to_string(), AttributeValue::S(id)),
                (
                    DATA.to_string(),
                    src.get(DATA)
                        .cloned()
                        .unwrap_or(AttributeValue::S(String::new())),
                ),
            ]);
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .expect("item is set");
            WriteRequest::builder().put_request(put).build()
        })
        .collect();
    requests
        .chunks(BATCH)
        .map(|c| Mutex::new(Some(c.to_vec())))
        .collect()
}

async fn run(
    client: &Client,
    table: &Arc<str>,
    batches: Vec<Mutex<Option<Vec<WriteRequest>>>>,
    concurrency: usize,
) -> Result<(Duration, u64), String> {
    let batches = Arc::new(batches);
    let next = Arc::new(AtomicUsize::new(0));
    let retries = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (client, table, batches, next, retries) = (
            client.clone(),
            table.clone(),
            batches.clone(),
            next.clone(),
            retries.clone(),
        );
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(slot) = batches.get(i) else {
                    return Ok::<(), String>(());
                };
                let mut requests = slot.lock().expect("slot").take().unwrap_or_default();
                let mut attempt = 0;
                while !requests.is_empty() {
                    attempt += 1;
                    if attempt > MAX_ATTEMPTS {
                        return Err(format!(
                            "batch {i}: unprocessed items after {MAX_ATTEMPTS} attempts"
                        ));
                    }
                    if attempt > 1 {
                        retries.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt))).await;
                    }
                    match client
                        .batch_write_item()
                        .request_items(table.as_ref(), requests.clone())
                        .send()
                        .await
                    {
                        Ok(out) => {
                            requests = out
                                .unprocessed_items
                                .and_then(|mut m| m.remove(table.as_ref()))
                                .unwrap_or_default();
                        }
                        Err(e) if attempt < MAX_ATTEMPTS => {
                            eprintln!("bench_ceiling: batch {i} attempt {attempt}: {e:?}");
                        }
                        Err(e) => return Err(format!("batch {i}: {e:?}")),
                    }
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| e.to_string())??;
    }
    Ok((started.elapsed(), retries.load(Ordering::Relaxed)))
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let client = album_api::store::client_from_env(&album_api::deadline::Budgets::default()).await;
    let table: Arc<str> = Arc::from(args.table.as_str());
    let key = AlbumKey::new(&args.org, &args.source);
    let source = source_items(&client, &table, &key).await?;
    if source.is_empty() {
        return Err(format!("album {} has no images", args.source));
    }
    for rep in 0..args.repeats {
        for &c in &args.concurrency {
            let batches = build_batches(&source, args.items);
            let server = args.server_pid.map(|p| p.to_string());
            let server_cpu = || server.as_deref().map(cpu_seconds);
            let (cpu0, server0) = (cpu_seconds("self"), server_cpu());
            let (elapsed, retries) = run(&client, &table, batches, c).await?;
            let cpu = cpu_seconds("self") - cpu0;
            let server_cpu = server_cpu().zip(server0).map(|(b, a)| b - a);
            let secs = elapsed.as_secs_f64();
            println!(
                "{}",
                json!({
                    "rep": rep,
                    "concurrency": c,
                    "items": args.items,
                    "seconds": secs,
                    "items_per_s": args.items as f64 / secs,
                    "client_cpu_s": cpu,
                    "server_cpu_s": server_cpu,
                    "retries": retries,
                })
            );
        }
    }
    Ok(())
}
