//! The agent's built-in tools: workspace files, grep, glob, exec, web_fetch.
