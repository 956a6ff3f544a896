//! What a test does when the model file it needs is not in the cache: skip on a
//! developer's machine, fail under CI (where `scripts/setup.sh --test` fetched it).

/// Call where a test finds its model missing, just before it returns early. With the
/// `CI` environment variable set this panics with `what` (a CI run must not pass by
/// skipping); otherwise it returns `what` for the test to print as its skip reason.
pub fn model_absent(what: &str) -> &str {
    if std::env::var_os("CI").is_some() {
        panic!("{what}; CI is set, so a missing model fails the test instead of skipping it");
    }
    what
}
