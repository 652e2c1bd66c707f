//! The quota check's cost on a duplicate, for `make bench` (decision
//! 0015): warm latency of the admission (one conditional `UpdateItem` of
//! the organization's usage item) beside a plain `GetItem` of the same
//! item, against the local DynamoDB. One line of JSON on stdout:
//! `{"repeats", "admit_p50_ms", "admit_p99_ms", "get_p50_ms", "get_p99_ms"}`.
//!
//! ```sh
//! TABLE_NAME=albums-local AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000 \
//!   bench_quota --org <organization> --repeats 500
//! ```

use std::time::Instant;

use album_api::quota::{Limits, utc_day};
use album_api::store::Store;
use clap::Parser;
use serde_json::json;

#[derive(Parser)]
#[command(about = "Warm latency of a duplicate's quota check against the local DynamoDB")]
struct Args {
    /// The organization billed (its usage item is created if absent).
    #[arg(long)]
    org: String,
    /// Timed checks (after as many untimed warm-up ones as a tenth of them).
    #[arg(long, default_value_t = 500)]
    repeats: usize,
    /// Table (default: TABLE_NAME).
    #[arg(long, env = "TABLE_NAME")]
    table: String,
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    let i = ((p / 100.0) * (samples.len() - 1) as f64).round() as usize;
    samples[i]
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let budgets = album_api::deadline::Budgets::default();
    let store = Store::new(
        album_api::store::client_from_env(&budgets).await,
        &args.table,
    )
    .with_budgets(budgets);
    // A limit no run reaches: every check passes, as a duplicate's does.
    let limits = Limits {
        images_copied_per_day: u64::MAX / 4,
        ..Limits::default()
    };
    let day = utc_day(time::OffsetDateTime::now_utc());
    let (mut admit, mut get) = (Vec::new(), Vec::new());
    for i in 0..args.repeats + args.repeats / 10 {
        let t = Instant::now();
        let ok = store
            .admit_copy(&args.org, &day, 5, &limits)
            .await
            .map_err(|e| e.to_string())?;
        let admitted = t.elapsed().as_secs_f64() * 1000.0;
        if !ok {
            return Err("the check refused; the limits are meant to pass".into());
        }
        let t = Instant::now();
        store
            .quota_usage(&args.org)
            .await
            .map_err(|e| e.to_string())?;
        let read = t.elapsed().as_secs_f64() * 1000.0;
        if i >= args.repeats / 10 {
            admit.push(admitted);
            get.push(read);
        }
    }
    let line = json!({
        "repeats": admit.len(),
        "admit_p50_ms": percentile(&mut admit, 50.0),
        "admit_p99_ms": percentile(&mut admit, 99.0),
        "get_p50_ms": percentile(&mut get, 50.0),
        "get_p99_ms": percentile(&mut get, 99.0),
    });
    println!("{line}");
    Ok(())
}
