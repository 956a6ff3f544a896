//! Discovery over real folders: root order, first match wins, invalid skills reported,
//! `$skill` injection, and reading a skill outside the workspace through `read_file`.

use std::path::Path;
use std::sync::Arc;

use hearth_skills::{discover, expand_mentions, Problem, SkillAwareReadFile, SkillRoots};
use hearth_tools::{ReadFile, Tool, ToolContext};

fn write_skill(root: &Path, folder: &str, frontmatter: &str, body: &str) {
    let dir = root.join(folder);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("SKILL.md"),
        format!("---\n{frontmatter}\n---\n{body}\n"),
    )
    .unwrap();
}

struct Layout {
    _tmp: tempfile::TempDir,
    workspace: std::path::PathBuf,
    home: std::path::PathBuf,
    hearth_home: std::path::PathBuf,
}

fn layout() -> Layout {
    let tmp = tempfile::tempdir().unwrap();
    let workspace = tmp.path().join("ws");
    let home = tmp.path().join("home");
    let hearth_home = tmp.path().join("hearth");
    for dir in [&workspace, &home, &hearth_home] {
        std::fs::create_dir_all(dir).unwrap();
    }
    Layout {
        workspace: workspace.canonicalize().unwrap(),
        home,
        hearth_home,
        _tmp: tmp,
    }
}

#[test]
fn roots_are_searched_in_order_and_the_first_skill_of_a_name_wins() {
    let l = layout();
    write_skill(
        &l.hearth_home.join("skills"),
        "pdf",
        "name: pdf\ndescription: from hearth home",
        "",
    );
    write_skill(
        &l.home.join(".agents/skills"),
        "pdf",
        "name: pdf\ndescription: from user",
        "",
    );
    write_skill(
        &l.home.join(".agents/skills"),
        "zip",
        "name: zip\ndescription: zips",
        "",
    );
    write_skill(
        &l.workspace.join(".agents/skills"),
        "pdf",
        "name: pdf\ndescription: from ws .agents",
        "",
    );
    write_skill(
        &l.workspace.join("skills"),
        "csv",
        "name: csv\ndescription: csvs",
        "",
    );
    let roots = SkillRoots::standard(&l.workspace, Some(&l.home), &l.hearth_home);
    let catalog = discover(&roots);
    let names: Vec<&str> = catalog
        .skills
        .iter()
        .map(|s| s.meta.name.as_str())
        .collect();
    assert_eq!(names, ["csv", "pdf", "zip"]);
    assert_eq!(
        catalog.get("pdf").unwrap().meta.description,
        "from ws .agents"
    );
    let shadowed: Vec<String> = catalog
        .problems
        .iter()
        .filter(|p| matches!(p, Problem::Shadowed { .. }))
        .map(|p| p.to_string())
        .collect();
    assert_eq!(shadowed.len(), 2, "{shadowed:?}");
    assert!(
        shadowed[0].contains("hidden by the one at") && shadowed[0].contains(".agents/skills/pdf")
    );
}

#[test]
fn invalid_skills_are_reported_with_their_reason_and_valid_ones_still_load() {
    let l = layout();
    let root = l.workspace.join("skills");
    write_skill(&root, "good", "name: good\ndescription: fine", "");
    write_skill(&root, "wrong-name", "name: other\ndescription: d", "");
    write_skill(&root, "no-desc", "name: no-desc", "");
    write_skill(&root, "broken-yaml", "name: [oops", "");
    std::fs::create_dir_all(root.join("empty")).unwrap();
    let catalog = discover(&SkillRoots::standard(&l.workspace, None, &l.hearth_home));
    assert_eq!(catalog.skills.len(), 1);
    let problems: Vec<String> = catalog.problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(problems.len(), 4, "{problems:?}");
    assert!(catalog.problems.iter().all(Problem::is_error));
    let all = problems.join("\n");
    assert!(all.contains("not valid YAML"), "{all}");
    assert!(all.contains("no SKILL.md"), "{all}");
    assert!(all.contains("'description' is missing"), "{all}");
    assert!(
        all.contains("differs from its folder 'wrong-name'"),
        "{all}"
    );
}

