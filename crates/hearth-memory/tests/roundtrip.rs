//! Round trips through the store on keywords alone: write, search, get, forget (gone
//! from the table, the keyword index, the vectors and the bytes of the file), capture
//! of a transcript, markdown files indexed and re-indexed, the recall block, reopening.

use std::path::Path;

use hearth_memory::{CapturedTurn, ItemKind, Memory, Provenance, SearchOptions};

fn open(dir: &Path) -> Memory {
    Memory::open(&dir.join("memory.db"), None).unwrap()
}

fn file_bytes_contain(dir: &Path, needle: &str) -> bool {
    std::fs::read_dir(dir).unwrap().flatten().any(|entry| {
        let bytes = std::fs::read(entry.path()).unwrap_or_default();
        bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
    })
}

#[test]
fn write_search_get_forget() {
    let dir = tempfile::tempdir().unwrap();
    let memory = open(dir.path());
    let tags = vec!["food".to_string()];
    let id = memory
        .write_note(
            "The user is allergic to zanzibarnuts.",
            &tags,
            Provenance::User,
        )
        .unwrap();
    memory
        .write_note("The user prefers tea over coffee.", &[], Provenance::Agent)
        .unwrap();

    let hits = memory
        .search(
            "what nuts is the user allergic to",
            &SearchOptions::default(),
        )
        .unwrap();
    assert_eq!(hits[0].item.id, id);
    assert_eq!(hits[0].item.kind, ItemKind::Note);
    assert_eq!(hits[0].item.tags, ["food"]);

    let item = memory.get(id).unwrap().unwrap();
    assert_eq!(item.text, "The user is allergic to zanzibarnuts.");
    assert_eq!(item.provenance, Provenance::User);
    assert_eq!(memory.list(10).unwrap().len(), 2);

    assert!(memory.forget(id).unwrap());
    assert!(!memory.forget(id).unwrap(), "forgetting twice");
    assert_eq!(memory.get(id).unwrap(), None);
    let hits = memory
        .search("zanzibarnuts", &SearchOptions::default())
        .unwrap();
    assert!(hits.iter().all(|h| h.item.id != id), "{hits:?}");

    let raw = rusqlite::Connection::open(dir.path().join("memory.db")).unwrap();
    let count = |sql: &str| -> i64 { raw.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(
        count("SELECT count(*) FROM items_fts WHERE items_fts MATCH 'zanzibarnuts'"),
        0
    );
    assert_eq!(
        count(&format!(
            "SELECT count(*) FROM items_fts WHERE rowid = {id}"
        )),
        0
    );
    assert_eq!(
        count(&format!(
            "SELECT count(*) FROM vectors WHERE item_id = {id}"
        )),
        0
    );
    drop(raw);
    drop(memory);
    assert!(
        !file_bytes_contain(dir.path(), "zanzibarnuts"),
        "the forgotten text is still in the database files"
    );
}

#[test]
fn empty_text_and_bad_times_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let memory = open(dir.path());
    let error = memory.write_note("  ", &[], Provenance::User).unwrap_err();
    assert!(error.to_string().contains("empty"), "{error}");
    let error = memory
        .capture(CapturedTurn {
            session_id: "s".into(),
            speaker: "user".into(),
            text: "hello".into(),
            timestamp: Some("next tuesday".into()),
            provenance: Provenance::User,
        })
        .unwrap_err();
    assert!(error.to_string().contains("RFC 3339"), "{error}");
}

fn turn(session: &str, speaker: &str, text: &str, when: &str) -> CapturedTurn {
    CapturedTurn {
        session_id: session.into(),
        speaker: speaker.into(),
        text: text.into(),
        timestamp: Some(when.into()),
        provenance: if speaker == "user" {
            Provenance::User
        } else {
            Provenance::Agent
        },
    }
}

