//! A reverse proxy for DynamoDB's JSON protocol whose [`Layer`] decides
//! every call.
//!
//! The local emulators (dynalite, moto) answer every call at once and in
//! full: they never throttle, fail, hang or defer a batch's items, and
//! they have no per-partition limits. What production does to the API's
//! calls is therefore put in front of them: a proxy on an HTTP/1.1 port
//! reads each call (its `X-Amz-Target` operation and JSON body) and hands
//! it to a layer, which answers it itself, forwards it (whole, rewritten,
//! or late), or drops the connection. The partition simulator
//! ([`crate::partition_sim`]) and the integration tests' fault injector are
//! such layers; everything about HTTP, the upstream and DynamoDB's answers
//! is written once, here.
//!
//! A client points its endpoint at [`Proxy::endpoint`]; the proxy runs on
//! the caller's tokio runtime and stops when dropped.

mod answer;
mod batch;
mod call;
mod headers;
mod reset;
mod server;
mod upstream;

pub use answer::{Answer, Reply, aws_error, bad_gateway, json_response, plain};
pub use batch::{batch_writes, by_table, merge_unprocessed};
pub use call::Call;
pub use server::{Layer, Outcome, Proxy};
pub use upstream::Upstream;

/// Content type of DynamoDB's JSON protocol (awsJson1_0).
pub const AMZ_JSON: &str = "application/x-amz-json-1.0";
/// Namespace of DynamoDB's own error types.
pub const DDB_ERR_NS: &str = "com.amazonaws.dynamodb.v20120810";
