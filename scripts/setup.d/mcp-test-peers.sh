# MCP test peers (sourced by scripts/setup.sh; uses $testing): the reference MCP servers
# from npm and the official Python MCP SDK, which the end-to-end tests in
# crates/hearth/tests/skills_mcp.rs drive Hearth against, and the official `openai` Python
# SDK, which crates/hearth-gateway/tests/openai_sdk.rs drives the gateway's /v1 endpoint
# with, and PyYAML, which the AgentDojo suite's MCP server (crates/hearth/tests/mcp_peers/
# agentdojo_server.py, for crates/hearth/tests/injection.rs and bench/injection.py) reads
# the suites' environments with. Installed under target/ (git-ignored).
# Idempotent and quiet: nothing is fetched when the pinned versions are already there.
if ((testing == 1)); then
  mcp_peers_dir="$(pwd)/target/test-peers"
  mcp_npm_packages=(
    "@modelcontextprotocol/server-everything@2026.8.31"
    "@modelcontextprotocol/server-filesystem@2026.8.31"
  )
  mcp_pip_packages=("mcp==2.3.0" "openai==3.63.0" "pyyaml==6.0.3")
  mkdir -p "$mcp_peers_dir"
  if ! command -v npm >/dev/null 2>&1; then apt_install nodejs npm; fi
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then apt_install python3-venv; fi
  mcp_npm_stamp="$mcp_peers_dir/.npm-${mcp_npm_packages[*]//[\/@ ]/_}"
  if [[ ! -f "$mcp_npm_stamp" ]]; then
    echo "setup: installing MCP reference servers into $mcp_peers_dir" >&2
    (cd "$mcp_peers_dir" && [[ -f package.json ]] || echo '{"private": true}' >"$mcp_peers_dir/package.json")
    npm install --prefix "$mcp_peers_dir" --no-audit --no-fund --silent "${mcp_npm_packages[@]}" >/dev/null
    rm -f "$mcp_peers_dir"/.npm-* && touch "$mcp_npm_stamp"
  fi
  mcp_pip_stamp="$mcp_peers_dir/venv/.pip-${mcp_pip_packages[*]//[= ]/_}"
  if [[ ! -f "$mcp_pip_stamp" ]]; then
    echo "setup: installing the Python MCP and OpenAI SDKs into $mcp_peers_dir/venv" >&2
    python3 -m venv "$mcp_peers_dir/venv"
    "$mcp_peers_dir/venv/bin/pip" install --quiet --disable-pip-version-check "${mcp_pip_packages[@]}"
    rm -f "$mcp_peers_dir"/venv/.pip-* && touch "$mcp_pip_stamp"
  fi
fi
