//! The smallest `lambda_runtime` function: answers every event with a
//! greeting. The cold-start baseline of `make bench` (built exactly like the
//! functions: `cargo lambda build --release --x86-64 --example hello_lambda`).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_event: LambdaEvent<Value>| async {
        Ok::<_, Error>(json!({ "hello": "world" }))
    }))
    .await
}
