#!/usr/bin/env bash
# Render a toylab report in a real browser (headless Chromium, Debian package `chromium`) to a PNG.
#   tools/screenshot_report.sh [OUT] [PNG]     (defaults: runs, OUT/report/screenshot.png)
set -euo pipefail
out="${1:-runs}"
png="${2:-$out/report/screenshot.png}"
page="$(cd "$out/report" && pwd)/index.html"
[ -f "$page" ] || { echo "no report at $page: run 'toylab report $out' first" >&2; exit 2; }
browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
[ -n "$browser" ] || { echo "headless Chromium not found (Debian: apt-get install chromium)" >&2; exit 2; }
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,2400 \
  --screenshot="$(realpath -m "$png")" "file://$page" 2>/dev/null
echo "screenshot: $png"
