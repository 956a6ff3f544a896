//! End-to-end tests of skills and MCP: the real `hearth` binary and the real loop with
//! the scripted model, against real peers: the npm reference MCP servers, a server and a
//! client built on the official Python MCP SDK (installed by `scripts/setup.sh --test`
//! under `target/test-peers`).

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use hearth_testkit::Step;
use serde_json::Value;

const OPENAI: Flavor = Flavor {
    provider: "openai",
    stream: true,
};

fn peers() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-peers");
    assert!(
        dir.join("node_modules/.bin/mcp-server-everything").exists()
            && dir.join("venv/bin/python").exists(),
        "MCP test peers missing in {}; run scripts/setup.sh --test",
        dir.display()
    );
    dir
}

fn python() -> PathBuf {
    peers().join("venv/bin/python")
}

fn peer_script(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/mcp_peers")
        .join(name)
        .display()
        .to_string()
}

fn write_skill(root: &Path, name: &str, description: &str, body: &str) {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("scripts")).unwrap();
    std::fs::write(
        dir.join("SKILL.md"),
        format!("---\nname: {name}\ndescription: {description}\n---\n{body}\n"),
    )
    .unwrap();
}

fn tool_names(request: &hearth_testkit::RecordedRequest) -> Vec<String> {
    request.body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["function"]["name"].as_str().or(t["name"].as_str()))
        .map(str::to_string)
        .collect()
}

