//! The runtime over real files: the file tools' access is derived from the sandbox
//! policy and agrees with what a real sandboxed command can do, on several layouts;
//! the environment is read once and its values reach the crates below; front ends
//! pass plain overrides and get warnings back as values.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hearth_runtime::{resolve, Environment, Overrides, Resolved, RuntimeError, Warning};
use hearth_sandbox::{CommandLine, CommandSpec, MechanismChoice, MechanismSettings, SandboxMode};
use hearth_tools::ApprovalPolicy;
use tokio_util::sync::CancellationToken;

/// An environment holding only `pairs`.
fn env_of(pairs: &[(&str, &Path)]) -> Environment {
    let pairs: Vec<(String, OsString)> = pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.as_os_str().to_owned()))
        .collect();
    Environment::from_vars(move |name| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    })
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Whether a sandboxed command under the agent's policy can read / append to `path`
/// (relative to the workspace).
async fn sandbox_can(resolved: &Resolved, script: &str, path: &str) -> bool {
    let spec = CommandSpec {
        command: CommandLine::Argv(vec![
            "sh".into(),
            "-c".into(),
            script.into(),
            "sh".into(),
            path.into(),
        ]),
        cwd: resolved.workspace.clone(),
        env: Vec::new(),
        timeout: Duration::from_secs(30),
        output_limit: 1 << 16,
    };
    let output = hearth_sandbox::run_using(
        &resolved.env.sandbox,
        &resolved.sandbox,
        &spec,
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    output.exit_code == Some(0)
}

/// For every probe path: the file tools may read (write) it exactly when a sandboxed
/// command may.
async fn assert_agree(resolved: &Resolved, layout: &str, probes: &[&str]) {
    let ctx = resolved.tool_context(CancellationToken::new()).unwrap();
    for path in probes {
        let tools_read = ctx.resolve_read(path).is_ok();
        let tools_write = ctx.resolve_write(path).is_ok();
        let sandbox_read = sandbox_can(resolved, "cat -- \"$1\" > /dev/null", path).await;
        let sandbox_write = sandbox_can(resolved, "printf x >> \"$1\"", path).await;
        assert_eq!(
            (tools_read, tools_write),
            (sandbox_read, sandbox_write),
            "{layout}: {path}: file tools (read, write) vs sandboxed command"
        );
    }
}

fn sandbox_works() -> bool {
    let mechanism = hearth_sandbox::probe();
    if !mechanism.is_available() {
        eprintln!("skipped: no sandbox mechanism here ({mechanism})");
    }
    mechanism.is_available()
}

/// The workspace's own files, a repository's and a nested one's history.
fn fill_workspace(workspace: &Path) {
    write(&workspace.join("notes.txt"), "notes");
    write(&workspace.join(".git/config"), "[core]");
    write(&workspace.join("sub/.git/HEAD"), "ref: refs/heads/main");
    write(&workspace.join("sub/code.rs"), "fn main() {}");
}

const WORKSPACE_PROBES: [&str; 4] = ["notes.txt", ".git/config", "sub/.git/HEAD", "sub/code.rs"];

#[tokio::test]
async fn file_tools_agree_with_the_sandbox_on_every_layout() {
    if !sandbox_works() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let root = root.path().canonicalize().unwrap();

    // `-C ~`: the workspace holds HEARTH_HOME, its secrets and its skills.
    let user = root.join("user");
    let home = user.join(".hearth");
    write(&home.join("secrets.json"), "{}");
    write(&home.join("config.toml"), "");
    write(
        &home.join("skills/notes/SKILL.md"),
        "---\nname: notes\n---\n",
    );
    fill_workspace(&user);
    let env = env_of(&[("HEARTH_HOME", &home), ("HOME", &user)]);
    for mode in [SandboxMode::WorkspaceWrite, SandboxMode::ReadOnly] {
        let overrides = Overrides {
            workspace: Some(user.clone()),
            sandbox: Some(mode),
            ..Overrides::default()
        };
        let resolved = resolve(&overrides, env.clone()).unwrap();
        let mut probes = WORKSPACE_PROBES.to_vec();
        probes.extend([
            ".hearth/secrets.json",
            ".hearth/config.toml",
            ".hearth/skills/notes/SKILL.md",
        ]);
        assert_agree(&resolved, &format!("-C ~ ({mode})"), &probes).await;
    }

    // The default workspace, inside HEARTH_HOME.
    let home = root.join("home");
    write(&home.join("secrets.json"), "{}");
    fill_workspace(&home.join("workspace"));
    let env = env_of(&[("HEARTH_HOME", &home)]);
    let resolved = resolve(&Overrides::default(), env).unwrap();
    assert_agree(&resolved, "default workspace", &WORKSPACE_PROBES).await;

    // `-C DIR` beside HEARTH_HOME.
    let project = root.join("project");
    fill_workspace(&project);
    let env = env_of(&[("HEARTH_HOME", &home)]);
    let overrides = Overrides {
        workspace: Some(project),
        ..Overrides::default()
    };
    let resolved = resolve(&overrides, env).unwrap();
    assert_agree(&resolved, "-C DIR", &WORKSPACE_PROBES).await;
}

#[test]
fn file_access_is_derived_from_the_sandbox_policy() {
    let root = tempfile::tempdir().unwrap();
    let user = root.path().canonicalize().unwrap();
    let home = user.join(".hearth");
    std::fs::create_dir_all(home.join("skills")).unwrap();
    let env = env_of(&[("HEARTH_HOME", &home)]);
    let overrides = Overrides {
        workspace: Some(user.clone()),
        sandbox: Some(SandboxMode::ReadOnly),
        ..Overrides::default()
    };
    let resolved = resolve(&overrides, env).unwrap();
    let access = resolved.file_access();
    assert!(access.read_only);
    assert_eq!(access.private, vec![home.clone()]);
    assert_eq!(access.readable, vec![home.join("skills")]);
    assert_eq!(
        access,
        hearth_tools::FileAccess::from_policy(&resolved.sandbox)
    );
}

#[test]
fn one_model_cache_rule_for_local_models_and_the_embedder() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let cases = [
        env_of(&[("HEARTH_MODELS", &models), ("HOME", dir.path())]),
        env_of(&[("HOME", dir.path())]),
        // Neither set: no cache for either (a local model id then says so).
        env_of(&[]),
    ];
    for env in cases {
        assert_eq!(env.model_cache, env.embedder.model_cache);
        assert_eq!(
            env.embedder.model_dir(),
            env.model_cache
                .as_ref()
                .map(|dir| dir.join(hearth_memory::DEFAULT_MODEL))
        );
    }
    let nowhere = env_of(&[]);
    assert_eq!(nowhere.model_cache, None);
    assert_eq!(
        hearth_local::default_model(nowhere.model_cache.as_deref()),
        None
    );
    let error = hearth_local::build_provider("smollm2", None, nowhere.local_options())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(error.contains("neither HEARTH_MODELS nor HOME"), "{error}");
}

