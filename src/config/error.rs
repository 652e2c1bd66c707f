//! Why a function's configuration could not be loaded.

/// Why the configuration could not be loaded; names the variable, never its value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A required variable is absent or blank.
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    /// A variable is present but unusable.
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What is wrong with it (never the value itself).
        reason: String,
    },
}