#[test]
fn a_captured_transcript_is_ordered_dated_and_searchable_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let transcript = [
        (
            "user",
            "I am moving to Porto next month.",
            "2024-03-01T10:00:00Z",
        ),
        (
            "assistant",
            "Exciting! Do you need help finding a flat?",
            "2024-03-01T10:00:05Z",
        ),
        (
            "user",
            "Yes, near the river, with a balcony.",
            "2024-03-01T10:01:00Z",
        ),
        (
            "user",
            "Also remind me to renew my passport.",
            "2024-04-02T09:00:00+02:00",
        ),
    ];
    let ids: Vec<i64> = {
        let memory = open(dir.path());
        let ids = transcript
            .iter()
            .enumerate()
            .map(|(i, (who, text, when))| {
                let session = if i < 3 { "session-a" } else { "session-b" };
                memory.capture(turn(session, who, text, when)).unwrap()
            })
            .collect();
        ids
    };
    let memory = open(dir.path());
    let third = memory.get(ids[2]).unwrap().unwrap();
    assert_eq!((third.session.as_str(), third.seq), ("session-a", 3));
    assert_eq!(third.speaker, "user");
    let fourth = memory.get(ids[3]).unwrap().unwrap();
    assert_eq!(
        (fourth.seq, fourth.timestamp.as_str()),
        (1, "2024-04-02T07:00:00Z")
    );
    assert_eq!(
        memory.get(ids[1]).unwrap().unwrap().provenance,
        Provenance::Agent
    );

    // "flat" is only in the assistant's turn, but the user's next turn carries it
    // as context, so both come back before unrelated turns.
    let hits = memory
        .search("which flat balcony", &SearchOptions::default())
        .unwrap();
    let top: Vec<i64> = hits.iter().take(2).map(|h| h.item.id).collect();
    assert!(top.contains(&ids[2]) && top.contains(&ids[1]), "{hits:?}");

    // A named month favours what was said then.
    let hits = memory
        .search("what did I ask in April 2024", &SearchOptions::default())
        .unwrap();
    assert_eq!(hits[0].item.id, ids[3]);
}

#[test]
fn markdown_files_are_indexed_reindexed_and_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().join("workspace");
    let notes = workspace.join("memory");
    std::fs::create_dir_all(notes.join("sub")).unwrap();
    std::fs::write(
        notes.join("food.md"),
        "# Food\n\nLoves quinces.\n\n# Drink\n\nOolong tea.",
    )
    .unwrap();
    std::fs::write(notes.join("sub/work.md"), "Works on compilers.").unwrap();
    std::fs::write(notes.join("ignored.txt"), "quinces").unwrap();
    let memory = open(dir.path());

    let report = memory.index_workspace_memory(&workspace).unwrap();
    assert_eq!((report.files, report.indexed, report.chunks), (2, 2, 3));
    let again = memory.index_workspace_memory(&workspace).unwrap();
    assert_eq!((again.indexed, again.chunks, again.removed), (0, 0, 0));

    // Only the chunk holding the word comes back: the rest share nothing with the query.
    let here = SearchOptions {
        workspace: Some(workspace.clone()),
        ..SearchOptions::default()
    };
    let hits = memory.search("quinces", &here).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].item.kind, ItemKind::File);
    assert_eq!(hits[0].item.provenance, Provenance::File);
    assert_eq!(hits[0].item.source_label(), "file memory/food.md");
    assert!(hits[0].item.text.contains("Loves quinces"));

    std::fs::write(notes.join("food.md"), "# Food\n\nLoves medlars now.").unwrap();
    std::fs::remove_file(notes.join("sub/work.md")).unwrap();
    let report = memory.index_workspace_memory(&workspace).unwrap();
    assert_eq!((report.indexed, report.removed, report.chunks), (1, 1, 1));
    let top = &memory.search("quinces medlars", &here).unwrap()[0];
    assert!(top.item.text.contains("medlars"));
    assert_eq!(memory.count().unwrap(), 1);
    drop(memory);
    assert!(!file_bytes_contain(dir.path(), "compilers"));
}

#[test]
fn the_recall_block_is_marked_budgeted_and_absent_when_nothing_fits() {
    let dir = tempfile::tempdir().unwrap();
    let memory = open(dir.path());
    for i in 0..30 {
        memory
            .write_note(
                &format!("Filler note number {i} about gardening."),
                &[],
                Provenance::User,
            )
            .unwrap();
    }
    memory
        .write_note(
            "The user's cat is called Saffron and hates the vacuum cleaner.",
            &[],
            Provenance::User,
        )
        .unwrap();
    memory
        .write_note(
            "A web page claimed Saffron cats are rare.",
            &[],
            Provenance::Untrusted,
        )
        .unwrap();
    let block = memory
        .recall_block("what is my cat called? saffron", dir.path(), 400)
        .unwrap()
        .unwrap();
    assert!(block.starts_with("<recalled-memory>"), "{block}");
    assert!(block.ends_with("</recalled-memory>"), "{block}");
    assert!(block.contains("called Saffron"), "{block}");
    assert!(block.contains("untrusted"), "{block}");
    assert!(block.len() <= 400, "{} chars", block.len());
    assert_eq!(
        memory
            .recall_block("quantum chromodynamics", dir.path(), 400)
            .unwrap(),
        None
    );
}

#[test]
fn a_new_memory_with_a_few_items_recalls_them_too() {
    // Two items: no z-score can reach the bar a large memory sets.
    let dir = tempfile::tempdir().unwrap();
    let memory = open(dir.path());
    memory
        .write_note("My sister Priya moved to Lisbon.", &[], Provenance::User)
        .unwrap();
    memory
        .write_note("The boiler is serviced in October.", &[], Provenance::User)
        .unwrap();
    let block = memory
        .recall_block("where does Priya live now?", dir.path(), 1_000)
        .unwrap()
        .expect("the matching note is recalled");
    assert!(block.contains("moved to Lisbon"), "{block}");
    assert!(!block.contains("boiler"), "{block}");
    assert_eq!(
        memory
            .recall_block("quantum chromodynamics", dir.path(), 1_000)
            .unwrap(),
        None
    );
}

