# Matrix test server (sourced by scripts/setup.sh; uses $testing): Synapse, the reference
# Matrix homeserver, from PyPI into target/matrix-peers/venv. The Matrix channel's tests
# (crates/hearth-gateway/tests/matrix.rs, through hearth_testkit::synapse) generate a
# config, start it on loopback once per test binary and register their users with it.
# Idempotent and quiet: nothing is fetched when the pinned version is already there.
if ((testing == 1)); then
  matrix_peers_dir="$(pwd)/target/matrix-peers"
  matrix_pip_packages=("matrix-synapse==1.163.2")
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then apt_install python3-venv; fi
  matrix_pip_stamp="$matrix_peers_dir/venv/.pip-${matrix_pip_packages[*]//[= ]/_}"
  if [[ ! -f "$matrix_pip_stamp" ]]; then
    echo "setup: installing Synapse (the Matrix homeserver) into $matrix_peers_dir/venv" >&2
    mkdir -p "$matrix_peers_dir"
    python3 -m venv "$matrix_peers_dir/venv"
    "$matrix_peers_dir/venv/bin/pip" install --quiet --disable-pip-version-check "${matrix_pip_packages[@]}"
    rm -f "$matrix_peers_dir"/venv/.pip-* && touch "$matrix_pip_stamp"
  fi
fi