#[test]
fn settings_the_crates_below_used_to_read_come_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let chosen = dir.path().join("my-bert");
    let threads = PathBuf::from("3");
    let landlock = PathBuf::from("landlock");
    let env = env_of(&[
        ("HEARTH_EMBEDDER", &chosen),
        ("HEARTH_LOCAL_THREADS", &threads),
        ("HEARTH_SANDBOX", &landlock),
    ]);
    assert_eq!(env.embedder.chosen.as_deref(), Some(chosen.as_path()));
    assert_eq!(env.embedder.model_dir(), Some(chosen));
    assert_eq!(env.local_options().threads, 3);
    assert_eq!(env.sandbox.choice, MechanismChoice::Landlock);
    // The Landlock helper is passed, not registered process-wide: without one the
    // forced choice is unavailable, and says why.
    let mechanism = hearth_sandbox::probe_with(&env.sandbox);
    assert!(
        mechanism
            .to_string()
            .contains("no Landlock helper program was given"),
        "{mechanism}"
    );
    let default = env_of(&[]);
    assert_eq!(default.sandbox, MechanismSettings::default());
    assert_eq!(
        default.local_options().threads,
        hearth_local::default_threads()
    );
}

/// What Hearth reads back and trusts on the next start (the sandbox probe's answer,
/// saved KV states) lives in `$HEARTH_HOME/cache`, which every sandboxed command is
/// denied, never in the model cache, which a `-C ~` workspace can write.
#[test]
fn remembered_probe_answers_and_kv_states_live_in_the_home_not_the_model_cache() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let models = dir.path().join("models");
    let env = env_of(&[("HEARTH_HOME", &home), ("HEARTH_MODELS", &models)]);
    let probe = env.sandbox.probe_cache.clone().expect("a probe cache file");
    assert!(probe.starts_with(home.join("cache")), "{}", probe.display());
    assert!(!probe.starts_with(&models));
    let user = dir.path().join("user");
    let by_user_home = env_of(&[("HOME", &user)]);
    let probe = by_user_home
        .sandbox
        .probe_cache
        .expect("a probe cache file");
    assert!(
        probe.starts_with(user.join(".hearth/cache")),
        "{}",
        probe.display()
    );
}

