//! Replaces secret values in text bound for the model with `[secret:NAME]`.

/// Values shorter than this are not redacted: they would match ordinary text.
const MIN_REDACTED_LEN: usize = 4;

/// Knows every secret value that could leak, longest first so overlapping values
/// redact whole.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<(String, String)>,
}

impl Redactor {
    pub fn new(secrets: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut secrets: Vec<(String, String)> = secrets
            .into_iter()
            .filter(|(_, value)| value.len() >= MIN_REDACTED_LEN)
            .collect();
        secrets.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(&b.0)));
        Self { secrets }
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `text` with every secret value replaced by `[secret:NAME]`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (name, value) in &self.secrets {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), &format!("[secret:{name}]"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_replaced_by_their_names() {
        let redactor = Redactor::new([
            ("github".to_string(), "ghp_secretvalue".to_string()),
            ("short".to_string(), "ab".to_string()),
        ]);
        assert_eq!(
            redactor.redact("token=ghp_secretvalue; again ghp_secretvalue; ab stays"),
            "token=[secret:github]; again [secret:github]; ab stays"
        );
    }

    #[test]
    fn longer_values_win_over_their_prefixes() {
        let redactor = Redactor::new([
            ("a".to_string(), "abcd".to_string()),
            ("b".to_string(), "abcdefgh".to_string()),
        ]);
        assert_eq!(redactor.redact("abcdefgh abcd"), "[secret:b] [secret:a]");
    }
}
