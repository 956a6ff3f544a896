//! Approval policy, separate from the sandbox: when a person is asked before a command
//! runs, and the parsed-argv safe list that lets harmless commands through unasked.

use std::path::PathBuf;

use async_trait::async_trait;

/// When to ask before running a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalPolicy {
    /// Ask before anything not on the safe list.
    Untrusted,
    /// Run in the sandbox unasked; the model may ask to run outside it, the user decides.
    OnRequest,
    /// Never ask; anything that would need approval is refused and the model is told.
    Never,
}

impl ApprovalPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Untrusted => "untrusted",
            Self::OnRequest => "on-request",
            Self::Never => "never",
        }
    }
}

impl std::fmt::Display for ApprovalPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ApprovalPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Untrusted, Self::OnRequest, Self::Never]
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                format!("unknown approval policy '{s}'; known: untrusted, on-request, never")
            })
    }
}

/// A question put to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRequest {
    pub command: String,
    pub cwd: PathBuf,
    /// What is being asked for, e.g. "a command not on the safe list (sandboxed)".
    pub reason: String,
}

/// The user's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApprovalDecision {
    Approve,
    /// Approve this exact command for the rest of the session.
    ApproveForSession,
    Deny {
        reason: String,
    },
}

/// Whoever answers approval questions: a terminal, the web UI, a test.
#[async_trait]
pub trait Approver: Send + Sync {
    async fn decide(&self, request: &ApprovalRequest) -> ApprovalDecision;
}

/// Read-only programs that may run unasked under `untrusted`, when every argument passes.
/// Not `git`: its config (which the workspace can hold, and the model can write) names
/// programs that `status`, `diff` and `log` run (`core.fsmonitor`, `diff.external`).
const SAFE_PROGRAMS: [&str; 23] = [
    "cat", "cut", "date", "df", "diff", "du", "echo", "false", "file", "find", "grep", "head",
    "ls", "nl", "pwd", "rg", "sort", "stat", "tail", "tree", "true", "uniq", "wc",
];
/// `find` actions that run, delete or write.
const UNSAFE_FIND_ARGS: [&str; 9] = [
    "-exec", "-execdir", "-ok", "-okdir", "-delete", "-fls", "-fprint", "-fprint0", "-fprintf",
];

/// True when `command` is one simple command (no pipes, redirections, substitutions or
/// variables) whose parsed argv is on the safe list. Decided on argv, never on a regex
/// over the command string.
pub fn is_known_safe(command: &str) -> bool {
    let Some(argv) = parse_simple_command(command) else {
        return false;
    };
    let Some(program) = argv.first() else {
        return false;
    };
    if !SAFE_PROGRAMS.contains(&program.as_str()) {
        return false;
    }
    let args = &argv[1..];
    match program.as_str() {
        "find" => !args.iter().any(|a| UNSAFE_FIND_ARGS.contains(&a.as_str())),
        // Options that run a program, write a file or change the system.
        "rg" => !has_option(args, None, &["--pre", "--search-zip"]) && !has_short(args, 'z'),
        "sort" => !has_option(args, Some('o'), &["--output", "--compress-program"]),
        "tree" => !has_option(args, Some('o'), &[]),
        "file" => !has_option(args, Some('C'), &["--compile"]),
        "date" => !has_option(args, Some('s'), &["--set"]),
        _ => true,
    }
}

/// Whether `args` use the long options `long` (also as `--opt=value`, or abbreviated as
/// GNU tools allow) or the short option `short` (alone or in a cluster like `-uo`).
fn has_option(args: &[String], short: Option<char>, long: &[&str]) -> bool {
    let long_hit = args.iter().any(|arg| {
        arg.starts_with("--") && {
            let name = arg.split('=').next().unwrap_or(arg);
            long.iter().any(|l| name.len() > 2 && l.starts_with(name))
        }
    });
    long_hit || short.is_some_and(|c| has_short(args, c))
}

fn has_short(args: &[String], short: char) -> bool {
    args.iter()
        .any(|arg| arg.starts_with('-') && !arg.starts_with("--") && arg[1..].contains(short))
}

/// Splits a POSIX shell command into argv when it is a single simple command whose
/// words need no expansion: quotes and backslashes are honoured; any operator,
/// redirection, substitution, variable, glob or comment makes it `None`.
pub fn parse_simple_command(command: &str) -> Option<Vec<String>> {
    let mut argv = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        inner => word.push(inner),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '$' | '`' => return None,
                        '\\' => word.push(chars.next()?),
                        inner => word.push(inner),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.push(chars.next()?);
            }
            ' ' | '\t' => {
                if in_word {
                    argv.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '|' | '&' | ';' | '<' | '>' | '(' | ')' | '$' | '`' | '*' | '?' | '[' | '{' | '~'
            | '#' | '\n' | '\r' => return None,
            other => {
                in_word = true;
                word.push(other);
            }
        }
    }
    if in_word {
        argv.push(word);
    }
    Some(argv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_read_only_commands_are_safe() {
        assert!(is_known_safe("ls -la src"));
        assert!(is_known_safe("grep -n 'fn main' src/main.rs"));
        assert!(is_known_safe("find . -name \"*.rs\""));
        assert!(is_known_safe("sort -u names.txt"));
    }

    #[test]
    fn anything_needing_the_shell_or_writing_is_not() {
        for command in [
            "ls; rm -rf /",
            "cat a > b",
            "echo $(rm x)",
            "echo `id`",
            "echo \"$HOME\"",
            "ls | sh",
            "find . -delete",
            "find . -exec rm {} \\;",
            "git push",
            "git -c core.pager=sh log",
            "git status",
            "rm -rf /",
            "sort -o out in",
            "sort -uo out in",
            "sort --compress-program=sh in",
            "sort --compress=sh in",
            "find . -fls out",
            "tree -o out",
            "file -C -m magic",
            "date -s 2020-01-01",
            "date --set=2020-01-01",
            "rg --pre sh x",
            "rg -z x",
            "cat 'unterminated",
            "ls *.rs",
            "",
        ] {
            assert!(!is_known_safe(command), "{command} must not be safe");
        }
    }

    #[test]
    fn quoting_is_parsed_like_a_shell() {
        assert_eq!(
            parse_simple_command(r#"echo 'a b' "c\"d" e\ f"#),
            Some(vec![
                "echo".into(),
                "a b".into(),
                "c\"d".into(),
                "e f".into()
            ])
        );
        // A quoted operator is just text: the argv decides, not the string.
        assert_eq!(
            parse_simple_command("grep ';' file"),
            Some(vec!["grep".into(), ";".into(), "file".into()])
        );
    }

    #[test]
    fn policies_parse_and_print() {
        for policy in [
            ApprovalPolicy::Untrusted,
            ApprovalPolicy::OnRequest,
            ApprovalPolicy::Never,
        ] {
            assert_eq!(policy.as_str().parse::<ApprovalPolicy>(), Ok(policy));
        }
        assert!("always"
            .parse::<ApprovalPolicy>()
            .unwrap_err()
            .contains("on-request"));
    }
}
