//! Run a command under a sandbox policy: bubblewrap or Landlock, process groups, timeouts, limits.
