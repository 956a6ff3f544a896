//! `Authentication-Results` (RFC 8601): whether the user's own server vouches for a
//! mail's From domain. Only the first such header whose `authserv-id` is the configured
//! one counts (the receiving server adds its header on top, above anything the sender
//! wrote, and should remove forged copies of its own); it must say `dmarc=pass` for
//! the From domain, or `dkim=pass` with `header.d` (or `header.i`) in it, or `spf=pass`
//! with `smtp.mailfrom` in it.

/// Whether the headers (name, raw value; top first) authenticate `from_domain`.
pub fn authenticated_for<'a>(
    headers: impl Iterator<Item = (&'a str, &'a str)>,
    authserv_id: &str,
    from_domain: &str,
) -> bool {
    if authserv_id.is_empty() || from_domain.is_empty() {
        return false;
    }
    let ours = headers
        .filter(|(name, _)| name.eq_ignore_ascii_case("Authentication-Results"))
        .map(|(_, value)| without_comments(value))
        .find(|value| {
            value
                .split(';')
                .next()
                .and_then(|id| id.split_whitespace().next())
                .is_some_and(|id| id.eq_ignore_ascii_case(authserv_id))
        });
    let Some(ours) = ours else {
        return false;
    };
    ours.split(';')
        .skip(1)
        .any(|result| passes_for(result, from_domain))
}

/// Whether one `method=result ptype.property=value …` says pass for `domain`.
fn passes_for(result: &str, domain: &str) -> bool {
    let mut words = result.split_whitespace();
    let Some((method, outcome)) = words.next().and_then(|word| word.split_once('=')) else {
        return false;
    };
    if !outcome.eq_ignore_ascii_case("pass") {
        return false;
    }
    let properties: Vec<(String, String)> = words
        .filter_map(|word| word.split_once('='))
        .map(|(key, value)| {
            (
                key.to_ascii_lowercase(),
                value.trim_matches('"').to_ascii_lowercase(),
            )
        })
        .collect();
    let property = |key: &str| {
        properties
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    };
    let domain_of = |value: &str| value.rsplit('@').next().unwrap_or("").to_string();
    let is = |value: Option<&str>| value.is_some_and(|value| domain_of(value) == domain);
    match method.to_ascii_lowercase().as_str() {
        "dmarc" => property("header.from").is_none_or(|from| domain_of(from) == domain),
        "dkim" => is(property("header.d")) || is(property("header.i")),
        "spf" => is(property("smtp.mailfrom")),
        _ => false,
    }
}

/// The value unfolded, with `(comments)` removed.
fn without_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut depth = 0usize;
    for c in value.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            '\r' | '\n' => out.push(' '),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(headers: &[(&'static str, &'static str)], domain: &str) -> bool {
        authenticated_for(headers.iter().copied(), "mx.example.org", domain)
    }

    #[test]
    fn dmarc_dkim_or_spf_pass_for_the_from_domain_from_our_server_counts() {
        let dmarc = [(
            "Authentication-Results",
            " mx.example.org;\r\n dkim=fail; dmarc=pass (p=reject) header.from=example.com",
        )];
        assert!(check(&dmarc, "example.com"));
        assert!(!check(&dmarc, "other.com"));
        let dkim = [(
            "Authentication-Results",
            "mx.example.org 1; dkim=pass header.d=example.com header.s=sel",
        )];
        assert!(check(&dkim, "example.com"));
        let spf = [(
            "Authentication-Results",
            "mx.example.org; spf=pass smtp.mailfrom=user@example.com",
        )];
        assert!(check(&spf, "example.com"));
        let spf_other = [(
            "Authentication-Results",
            "mx.example.org; spf=pass smtp.mailfrom=evil.test",
        )];
        assert!(!check(&spf_other, "example.com"));
    }

    #[test]
    fn another_servers_header_or_a_failing_result_does_not() {
        let theirs = [(
            "Authentication-Results",
            "mx.evil.test; dmarc=pass header.from=example.com",
        )];
        assert!(!check(&theirs, "example.com"));
        let failing = [(
            "Authentication-Results",
            "mx.example.org; dmarc=fail header.from=example.com; spf=softfail",
        )];
        assert!(!check(&failing, "example.com"));
        assert!(!check(&[], "example.com"));
        // Only the topmost header of our server counts: a forged one below it is ignored.
        let forged_below = [
            (
                "Authentication-Results",
                "mx.example.org; spf=pass smtp.mailfrom=evil.test",
            ),
            (
                "Authentication-Results",
                "mx.example.org; dmarc=pass header.from=example.com",
            ),
        ];
        assert!(!check(&forged_below, "example.com"));
    }
}
