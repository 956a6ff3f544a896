//! Durable state in SQLite (WAL): sessions and their transcripts, written ahead of action.
