//! The `albumctl` command line: its commands, each run by its own function.

use std::process::ExitCode;

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::seed::sample_image;
use album_api::album::{Album, AlbumKey, is_valid_id};
use album_api::auth;
use album_api::secret::Secret;
use album_api::store::{Store, client_from_env};

use crate::schema;

#[derive(Parser)]
#[command(
    name = "albumctl",
    about = "Album API administration (reads TABLE_NAME, JWT_SECRET, AWS_ENDPOINT_URL_DYNAMODB; dlq: DLQ_URL)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the table from template.yaml's definition (no-op when it exists).
    CreateTable,
    /// Create an organization.
    CreateOrg {
        #[arg(long)]
        id: String,
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Create a user in an organization.
    CreateUser {
        #[arg(long)]
        id: String,
        #[arg(long)]
        org: String,
    },
    /// Print an API token for a user (the token alone on stdout).
    Token {
        #[arg(long)]
        user: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 14_400)]
        ttl: u64,
        /// Abilities JSON, e.g. '{"alb1":{"Access":{"see":true}}}'.
        #[arg(long)]
        abilities: Option<String>,
    },
    /// An organization's API secrets, with which integrators sign their
    /// own tokens (`iss` = the secret's id): create, list, revoke.
    Secrets {
        #[command(subcommand)]
        command: crate::secrets::SecretsCommand,
    },
    /// An organization's quotas (decision 0015): override them, show them
    /// with its usage.
    Quotas {
        #[command(subcommand)]
        command: crate::quotas::QuotasCommand,
    },
    /// Create the album if needed and add N realistic images.
    Seed(SeedArgs),
    /// Spread an existing album's images over more partitions (decision
    /// 0012): sets its shard count, then moves each misplaced image (and
    /// its tag associations) to its partition, then recounts. Safe to
    /// re-run; the album stays readable and writable meanwhile.
    Reshard {
        #[arg(long)]
        album: String,
        /// The album's organization (album ids are per organization).
        #[arg(long)]
        org: String,
        /// The new shard count (more than the album has, at most 16).
        #[arg(long)]
        shards: u32,
    },
    /// Serve the whole API locally with the template's routes (make dev).
    Serve {
        #[arg(long, default_value = "127.0.0.1:9000")]
        addr: std::net::SocketAddr,
    },
    /// DynamoDB's per-partition limits in front of a local DynamoDB: forwards
    /// its calls, throttles them as DynamoDB would, and counts the units each
    /// partition consumed (GET /__sim/stats, POST /__sim/reset).
    PartitionSim {
        /// The local DynamoDB, e.g. http://127.0.0.1:8000.
        #[arg(long)]
        upstream: String,
        #[arg(long, default_value = "127.0.0.1:8010")]
        listen: std::net::SocketAddr,
        /// Write units per second per partition key (DynamoDB: 1,000).
        #[arg(long, default_value_t = 1000.0)]
        wcu_per_partition: f64,
        /// Read units per second per partition key (DynamoDB: 3,000).
        #[arg(long, default_value_t = 3000.0)]
        rcu_per_partition: f64,
        /// Read the table definition from this template instead of the
        /// shipped template.yaml.
        #[arg(long)]
        template: Option<std::path::PathBuf>,
    },
    /// The partition simulator's self-test load: 1 KB items (by default)
    /// written to N partition keys by batch writes as fast as they go;
    /// prints what one window of it wrote, as JSON.
    PartitionSimLoad(LoadArgs),
    /// Move every album stored under the keys from before album ids were
    /// per organization (`A#<album>`) to `A#<org>/<album>` (decision
    /// 0014). Resumable: re-run it until it reports nothing left.
    MigrateAlbumKeys(crate::migrate::MigrateArgs),
    /// Failed duplications in the dead-letter queue (DuplicationDeadLetterQueue).
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
}

