#!/usr/bin/env bash
# The run script scripts/device-check.sh packs as run.sh: measures EdgeHAL on the machine it runs on,
# which needs no Swift. Probe; on every GPU device the conformance table, the Vulkan validation run
# and the model case; bench beside llama.cpp's Vulkan backend on synthetic models (a 3-layer
# SmolLM2-shaped one, and a Llama-3.2-1B-shaped one on real GPUs); per-kernel profiles; the perf table.
# Where no GPU is found, the emulated devices (lavapipe, PoCL) stand in with the small model only.
#
# Results in ${OUT:-./device-results}: log.txt (everything, with step times), summary.txt, and detail.tgz.
# STEPS (space-separated) runs a subset, for a short first look with the device's time in mind:
#   conformance validation model bench auto split llama profile tune fusions perf   (the default: all of them)
#   fusions: decode on the largest model with single fusions left out (EDGEHAL_UNFUSED: the norm folded into
#   the mat-vecs, the residual added by them, gate·up·glu in one mat-vec, q/k/v roped and cached by theirs) at depth 128,
#   and at depth 2048 with and without the split
#   attention (EDGEHAL_ATTENTION_SPLIT=0), and prefill at depth 1024 with and without the query tiles (EDGEHAL_ATTENTION_TILE=0):
#   what each is worth on the device
#   tune: prefill (pp512) on the largest model under each prefill tile setting in PREFILL_TUNINGS (default tn=4 tn=8
#   i8=0 i8=1: the tile's widths, the float and the int8 tile),
#   then decode under each Vulkan mat-vec geometry in TUNINGS (EDGEHAL_VULKAN_MATVEC values, space-separated;
#   "default" is the built-in choice; i8=0 the float mat-vec, i8=1 the int8 one after quantize_q8, i8=2 the int8 one
#   quantizing in each workgroup), per-shape kernel times
# FAMILIES lists the kernel families (Vulkan and OpenCL alike) the table and the bench run under (default:
# the probed one; "gpu cpu" gives the A/B on a GPU). PERF_ARGS narrows the perf table (e.g. "--op mul_mat").
set -uo pipefail
STEPS=" ${STEPS:-conformance validation model bench auto split llama profile tune fusions perf} "
want() { [[ $STEPS == *" $1 "* ]]; }
FAMILIES=${FAMILIES:-probed}
# The variables forcing a family on both GPU APIs (word-split on purpose: `env $(family_env gpu) …`).
family_env() {
  if [[ $1 == probed ]]; then echo "EDGEHAL_VULKAN_KERNELS=${EDGEHAL_VULKAN_KERNELS:-} EDGEHAL_OPENCL_KERNELS=${EDGEHAL_OPENCL_KERNELS:-}"
  else echo "EDGEHAL_VULKAN_KERNELS=$1 EDGEHAL_OPENCL_KERNELS=$1"; fi
}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${OUT:-$PWD/device-results}
mkdir -p "$OUT"
work=${TMPDIR:-/tmp}/edgehal-device
D=$work/detail
rm -rf "$work"
mkdir -p "$work/bin" "$work/models" "$D"
exec > >(tee "$OUT/log.txt") 2>&1
t0=$(date +%s)
step() { echo; echo "=== [$(($(date +%s) - t0))s] $*"; }
summary() { echo "$*" | tee -a "$OUT/summary.txt"; }
: > "$OUT/summary.txt"

