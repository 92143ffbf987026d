#!/usr/bin/env bash
# Builds the DocC documentation of the app API (Sources/EdgeHALKit/EdgeHALKit.docc) with
# swift-docc-plugin; any DocC warning (a broken symbol link, say) fails it.
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
swift package --disable-sandbox generate-documentation --target EdgeHALKit --warnings-as-errors >"$log" 2>&1
status=$?
grep -E "warning|error|Generated documentation archive|^  /" "$log"
[ "$status" -eq 0 ] || { tail -30 "$log"; echo "docs: DocC failed ($status)"; }
exit "$status"
