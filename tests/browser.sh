#!/usr/bin/env bash
# The HTML pages in a real browser: headless Chromium renders each page, its DOM is dumped after
# the page's script ran, and a screenshot is taken. Checks that the swimlanes (or the chart) are
# there and that the picture is not blank. Run by .ci/run when `chromium` is installed.
# Usage: tests/browser.sh [path/to/conclab]   (default: target/debug/conclab)
set -euo pipefail
cd "$(dirname "$0")/.."
conclab="${1:-target/debug/conclab}"
browser="$(command -v chromium || command -v chromium-browser)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
passed=0 failed=0

chrome() {
    timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
        --user-data-dir="$out/profile" --window-size=1280,1000 "$@" 2>/dev/null
}

# A PNG of the given size or more whose pixels are not all one colour.
png_is_a_picture() {
    python3 - "$1" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, width, height = 8, b"", 0, 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        width, height = struct.unpack(">II", body[:8])
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
raw = zlib.decompress(idat)
assert width >= 800 and height >= 600, f"{width}x{height}"
# Distinct byte values in the pixel data: a blank page has one or two.
assert len(set(raw[: 4 * width * 200])) > 16, "the screenshot looks blank"
PY
}

check() { # name, file, grep pattern for the dumped DOM, minimum count
    local name="$1" file="$2" pattern="$3" min="$4"
    local dom="$out/$name.dom" png="$out/$name.png"
    chrome --dump-dom "file://$file" >"$dom" || true
    chrome --screenshot="$png" "file://$file" >/dev/null || true
    local n
    n="$(grep -o "$pattern" "$dom" | wc -l)"
    if grep -q 'data-ready="yes"' "$dom" && [ "$n" -ge "$min" ] && [ -s "$png" ] && png_is_a_picture "$png"; then
        echo "browser: $name ok ($n × $pattern, script ran, screenshot $(stat -c %s "$png") bytes)"
        passed=$((passed + 1))
    else
        echo "browser: $name FAILED ($n × $pattern; ready: $(grep -c 'data-ready="yes"' "$dom" || true))"
        failed=$((failed + 1))
    fi
}

"$conclab" check airplane-seat --checker shuttle-pct --seed 1 --html "$out/race.html" >/dev/null || true
"$conclab" check lock-order-gridlock --variant buggy-three-cars --checker shuttle-pct --seed 1 \
    --html "$out/deadlock.html" >/dev/null || true
"$conclab" bench --scenario airplane-seat --scenario lost-update --checker loom --checker shuttle-pct \
    --seeds 2 --html "$out/bench.html" >/dev/null

check race "$out/race.html" '<th class="lane"' 3
check deadlock "$out/deadlock.html" 'id="cycle"' 1
check bench "$out/bench.html" '<rect class="bar"' 4
echo "browser check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