fn toml_string(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn skills_new_list_and_check_from_the_cli() {
    let env = TestEnv::start(vec![]).await;
    let created = env.hearth(OPENAI, &["skills", "new", "csv-report"]).await;
    assert!(created.status.success(), "{}", stderr(&created));
    let skill_md = env.workspace().join("skills/csv-report/SKILL.md");
    assert!(skill_md.is_file());
    write_skill(&env.workspace().join("skills"), "Bad", "d", "");
    let listed = env.hearth(OPENAI, &["skills", "list", "--json"]).await;
    assert!(listed.status.success(), "{}", stderr(&listed));
    let json: Value = serde_json::from_str(&stdout(&listed)).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 1);
    assert_eq!(json[0]["name"], "csv-report");
    assert!(json[0]["description"].as_str().unwrap().len() > 10);
    assert!(json[0]["path"]
        .as_str()
        .unwrap()
        .ends_with("csv-report/SKILL.md"));
    assert!(
        stderr(&listed).contains("contains 'B'"),
        "{}",
        stderr(&listed)
    );

    let ok = env
        .hearth(OPENAI, &["skills", "check", skill_md.to_str().unwrap()])
        .await;
    assert!(ok.status.success(), "{}", stderr(&ok));
    let bad_dir = env.workspace().join("skills/Bad");
    let bad = env
        .hearth(OPENAI, &["skills", "check", bad_dir.to_str().unwrap()])
        .await;
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("use only lowercase letters"),
        "{}",
        stderr(&bad)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_index_is_in_the_system_prompt_and_a_mention_pulls_the_body_in() {
    let env = TestEnv::start(vec![Step::text("done"), Step::text("done again")]).await;
    let skills = env.workspace().join("skills");
    write_skill(
        &skills,
        "pdf",
        "Fill in PDF forms.",
        "Always use pdftk for forms.",
    );
    write_skill(&skills, "broken", "", "");
    let home_skills = env.home.path().join("skills");
    write_skill(&home_skills, "pdf", "The hidden duplicate.", "");
    write_skill(&home_skills, "zip", "Pack files.", "");

    let output = env.hearth(OPENAI, &["run", "fill this with $pdf"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    // A run says which skills it left out and why: none goes missing silently.
    let said = stderr(&output);
    assert!(said.contains("skipped invalid skill"), "{said}");
    assert!(said.contains("hidden by the one at"), "{said}");
    let requests = env.server().requests();
    let system = system_text(&requests[0]);
    assert!(
        system.contains("- pdf: Fill in PDF forms. (skills/pdf/SKILL.md)"),
        "{system}"
    );
    assert!(system.contains("- zip: Pack files. ("), "{system}");
    assert!(!system.contains("hidden duplicate"), "{system}");
    let user = user_texts(&requests[0]).join("\n");
    assert!(user.starts_with("fill this with $pdf"), "{user}");
    assert!(user.contains("<skill name=\"pdf\""), "{user}");
    assert!(user.contains("Always use pdftk for forms."), "{user}");

    let second = env.hearth(OPENAI, &["run", "no skill named"]).await;
    assert!(second.status.success());
    let requests = env.server().requests();
    assert_eq!(system_text(&requests[1]), system, "the prefix is stable");
    assert!(!user_texts(&requests[1]).join("").contains("<skill"));

    let context = env.hearth(OPENAI, &["context"]).await;
    let report = stdout(&context);
    assert!(report.contains("skills (2 listed)"), "{report}");
    assert!(report.contains("skipped invalid skill"), "{report}");
    assert!(report.contains("hidden by the one at"), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_skill_script_runs_in_the_sandbox_through_exec() {
    let env = TestEnv::start(vec![
        Step::tool_call(
            "call_script",
            "exec",
            r#"{"command":"sh skills/greet/scripts/hello.sh && touch /etc/hearth-escape; echo exit=$?"}"#,
        ),
        Step::text("ran it"),
    ])
    .await;
    write_skill(
        &env.workspace().join("skills"),
        "greet",
        "Greets.",
        "Run scripts/hello.sh.",
    );
    std::fs::write(
        env.workspace().join("skills/greet/scripts/hello.sh"),
        "echo \"hello from greet, network: $(cat /sys/class/net/*/operstate 2>/dev/null | tr '\\n' ' ')\"\n",
    )
    .unwrap();
    let output = env.hearth(OPENAI, &["run", "greet"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let requests = env.server().requests();
    let result = &results(&requests[1])[0].1;
    assert!(result.contains("hello from greet"), "{result}");
    assert!(
        result.contains("exit=1"),
        "writing outside the workspace is refused: {result}"
    );
    assert!(!Path::new("/etc/hearth-escape").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_skills_fit_the_budget_by_shortening_descriptions() {
    let env = TestEnv::start(vec![]).await;
    let root = env.workspace().join("skills");
    for i in 0..50 {
        write_skill(
            &root,
            &format!("skill-{i:02}"),
            &"describes a job ".repeat(20),
            "",
        );
    }
    let context = env.hearth(OPENAI, &["context", "--json"]).await;
    assert!(context.status.success(), "{}", stderr(&context));
    let report: Value = serde_json::from_str(&stdout(&context)).unwrap();
    let part = report["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "skills (50 listed)")
        .expect("skills part");
    assert!(part["chars"].as_u64().unwrap() <= 8_000, "{part}");
    assert!(part["cut_chars"].as_u64().unwrap() > 0, "{part}");
    assert_eq!(report["skills"]["shortened"].as_array().unwrap().len(), 50);
    assert!(report["skills"]["dropped"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_everything_server_is_called_through_the_loop() {
    let everything = peers().join("node_modules/.bin/mcp-server-everything");
    let env = TestEnv::start(vec![
        Step::tool_call(
            "call_echo",
            "everything__echo",
            r#"{"message":"hello over mcp"}"#,
        ),
        Step::tool_call("call_sum", "everything__get-sum", r#"{"a":2,"b":40}"#),
        Step::text("echoed"),
    ])
    .await;
    env.write_config(&format!(
        "[mcp.servers.everything]\ncommand = {}\nargs = [\"stdio\"]\n",
        toml_string(&everything)
    ));
    let output = env.hearth(OPENAI, &["run", "echo please"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let requests = env.server().requests();
    let names = tool_names(&requests[0]);
    assert!(names.contains(&"everything__echo".to_string()), "{names:?}");
    assert!(names.contains(&"read_file".to_string()), "{names:?}");
    assert_eq!(tool_names(&requests[2]), names, "tool schemas are stable");
    let answers = results(&requests[2]);
    assert!(
        answers[0].1.contains("Echo: hello over mcp"),
        "{}",
        answers[0].1
    );
    assert!(
        answers[0]
            .1
            .contains("<untrusted-content source=\"mcp:everything__echo\">"),
        "{}",
        answers[0].1
    );
    assert!(answers[1].1.contains("42"), "{}", answers[1].1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_filesystem_server_reads_a_file_and_mcp_list_shows_its_tools() {
    let filesystem = peers().join("node_modules/.bin/mcp-server-filesystem");
    let env = TestEnv::start(vec![]).await;
    let allowed = env.workspace().canonicalize().unwrap();
    std::fs::write(allowed.join("note.txt"), "a note for mcp\n").unwrap();
    let mut env = env;
    let args = serde_json::json!({"path": allowed.join("note.txt")}).to_string();
    env.restart_server(vec![
        Step::tool_call("call_read", "filesystem__read_text_file", &args),
        Step::text("read"),
    ])
    .await;
    env.write_config(&format!(
        "[mcp.servers.filesystem]\ncommand = {}\nargs = [{}]\n\n[mcp.servers.missing]\ncommand = \"/nonexistent/mcp-server\"\n",
        toml_string(&filesystem),
        toml_string(&allowed)
    ));
    let listed = env.hearth(OPENAI, &["mcp", "list", "--json"]).await;
    assert!(listed.status.success(), "{}", stderr(&listed));
    let status: Value = serde_json::from_str(&stdout(&listed)).unwrap();
    assert_eq!(status[0]["name"], "filesystem");
    assert_eq!(status[0]["state"], "running");
    assert!(status[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["name"] == "filesystem__read_text_file"));
    assert_eq!(status[1]["state"], "failed");
    assert!(status[1]["error"]
        .as_str()
        .unwrap()
        .contains("could not start"));

    let output = env.hearth(OPENAI, &["run", "read the note"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("MCP server 'missing' could not start"),
        "{}",
        stderr(&output)
    );
    let requests = env.server().requests();
    let answer = &results(&requests[1])[0].1;
    assert!(answer.contains("a note for mcp"), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_dies_is_reported_and_restarted_and_slow_calls_time_out() {
    let env = TestEnv::start(vec![
        Step::tool_call("c1", "flaky__pid", "{}"),
        Step::tool_call("c2", "flaky__die", "{}"),
        Step::tool_call("c3", "flaky__pid", "{}"),
        Step::tool_call("c4", "flaky__sleep", r#"{"seconds":30}"#),
        Step::text("survived"),
    ])
    .await;
    // The peer's tools have no annotations, so the injection policy would put every
    // call after the first MCP answer to the person; this test is about restarts.
    env.write_config(&format!(
        "[security]\ntrusted_tools = [\"flaky__*\"]\n\n\
         [mcp.servers.flaky]\ncommand = {}\nargs = [{:?}]\ncall_timeout_secs = 2\n",
        toml_string(&python()),
        peer_script("flaky_server.py")
    ));
    let output = env.hearth(OPENAI, &["run", "poke it"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let requests = env.server().requests();
    let answers: Vec<String> = results(&requests[4]).into_iter().map(|(_, r)| r).collect();
    let pid = |text: &str| {
        text.split("pid ")
            .nth(1)
            .map(|s| s.split_whitespace().next().unwrap_or("").to_string())
    };
    let first = pid(&answers[0]).expect("a pid");
    assert!(
        answers[1].contains("stopped or lost the connection"),
        "{}",
        answers[1]
    );
    assert!(
        answers[1].contains("restarted on the next call"),
        "{}",
        answers[1]
    );
    let second = pid(&answers[2]).expect("a pid after the restart");
    assert_ne!(first, second, "a new server process answers");
    assert!(
        answers[3].contains("did not answer within 2 s"),
        "{}",
        answers[3]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_streamable_http_server_is_reached_by_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = tokio::process::Command::new(python())
        .args([
            peer_script("flaky_server.py"),
            "--http".into(),
            port.to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let env = TestEnv::start(vec![
        Step::tool_call("c1", "web__pid", "{}"),
        Step::text("ok"),
    ])
    .await;
    env.write_config(&format!(
        "[mcp.servers.web]\nurl = \"http://127.0.0.1:{port}/mcp\"\n"
    ));
    let output = env.hearth(OPENAI, &["run", "which pid"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let answer = &results(&env.server().requests()[1])[0].1;
    assert!(answer.contains("pid "), "{answer}");
    server.kill().await.ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_sdk_lists_hearths_tools_and_asks_it_a_question() {
    let env = TestEnv::start(vec![Step::text("Hearth says 42.")]).await;
    let server = env.server();
    let output = tokio::process::Command::new(python())
        .args([
            peer_script("ask_client.py"),
            env!("CARGO_BIN_EXE_hearth").to_string(),
            "what is six times seven?".to_string(),
        ])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env.home.path())
        .env("HEARTH_HOME", env.home.path())
        .env("HEARTH_MODEL", "openai:scripted-model")
        .env("OPENAI_API_KEY", "sk-test-openai")
        .env("OPENAI_BASE_URL", server.openai_base_url())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), output)
        .await
        .expect("the client finished")
        .expect("python ran");
    assert!(output.status.success(), "{}", stderr(&output));
    let line = stdout(&output);
    let got: Value = serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(got["server"], "hearth");
    for tool in ["ask", "memory_search", "memory_get", "memory_write"] {
        assert!(
            got["tools"].as_array().unwrap().iter().any(|t| t == tool),
            "{tool} in {got}"
        );
    }
    assert_eq!(got["memory_write_error"], false, "{got}");
    assert!(
        got["memory_search"]
            .as_str()
            .unwrap_or_default()
            .contains("blue flowerpot"),
        "{got}"
    );
    assert_eq!(got["is_error"], false, "{got}");
    assert_eq!(got["text"][0], "Hearth says 42.", "{got}");
    assert!(got["structured"]["session_id"].as_str().is_some(), "{got}");
    let requests = server.requests();
    assert_eq!(user_texts(&requests[0]), ["what is six times seven?"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stdio_server_gets_its_own_env_with_secrets_but_not_hearths_keys() {
    let everything = peers().join("node_modules/.bin/mcp-server-everything");
    let env = TestEnv::start(vec![
        Step::tool_call("call_env", "everything__get-env", "{}"),
        Step::text("looked"),
    ])
    .await;
    let mut set = env.command("openai");
    set.args(["secrets", "set", "mcp_token"])
        .stdin(std::process::Stdio::piped());
    let mut child = set.spawn().unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut stdin, b"tok-for-the-server-123\n")
            .await
            .unwrap();
    }
    assert!(child.wait_with_output().await.unwrap().status.success());
    env.write_config(&format!(
        "[mcp.servers.everything]\ncommand = {}\nargs = [\"stdio\"]\n\
         [mcp.servers.everything.env]\nSERVER_TOKEN = \"secret:mcp_token\"\nPLAIN = \"visible\"\n",
        toml_string(&everything)
    ));
    let output = env.hearth(OPENAI, &["run", "show me the env"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let requests = env.server().requests();
    let seen = &results(&requests[1])[0].1;
    // The provider key in Hearth's own environment never reaches the server.
    assert!(!seen.contains("sk-test-openai"), "{seen}");
    assert!(!seen.contains("OPENAI_API_KEY"), "{seen}");
    assert!(seen.contains("\"PLAIN\": \"visible\""), "{seen}");
    // The secret was injected, and its value redacted before the model saw it.
    assert!(
        seen.contains("\"SERVER_TOKEN\": \"[secret:mcp_token]\""),
        "{seen}"
    );
    assert!(!seen.contains("tok-for-the-server-123"), "{seen}");
}
