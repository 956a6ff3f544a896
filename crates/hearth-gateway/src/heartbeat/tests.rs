//! The heartbeat's decision and its prompt: what is news, what is a baseline, and the
//! wake prompt's text under a snapshot.

use std::collections::BTreeMap;

use super::probes::{ProbeReport, ProbeStatus};
use super::{render_prompt, Decision};

fn report(name: &str, status: ProbeStatus, hash: &str) -> ProbeReport {
    ProbeReport {
        name: name.into(),
        status,
        output: format!("output of {name}"),
        hash: hash.into(),
    }
}

#[test]
fn only_a_changed_output_or_an_attention_exit_is_news() {
    let known = BTreeMap::from([
        ("same".to_string(), "h1".to_string()),
        ("moved".to_string(), "h2".to_string()),
        ("quiet".to_string(), "h3".to_string()),
    ]);
    let reports = [
        report("same", ProbeStatus::Fine, "h1"),
        report("moved", ProbeStatus::Fine, "h2-new"),
        report("quiet", ProbeStatus::NoNews, "other"),
        report("fresh", ProbeStatus::Fine, "h4"),
        report("loud", ProbeStatus::Attention, "h5"),
        report("broken", ProbeStatus::Failed("exit code 127".into()), "h6"),
    ];
    let decision = Decision::of(&reports, &known);
    assert_eq!(decision.changed, ["moved"]);
    assert_eq!(decision.attention, ["loud"]);
    assert_eq!(
        decision.baselines,
        [("fresh".to_string(), "h4".to_string())]
    );
    assert_eq!(
        decision.delivered,
        [
            ("moved".to_string(), "h2-new".to_string()),
            ("loud".to_string(), "h5".to_string())
        ]
    );
    assert_eq!(decision.failures, ["probe broken: exit code 127"]);
    assert!(decision.wakes(false));
}

#[test]
fn no_news_does_not_wake_unless_there_are_no_probes() {
    let known = BTreeMap::from([("same".to_string(), "h1".to_string())]);
    let decision = Decision::of(&[report("same", ProbeStatus::Fine, "h1")], &known);
    assert!(!decision.wakes(false));
    assert!(Decision::default().wakes(true));
}

#[test]
fn the_wake_prompt_matches_its_snapshot() {
    let prompt = render_prompt(
        "- probe mail changed; its output:\n3 unread",
        "HEARTBEAT.md",
        "- Tell me about mail from my bank.",
    );
    hearth_testkit::snapshot::assert_matches(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/snapshots/heartbeat_prompt.txt"
        ),
        &prompt,
    );
}
