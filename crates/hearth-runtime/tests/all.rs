//! hearth-runtime's one integration-test binary: the runtime over real files, a real
//! sandbox and a table for an environment.

mod model_tools;
mod runtime;
mod schedule_tools;
mod shared_parts;
