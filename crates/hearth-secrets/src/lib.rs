//! Secrets: stored outside the workspace with mode 0600, named in config as `secret:NAME`,
//! resolved only at the boundary (a sandboxed command's environment, an outgoing request
//! header), and replaced by `[secret:NAME]` in any text bound for the model.
//!
//! Architecture invariant: a secret's value never enters a `Message`. Everything that
//! reaches the model or the transcript passes through [`Redactor::redact`] first.

mod redact;
mod store;

pub use redact::Redactor;
pub use store::{SecretError, SecretStore};

/// The prefix that marks a config value as a reference to a stored secret.
pub const SECRET_PREFIX: &str = "secret:";

/// The secret name in a `secret:NAME` reference, if `value` is one.
pub fn secret_reference(value: &str) -> Option<&str> {
    value.strip_prefix(SECRET_PREFIX)
}

/// Checks a secret's name: 1–64 characters of `[A-Za-z0-9_.-]`.
pub fn validate_name(name: &str) -> Result<(), SecretError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(SecretError::BadName(name.to_string()))
    }
}
