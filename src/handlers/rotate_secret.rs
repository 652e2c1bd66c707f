//! Secrets Manager's rotation of the JWT key: one step per invocation
//! (`crate::secret_rotation`, decision 0018).

use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

use crate::secret_rotation::{self, RotationEvent};
use crate::service::App;
use crate::store::sdk_config_from_env;

/// Runs the event's step; an error fails the invocation, so Secrets
/// Manager retries the step and the rotation stays pending (the current
/// version keeps signing) until it succeeds.
pub async fn handle(app: &App, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let event: RotationEvent = serde_json::from_value(event.payload)
        .map_err(|e| format!("not a Secrets Manager rotation event: {e}"))?;
    // A client per invocation: a rotation is four invocations a period,
    // so keeping one warm would save nothing worth the state.
    let client = aws_sdk_secretsmanager::Client::new(&sdk_config_from_env(app.budgets()).await);
    secret_rotation::rotate(&client, &event)
        .await
        .map_err(|reason| {
            tracing::error!(step = %event.step, %reason, "rotation step failed");
            reason
        })?;
    Ok(Value::Null)
}
