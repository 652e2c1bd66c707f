//! How fast the webhook records uploads into one album, for `make bench`:
//! creates one album, then delivers `--uploads` signed Cloudinary upload
//! notifications (distinct assets) through the webhook's handler
//! (`handlers::cloudinary_notification`, in-process, as the tests call
//! handlers) from `--senders` concurrent senders, and checks that the
//! album's `images_count` equals its image items, exactly.
//!
//! A delivery answered 5xx is delivered again after `--redeliver-ms` ×
//! the attempt (Cloudinary re-delivers what is not answered 2xx), while
//! its sender goes on with the next notification, so the senders keep
//! `--senders` deliveries in flight, each sender with its own SDK client
//! (as each Lambda instance has its own). The store's own counters (the
//! functions' metrics, `CountFallbacks`, `Recounts`, `RecountPasses`) are
//! read through a recorder installed here. The senders, their
//! re-deliveries and the counters are `bench_common`'s, which
//! `bench_imports` shares.
//!
//! The handler's DynamoDB calls go to `--via` (e.g. `albumctl
//! partition-sim` in front of the emulator) or to `AWS_ENDPOINT_URL_DYNAMODB`;
//! the album's creation and the final check always go to the latter.
//! One line of JSON on stdout:
//! `{"uploads", "senders", "shards", "seconds", "per_s", "deliveries",
//! "statuses", "redelivered", "attempt_p50_ms", "attempt_p99_ms",
//! "recorded_p50_ms", "recorded_p99_ms", "count_fallbacks", "recounts",
//! "recount_passes", "images_count", "image_items", "exact", "all_recorded", ...}`.
//!
//! ```sh
//! TABLE_NAME=albums-local AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000 \
//! NOTIFICATION_SECRET=… CLOUDINARY_URL=cloudinary://key:secret@cloud \
//!   bench_webhook --org <organization> --user <user> --uploads 2000 --senders 16 [--via http://127.0.0.1:8001]
//! ```

mod bench_common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use album_api::album::AlbumKey;
use album_api::service::now;
use album_api::store::Store;
use album_api::{Needs, auth};
use bench_common::{Counters, Next, Note, Notifications, Senders, Source, cpu_seconds, lock};
use clap::Parser;
use serde_json::{Value, json};

#[derive(Parser)]
#[command(about = "Upload notifications into one album through the webhook's handler")]
struct Args {
    /// The album's organization (it must exist, as `albumctl create-org` makes it).
    #[arg(long)]
    org: String,
    /// The user the upload form was made for (it must exist).
    #[arg(long)]
    user: String,
    /// Notifications, each of its own asset.
    #[arg(long, default_value_t = 2000)]
    uploads: usize,
    /// Deliveries in flight at once.
    #[arg(long, default_value_t = 16)]
    senders: usize,
    /// Partitions of the album's images (decision 0012; 1 as `POST /albums` makes it).
    #[arg(long, default_value_t = 1)]
    shards: u32,
    /// Album id (default: a new UUID).
    #[arg(long)]
    album: Option<String>,
    /// Where the handler's DynamoDB calls go (default: AWS_ENDPOINT_URL_DYNAMODB).
    #[arg(long)]
    via: Option<String>,
    /// Pause before a re-delivery, times the attempts so far.
    #[arg(long, default_value_t = 250)]
    redeliver_ms: u64,
    /// Deliveries of one notification before it is given up.
    #[arg(long, default_value_t = 20)]
    max_deliveries: u32,
    /// Stop taking new notifications after this many seconds (0: never):
    /// those already sent are still delivered until recorded.
    #[arg(long, default_value_t = 0.0)]
    duration: f64,
    /// Longest the whole run may take, in seconds.
    #[arg(long, default_value_t = 900)]
    timeout: u64,
    /// Table (default: TABLE_NAME).
    #[arg(long, env = "TABLE_NAME")]
    table: String,
}

