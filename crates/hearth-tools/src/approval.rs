//! Approval policy, separate from the sandbox: when a person is asked before a command
//! runs, and the parsed-argv safe list that lets harmless commands through unasked.

use std::path::PathBuf;

use async_trait::async_trait;

use crate::safe_commands::argv_is_read_only;

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

/// True when `command` is one simple command (no pipes, redirections, substitutions or
/// variables) whose parsed argv is on the safe list with only read-only options and
/// operands (see `safe_commands`). Decided on argv, never on a regex over the string.
pub fn is_known_safe(command: &str) -> bool {
    parse_simple_command(command).is_some_and(|argv| argv_is_read_only(&argv))
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
    fn common_read_only_shapes_are_safe() {
        for command in [
            "ls -la",
            "ls -la --color=auto src",
            "cat file",
            "cat -n -- -odd-name",
            "grep -rn x .",
            "grep -rn --include='*.rs' -e 'fn main' -C 3 src",
            "head -n 5 f",
            "head -5 f",
            "tail -n +20 log.txt",
            "wc -l f",
            "find . -name '*.rs'",
            "find -L src docs -type f -name '*.md' -newer Cargo.toml -print0",
            "find . '(' -name a -o -iname b ')' -maxdepth 2",
            "rg -n 'TODO' --glob '*.rs' -g '!target'",
            "rg -e foo -tpy src",
            "sort -u -k 2,2 -t , names.txt",
            "uniq -c in.txt",
            "uniq -f 1 -s 2 in.txt",
            "uniq",
            "tree -L 2 -a src",
            "tree -aL 2 src",
            "date +%Y-%m-%d",
            "date -u",
            "du -sh .",
            "df -h .",
            "diff -u a b",
            "stat -c %s f",
            "file -b --mime-type f",
            "nl -ba f",
            "pwd",
            "echo hello world",
            "true",
        ] {
            assert!(is_known_safe(command), "{command} should be safe");
        }
    }

    #[test]
    fn writing_running_or_unknown_arguments_need_approval() {
        for command in [
            // uniq's second operand is the file it writes.
            "uniq payload ~/.bashrc",
            "uniq payload .bashrc",
            "uniq -c payload out",
            "uniq -- payload out",
            "uniq -f 1 payload out",
            // sort writes with -o/--output, in any spelling, and runs --compress-program.
            "sort -o out in",
            "sort -uo out in",
            "sort -fo out in",
            "sort -o=out in",
            "sort --output=out in",
            "sort --output out in",
            "sort --out=out in",
            "sort --o=out in",
            "sort --compress-program=sh in",
            "sort --compress=sh in",
            "sort -T /tmp/x in",
            "sort --temporary-directory=/tmp/x in",
            // find actions that run, delete or write.
            "find . -delete",
            "find . -exec rm {} +",
            "find . -execdir rm {} +",
            "find . -ok rm {} +",
            "find . -okdir rm {} +",
            "find . -fls out",
            "find . -fprint out",
            "find . -fprint0 out",
            "find . -fprintf out %p",
            "find . -name x -delete",
            "find . -files0-from list",
            "find . -name",
            // rg options that run programs.
            "rg --pre sh x",
            "rg --pre=sh x",
            "rg --pre-glob '*' x",
            "rg -z x",
            "rg -iz x",
            "rg --search-zip x",
            "rg --hostname-bin=sh x",
            // tree writes with -o and, with -R, 00Tree.html everywhere.
            "tree -o out",
            "tree -ao out",
            "tree --output=out",
            "tree -R -H . -L 1",
            // tree takes `-L`'s value from the next argument and goes on with the cluster.
            "tree -Lo 1 out",
            "tree -aLo 1 out",
            // file runs decompressors, compiles magic, sets times.
            "file -z f",
            "file -Z f",
            "file -C -m magic",
            "file -p f",
            "file --uncompress f",
            // date sets the clock.
            "date -s 2020-01-01",
            "date --set=2020-01-01",
            "date --set 2020-01-01",
            "date 010100002020",
            // diff -l pipes through pr; df --sync writes.
            "diff -l a b",
            "diff --paginate a b",
            "df --sync",
            // pwd takes no operands; tail -f never ends.
            "pwd x",
            "tail -f log",
            // Programs off the list or not named bare.
            "sed -n 1p f",
            "sed 'w out' f",
            "awk '{print}' f",
            "xargs rm",
            "env ls",
            "git status",
            "/usr/bin/uniq a b",
            "/usr/bin/ls",
            "./ls",
            "bin/cat f",
            "FOO=1 ls",
            "LD_PRELOAD=x.so cat f",
            // Unknown options are not assumed harmless.
            "ls --unknown-option",
            "cat -Q f",
            "grep --frobnicate x f",
            // A value-taking option at the end has no value: refuse rather than guess.
            "grep -e",
            "sort --key",
        ] {
            assert!(!is_known_safe(command), "{command} must need approval");
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