/// `albumctl seed`'s arguments.
#[derive(Args)]
struct SeedArgs {
    #[arg(long)]
    album: String,
    #[arg(long)]
    org: String,
    #[arg(long, default_value_t = 5)]
    images: u64,
    /// Do nothing when the album already exists (idempotent set-up).
    #[arg(long)]
    if_new: bool,
    /// Also tag every new image with this tag of the organization
    /// (created when missing); repeat for several.
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Image partitions of the album when this creates it (1 to 16;
    /// the API picks them from an album's size, decision 0012).
    #[arg(long, default_value_t = 1)]
    shards: u32,
}

/// `albumctl partition-sim-load`'s arguments.
#[derive(Args)]
struct LoadArgs {
    /// The simulator's endpoint.
    #[arg(long)]
    endpoint: String,
    #[arg(long, env = "TABLE_NAME")]
    table: String,
    /// Partition keys written.
    #[arg(long, default_value_t = 1)]
    keys: usize,
    #[arg(long, default_value_t = 1024)]
    item_bytes: usize,
    /// Seconds written before the measured window (the burst).
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Seconds measured.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Batch writers at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Prefix of the partition keys written.
    #[arg(long, default_value = "S#selftest")]
    prefix: String,
}

#[derive(Subcommand)]
enum DlqCommand {
    /// List each failed duplication; every message stays in the queue.
    List {
        /// The queue (the stack output DuplicationDeadLetterQueueUrl).
        #[arg(long, env = "DLQ_URL")]
        queue_url: String,
        /// One JSON array instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Re-run failed duplications through the functions' library against
    /// TABLE_NAME; a message is deleted only when its re-run finished.
    Redrive {
        /// The queue (the stack output DuplicationDeadLetterQueueUrl).
        #[arg(long, env = "DLQ_URL")]
        queue_url: Option<String>,
        /// Re-run at most N messages.
        #[arg(long)]
        max: Option<usize>,
        /// Say what would be re-run; run and delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// Only this message (its SQS message id).
        #[arg(long)]
        message: Option<String>,
        /// The job to run: with --message, for a worker failure whose
        /// stream record is gone; alone, runs that job to done (no queue).
        #[arg(long)]
        job: Option<String>,
    },
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| format!("environment variable {name} is required"))
}

async fn store() -> Result<Store, String> {
    let budgets = album_api::deadline::Budgets::from_env()?;
    Ok(Store::new(client_from_env(&budgets).await, env("TABLE_NAME")?).with_budgets(budgets))
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::CreateTable => create_table().await,
        Command::CreateOrg { id, name } => create_org(&id, &name).await,
        Command::CreateUser { id, org } => create_user(&id, &org).await,
        Command::Token {
            user,
            ttl,
            abilities,
        } => token(&user, ttl, abilities),
        Command::Serve { addr } => serve(addr).await,
        Command::PartitionSim {
            upstream,
            listen,
            wcu_per_partition,
            rcu_per_partition,
            template,
        } => {
            partition_sim(
                upstream,
                listen,
                wcu_per_partition,
                rcu_per_partition,
                template,
            )
            .await
        }
        Command::PartitionSimLoad(args) => partition_sim_load(args).await,
        Command::Dlq { command } => dlq(command).await,
        Command::Secrets { command } => {
            crate::secrets::run(&store().await?, command, &mut std::io::stdout()).await
        }
        Command::Quotas { command } => {
            let env = |k: &str| std::env::var(k).ok();
            let defaults = album_api::config::quota_limits(env).map_err(|e| e.to_string())?;
            crate::quotas::run(&store().await?, command, defaults, &mut std::io::stdout()).await
        }
        Command::Seed(args) => seed(args).await,
        Command::Reshard { album, org, shards } => {
            reshard(&AlbumKey::new(&org, &album), shards).await
        }
        Command::MigrateAlbumKeys(args) => crate::migrate::run(&store().await?, args).await,
    }
}

async fn create_table() -> Result<(), String> {
    let store = store().await?;
    let created = schema::create_table(store.client(), store.table())
        .await
        .map_err(|e| e.to_string())?;
    eprintln!(
        "table {} {}",
        store.table(),
        if created { "created" } else { "already exists" }
    );
    Ok(())
}

async fn create_org(id: &str, name: &str) -> Result<(), String> {
    if !is_valid_id(id) {
        return Err("--id must be 1-128 characters of A-Za-z0-9_-".into());
    }
    store()
        .await?
        .put_organization(id, name)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!("organization {id} saved");
    Ok(())
}