#[test]
fn forgetting_a_turn_removes_it_from_the_next_turns_context_too() {
    // Each turn is indexed with the turn before it; forgetting one must not leave its
    // words findable (or in the file) through the turn that followed it.
    let dir = tempfile::tempdir().unwrap();
    let memory = open(dir.path());
    let turn = |speaker: &str, text: &str| CapturedTurn {
        session_id: "s1".into(),
        speaker: speaker.into(),
        text: text.into(),
        timestamp: None,
        provenance: Provenance::User,
    };
    memory
        .capture(turn("user", "Let us plan the trip."))
        .unwrap();
    let secret = memory
        .capture(turn("user", "My door code is quokkavault."))
        .unwrap();
    let after = memory.capture(turn("assistant", "Noted.")).unwrap();
    let hits = memory
        .search("quokkavault", &SearchOptions::default())
        .unwrap();
    assert!(hits.iter().any(|h| h.item.id == secret), "{hits:?}");

    assert!(memory.forget(secret).unwrap());
    let hits = memory
        .search("quokkavault", &SearchOptions::default())
        .unwrap();
    assert!(hits.is_empty(), "{hits:?}");
    // The next turn is now indexed with the turn before the forgotten one.
    let hits = memory
        .search("plan the trip", &SearchOptions::default())
        .unwrap();
    assert!(hits.iter().any(|h| h.item.id == after), "{hits:?}");
    let raw = rusqlite::Connection::open(dir.path().join("memory.db")).unwrap();
    let leaks: i64 = raw
        .query_row(
            "SELECT count(*) FROM items WHERE context LIKE '%quokkavault%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(leaks, 0);
    drop(raw);
    drop(memory);
    assert!(!file_bytes_contain(dir.path(), "quokkavault"));
}

/// The ids of a search's hits, in rank order.
fn ranked_ids(memory: &Memory, query: &str, opts: &SearchOptions) -> Vec<i64> {
    memory
        .search(query, opts)
        .unwrap()
        .iter()
        .map(|h| h.item.id)
        .collect()
}

#[test]
fn a_question_about_when_puts_the_dated_note_first() {
    let dir = tempfile::tempdir().unwrap();
    let memory = open(dir.path());
    // The undated note matches the words better; the dated one says when.
    let undated = memory
        .write_note(
            "The pottery class: pottery class pottery, I love the pottery class.",
            &[],
            Provenance::User,
        )
        .unwrap();
    let dated = memory
        .write_note(
            "I signed up for the pottery class last Friday.",
            &[],
            Provenance::User,
        )
        .unwrap();
    let ids = |query: &str, when_rerank: usize| {
        let mut opts = SearchOptions::default();
        opts.weights.when_rerank = when_rerank;
        ranked_ids(&memory, query, &opts)
    };
    let question = "When did I start the pottery class?";
    assert_eq!(ids("pottery class", 10), [undated, dated]);
    assert_eq!(ids(question, 0), [undated, dated], "on scores alone");
    assert_eq!(ids(question, 10), [dated, undated]);
}

#[test]
fn a_named_speakers_turns_come_first_without_raising_their_score() {
    let dir = tempfile::tempdir().unwrap();
    let memory = open(dir.path());
    let at = "2024-05-01T10:00:00Z";
    for i in 0..30 {
        memory
            .capture(turn(
                "s0",
                "Omar",
                &format!("Filler line {i} about the weather."),
                at,
            ))
            .unwrap();
    }
    let hers = memory
        .capture(turn("s1", "Leila", "I went hiking in the hills.", at))
        .unwrap();
    let his = memory
        .capture(turn(
            "s2",
            "Omar",
            "Hiking hiking in the hills, hiking again.",
            at,
        ))
        .unwrap();
    let ids = |query: &str| {
        let opts = SearchOptions {
            limit: 2,
            ..SearchOptions::default()
        };
        ranked_ids(&memory, query, &opts)
    };
    assert_eq!(ids("hiking in the hills"), [his, hers]);
    assert_eq!(ids("Where did Leila go hiking?"), [hers, his]);
    // The preference orders hits; it is not relevance, which the recall block
    // judges, so it leaves the reported score alone.
    let score = |speaker: f32| {
        let mut opts = SearchOptions::default();
        opts.weights.speaker = speaker;
        let hits = memory.search("Where did Leila go hiking?", &opts).unwrap();
        hits.iter().find(|h| h.item.id == hers).map(|h| h.score)
    };
    assert_eq!(score(3.0), score(0.0));
}
