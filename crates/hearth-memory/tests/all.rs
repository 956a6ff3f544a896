//! Memory's integration tests, one test binary (each former `tests/*.rs` file is a
//! module here): round trips, crash safety under SIGKILL, the embedder (with the model
//! in the cache; under `CI` its absence fails), its lazy loading, poisoning, the tools and
//! bench scoring.

mod bench_scoring;
mod crash;
mod embedder;
mod lazy_embedder;
mod poisoning;
mod roundtrip;
mod tools;
