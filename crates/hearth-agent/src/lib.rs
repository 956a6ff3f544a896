//! The agent loop: context building, model steps, tool dispatch, loop detection, cancellation.
