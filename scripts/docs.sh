#!/usr/bin/env bash
# Builds the DocC documentation of the app API (Sources/EdgeHALKit/EdgeHALKit.docc); any DocC
# warning (a broken symbol link, say) fails it. It reuses the test build's modules (the README's test
# command runs it after `swift test`): their symbol graph and `docc convert` take seconds, where
# swift-docc-plugin (`swift package generate-documentation --target EdgeHALKit`, the same catalog,
# for previews while writing) rebuilds everything in debug first (≈ 1.8 min of CI's 15).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --toolset Toolsets/native.json -Xswiftc -enable-testing --target EdgeHALKit 2>&1 | grep -E "error|Compiling EdgeHALKit" || true
test "${PIPESTATUS[0]}" -eq 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
modules=$(swift build -c release --toolset Toolsets/native.json -Xswiftc -enable-testing --show-bin-path)/Modules
# The C modules EdgeHALKit's dependencies import (SwiftPM hands their module maps to the compiler the same way).
swift-symbolgraph-extract -module-name EdgeHALKit -target "$(uname -m)-unknown-linux-gnu" -I "$modules" \
  -Xcc -fmodule-map-file=Backends/CPU/CFeatures/include/module.modulemap -Xcc -IBackends/CPU/CFeatures/include \
  -minimum-access-level public -output-dir "$work"
out=.build/docs/EdgeHALKit.doccarchive
rm -rf "$out"
mkdir -p "$(dirname "$out")"
docc convert Sources/EdgeHALKit/EdgeHALKit.docc --additional-symbol-graph-dir "$work" --fallback-display-name EdgeHALKit \
  --fallback-bundle-identifier EdgeHALKit --output-path "$out" --warnings-as-errors
echo "docs: $out"