#[test]
fn overrides_are_plain_values_and_warnings_come_back_as_values() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    write(
        &home.join("config.toml"),
        "[mcp.servers.tracker]\ncommand = \"tracker-mcp\"\nenv = { TOKEN = \"secret:tracker\" }\n",
    );
    let env = env_of(&[("HEARTH_HOME", &home)]);
    let overrides = Overrides {
        sandbox: Some(SandboxMode::ReadOnly),
        approval: Some(ApprovalPolicy::Never),
        max_steps: Some(0),
        stream: false,
        ..Overrides::default()
    };
    let resolved = resolve(&overrides, env.clone()).unwrap();
    assert_eq!(resolved.sandbox.mode, SandboxMode::ReadOnly);
    assert_eq!(resolved.approval, ApprovalPolicy::Never);
    assert_eq!(resolved.settings.max_steps, 1);
    assert!(!resolved.settings.stream);
    match resolved.warnings.as_slice() {
        [Warning::McpServerLeftOut { server, reason }] => {
            assert_eq!(server, "tracker");
            assert!(
                reason.contains("[mcp.servers.tracker.env] TOKEN"),
                "{reason}"
            );
        }
        other => panic!("expected one MCP warning, got {other:?}"),
    }
    // Defaults live once: the agent's.
    let defaults = resolve(&Overrides::default(), env).unwrap();
    let agent = hearth_agent::AgentSettings::default();
    assert_eq!(defaults.settings.max_steps, agent.max_steps);
    assert_eq!(defaults.settings.max_output_tokens, agent.max_output_tokens);
    assert!(defaults.settings.stream);
}

#[test]
fn errors_state_facts_without_cli_hints() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let env = env_of(&[("HEARTH_HOME", &home)]);
    let missing = Overrides {
        workspace: Some(dir.path().join("nope")),
        ..Overrides::default()
    };
    let error = resolve(&missing, env.clone()).err().unwrap();
    assert!(matches!(error, RuntimeError::WorkspaceNotDirectory { .. }));
    assert!(!error.to_string().contains("-C"), "{error}");
    let resolved = resolve(&Overrides::default(), env).unwrap();
    let error = resolved.model(None).unwrap_err();
    assert!(matches!(error, RuntimeError::NoModel { .. }), "{error}");
    assert!(!error.to_string().contains("--model"), "{error}");
}

#[test]
fn a_resumed_session_completes_the_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let home_dir = dir.path().join("home");
    let project = dir.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    let env = env_of(&[("HEARTH_HOME", &home_dir)]);
    let home = hearth_runtime::home::Home::locate_in(&env).unwrap();
    let store = hearth_store::Store::open(&home.state_db()).unwrap();
    let session = store.create_session("openai:gpt-4o", &project).unwrap();
    let overrides = Overrides {
        resume: Some(session.id.clone()),
        ..Overrides::default()
    };
    let (resumed, found) = overrides.resumed(&home).unwrap();
    assert_eq!(found.map(|s| s.id), Some(session.id.clone()));
    assert_eq!(resumed.model.as_deref(), Some("openai:gpt-4o"));
    assert_eq!(resumed.workspace, Some(project));
    // A flag given again wins over the session's.
    let overrides = Overrides {
        model: Some("anthropic:claude".into()),
        ..overrides
    };
    let (resumed, _) = overrides.resumed(&home).unwrap();
    assert_eq!(resumed.model.as_deref(), Some("anthropic:claude"));
    let (plain, none) = Overrides::default().resumed(&home).unwrap();
    assert_eq!((plain, none.is_none()), (Overrides::default(), true));
}
