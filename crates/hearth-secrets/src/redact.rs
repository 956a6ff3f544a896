//! Replaces secret values in text bound for the model with `[secret:NAME]`: the exact
//! value, and for longer values the encodings a model can produce cheaply (base64 in
//! both alphabets at every byte alignment, hex, reversed, percent-encoded).
//!
//! This is a speed bump, not a wall: split values, other encodings, compression or
//! arithmetic on the value are not recognised. Network policy is the real defence.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

/// Values shorter than this are not redacted: they would match ordinary text.
const MIN_REDACTED_LEN: usize = 4;
/// Values shorter than this are redacted only as they are: their encodings are short
/// enough to turn up in ordinary text (a reversed word, a hex colour, a base64 id).
pub const MIN_ENCODED_LEN: usize = 8;

/// Knows every secret value that could leak, in every form it looks for, and replaces
/// each occurrence (overlapping ones merged, so no part of a value survives) by the
/// name of the longest value matched there.
///
/// The needles are built once, when the redactor is made; `redact` is one pass over
/// the text with an Aho-Corasick automaton, whatever the number of secrets.
#[derive(Clone, Default)]
pub struct Redactor {
    /// The secret name of each needle, by needle index.
    needle_names: Vec<String>,
    /// The needles themselves, searched one by one if the automaton could not be built.
    needles: Vec<String>,
    matcher: Option<AhoCorasick>,
}

impl std::fmt::Debug for Redactor {
    /// Names the secrets, never their values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.needle_names.iter().map(String::as_str).collect();
        names.sort_unstable();
        names.dedup();
        f.debug_struct("Redactor").field("secrets", &names).finish()
    }
}

