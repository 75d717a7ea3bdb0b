//! [`Secret`]: a tunnel secret or password held in configuration, which never prints.
//!
//! `Debug` and `Display` show `<redacted>`, so a configuration dumped into a log line, an
//! error or a panic message carries no secret. The value is read with [`Secret::expose`],
//! at the few places that need it (tunnel authentication, PPP authentication).

use serde::{Deserialize, Serialize};

/// A secret string from the configuration (see the module documentation).
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret::new(s)
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints() {
        let s = Secret::new("hunter2");
        assert_eq!(
            format!("{s:?} {s} {:?}", Some(&s)),
            "<redacted> <redacted> Some(<redacted>)"
        );
        assert_eq!(s.expose(), "hunter2");
        let parsed: Secret =
            toml::from_str::<std::collections::HashMap<String, Secret>>("k = \"hunter2\"")
                .unwrap()
                .remove("k")
                .unwrap();
        assert_eq!(parsed, s);
    }
}
