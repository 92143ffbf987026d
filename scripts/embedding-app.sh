#!/usr/bin/env bash
# Builds and runs Examples/EmbeddingApp against EdgeHAL as a versioned dependency: a clone of this
# repository's HEAD (committed work only, as a consumer would get it) tagged 0.1.0, reached by a
# file:// URL. TSAN=1 builds it with ThreadSanitizer and runs two sessions of one model in parallel.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${EMBEDDING_WORK:-/tmp/edgehal-embedding}
rm -rf "$work/EdgeHAL" "$work/app"
mkdir -p "$work"
git clone -q "$root" "$work/EdgeHAL"
git -C "$work/EdgeHAL" tag -l | xargs -r git -C "$work/EdgeHAL" tag -d >/dev/null
git -C "$work/EdgeHAL" tag 0.1.0
cp -r "$root/Examples/EmbeddingApp" "$work/app"
export EDGEHAL_PACKAGE_URL="file://$work/EdgeHAL"
# The scratch folder outlives the app copy, so a second run builds incrementally.
build=(swift build --package-path "$work/app" --scratch-path "$work/build-${TSAN:+tsan-}release")
build+=(-c release --toolset "$root/Toolsets/native.json")
[ -z "${TSAN:-}" ] || build+=(--sanitize=thread)
"${build[@]}" 2>&1 | grep -E "error|warning: |Compiling EdgeHALKit|Build" | tail -20
bin=$("${build[@]}" --show-bin-path)
if [ -n "${TSAN:-}" ]; then
  TSAN_OPTIONS="halt_on_error=1 ${TSAN_OPTIONS:-}" "$bin/EmbeddingApp" --parallel
else
  "$bin/EmbeddingApp"
fi
