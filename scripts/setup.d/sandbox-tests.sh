# Sandbox breakout tests (sourced by scripts/setup.sh; uses $testing): strace, so the
# ptrace-attach test runs instead of skipping (crates/hearth-sandbox/tests/breakout).
if ((testing == 1)); then
  apt_install strace
fi
