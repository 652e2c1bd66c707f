//! Where a function's secrets come from at init: its environment, or AWS Secrets Manager.
//!
//! A deployed function gets the ARN of each secret it needs
//! (`JWT_SECRET_ARN`, `CLOUDINARY_URL_SECRET_ARN`,
//! `NOTIFICATION_SECRET_ARN`) and reads the values once, at init, with one
//! `GetSecretValue` call each (decision 0009); its role may read those
//! secrets and no other. Local runs (`make dev`, `make invoke`, the tests)
//! set the values themselves (`JWT_SECRET`, `CLOUDINARY_URL`,
//! `NOTIFICATION_SECRET`), which win over an ARN. A function that needs no
//! secret ([`Needs::NONE`]: the worker, scheduled duplications) reads none,
//! whatever its environment holds.

use std::collections::HashMap;

use aws_sdk_secretsmanager::Client;

use crate::config::ConfigError;
pub use crate::config::{Needs, SecretName};

/// Where each needed secret's value comes from.
#[derive(Debug, PartialEq, Eq)]
pub enum Source {
    /// The value is in the environment already.
    Env,
    /// Read it from Secrets Manager (the ARN).
    SecretsManager(String),
}

/// Decides, without any call, where each secret in `needs` comes from: its
/// value's variable when set, else its ARN's; neither is an error naming both.
pub fn plan(
    needs: Needs,
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Vec<(SecretName, Source)>, ConfigError> {
    needs
        .names()
        .map(|name| {
            let set = |k: &str| get(k).filter(|v| !v.trim().is_empty());
            if set(name.var()).is_some() {
                Ok((name, Source::Env))
            } else if let Some(arn) = set(name.arn_var()) {
                Ok((name, Source::SecretsManager(arn.trim().to_string())))
            } else {
                Err(ConfigError::Missing(name.var()))
            }
        })
        .collect()
}

/// Reads the secrets `needs` names: from the environment, or from Secrets
/// Manager with `sdk` (both reads at once). Returns the values by their
/// value variable (`JWT_SECRET`, `CLOUDINARY_URL`), to be validated by
/// [`crate::Config`]. Errors name the secret, never a value.
pub async fn resolve(
    needs: Needs,
    get: &impl Fn(&str) -> Option<String>,
    sdk: &aws_config::SdkConfig,
) -> Result<HashMap<&'static str, String>, ConfigError> {
    let plan = plan(needs, get)?;
    let mut values = HashMap::new();
    let mut reads = Vec::new();
    // Built only when some secret is read from Secrets Manager.
    let mut client: Option<Client> = None;
    for (name, source) in plan {
        match source {
            Source::Env => {
                if let Some(v) = get(name.var()) {
                    values.insert(name.var(), v);
                }
            }
            Source::SecretsManager(arn) => {
                let client = client.get_or_insert_with(|| Client::new(sdk)).clone();
                reads.push(async move { (name, read(&client, &arn).await) });
            }
        }
    }
    for (name, value) in futures_util::future::join_all(reads).await {
        let value = value.map_err(|reason| ConfigError::Invalid {
            name: name.arn_var(),
            reason,
        })?;
        values.insert(name.var(), value);
    }
    Ok(values)
}

/// One `GetSecretValue`: the secret's current string.
async fn read(client: &Client, arn: &str) -> Result<String, String> {
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| {
            format!(
                "GetSecretValue failed: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
            )
        })?;
    out.secret_string
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| "the secret holds no string value".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn a_value_in_the_environment_wins_over_an_arn() {
        let get = env(&[("JWT_SECRET", "s"), ("JWT_SECRET_ARN", "arn:x")]);
        assert_eq!(
            plan(Needs::JWT, &get).unwrap(),
            vec![(SecretName::JwtSecret, Source::Env)]
        );
    }

    #[test]
    fn an_arn_alone_is_read_from_secrets_manager() {
        let get = env(&[
            (
                "JWT_SECRET_ARN",
                " arn:aws:secretsmanager:us-east-1:1:secret:jwt ",
            ),
            ("CLOUDINARY_URL", "cloudinary://1:2@demo"),
        ]);
        assert_eq!(
            plan(Needs::JWT_AND_CLOUDINARY, &get).unwrap(),
            vec![
                (
                    SecretName::JwtSecret,
                    Source::SecretsManager("arn:aws:secretsmanager:us-east-1:1:secret:jwt".into())
                ),
                (SecretName::CloudinaryUrl, Source::Env),
            ]
        );
    }

    #[test]
    fn a_function_reads_only_the_secrets_it_declares() {
        let get = env(&[
            ("JWT_SECRET_ARN", "arn:jwt"),
            ("CLOUDINARY_URL_SECRET_ARN", "arn:cld"),
        ]);
        assert!(plan(Needs::NONE, &get).unwrap().is_empty());
        let jwt_only = plan(Needs::JWT, &get).unwrap();
        assert_eq!(jwt_only.len(), 1);
        assert_eq!(jwt_only[0].0, SecretName::JwtSecret);
    }

    #[test]
    fn a_needed_secret_with_neither_variable_names_the_value_variable() {
        let get = env(&[("JWT_SECRET", "s"), ("CLOUDINARY_URL_SECRET_ARN", "  ")]);
        assert_eq!(
            plan(Needs::JWT_AND_CLOUDINARY, &get).unwrap_err(),
            ConfigError::Missing("CLOUDINARY_URL")
        );
    }
}
