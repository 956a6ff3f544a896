//! A memory opened lazily loads its embedding model only when vectors are needed: not
//! for an empty memory's search, not for a capture; once for a search over a memory
//! that holds something; and the captures made before then get their vectors.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use hearth_memory::{
    CapturedTurn, Embedder, EmbedderLoader, EmbedderSettings, Memory, Provenance, SearchOptions,
};

fn turn(text: &str) -> CapturedTurn {
    CapturedTurn {
        session_id: "s1".into(),
        speaker: "user".into(),
        text: text.into(),
        timestamp: None,
        provenance: Provenance::User,
    }
}

/// A loader that counts its calls and hands out `model`.
fn counting_loader(model: Option<Arc<Embedder>>) -> (EmbedderLoader, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let loader: EmbedderLoader = Box::new(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        model.clone()
    });
    (loader, calls)
}

#[test]
fn an_empty_memory_and_a_capture_never_load_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let (loader, calls) = counting_loader(None);
    let memory = Memory::open_lazy(&dir.path().join("memory.db"), loader).unwrap();
    let hits = memory
        .search("what did I say?", &SearchOptions::default())
        .unwrap();
    assert!(hits.is_empty());
    let block = memory
        .recall_block("what did I say?", dir.path(), 1_500)
        .unwrap();
    assert!(block.is_none());
    memory.capture(turn("my cat is called Miso")).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 0, "loaded for nothing");

    // Something to recall now: the model is asked for, once, however often we search.
    for _ in 0..3 {
        let hits = memory
            .search("cat called Miso", &SearchOptions::default())
            .unwrap();
        assert_eq!(hits.len(), 1, "keywords still find it without a model");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(!memory.has_embedder());
    memory.wait_idle().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn captures_made_before_the_model_loads_get_their_vectors() {
    let settings = EmbedderSettings::from_vars(|name| std::env::var_os(name));
    let model = match Embedder::load_default(&settings) {
        Ok(Some(model)) => Arc::new(model),
        Ok(None) => {
            let reason = hearth_testkit::model_absent(
                "the embedding model is not in the cache; run `scripts/fetch-models.sh embedder`",
            );
            eprintln!("skipped: {reason}");
            return;
        }
        Err(e) => panic!("the model is there but does not load: {e}"),
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("memory.db");
    {
        // One process captures and ends without ever needing the model.
        let (loader, calls) = counting_loader(Some(Arc::clone(&model)));
        let memory = Memory::open_lazy(&db, loader).unwrap();
        memory
            .capture(turn("I adopted a kitten last spring"))
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }
    // The next one loads it to recall, and fills in the missing vectors.
    let (loader, calls) = counting_loader(Some(model));
    let memory = Memory::open_lazy(&db, loader).unwrap();
    memory
        .search("young cat", &SearchOptions::default())
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    memory.wait_idle().unwrap();
    let hits = memory
        .search("young cat", &SearchOptions::default())
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert!(
        hits[0].cosine.is_some_and(|c| c > 0.3),
        "no vector for the early capture: {:?}",
        hits[0].cosine
    );
}
