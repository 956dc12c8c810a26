#!/usr/bin/env bash
# Install Debian's chromium so the HTML report test
# (global_reqid/tests/functional/test_html_browser.py) runs instead of
# skipping. A fast no-op when a chromium binary is already there; exits 0
# with a message when it cannot try (not root, no apt-get), since the test
# then skips and says why; exits 1 when apt-get fails.
# Usage: tools/install-browser.sh
set -euo pipefail

for name in chromium chromium-browser; do
    if command -v "$name" >/dev/null 2>&1; then
        echo "install-browser: $name already installed: $(command -v "$name")"
        exit 0
    fi
done

if [ "$(id -u)" -ne 0 ]; then
    echo "install-browser: not root, not installing chromium" \
         "(the browser test will skip)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: no apt-get, not installing chromium" \
         "(the browser test will skip)"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# NOTE: update only when the lists have never been fetched: a second run
# on a machine that already has them needs no network round trip.
if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
    apt-get update -qq
fi
# fonts-dejavu-core: glyphs for the screenshot on a minimal image.
packages=(chromium fonts-dejavu-core)
install() {
    apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
}
# NOTE: a failed install is retried once after an update: lists that are
# there but stale name package versions the mirror no longer has.
if ! install && ! { apt-get update -qq && install; }; then
    echo "install-browser: apt-get could not install ${packages[*]}" >&2
    exit 1
fi
echo "install-browser: installed $(command -v chromium)"