impl Redactor {
    pub fn new(secrets: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut needles: Vec<(String, String)> = Vec::new();
        for (name, value) in secrets {
            if value.len() < MIN_REDACTED_LEN {
                continue;
            }
            for needle in needles_for(&value) {
                needles.push((name.clone(), needle));
            }
        }
        // Identical needles of two secrets: keep one, the first name in order.
        needles.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        needles.dedup_by(|a, b| a.1 == b.1);
        let matcher = if needles.is_empty() {
            None
        } else {
            // Standard match kind: overlapping matches are all reported and merged below.
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .build(needles.iter().map(|(_, needle)| needle.as_bytes()))
                .ok()
        };
        let (needle_names, needles) = needles.into_iter().unzip();
        Self {
            needle_names,
            needles,
            matcher,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.needle_names.is_empty()
    }

    /// `text` with every secret value, in any form the redactor knows, replaced by
    /// `[secret:NAME]`.
    pub fn redact(&self, text: &str) -> String {
        let mut found = self.find_all(text);
        if found.is_empty() {
            return text.to_string();
        }
        found.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut copied_to = 0;
        let mut index = 0;
        while index < found.len() {
            let (start, mut end, needle) = found[index];
            let mut longest = (end - start, needle);
            index += 1;
            while index < found.len() && found[index].0 < end {
                let (next_start, next_end, next_needle) = found[index];
                end = end.max(next_end);
                if next_end - next_start > longest.0 {
                    longest = (next_end - next_start, next_needle);
                }
                index += 1;
            }
            // Needles are whole UTF-8 strings, so matches start and end on char
            // boundaries; `get` keeps that an assumption rather than a panic.
            out.push_str(text.get(copied_to..start).unwrap_or(""));
            out.push_str("[secret:");
            out.push_str(&self.needle_names[longest.1]);
            out.push(']');
            copied_to = end;
        }
        out.push_str(text.get(copied_to..).unwrap_or(""));
        out
    }

    /// (start, end, needle index) of every needle in `text`, overlapping ones included.
    fn find_all(&self, text: &str) -> Vec<(usize, usize, usize)> {
        match &self.matcher {
            Some(matcher) => matcher
                .find_overlapping_iter(text)
                .map(|m| (m.start(), m.end(), m.pattern().as_usize()))
                .collect(),
            None => self
                .needles
                .iter()
                .enumerate()
                .flat_map(|(index, needle)| {
                    text.match_indices(needle.as_str())
                        .map(move |(start, _)| (start, start + needle.len(), index))
                })
                .collect(),
        }
    }
}

/// Every form of `value` the redactor looks for: the value itself and, when it is at
/// least [`MIN_ENCODED_LEN`] bytes, its cheap encodings.
fn needles_for(value: &str) -> Vec<String> {
    let mut needles = vec![value.to_string()];
    if value.len() < MIN_ENCODED_LEN {
        return needles;
    }
    let bytes = value.as_bytes();
    needles.push(value.chars().rev().collect());
    let hex = hex_lower(bytes);
    needles.push(hex.to_ascii_uppercase());
    needles.push(hex);
    for alphabet in [BASE64_STANDARD, BASE64_URL_SAFE] {
        for offset in 0..3 {
            needles.push(base64_core(bytes, offset, alphabet));
        }
    }
    needles.push(percent_encode(bytes, false, true));
    needles.push(percent_encode(bytes, false, false));
    needles.push(percent_encode(bytes, true, true));
    needles.push(percent_encode(bytes, true, false));
    needles.sort();
    needles.dedup();
    needles
}

const BASE64_STANDARD: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64_URL_SAFE: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The base64 characters that depend only on `bytes` when `bytes` sits `offset`
/// (0, 1 or 2) bytes after the start of a 3-byte group: a substring of the encoding
/// of any text that contains `bytes` at that alignment, padded or not.
fn base64_core(bytes: &[u8], offset: usize, alphabet: &[u8; 64]) -> String {
    let bits_start = 8 * offset;
    let bits_end = 8 * (offset + bytes.len());
    // Character i covers bits [6i, 6i + 6) of the stream; keep those inside the value.
    let first = bits_start.div_ceil(6);
    let last = bits_end / 6;
    let bit = |position: usize| -> u8 {
        let byte = bytes[position / 8 - offset];
        (byte >> (7 - position % 8)) & 1
    };
    (first..last)
        .map(|char_index| {
            let sextet = (0..6).fold(0u8, |acc, i| (acc << 1) | bit(6 * char_index + i));
            char::from(alphabet[usize::from(sextet)])
        })
        .collect()
}

fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// `bytes` percent-encoded: every byte when `every_byte`, else all but RFC 3986's
/// unreserved characters; hex digits in upper or lower case.
fn percent_encode(bytes: &[u8], every_byte: bool, upper: bool) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &byte in bytes {
        let unreserved = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~');
        if unreserved && !every_byte {
            out.push(char::from(byte));
        } else {
            let hex = hex_lower(&[byte]);
            out.push('%');
            if upper {
                out.push_str(&hex.to_ascii_uppercase());
            } else {
                out.push_str(&hex);
            }
        }
    }
    out
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

    #[test]
    fn overlapping_values_leave_no_part_behind() {
        let redactor = Redactor::new([
            ("a".to_string(), "xxab".to_string()),
            ("b".to_string(), "abcdefgh".to_string()),
        ]);
        assert_eq!(redactor.redact("<xxabcdefgh>"), "<[secret:b]>");
    }

    #[test]
    fn base64_core_is_a_substring_of_every_alignment() {
        // "hi" + value, "h" + value, value: the core must appear in each full encoding.
        let value = b"s3cr3t-value!";
        let full = |data: &[u8]| -> String {
            let mut padded = data.to_vec();
            while !padded.len().is_multiple_of(3) {
                padded.push(0);
            }
            base64_core(&padded, 0, BASE64_STANDARD)
        };
        for offset in 0..3 {
            let mut data = b"hi!"[..offset].to_vec();
            data.extend_from_slice(value);
            data.extend_from_slice(b"tail");
            let core = base64_core(value, offset, BASE64_STANDARD);
            assert!(core.len() >= 16, "{core}");
            assert!(full(&data).contains(&core), "offset {offset}: {core}");
        }
        assert_eq!(base64_core(b"Man", 0, BASE64_STANDARD), "TWFu");
    }

    #[test]
    fn debug_shows_names_not_values() {
        let redactor = Redactor::new([("api".to_string(), "sk-live-123456".to_string())]);
        let shown = format!("{redactor:?}");
        assert!(
            shown.contains("api") && !shown.contains("sk-live"),
            "{shown}"
        );
    }
}
