//! Where model files live: the one rule every crate and front end shares, as a pure
//! function of the variables it is given (the caller reads the environment).

use std::ffi::OsString;
use std::path::PathBuf;

/// The environment variable naming the model cache.
pub const MODELS_ENV: &str = "HEARTH_MODELS";

/// The model cache: `$HEARTH_MODELS`, else `$HOME/.cache/hearth/models`, else `None`
/// (neither set, or both empty). `var` looks a variable up, e.g.
/// `|name| std::env::var_os(name)`; shared by every `HEARTH_HOME`.
pub fn model_cache_dir(var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    if let Some(dir) = var(MODELS_ENV).filter(|dir| !dir.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let home = var("HOME").filter(|home| !home.is_empty())?;
    Some(
        PathBuf::from(home)
            .join(".cache")
            .join("hearth")
            .join("models"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| OsString::from(value))
        }
    }

    #[test]
    fn hearth_models_wins_then_home_then_nothing() {
        let both = vars(&[("HEARTH_MODELS", "/m"), ("HOME", "/h")]);
        assert_eq!(model_cache_dir(both), Some(PathBuf::from("/m")));
        let home = vars(&[("HEARTH_MODELS", ""), ("HOME", "/h")]);
        assert_eq!(
            model_cache_dir(home),
            Some(PathBuf::from("/h/.cache/hearth/models"))
        );
        assert_eq!(model_cache_dir(vars(&[])), None);
        assert_eq!(model_cache_dir(vars(&[("HOME", "")])), None);
    }
}