#[test]
fn a_mention_injects_the_body_of_a_known_skill_only() {
    let l = layout();
    write_skill(
        &l.workspace.join("skills"),
        "pdf",
        "name: pdf\ndescription: d",
        "Always use pdftk.",
    );
    let catalog = discover(&SkillRoots::standard(&l.workspace, None, &l.hearth_home));
    let injected =
        expand_mentions("fill the form with $pdf please, not $nothing", &catalog).unwrap();
    assert!(injected.starts_with("<skill name=\"pdf\""));
    assert!(injected.contains("The user invoked the skill $pdf"));
    assert!(injected.contains("Always use pdftk."));
    assert!(!injected.contains("nothing"));
    assert_eq!(expand_mentions("no skill here", &catalog), None);
}

#[tokio::test]
async fn read_file_reads_a_skill_outside_the_workspace_but_nothing_beside_it() {
    let l = layout();
    let root = l.hearth_home.join("skills");
    write_skill(
        &root,
        "pdf",
        "name: pdf\ndescription: d",
        "Secret-free body.",
    );
    std::fs::write(l.hearth_home.join("config.toml"), "api_key = 'x'").unwrap();
    let catalog = discover(&SkillRoots::standard(&l.workspace, None, &l.hearth_home));
    let tool = SkillAwareReadFile::new(Arc::new(ReadFile), catalog.dirs());
    let ctx = ToolContext::new(&l.workspace).unwrap();
    let skill_md = root.join("pdf/SKILL.md").canonicalize().unwrap();
    let out = tool
        .call(
            serde_json::json!({"path": skill_md.to_str().unwrap()}),
            &ctx,
        )
        .await
        .unwrap_or_else(|e| e.into_output(tool.name()));
    assert!(!out.is_error, "{out:?}");
    assert!(out.content.contains("Secret-free body."));
    let escape = format!(
        "{}/../../config.toml",
        root.join("pdf").canonicalize().unwrap().display()
    );
    let out = tool
        .call(serde_json::json!({"path": escape}), &ctx)
        .await
        .unwrap_or_else(|e| e.into_output(tool.name()));
    assert!(out.is_error, "{out:?}");
    let outside = l.hearth_home.join("config.toml");
    let out = tool
        .call(serde_json::json!({"path": outside.to_str().unwrap()}), &ctx)
        .await
        .unwrap_or_else(|e| e.into_output(tool.name()));
    assert!(
        out.is_error && out.content.contains("outside the workspace"),
        "{out:?}"
    );
}

#[tokio::test]
async fn a_workspace_skill_linked_from_elsewhere_is_read_at_the_path_the_prompt_shows() {
    // A common setup: `<ws>/skills/pdf` is a symlink to a skills checkout elsewhere.
    let l = layout();
    write_skill(&l.home, "pdf", "name: pdf\ndescription: d", "Linked body.");
    std::fs::create_dir_all(l.workspace.join("skills")).unwrap();
    std::os::unix::fs::symlink(l.home.join("pdf"), l.workspace.join("skills/pdf")).unwrap();
    std::fs::write(l.home.join("private.txt"), "not for the model").unwrap();
    let catalog = discover(&SkillRoots::standard(&l.workspace, None, &l.hearth_home));
    assert_eq!(catalog.skills.len(), 1, "{:?}", catalog.problems);
    let tool = SkillAwareReadFile::new(Arc::new(ReadFile), catalog.dirs());
    let ctx = ToolContext::new(&l.workspace).unwrap();
    let out = tool
        .call(serde_json::json!({"path": "skills/pdf/SKILL.md"}), &ctx)
        .await
        .unwrap_or_else(|e| e.into_output(tool.name()));
    assert!(!out.is_error, "{out:?}");
    assert!(out.content.contains("Linked body."));
    // Still confined to the skill's own folder.
    let out = tool
        .call(
            serde_json::json!({"path": "skills/pdf/../private.txt"}),
            &ctx,
        )
        .await
        .unwrap_or_else(|e| e.into_output(tool.name()));
    assert!(out.is_error, "{out:?}");
    assert!(!out.content.contains("not for the model"));
}