/// `--uploads` fresh notifications, each of its own asset, until
/// `--duration` runs out.
struct Uploads {
    notifications: Arc<Notifications>,
    album: String,
    token: String,
    created: i64,
    uploads: usize,
    duration: f64,
    started: Instant,
    taken: Mutex<usize>,
}

impl Source for Uploads {
    fn next(&self) -> Next {
        let time_up = self.duration > 0.0 && self.started.elapsed().as_secs_f64() >= self.duration;
        let mut taken = lock(&self.taken);
        if time_up || *taken >= self.uploads {
            return Next::Done;
        }
        let n = *taken;
        *taken += 1;
        let public_id = format!("albums/{}/upload-{n}", self.album);
        let asset_id = format!("{:032x}", 0xbe7c_0000_0000_u64 + n as u64);
        let filename = format!("upload-{n}");
        Next::Note(Note {
            n,
            query: vec![("token".into(), self.token.clone())],
            body: self.notifications.upload_body(
                &self.album,
                &public_id,
                &asset_id,
                self.created,
                &filename,
            ),
            first: Instant::now(),
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let counters = Counters::install()?;

    let budgets = album_api::deadline::Budgets::from_env()?;
    let sdk = album_api::store::sdk_config_from_env(&budgets).await;
    // Creation and the final check: straight to the emulator.
    let direct = Store::new(aws_sdk_dynamodb::Client::new(&sdk), &args.table).with_budgets(budgets);
    let config = album_api::config::Config::from_env(Needs::WEBHOOK).map_err(|e| e.to_string())?;
    let apps = bench_common::apps(
        &sdk,
        &config,
        budgets,
        &args.table,
        args.senders,
        "sender",
        args.via.as_deref(),
    );
    let app = &apps[0];

    let album_id = args
        .album
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let key = AlbumKey::new(&args.org, &album_id);
    bench_common::create_album(&direct, &args.org, &album_id, args.shards).await?;
    let t0 = now();
    let keys = app.config.notification_keys().map_err(|e| e.to_string())?;
    let token = auth::issue_notification_token(
        &args.user,
        &album_id,
        &args.org,
        keys.signing(t0),
        t0,
        3600,
    )
    .map_err(|e| e.to_string())?;
    let notifications = Arc::new(Notifications::new(app)?);
    let senders = Senders::new(
        Duration::from_millis(args.redeliver_ms),
        args.max_deliveries,
    );

    let cpu0 = cpu_seconds();
    let started = Instant::now();
    let uploads = Arc::new(Uploads {
        notifications: notifications.clone(),
        album: album_id.clone(),
        token,
        created: t0,
        uploads: args.uploads,
        duration: args.duration,
        started,
        taken: Mutex::new(0),
    });
    senders
        .run(
            &apps,
            notifications.clone(),
            uploads,
            Duration::from_secs(args.timeout),
        )
        .await?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let app = &apps[0];

    let stored = direct
        .get_album(&key)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the album is gone")?;
    let items = direct.count_images(&key).await.map_err(|e| e.to_string())?;
    let recorded = senders.recorded().len();
    let mut line = json!({
        "album": album_id,
        "uploads": args.uploads,
        "sent": senders.taken(),
        "senders": args.senders,
        "shards": args.shards.max(1),
        "via": args.via,
        "seconds": seconds,
        "per_s": recorded as f64 / seconds,
    });
    let fields = line.as_object_mut().ok_or("not an object")?;
    fields.extend(senders.report());
    fields.extend(counters.report());
    fields.extend([
        ("client_cpu_s".to_string(), json!(cpu)),
        ("images_count".to_string(), json!(stored.images_count)),
        ("image_items".to_string(), json!(items)),
        // The count says what the album holds...
        ("exact".to_string(), json!(stored.images_count == items)),
        // ...and it holds every notification recorded.
        ("all_recorded".to_string(), json!(items == recorded as u64)),
    ]);
    // A notification given up left its count to the next recount: one
    // late re-delivery of it makes one.
    fields.extend(
        senders
            .late_check(app, &notifications, &direct, &key)
            .await?,
    );
    println!("{}", Value::Object(fields.clone()));
    Ok(())
}
