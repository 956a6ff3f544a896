//! The `hearth` binary: parses the command line, wires the crates together, prints.
fn main() {}
