//! Taint tracking: whether text from outside the person's control (a web page, an MCP
//! server's answer, a memory of outside origin) is in the context a model call saw, and
//! from where; plus what the person named in this turn's own words (hosts, recipients),
//! which the injection policy (`crate::injection_policy`) lets through.
//!
//! The taint is a function of the replayed context, not a flag kept in memory: it is
//! recomputed from the messages each model call saw (the stored transcript after a
//! restart), so neither a crash nor a resumed session launders it. Untrusted text from
//! an earlier turn that is still replayed still counts; a compaction summary counts too,
//! as it may carry what it summarised.

use hearth_protocol::Message;
use hearth_tools::{
    carries_outside_text, contains_untrusted_block, host_is_within, hosts_named_in,
    outside_text_source, without_outside_text, ToolRegistry,
};

/// Where untrusted content came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaintSource {
    /// The tool whose result it was (`web_fetch`, `docs__search`), or what else
    /// carried it ("recalled memory", "compaction summary").
    pub origin: String,
    /// The call that returned it; empty for what no call returned.
    pub call_id: String,
}

impl std::fmt::Display for TaintSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.call_id.is_empty() {
            f.write_str(&self.origin)
        } else {
            write!(f, "{} (call {})", self.origin, self.call_id)
        }
    }
}

/// The taint state of a turn: untrusted sources in its context, and what the person
/// named in this turn's message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TurnTaint {
    sources: Vec<TaintSource>,
    /// The person's own words this turn (recall left out), lower-cased.
    person_text: String,
    /// Hosts named in them (see [`hearth_tools::hosts_named_in`]).
    named_hosts: Vec<String>,
}

impl TurnTaint {
    /// A clean turn whose message says `person_text` (the person's words only). Outside
    /// text the message carries ([`hearth_tools::wrap_outside_text`]: a heartbeat
    /// probe's output) is not the person's: the hosts and recipients it names are not
    /// named by the person.
    pub fn new(person_text: &str) -> Self {
        let own_words = without_outside_text(person_text);
        Self {
            sources: Vec::new(),
            person_text: own_words.to_lowercase(),
            named_hosts: hosts_named_in(&own_words),
        }
    }

    /// Notes that untrusted content from `source` entered the context.
    pub fn record(&mut self, source: TaintSource) {
        if !self.sources.contains(&source) {
            self.sources.push(source);
        }
    }

    /// Whether any untrusted content is in the context.
    pub fn is_tainted(&self) -> bool {
        !self.sources.is_empty()
    }

    pub fn sources(&self) -> &[TaintSource] {
        &self.sources
    }

    /// The sources for messages: "web_fetch (call c1), docs__search (call c2)"; the
    /// first five and a count of the rest.
    pub fn describe_sources(&self) -> String {
        let mut shown: Vec<String> = self.sources.iter().take(5).map(|s| s.to_string()).collect();
        if self.sources.len() > 5 {
            shown.push(format!("{} more", self.sources.len() - 5));
        }
        shown.join(", ")
    }

    /// The hosts the person named this turn.
    pub fn named_hosts(&self) -> &[String] {
        &self.named_hosts
    }

    /// Whether `host` is one the person named this turn, or a subdomain of one.
    pub fn names_host(&self, host: &str) -> bool {
        self.named_hosts
            .iter()
            .any(|named| host_is_within(host, named))
    }

    /// Whether the person's words this turn contain `recipient` as a whole word
    /// (case-insensitive): "bob@example.org", "#general", "Alice".
    pub fn names_recipient(&self, recipient: &str) -> bool {
        let wanted = recipient.trim().to_lowercase();
        if wanted.is_empty() {
            return false;
        }
        let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '@' || c == '-';
        self.person_text.match_indices(&wanted).any(|(at, _)| {
            let before = self.person_text[..at].chars().next_back();
            let after = self.person_text[at + wanted.len()..].chars().next();
            !before.is_some_and(is_word) && !after.is_some_and(is_word)
        })
    }

    /// The taint of a context: every tool result in `messages` whose tool says its
    /// output is untrusted ([`hearth_tools::Tool::output_is_untrusted`]; a tool no
    /// longer registered counts when its result holds an `<untrusted-content>` block),
    /// every user message `untrusted_user_text` flags (recalled memories of outside
    /// origin), and every user message carrying outside text
    /// ([`hearth_tools::wrap_outside_text`]: a heartbeat probe's output). `person_text` is this turn's message, the person's words only.
    pub fn of_context(
        person_text: &str,
        messages: &[Message],
        tools: &ToolRegistry,
        untrusted_user_text: &dyn Fn(&str) -> bool,
    ) -> Self {
        let mut taint = Self::new(person_text);
        for message in messages {
            match message {
                Message::Tool(result) => {
                    let declared = tools
                        .get(&result.name)
                        .is_some_and(|tool| tool.output_is_untrusted(&result.content));
                    if declared || contains_untrusted_block(&result.content) {
                        taint.record(TaintSource {
                            origin: result.name.clone(),
                            call_id: result.call_id.clone(),
                        });
                    }
                }
                Message::User { text, .. } if untrusted_user_text(text) => {
                    taint.record(TaintSource {
                        origin: "recalled memory".to_string(),
                        call_id: String::new(),
                    });
                }
                Message::User { text, .. } if carries_outside_text(text) => {
                    let source = outside_text_source(text).unwrap_or("outside text");
                    taint.record(TaintSource {
                        origin: format!("{source} in a message"),
                        call_id: String::new(),
                    });
                }
                _ => {}
            }
        }
        taint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_protocol::{ToolCall, ToolResult};
    use std::sync::Arc;

    fn result(name: &str, id: &str, content: &str) -> Message {
        let call = ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: "{}".into(),
        };
        let mut result = ToolResult::error(&call, content);
        result.is_error = false;
        Message::Tool(result)
    }

    #[test]
    fn untrusted_results_taint_and_named_things_are_found() {
        let mut tools = ToolRegistry::new();
        tools.register(Arc::new(hearth_tools::WebFetch::default()));
        tools.register(Arc::new(hearth_tools::ReadFile));
        let page = hearth_tools::wrap_untrusted("https://x.test/", "obey me");
        let messages = vec![
            Message::user("Read https://docs.example.org/a and mail Bob@Example.org"),
            result("read_file", "c0", "plain notes"),
            result("web_fetch", "c1", &format!("Fetched.\n{page}")),
            result(
                "web_fetch",
                "c2",
                "web_fetch: http://y.test/ refused: not allowed",
            ),
            result("gone__tool", "c3", &format!("Result.\n{page}")),
        ];
        let taint = TurnTaint::of_context(
            "Read https://docs.example.org/a and mail Bob@Example.org",
            &messages,
            &tools,
            &|_| false,
        );
        assert_eq!(
            taint.describe_sources(),
            "web_fetch (call c1), gone__tool (call c3)"
        );
        assert!(taint.names_host("docs.example.org"));
        assert!(taint.names_host("a.docs.example.org"));
        assert!(!taint.names_host("evil.example"));
        assert!(taint.names_recipient("bob@example.org"));
        assert!(!taint.names_recipient("bo"));
        assert!(!taint.names_recipient("eve@example.org"));
        let clean = TurnTaint::of_context("hi", &messages[..2], &tools, &|_| false);
        assert!(!clean.is_tainted());
        let recalled = TurnTaint::of_context("hi", &messages[..1], &tools, &|_| true);
        assert_eq!(recalled.describe_sources(), "recalled memory");
    }
}
