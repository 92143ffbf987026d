#!/usr/bin/env bash
# Mutation testing of a backend against the conformance table (a project tool, not run in CI).
#
#   scripts/mutation-test.sh BACKEND [conformance arguments…]
#   (BACKEND vulkan-gpu: Tests/Mutations/vulkan-gpu.json on the vulkan backend with EDGEHAL_VULKAN_KERNELS=gpu)
#
# Reads the seeded bugs in Tests/Mutations/BACKEND.json ({id, file, find, replace, op, why}), copies
# the repo (tracked files plus uncommitted changes) to ${TMPDIR:-/tmp}/edgehal-mutation-BACKEND, whose
# .build is kept between runs so rebuilds are incremental, and checks that the unmutated table passes.
# Then, one mutant at a time: apply it, rebuild the conformance tool, run
# `conformance --backend BACKEND --json [arguments…]` and see which cases fail.
#
# A mutant may name "kernels" (cpu: a CPUKernelSet, e.g. "portable"): its run sets EDGEHAL_CPU_KERNELS to it,
# so a seeded bug in the portable kernels is run by them where the build's default set is another. A mutant
# whose set this build lacks (avx512vnni on a CPU without AVX-512 VNNI) is skipped and listed as such: it
# must be run on a machine that has the set. A mutant may name "env" ({"VARIABLE": "value", …}): its run sets
# those, so a seeded bug in a path the default choice does not take (the Vulkan int8 mat-vec on lavapipe,
# EDGEHAL_VULKAN_MATVEC=i8=1) is run by it.
# Environment: MUTANTS=id1,id2 runs only those mutants; MUTATION_TIMEOUT (seconds, default 300) bounds
# each conformance run; MUTATION_SCOPE=op runs each mutant on its expected op's cases alone (what "caught"
# asks; the unmutated run covers every op of the list), for a whole list in one session on a small machine;
# EDGEHAL_THREADS and the like pass through to the conformance tool.
# Exits 0 only if every mutant compiled and was caught with its expected op among the failing ones.
# Machine-readable results: ${TMPDIR:-/tmp}/edgehal-mutation-BACKEND/results.json.
set -euo pipefail

