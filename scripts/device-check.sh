#!/usr/bin/env bash
# Packs what a GPU machine without Swift needs to measure EdgeHAL into one folder (≤ 64 MiB, what a
# device run carries), then (with --run) runs it here, where lavapipe and PoCL stand in for the GPU.
#
#   scripts/device-check.sh [--run]
#
# The folder (${DEVICE_DIR:-.device}, ignored by git) holds:
#   bin.tar.xz              hwprobe, conformance, edgehal: static release builds (no Swift runtime needed;
#                           CPU target ${EDGEHAL_TARGET_CPU:-haswell}, which both machines have), stripped,
#                           in one xz stream with a large dictionary so the three share the runtime's bytes
#   llama-bench-vulkan.xz   llama.cpp's bench with its Vulkan backend (../shared/tools), the side-by-side anchor
#   debs/                   the Vulkan and OpenCL loader packages the device image lacks (apt-get download)
#   run.sh                  scripts/device-run.sh: probe, conformance, model case, bench, profiles, perf
# No model is carried: run.sh writes synthetic ones there (`edgehal synthesize`, seconds).
#
# On the device tool: run `bash .device/run.sh` with carry [".device"]; results come back under $OUT.
# The static build goes to .build-static (a second build folder: the first build takes minutes, later
# ones are incremental).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
out=${DEVICE_DIR:-$repo/.device}
cpu=${EDGEHAL_TARGET_CPU:-haswell}
scratch=$repo/.build-static
limit=$((64 << 20))

# The CPU target goes in through a toolset (Package.swift carries no unsafe flags): the host's
# Toolsets/haswell.json with the CPU this script was asked for.
mkdir -p "$scratch"
sed "s/haswell/$cpu/g" Toolsets/haswell.json > "$scratch/toolset.json"
build=(swift build -c release --static-swift-stdlib --scratch-path "$scratch" --toolset "$scratch/toolset.json")
echo "device-check: static release build, CPU target $cpu, in $scratch"
for product in hwprobe conformance edgehal; do
  "${build[@]}" --product "$product" 2>&1 | grep -E "error|warning: unre|Compiling|Build" | tail -3
  test "${PIPESTATUS[0]}" -eq 0
done
bin=$("${build[@]}" --show-bin-path)

rm -rf "$out"
mkdir -p "$out/debs"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
for b in hwprobe conformance edgehal; do
  cp "$bin/$b" "$stage/$b"
  strip "$stage/$b"
  if ldd "$stage/$b" 2>/dev/null | grep -q libswift; then echo "device-check: $b links the Swift runtime dynamically" >&2; exit 1; fi
done
tar -C "$stage" -cf - hwprobe conformance edgehal | xz -T1 --lzma2=preset=9e,dict=256MiB > "$out/bin.tar.xz"
cp "$repo/../shared/tools/llama-bench-vulkan.xz" "$out/"
cp "$repo/scripts/device-run.sh" "$out/run.sh"

# Loader packages (see ../shared/reference/gpu/h200.md): NVIDIA's Vulkan ICD is libGLX_nvidia, which
# needs the GL dispatch libraries; the validation layers for EDGEHAL_VULKAN_VALIDATION; libgomp for llama-bench.
packages=(libvulkan1 libglvnd0 libglx0 libgl1 libegl1 libopengl0 libgles2 ocl-icd-libopencl1 vulkan-validationlayers libgomp1)
if ! (cd "$out/debs" && apt-get download "${packages[@]}" >/dev/null 2>&1); then
  echo "device-check: apt-get download failed: the device must already have the Vulkan and OpenCL loaders" >&2
fi

size=$(du -sb "$out" | cut -f1)
echo "device-check: $out holds $((size >> 20)) MiB (limit 64):"
(cd "$out" && ls -la bin.tar.xz llama-bench-vulkan.xz run.sh && du -sh debs)
if ((size > limit)); then echo "device-check: over the 64 MiB a device run carries" >&2; exit 1; fi

if [[ ${1:-} == --run ]]; then
  OUT=${OUT:-$repo/.device-results} bash "$out/run.sh"
fi