step unpack
xz -dc "$here/bin.tar.xz" | tar xf - -C "$work/bin"
xz -dc "$here/llama-bench-vulkan.xz" > "$work/bin/llama-bench" && chmod +x "$work/bin/llama-bench"
B=$work/bin
# Loaders, only where the machine lacks them (the GPU image has none; this project's machines have both).
if ! ldconfig -p | grep -q 'libvulkan.so.1 ' || ! ldconfig -p | grep -q 'libOpenCL.so.1 '; then
  if [[ $(id -u) -eq 0 ]] && compgen -G "$here/debs/*.deb" >/dev/null; then
    for f in "$here"/debs/*.deb; do dpkg -x "$f" /; done
    ldconfig
  else
    echo "no Vulkan/OpenCL loader and no way to install the carried packages: those backends will say why they are unavailable"
  fi
fi
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv
  # NVIDIA's ICD files where the container runtime puts them; OpenCL's vendor file if none names the driver.
  for j in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    if [[ -e $j ]]; then export VK_DRIVER_FILES=$j; break; fi
  done
  if ! grep -qs nvidia /etc/OpenCL/vendors/*.icd; then
    lib=$(find /usr/local/nvidia /usr/lib /usr/lib64 -name 'libnvidia-opencl.so.1' 2>/dev/null | head -1)
    if [[ -n $lib ]]; then mkdir -p "$work/icd" && echo "$lib" > "$work/icd/nvidia.icd" && export OCL_ICD_VENDORS=$work/icd; fi
  fi
fi
lscpu | grep -E 'Model name|^CPU\(s\)|Flags' | cut -c1-400
export XDG_CACHE_HOME=$work/cache EDGEHAL_MODELS=$work/models

step hwprobe
timeout 120 "$B/hwprobe" | tee "$D/hwprobe.txt"
timeout 120 "$B/hwprobe" --json > "$D/hwprobe.json"
mapfile -t gpus < <(timeout 120 "$B/hwprobe" --list gpu,integrated)
standin=0
if ((${#gpus[@]} == 0)); then
  mapfile -t gpus < <(timeout 120 "$B/hwprobe" --list emulated)
  standin=1
  summary "no GPU device: ${gpus[*]:-nothing} stand in (small model only)"
else
  summary "GPU devices: ${gpus[*]}"
fi
list=$(IFS=,; echo "${gpus[*]}")

step models
timeout 300 "$B/edgehal" synthesize --preset smollm2-135m --layers 3 --type q4_1 "$work/models/small.gguf"
models=("$work/models/small.gguf")
if ((standin == 0)); then
  timeout 300 "$B/edgehal" synthesize --preset llama-3.2-1b --type q4_0 "$work/models/l1b.gguf" && models+=("$work/models/l1b.gguf")
fi

for dev in "${gpus[@]}"; do
  tag=${dev/:/-}
  for fam in $FAMILIES; do
    ftag=$tag; [[ $fam == probed ]] || ftag=$tag-$fam
    if want conformance; then
      step "conformance $dev ($fam kernels)"
      env $(family_env "$fam") timeout 300 "$B/conformance" --backend "$dev" > "$D/conf-$ftag.txt" 2>&1
      summary "conformance $dev ($fam): exit $? — $(tail -1 "$D/conf-$ftag.txt")"
      grep -E '^\S.* [1-9][0-9]* +[0-9]+ *$' "$D/conf-$ftag.txt" | grep -vE ' 0 +0 *$' | head -5
    fi
    if want validation && [[ $dev == vulkan:* ]]; then
      step "vulkan validation $dev ($fam kernels)"
      env $(family_env "$fam") EDGEHAL_VULKAN_VALIDATION=1 timeout 300 "$B/conformance" --backend "$dev" > "$D/conf-$ftag-validation.txt" 2>&1
      summary "validation $dev ($fam): exit $?, $(grep -cE 'VUID|Validation Error' "$D/conf-$ftag-validation.txt") validation messages"
    fi
    if want model; then
      step "model case $dev ($fam kernels)"
      tokens=$((standin ? 48 : 0))
      env $(family_env "$fam") timeout 300 "$B/conformance" model "$work/models/small.gguf" --backend "$dev" --model-tokens $tokens > "$D/model-$ftag.txt" 2>&1
      summary "model case $dev ($fam): exit $? — $(grep -m1 -E '^(PASS|FAIL) +model' "$D/model-$ftag.txt" | cut -c1-200)"
    fi
  done
done

reps=$((standin ? 1 : 3))
prompts=$((standin ? 128 : 512))
for m in "${models[@]}"; do
  name=$(basename "$m" .gguf)
  if want bench; then
    for fam in $FAMILIES; do
      step "bench $name: edgehal on cpu,$list ($fam kernels)"
      env $(family_env "$fam") timeout 600 "$B/edgehal" bench --model "$m" --backend "cpu,$list" -p $prompts -n 64 -d 128 -r $reps 2>&1 | tee "$D/bench-$name-$fam.txt"
    done
  fi
  if want auto; then
    step "auto for $name: calibrations, predictions and the choice (#24)"
    timeout 120 "$B/hwprobe" --model "$m" 2>&1 | grep -E 'calibration|predicted|selected' | tee "$D/auto-$name.txt"
    summary "auto $name: $(grep -m1 -o 'auto picks [^:]*' "$D/auto-$name.txt")"
  fi
  if want split; then
    step "bench $name: layer split on ${gpus[0]} (--gpu-layers 0, 2, 8, and 999: every layer and the output)"
    timeout 600 "$B/edgehal" bench --model "$m" --backend "${gpus[0]}" --gpu-layers 0,2,8,999 -p 128 -n 64 -r 1 2>&1 | tee "$D/bench-$name-split.txt"
  fi
  if want llama; then
    step "bench $name: llama.cpp (Vulkan on GPUs; its CPU path where it finds none)"
    timeout 600 "$B/llama-bench" -m "$m" -ngl 99 -p 128,$prompts -n 64 -d 0,128 -r $reps 2>&1 | grep -vE '^(ggml|llama_|load)' | tee "$D/llama-bench-$name.txt"
  fi
done

if want profile; then
  for dev in "${gpus[@]}"; do
    api=${dev%%:*}
    step "profile $dev"
    env "EDGEHAL_${api^^}_PROFILE=1" timeout 300 "$B/edgehal" bench --model "${models[-1]}" --backend "$dev" -p 128 -n 32 -r 1 2>&1 \
      | tee "$D/profile-${dev/:/-}.txt" | tail -25
  done
fi

if want tune; then
  # Prefill under each width of the GPU family's tile (tn=4: 128 × 64 tiles; tn=8: 128 × 128; default: the host's choice),
  # and with its float (i8=0) and int8 (i8=1: mul_mat_tile_i8 after quantize_q8) kernels.
  for t in ${PREFILL_TUNINGS:-default tn=4 tn=8 i8=0 i8=1}; do
    setting=$t; [[ $t == default ]] && setting=
    step "tune: EDGEHAL_VULKAN_MATVEC=$setting, prefill on $(basename "${models[-1]}")"
    EDGEHAL_VULKAN_MATVEC=$setting EDGEHAL_VULKAN_PROFILE=shapes timeout 300 "$B/edgehal" bench --model "${models[-1]}" --backend vulkan \
      -p 512 -n 0 -r 1 2>&1 | tee "$D/tune-prefill-$t.txt" | grep -E 'mul_mat_tile|quantize|attention|pp512' | sort -u | head -16
  done
  for t in ${TUNINGS:-default i8=0 i8=1 i8=2 i8=2,rows=4 rows=2 rows=4 lanes=16 lanes=64 wg=256}; do
    setting=$t; [[ $t == default ]] && setting=
    step "tune: EDGEHAL_VULKAN_MATVEC=$setting, decode on $(basename "${models[-1]}")"
    EDGEHAL_VULKAN_MATVEC=$setting EDGEHAL_VULKAN_PROFILE=shapes timeout 120 "$B/edgehal" bench --model "${models[-1]}" --backend vulkan \
      -p 0 -n 32 -d 128 -r 1 2>&1 | tee "$D/tune-$t.txt" | grep -E 'mul_mat_vec|quantize|attention|tg32|submit|host read' | sort -u | head -24
  done
fi

if want fusions; then
  for dev in "${gpus[@]}"; do
    for u in none rms_norm_mul_mat mul_mat_add mul_mat_glu mul_mat_rows rms_norm_mul_mat,mul_mat_add,mul_mat_glu,mul_mat_rows; do
      unfused=$u; [[ $u == none ]] && unfused=
      step "fusions: $dev, EDGEHAL_UNFUSED=$unfused, decode on $(basename "${models[-1]}") at depth 128"
      EDGEHAL_UNFUSED=$unfused timeout 120 "$B/edgehal" bench --model "${models[-1]}" --backend "$dev" -p 0 -n 32 -d 128 -r 3 2>&1 \
        | tee "$D/fusions-${dev/:/-}-$u.txt" | grep -E 'tg32'
    done
    for target in 256 0; do
      step "fusions: $dev, EDGEHAL_ATTENTION_SPLIT=$target, decode at depth 2048"
      EDGEHAL_ATTENTION_SPLIT=$target timeout 180 "$B/edgehal" bench --model "${models[-1]}" --backend "$dev" -p 0 -n 32 -d 2048 -r 3 2>&1 \
        | tee "$D/split-${dev/:/-}-$target.txt" | grep -E 'tg32'
    done
    for tiles in 1 0; do
      step "fusions: $dev, EDGEHAL_ATTENTION_TILE=$tiles, prefill (pp512) at depth 1024"
      EDGEHAL_ATTENTION_TILE=$tiles timeout 180 "$B/edgehal" bench --model "${models[-1]}" --backend "$dev" -p 512 -n 0 -d 1024 -r 3 2>&1 \
        | tee "$D/attention-tile-${dev/:/-}-$tiles.txt" | grep -E 'pp512'
    done
  done
fi

if want perf; then
  step "perf"
  perf=(perf --backend "cpu,$list")
  ((standin)) && perf+=(--op mul_mat --type q4_0)
  # shellcheck disable=SC2206
  perf+=(${PERF_ARGS:-})
  timeout 600 "$B/conformance" "${perf[@]}" > "$D/perf.txt" 2>&1
  summary "perf: exit $?"
  head -3 "$D/perf.txt"; grep -E 'device-to-device|4096 m=11008 n=1 ' "$D/perf.txt"
fi

step done
tar -C "$work" -czf "$OUT/detail.tgz" detail
echo "results: $OUT (log.txt, summary.txt, detail.tgz)"
cat "$OUT/summary.txt"
