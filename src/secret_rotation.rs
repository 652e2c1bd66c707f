//! The four steps by which Secrets Manager rotates a signing secret with
//! a generated random key (the stack's `JWT_SECRET`, decision 0018).
//!
//! Secrets Manager calls the rotation function once per step, each with
//! the same `ClientRequestToken` (the new version's id), and retries a
//! step that failed; every step is therefore idempotent:
//! - `createSecret`: a new random key as version `AWSPENDING`, unless that
//!   version exists already.
//! - `setSecret`: nothing. A signing key has no other system to install it
//!   in (as a database password has its database): the functions read the
//!   secret itself.
//! - `testSecret`: the pending key holds at least [`MIN_SECRET_BYTES`]
//!   bytes, which every function's configuration requires; a version that
//!   would stop the functions' next cold start is never made current.
//!   Nothing else can be tested before the key is current: no function
//!   signs with it yet.
//! - `finishSecret`: `AWSCURRENT` moves to the new version; Secrets
//!   Manager moves `AWSPREVIOUS` to the version it left, which warm
//!   functions keep accepting until the overlap ends
//!   (`crate::secret_refresh`).

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use base64::Engine as _;
use rand::TryRngCore as _;
use serde::Deserialize;

use crate::secret::MIN_SECRET_BYTES;

/// Random bytes of a generated key: 48, 64 characters in base64url, as
/// long as the key the stack creates (384 bits, above HS256's 256).
pub const KEY_BYTES: usize = 48;

/// The event Secrets Manager sends a rotation function.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationEvent {
    /// The secret's ARN.
    pub secret_id: String,
    /// The id of the version being created.
    pub client_request_token: String,
    /// `createSecret`, `setSecret`, `testSecret` or `finishSecret`.
    pub step: String,
}

/// Runs `event`'s step on its secret. Errors name the step and the
/// secret's version, never a value.
pub async fn rotate(client: &Client, event: &RotationEvent) -> Result<(), String> {
    let (arn, token) = (&event.secret_id, &event.client_request_token);
    let described = client
        .describe_secret()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| format!("DescribeSecret failed: {}", DisplayErrorContext(&e)))?;
    let versions = described.version_ids_to_stages.unwrap_or_default();
    // Secrets Manager stages the new version id as AWSPENDING before the
    // first step; createSecret alone may also find it absent (a rotation
    // started by invoking the function by hand).
    let stages = versions.get(token).cloned().unwrap_or_default();
    let has = |stage: &str| stages.iter().any(|s| s == stage);
    if has("AWSCURRENT") {
        // Done already (a retried finishSecret, or a step after it).
        return Ok(());
    }
    if !has("AWSPENDING") && event.step != "createSecret" {
        return Err(format!("version {token} is not pending rotation"));
    }
    match event.step.as_str() {
        "createSecret" => create(client, arn, token).await,
        "setSecret" => Ok(()),
        "testSecret" => test(client, arn, token).await,
        "finishSecret" => {
            let current = versions
                .iter()
                .find(|(_, stages)| stages.iter().any(|s| s == "AWSCURRENT"))
                .map(|(id, _)| id.clone());
            client
                .update_secret_version_stage()
                .secret_id(arn)
                .version_stage("AWSCURRENT")
                .move_to_version_id(token)
                .set_remove_from_version_id(current)
                .send()
                .await
                .map_err(|e| format!("finishSecret failed: {}", DisplayErrorContext(&e)))?;
            tracing::info!(version = %token, "signing secret rotated");
            Ok(())
        }
        other => Err(format!("unknown rotation step {other:?}")),
    }
}

/// `createSecret`: a fresh key as `AWSPENDING`, once.
async fn create(client: &Client, arn: &str, token: &str) -> Result<(), String> {
    if pending(client, arn, token).await?.is_some() {
        return Ok(());
    }
    client
        .put_secret_value()
        .secret_id(arn)
        .client_request_token(token)
        .secret_string(generate_key()?)
        .version_stages("AWSPENDING")
        .send()
        .await
        .map_err(|e| format!("createSecret failed: {}", DisplayErrorContext(&e)))?;
    Ok(())
}

/// `testSecret`: the pending key is long enough to be used.
async fn test(client: &Client, arn: &str, token: &str) -> Result<(), String> {
    match pending(client, arn, token).await? {
        Some(key) if key.len() >= MIN_SECRET_BYTES => Ok(()),
        Some(_) => Err(format!(
            "version {token} holds fewer than {MIN_SECRET_BYTES} bytes"
        )),
        None => Err(format!("version {token} holds no string")),
    }
}

/// The pending version's string, if that version exists.
async fn pending(client: &Client, arn: &str, token: &str) -> Result<Option<String>, String> {
    match client
        .get_secret_value()
        .secret_id(arn)
        .version_id(token)
        .version_stage("AWSPENDING")
        .send()
        .await
    {
        Ok(out) => Ok(out.secret_string),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(format!(
            "GetSecretValue failed: {}",
            DisplayErrorContext(&e)
        )),
    }
}

/// A new key: [`KEY_BYTES`] from the operating system's generator,
/// base64url without padding (printable, as a `SecretString` must be).
pub fn generate_key() -> Result<String, String> {
    let mut bytes = [0u8; KEY_BYTES];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|_| "the system's random generator failed".to_string())?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_is_64_characters_and_new_each_time() {
        let (a, b) = (generate_key().unwrap(), generate_key().unwrap());
        assert_eq!(a.len(), 64);
        assert!(a.len() >= MIN_SECRET_BYTES);
        assert_ne!(a, b);
    }
}
