//! Where a function's secrets come from at init: its environment, or AWS Secrets Manager.
//!
//! A deployed function gets the ARN of each secret it needs
//! (`JWT_SECRET_ARN`, `CLOUDINARY_URL_SECRET_ARN`,
//! `NOTIFICATION_SECRET_ARN`) and reads the values at init with
//! `GetSecretValue` (decision 0009); its role may read those secrets and
//! no other. A signing secret is read with its `AWSPREVIOUS` version too,
//! and re-read after the secret cache's TTL (`crate::secret_refresh`,
//! decision 0018). Local runs (`make dev`, `make invoke`, the tests)
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

/// What was read of one secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The current value.
    pub value: String,
    /// The current version, when read from Secrets Manager: its id and
    /// creation (Unix seconds).
    pub version: Option<(String, i64)>,
    /// The `AWSPREVIOUS` value of a signing secret, when there is one.
    pub previous: Option<String>,
}

impl std::fmt::Debug for Fetched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetched")
            .field("version", &self.version)
            .field("previous", &self.previous.is_some())
            .finish_non_exhaustive()
    }
}

/// Reads the secrets `needs` names: from the environment, or from Secrets
/// Manager with `sdk` (all reads at once). Returns them by their value
/// variable (`JWT_SECRET`, `CLOUDINARY_URL`), to be validated by
/// [`crate::Config`], and the Secrets Manager client and ARNs a refresh
/// re-reads ([`crate::secret_refresh`]). Errors name the secret, never a
/// value.
pub async fn resolve(
    needs: Needs,
    get: &impl Fn(&str) -> Option<String>,
    sdk: &aws_config::SdkConfig,
) -> Result<Resolved, ConfigError> {
    let plan = plan(needs, get)?;
    let mut resolved = Resolved::default();
    let mut reads = Vec::new();
    for (name, source) in plan {
        match source {
            Source::Env => {
                if let Some(v) = get(name.var()) {
                    let fetched = Fetched {
                        value: v,
                        version: None,
                        previous: None,
                    };
                    resolved.values.insert(name.var(), fetched);
                }
            }
            Source::SecretsManager(arn) => {
                // Built only when some secret is read from Secrets Manager.
                let client = resolved
                    .client
                    .get_or_insert_with(|| Client::new(sdk))
                    .clone();
                resolved.arns.push((name, arn.clone()));
                reads.push(async move { (name, fetch(&client, &arn, name, None).await) });
            }
        }
    }
    for (name, fetched) in futures_util::future::join_all(reads).await {
        let fetched = fetched.map_err(|reason| ConfigError::Invalid {
            name: name.arn_var(),
            reason,
        })?;
        resolved.values.insert(name.var(), fetched);
    }
    Ok(resolved)
}

/// The secrets a function read at init.
#[derive(Debug, Default)]
pub struct Resolved {
    /// Each secret by its value variable.
    pub values: HashMap<&'static str, Fetched>,
    /// The secrets read from Secrets Manager, by ARN.
    pub arns: Vec<(SecretName, String)>,
    /// The client that read them (none when all came from the environment).
    pub client: Option<Client>,
}

impl Resolved {
    /// The current value of `var`, if read.
    pub fn value(&self, var: &str) -> Option<String> {
        self.values.get(var).map(|f| f.value.clone())
    }
}

/// Reads secret `arn`'s current version; for a signing secret also its
/// `AWSPREVIOUS` one, unless `known` already holds the same current
/// version (then its previous is kept: a rotation changes the current
/// version id, so a refresh between rotations costs one call).
pub async fn fetch(
    client: &Client,
    arn: &str,
    name: SecretName,
    known: Option<&Fetched>,
) -> Result<Fetched, String> {
    let (value, version) = read(client, arn, "AWSCURRENT")
        .await?
        .ok_or_else(|| "the secret has no AWSCURRENT version".to_string())?;
    let previous = if !name.signs() {
        None
    } else if let Some(k) = known.filter(|k| k.version == version) {
        k.previous.clone()
    } else {
        read(client, arn, "AWSPREVIOUS").await?.map(|(v, _)| v)
    };
    Ok(Fetched {
        value,
        version,
        previous,
    })
}

/// One `GetSecretValue` of version `stage`: its string, version id and
/// creation; `None` when no version has the stage.
async fn read(
    client: &Client,
    arn: &str,
    stage: &str,
) -> Result<Option<(String, Option<(String, i64)>)>, String> {
    let out = match client
        .get_secret_value()
        .secret_id(arn)
        .version_stage(stage)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception())
                && stage != "AWSCURRENT" =>
        {
            return Ok(None);
        }
        Err(e) => {
            return Err(format!(
                "GetSecretValue ({stage}) failed: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
            ));
        }
    };
    let version = out
        .version_id
        .map(|id| (id, out.created_date.map_or(0, |d| d.secs())));
    let value = out
        .secret_string
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| format!("the secret's {stage} version holds no string value"))?;
    Ok(Some((value, version)))
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
