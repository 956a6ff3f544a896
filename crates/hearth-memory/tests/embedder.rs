//! The embedding model gives the reference ordering on sentence pairs, and a memory
//! with it finds by meaning what keywords miss. Skipped, with the reason printed,
//! when the model is not in the cache (CI fetches it with scripts/fetch-models.sh).

use std::sync::Arc;

use hearth_memory::{cosine, Embedder, EmbedderSettings, Memory, Provenance, SearchOptions};

fn model() -> Option<Arc<Embedder>> {
    match Embedder::load_default(&EmbedderSettings::from_vars(|name| std::env::var_os(name))) {
        Ok(Some(embedder)) => Some(Arc::new(embedder)),
        Ok(None) => {
            let reason = hearth_testkit::model_absent(
                "the embedding model is not in the cache; run `scripts/fetch-models.sh embedder`",
            );
            eprintln!("skipped: {reason}");
            None
        }
        Err(e) => panic!("the model is there but does not load: {e}"),
    }
}

#[test]
fn reference_cosine_ordering() {
    let Some(embedder) = model() else { return };
    let texts = [
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "A man is riding a horse.",
        "The new movie is awesome.",
        "The new movie is so great.",
        "A cheetah is running behind its prey.",
    ];
    let v = embedder.embed(&texts).unwrap();
    assert_eq!(v.len(), texts.len());
    assert!(v.iter().all(|x| x.len() == embedder.dim()));
    for x in &v {
        let norm: f32 = x.iter().map(|a| a * a).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "not unit length: {norm}");
    }
    assert!(cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]));
    assert!(cosine(&v[0], &v[1]) > cosine(&v[0], &v[3]));
    assert!(cosine(&v[3], &v[4]) > 0.8, "{}", cosine(&v[3], &v[4]));
    assert!(cosine(&v[3], &v[4]) > cosine(&v[3], &v[5]));
    // Batching and padding do not change a vector.
    let alone = embedder.embed(&[texts[2]]).unwrap();
    assert!(cosine(&alone[0], &v[2]) > 0.9999);
}

#[test]
fn vectors_come_back_in_order_whatever_the_batches() {
    let Some(embedder) = model() else { return };
    // Lengths from 1 to ~120 words, shuffled: several batches of different widths.
    let texts: Vec<String> = (0..90)
        .map(|i| {
            let words = (i * 37) % 120 + 1;
            format!("note {i}: {}", "the quick brown fox ".repeat(words / 4 + 1))
        })
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let together = embedder.embed(&refs).unwrap();
    assert_eq!(together.len(), texts.len());
    for i in [0, 1, 17, 44, 63, 64, 89] {
        let alone = embedder.embed(&[refs[i]]).unwrap();
        let similarity = cosine(&alone[0], &together[i]);
        assert!(similarity > 0.9999, "text {i}: {similarity}");
    }
    assert!(embedder.embed(&[]).unwrap().is_empty());
}

#[test]
fn a_memory_with_vectors_finds_by_meaning() {
    let Some(embedder) = model() else { return };
    let dir = tempfile::tempdir().unwrap();
    let memory = Memory::open(&dir.path().join("memory.db"), Some(embedder)).unwrap();
    let notes = [
        "My daughter started violin lessons on Tuesdays.",
        "The car needs new tyres before winter.",
        "I can't eat peanuts, they make me very ill.",
        "The quarterly report is due at the end of March.",
    ];
    let ids: Vec<i64> = notes
        .iter()
        .map(|n| memory.write_note(n, &[], Provenance::User).unwrap())
        .collect();
    memory.wait_idle().unwrap();
    let hits = memory
        .search("food allergy", &SearchOptions::default())
        .unwrap();
    assert_eq!(hits[0].item.id, ids[2], "{hits:?}");
    assert!(hits[0].cosine.is_some());
    // Forgetting drops the vector too; reindex re-embeds the rest.
    assert!(memory.forget(ids[2]).unwrap());
    assert_eq!(memory.reindex().unwrap(), 3);
    memory.wait_idle().unwrap();
    let hits = memory
        .search("food allergy", &SearchOptions::default())
        .unwrap();
    assert!(hits.iter().all(|h| h.item.id != ids[2]));
    assert!(hits.iter().all(|h| h.cosine.is_some()));
}
