# Browser tests (sourced by scripts/setup.sh; uses $testing): Debian's `chromium` and
# `playwright-core` from npm, which crates/hearth/tests/web_ui.rs drives the web UI with
# (Playwright's own browser download is not used: it points at /usr/bin/chromium).
# Installed under target/browser-peers (git-ignored), with its own stamp file.
# Idempotent and quiet: nothing is fetched when the pinned version is already there.
if ((testing == 1)); then
  apt_install chromium
  if ! command -v npm >/dev/null 2>&1; then apt_install nodejs npm; fi
  browser_peers_dir="$(pwd)/target/browser-peers"
  browser_npm_packages=("playwright-core@1.57.0")
  browser_npm_stamp="$browser_peers_dir/.npm-${browser_npm_packages[*]//[\/@ ]/_}"
  if [[ ! -f "$browser_npm_stamp" ]]; then
    echo "setup: installing playwright-core into $browser_peers_dir" >&2
    mkdir -p "$browser_peers_dir"
    [[ -f "$browser_peers_dir/package.json" ]] || echo '{"private": true}' >"$browser_peers_dir/package.json"
    npm install --prefix "$browser_peers_dir" --no-audit --no-fund --silent "${browser_npm_packages[@]}" >/dev/null
    rm -f "$browser_peers_dir"/.npm-* && touch "$browser_npm_stamp"
  fi
fi