if (($# < 1)); then
  echo "usage: scripts/mutation-test.sh BACKEND [conformance arguments...]" >&2
  exit 2
fi
backend=$1
shift
extra=("$@")
# A kernel family's list (vulkan-gpu, opencl-gpu) runs its backend with that family forced.
conformance_backend=${backend%-gpu}
if [[ $backend == *-gpu ]]; then
  family_variable="EDGEHAL_$(echo "$conformance_backend" | tr a-z A-Z)_KERNELS"
  export "$family_variable=gpu"
fi
# The CPU backend runs at 1, 3 and 2 workers unless told otherwise: partition bugs show only at some counts.
if [[ $backend == cpu && ${#extra[@]} -eq 0 ]]; then extra=(--threads 1,3,2); fi
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
list="$repo/Tests/Mutations/$backend.json"
work="${TMPDIR:-/tmp}/edgehal-mutation-$backend"
state="$work/.mutation"          # logs, pristine copies, per-mutant records (not part of the copy)
timeout_s=${MUTATION_TIMEOUT:-300}
[[ -f "$list" ]] || { echo "mutation-test: no mutant list $list" >&2; exit 2; }

# --- 1. The scratch copy: copy what differs, delete what the repo no longer has (keeps .build warm). --
mkdir -p "$work"
rm -rf "$state"
mkdir -p "$state/pristine" "$state/logs"
python3 - "$repo" "$work" <<'PY'
import os, shutil, subprocess, sys
repo, work = sys.argv[1:]
out = subprocess.run(["git", "-C", repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                     check=True, capture_output=True).stdout.decode()
keep = {n for n in out.split("\0") if n and os.path.isfile(os.path.join(repo, n))}
if os.path.isfile(os.path.join(repo, "Package.resolved")):   # ignored by git, but pins the dependencies
    keep.add("Package.resolved")
for name in keep:
    src, dst = os.path.join(repo, name), os.path.join(work, name)
    if os.path.isfile(dst) and open(src, "rb").read() == open(dst, "rb").read():
        continue
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copy2(src, dst)
for root, dirs, files in os.walk(work):
    rel = os.path.relpath(root, work)
    if rel == ".":
        dirs[:] = [d for d in dirs if d not in (".build", ".mutation")]
    for f in files:
        path = os.path.normpath(os.path.join(rel, f))
        if path not in keep and path != "results.json":
            os.remove(os.path.join(root, f))
PY

# Mutants come from the copy's list from here on: editing the repository's list or sources while a run
# goes on changes nothing in it (an edited list used to stop a run halfway with "find occurs 0 times").
list="$work/Tests/Mutations/$backend.json"

# --- Helpers (python3 does the JSON). ------------------------------------------------------------
# Mutant ids to run, one per line, honouring MUTANTS; also checks the list's fields.
mutant_ids() {
  python3 - "$list" "${MUTANTS:-}" <<'PY'
import json, sys
mutants = json.load(open(sys.argv[1]))
ids = [m["id"] for m in mutants]
for m in mutants:
    missing = {"id", "file", "find", "replace", "op", "why"} - m.keys()
    if missing: sys.exit(f"mutation-test: {m.get('id')}: missing {sorted(missing)}")
if len(set(ids)) != len(ids): sys.exit("mutation-test: duplicate mutant ids")
wanted = [w for w in sys.argv[2].split(",") if w]
unknown = [w for w in wanted if w not in ids]
if unknown: sys.exit(f"mutation-test: unknown mutants {unknown}")
print("\n".join(i for i in ids if not wanted or i in wanted))
PY
}

# Mutant $1's "env" as VARIABLE=value lines (none when it has no env).
env_of() { python3 -c 'import json,sys; m = next(m for m in json.load(open(sys.argv[1])) if m["id"] == sys.argv[2]); print("\n".join(f"{k}={v}" for k, v in m.get("env", {}).items()))' "$list" "$1"; }
mutant_env=()

# Field of mutant $1: $2 (empty when the mutant has no such field).
field() { python3 -c 'import json,sys; print(next(m for m in json.load(open(sys.argv[1])) if m["id"] == sys.argv[2]).get(sys.argv[3], ""))' "$list" "$1" "$2"; }

# Writes the pristine file with mutant $1's replacement applied; fails unless "find" occurs exactly once.
apply_mutant() {
  python3 - "$list" "$1" "$state/pristine" "$work" <<'PY'
import json, sys
listing, mid, pristine, work = sys.argv[1:]
m = next(m for m in json.load(open(listing)) if m["id"] == mid)
text = open(f"{pristine}/{m['file']}").read()
n = text.count(m["find"])
if n != 1:
    sys.exit(f"mutation-test: {mid}: \"find\" occurs {n} times in {m['file']} (must be exactly once)")
open(f"{work}/{m['file']}", "w").write(text.replace(m["find"], m["replace"]))
PY
}

current=""   # the file that is mutated right now, restored on exit
restore() { if [[ -n "$current" ]]; then cp "$state/pristine/$current" "$work/$current"; current=""; fi; }
trap restore EXIT

# Keep pristine copies of every file the mutants touch.
while IFS= read -r f; do
  [[ -f "$work/$f" ]] || { echo "mutation-test: $f (named in $list) does not exist" >&2; exit 2; }
  mkdir -p "$(dirname "$state/pristine/$f")"
  cp "$work/$f" "$state/pristine/$f"
done < <(python3 -c 'import json,sys; print("\n".join(sorted({m["file"] for m in json.load(open(sys.argv[1]))})))' "$list")

# Kernel sources are embedded by generators (SPIR-V words, OpenCL C strings): when the list mutates
# them, regenerate before every build, so a mutant goes in and the restored source comes back out.
generators=()
grep -q '"Kernels/vulkan/' "$list" && generators+=(scripts/gen-spirv.sh)
grep -q '"Kernels/opencl/' "$list" && generators+=(scripts/gen-opencl.sh)
build() {
  (cd "$work" && for g in "${generators[@]}"; do bash "$g" || exit 1; done &&
    swift build -c release --toolset Toolsets/native.json --product conformance) >"$1" 2>&1
}
conformance() {
  (cd "$work" && if [[ -n ${kernels:-} ]]; then export EDGEHAL_CPU_KERNELS=$kernels; fi &&
    for kv in "${mutant_env[@]}"; do export "${kv?}"; done &&
    timeout --kill-after=10 "$timeout_s" .build/release/conformance --backend "$conformance_backend" --json "${extra[@]}" "${scope[@]}")
}
# MUTATION_SCOPE=op: the unmutated run takes every op the list names, each mutant its own op.
scope=()
if [[ ${MUTATION_SCOPE:-} == op ]]; then
  mapfile -t scope < <(python3 -c 'import json,sys; [print(f"--op\n{o}") for o in sorted({m["op"] for m in json.load(open(sys.argv[1]))})]' "$list")
elif [[ -n ${MUTATION_SCOPE:-} ]]; then
  echo "mutation-test: MUTATION_SCOPE is 'op' or unset" >&2; exit 2
fi

# --- 2. The unmutated table must pass. ----------------------------------------------------------
echo "mutation-test: building the unmutated conformance tool in $work"
if ! build "$state/logs/baseline-build.log"; then
  tail -n 30 "$state/logs/baseline-build.log" >&2
  echo "mutation-test: the unmutated tree does not build (log: $state/logs/baseline-build.log)" >&2
  exit 2
fi
if ! conformance >"$state/logs/baseline.json" 2>"$state/logs/baseline.err"; then
  python3 - "$state/logs/baseline.json" <<'PY' >&2 || true
import json, sys
r = json.load(open(sys.argv[1]))
for c in r["results"]:
    if c["status"] == "fail": print(f"  FAIL {c['op']} {c['type']} {c['shape']}: {c.get('detail')}")
PY
  echo "mutation-test: the unmutated table does not pass on $backend; nothing to measure" >&2
  exit 2
fi
echo "mutation-test: unmutated table passes"

# --- 3. One mutant at a time. -------------------------------------------------------------------
mapfile -t ids < <(mutant_ids)
records="$state/records.jsonl"
: >"$records"
declare -A set_built=()   # CPU kernel set -> 1 if this build has it (asked of the unmutated tool once)
i=0
for id in "${ids[@]}"; do
  i=$((i + 1))
  file=$(field "$id" file)
  kernels=$(field "$id" kernels)
  mapfile -t mutant_env < <(env_of "$id" | sed '/^$/d')
  if [[ -n $kernels && -z ${set_built[$kernels]:-} ]]; then
    set_built[$kernels]=0
    (cd "$work" && EDGEHAL_CPU_KERNELS=$kernels .build/release/conformance --backend cpu --op add >/dev/null 2>&1) &&
      set_built[$kernels]=1
  fi
  if [[ -n $kernels && ${set_built[$kernels]} == 0 ]]; then
    python3 -c 'import json,sys; print(json.dumps({"id": sys.argv[1], "file": sys.argv[2], "op": sys.argv[3], "why": sys.argv[4],
      "result": "skipped", "kernels": sys.argv[5], "failing_ops": [], "failed_cases": [], "expected_op_failed": False}))' \
      "$id" "$file" "$(field "$id" op)" "$(field "$id" why)" "$kernels" >>"$records"
    echo "[$i/${#ids[@]}] $id: skipped (this build has no $kernels kernel set)"
    continue
  fi
  start=$SECONDS
  [[ ${MUTATION_SCOPE:-} == op ]] && scope=(--op "$(field "$id" op)")
  current=$file
  apply_mutant "$id"
  outcome=""
  rc=0
  if ! build "$state/logs/$id.build.log"; then
    outcome="did not compile"
  else
    conformance >"$state/logs/$id.json" 2>"$state/logs/$id.err" || rc=$?
  fi
  restore
  python3 - "$list" "$id" "$rc" "$outcome" "$state/logs/$id.json" "$((SECONDS - start))" "$records" "$i/${#ids[@]}" <<'PY'
import json, sys
listing, mid, rc, outcome, report, seconds, records, progress = sys.argv[1:]
m = next(m for m in json.load(open(listing)) if m["id"] == mid)
rec = {"id": mid, "file": m["file"], "op": m["op"], "why": m["why"], "exit": int(rc), "seconds": int(seconds),
       "failing_ops": [], "failed_cases": [], "expected_op_failed": False}
if outcome:
    rec["result"] = outcome
else:
    try:
        text = open(report).read()
        r = json.loads(text[text.index("{"):])
        fails = [c for c in r["results"] if c["status"] == "fail"]
        rec["failed"] = r["failed"]
        rec["failed_cases"] = [f"{c['op']} {c['type']} {c['shape']}" for c in fails]
        rec["failing_ops"] = sorted({c["op"] for c in fails})
        rec["expected_op_failed"] = m["op"] in rec["failing_ops"]
        rec["result"] = "caught" if r["failed"] > 0 else "SURVIVED"
    except (ValueError, KeyError, OSError):
        rec["result"] = "crash-or-timeout"    # no report: killed by the timeout or a signal, or a trap
with open(records, "a") as f:
    f.write(json.dumps(rec) + "\n")
print(f"[{progress}] {mid}: {rec['result']} (expected {m['op']}; failing: {', '.join(rec['failing_ops']) or '-'}) {seconds}s",
      flush=True)
PY
done

# --- 4. Report. --------------------------------------------------------------------------------
python3 - "$records" "$work/results.json" "$backend" <<'PY'
import json, sys
records, out, backend = sys.argv[1:]
recs = [json.loads(l) for l in open(records) if l.strip()]
def cut(s, n): return s if len(s) <= n else s[:n - 1] + "…"
w = max([len(r["id"]) for r in recs] + [2])
print()
print(f"{'id':<{w}}  {'result':<16}  {'expected op':<26}  failing ops")
for r in recs:
    exp = r["op"] + ("" if r["expected_op_failed"] or r["result"] != "caught" else " (not failing)")
    print(f"{r['id']:<{w}}  {r['result']:<16}  {exp:<26}  {cut(', '.join(r['failing_ops']) or '-', 60)}")
skipped = [r for r in recs if r["result"] == "skipped"]
recs = [r for r in recs if r["result"] != "skipped"]
n = len(recs)
caught = sum(r["result"] in ("caught", "crash-or-timeout") for r in recs)
survived = [r for r in recs if r["result"] == "SURVIVED"]
broken = [r for r in recs if r["result"] == "did not compile"]
print(f"\nmutation score: {caught}/{n} caught ({len(survived)} survived, {len(broken)} not compiling)")
if skipped:
    print(f"skipped, their kernel set not in this build (run them where it is): {', '.join(r['id'] for r in skipped)}")
for label, group in (("survivors", survived), ("did not compile", broken),
                     ("caught, but not by the expected op", [r for r in recs if r["result"] == "caught" and not r["expected_op_failed"]]),
                     ("crash or timeout", [r for r in recs if r["result"] == "crash-or-timeout"])):
    if group:
        print(f"{label}:")
        for r in group: print(f"  {r['id']} ({r['op']}): {r['why']}")
ok = all(r["result"] == "caught" and r["expected_op_failed"] for r in recs)
json.dump({"backend": backend, "total": n, "caught": caught, "survived": len(survived), "did_not_compile": len(broken),
           "skipped": [r["id"] for r in skipped], "passed": ok, "mutants": recs}, open(out, "w"), indent=2)
print(f"results: {out}")
sys.exit(0 if ok else 1)
PY