async fn create_user(id: &str, org: &str) -> Result<(), String> {
    if !is_valid_id(id) {
        return Err("--id must be 1-128 characters of A-Za-z0-9_-".into());
    }
    let store = store().await?;
    if !store
        .organization_exists(org)
        .await
        .map_err(|e| e.to_string())?
    {
        return Err(format!("organization {org} does not exist"));
    }
    store.put_user(id, org).await.map_err(|e| e.to_string())?;
    eprintln!("user {id} saved in organization {org}");
    Ok(())
}

fn token(user: &str, ttl: u64, abilities: Option<String>) -> Result<(), String> {
    let abilities = abilities
        .map(|a| serde_json::from_str(&a).map_err(|e| format!("--abilities is not JSON: {e}")))
        .transpose()?;
    let max = std::env::var("TOKEN_MAX_LIFETIME_SECONDS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(album_api::config::DEFAULT_TOKEN_MAX_LIFETIME_SECONDS);
    if ttl > max {
        return Err(format!(
            "--ttl must not exceed {max} s (TOKEN_MAX_LIFETIME_SECONDS): the API refuses longer tokens"
        ));
    }
    let secret = Secret::new(env("JWT_SECRET")?);
    let token = auth::issue_user_token(user, abilities, &secret, album_api::service::now(), ttl)
        .map_err(|e| e.to_string())?;
    println!("{token}");
    Ok(())
}

async fn serve(addr: std::net::SocketAddr) -> Result<(), String> {
    let app = album_api::App::from_env(album_api::Needs::ALBUMS)
        .await
        .map_err(|e| e.to_string())?;
    crate::dev::serve(app, addr)
        .await
        .map_err(|e| e.to_string())
}

async fn partition_sim_load(args: LoadArgs) -> Result<(), String> {
    use aws_sdk_dynamodb::config::retry::RetryConfig;
    let budgets = album_api::deadline::Budgets::from_env()?;
    let base = client_from_env(&budgets).await;
    let conf = base
        .config()
        .to_builder()
        .endpoint_url(args.endpoint)
        .retry_config(RetryConfig::disabled())
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(conf);
    let secs = |s: f64, what: &str| {
        Duration::try_from_secs_f64(s).map_err(|_| format!("--{what} must be seconds ≥ 0"))
    };
    let opts = crate::partition_sim::LoadOptions {
        table: args.table,
        keys: args.keys,
        item_bytes: args.item_bytes,
        warmup: secs(args.warmup, "warmup")?,
        window: secs(args.seconds, "seconds")?,
        concurrency: args.concurrency,
        prefix: args.prefix,
    };
    let report = crate::partition_sim::self_test_load(&client, &opts).await?;
    println!(
        "{}",
        serde_json::to_string(&report).map_err(|e| e.to_string())?
    );
    Ok(())
}

async fn seed(args: SeedArgs) -> Result<(), String> {
    let SeedArgs {
        album,
        org,
        images,
        if_new,
        tags,
        shards,
    } = args;
    if !is_valid_id(&album) {
        return Err("--album must be 1-128 characters of A-Za-z0-9_-".into());
    }
    if !is_valid_id(&org) {
        return Err("--org must be 1-128 characters of A-Za-z0-9_-".into());
    }
    if !(1..=album_api::store::keys::MAX_SHARDS).contains(&shards) {
        return Err("--shards must be from 1 to 16".into());
    }
    let store = store().await?;
    let (existing, created) = store
        .create_or_get_album(&Album {
            shards,
            ..Album::new(&album, &org, &album_api::service::now_rfc3339())
        })
        .await
        .map_err(|e| e.to_string())?;
    if if_new && !created {
        eprintln!("album {album} exists; left as it is");
        return Ok(());
    }
    let start = existing.images_count;
    let batch: Vec<_> = (start..start + images)
        .map(|n| sample_image(&album, n))
        .collect();
    let count = store
        .put_images(&existing.key(), &batch)
        .await
        .map_err(|e| e.to_string())?;
    let mut tagged = 0;
    for name in &tags {
        let now = album_api::service::now_rfc3339();
        let name = album_api::tags::valid_name(Some(name)).map_err(|e| e.to_string())?;
        let (tag, _) = store
            .create_tag(&org, &name, &now)
            .await
            .map_err(|e| e.to_string())?;
        tagged += store
            .tag_images_in_batches(&existing, &batch, &tag, "albumctl", &now)
            .await
            .map_err(|e| e.to_string())?;
    }
    eprintln!("album {album}: {count} images, {tagged} tag associations added");
    Ok(())
}

async fn reshard(album: &AlbumKey, shards: u32) -> Result<(), String> {
    let store = store().await?;
    let moved = store
        .reshard(album, shards)
        .await
        .map_err(|e| e.to_string())?;
    let count = store.count_images(album).await.map_err(|e| e.to_string())?;
    let album = &album.id;
    eprintln!("album {album}: {shards} shards, {moved} items moved, {count} images");
    Ok(())
}

async fn partition_sim(
    upstream: String,
    listen: std::net::SocketAddr,
    wcu: f64,
    rcu: f64,
    template: Option<std::path::PathBuf>,
) -> Result<(), String> {
    use crate::partition_sim::{Clock, Limits, PartitionSim, Schema, SimConfig};
    if !(wcu > 0.0 && rcu > 0.0 && wcu.is_finite() && rcu.is_finite()) {
        return Err("the limits must be positive numbers".into());
    }
    let schema = match template {
        Some(path) => Schema::from_template(
            &std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?,
        )?,
        None => Schema::shipped()?,
    };
    let limits = Limits {
        wcu_per_partition: wcu,
        rcu_per_partition: rcu,
    };
    let indexes: Vec<String> = schema
        .indexes
        .iter()
        .map(|i| format!("{} ({})", i.name, i.hash_key))
        .collect();
    let sim = PartitionSim::start(
        &upstream,
        listen,
        SimConfig {
            limits,
            schema,
            clock: Clock::real(),
        },
    )
    .await?;
    eprintln!(
        "partition-sim on {} -> {upstream}: {wcu} WCU/s and {rcu} RCU/s per partition key of the table and of {}",
        sim.endpoint(),
        indexes.join(", ")
    );
    tokio::select! {
        _ = sim.wait() => Err("the listener stopped".into()),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

async fn dlq(command: DlqCommand) -> Result<(), String> {
    let budgets = album_api::deadline::Budgets::from_env()?;
    let clients = crate::dlq::Clients::from_env(&budgets).await;
    match command {
        DlqCommand::List { queue_url, json } => dlq_list(&clients, &queue_url, json).await,
        DlqCommand::Redrive {
            queue_url,
            max,
            dry_run,
            message,
            job,
        } => {
            let opts = crate::dlq::RedriveOptions {
                max,
                dry_run,
                message,
                job,
            };
            dlq_redrive(&clients, queue_url, opts).await
        }
    }
}

async fn dlq_list(
    clients: &crate::dlq::Clients,
    queue_url: &str,
    json: bool,
) -> Result<(), String> {
    // The table is optional here: with it, each job's status.
    let store = match env("TABLE_NAME") {
        Ok(_) => Some(store().await?),
        Err(_) => None,
    };
    let (items, warnings) = crate::dlq::list(clients, store.as_ref(), queue_url).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&items).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", crate::dlq::render(&items));
        eprintln!("{} message(s); none deleted", items.len());
    }
    for w in warnings {
        eprintln!("warning: {w}");
    }
    Ok(())
}

async fn dlq_redrive(
    clients: &crate::dlq::Clients,
    queue_url: Option<String>,
    opts: crate::dlq::RedriveOptions,
) -> Result<(), String> {
    let app = album_api::App::from_env(album_api::Needs::NONE)
        .await
        .map_err(|e| e.to_string())?;
    if let (Some(job), None) = (&opts.job, &opts.message) {
        let owner = format!("albumctl-redrive-{}", uuid::Uuid::new_v4());
        let done = crate::dlq::drive_job(&app, job, &owner).await?;
        println!("{done}");
        return Ok(());
    }
    let queue_url = queue_url.ok_or("--queue-url (or DLQ_URL) is required unless --job alone")?;
    let report = crate::dlq::redrive(&app, clients, &queue_url, &opts).await?;
    print!("{}", report.render());
    if report.failed_again() > 0 {
        return Err(format!(
            "{} duplication(s) failed again; kept in the queue",
            report.failed_again()
        ));
    }
    Ok(())
}

/// Parses the command line and runs it; errors go to stderr with exit code 1.
pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("albumctl: {e}");
            ExitCode::FAILURE
        }
    }
}
