//! `albumctl`: the admin CLI (not deployed). Creates the table, organizations
//! and users, issues tokens and seeds albums, against whatever DynamoDB the
//! environment names (`AWS_ENDPOINT_URL_DYNAMODB` for the local one).

use albumctl::cli;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    cli::main().await
}
