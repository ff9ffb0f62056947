#!/usr/bin/env bash
# Coverage-guided fuzzing of Tributary with AFL++ and SharpFuzz (fuzz/README.md). Builds fuzz/Tributary.Fuzz,
# instruments copies of the Protocol, Storage and Broker assemblies, replays each target's seed corpus
# (fuzz/corpus/<target>), then fuzzes each target for FUZZ_SECONDS (default 60). A crash or hang fails the run; its
# inputs are saved under fuzz/findings/<target>/. Prints each target's figures and a closing
# "fuzz targets: N passed, N failed" line.
#   FUZZ_SECONDS=600 fuzz/run.sh            # ten minutes per target
#   FUZZ_TARGETS="frame batch" fuzz/run.sh  # some targets only
set -euo pipefail
cd "$(dirname "$0")"

seconds=${FUZZ_SECONDS:-60}
targets=(${FUZZ_TARGETS:-frame batch internal metadata})

if ! command -v afl-fuzz >/dev/null 2>&1; then
  echo "fuzz: installing afl++"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq afl++ >/dev/null
fi

dotnet build Tributary.Fuzz/Tributary.Fuzz.csproj -c Release -v q -nologo
dotnet tool restore >/dev/null

# The instrumented copies live in a scratch directory: the build output (used by the tests) stays as it is.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r Tributary.Fuzz/bin/Release/net10.0 "$work/bin"
for assembly in Tributary.Protocol Tributary.Storage Tributary.Broker; do
  dotnet tool run sharpfuzz "$work/bin/$assembly.dll" >/dev/null
  # The tool reports some failures on stderr only; an instrumented assembly references SharpFuzz.Common.
  grep -q SharpFuzz.Common "$work/bin/$assembly.dll" || { echo "fuzz: $assembly.dll was not instrumented"; exit 1; }
done
fuzzer=(dotnet "$work/bin/Tributary.Fuzz.dll")
mkdir -p "$work/out"
replay=(dotnet Tributary.Fuzz/bin/Release/net10.0/Tributary.Fuzz.dll) # not instrumented: runs without afl-fuzz

# SharpFuzz runs inputs in a loop inside one .NET process (its fork server), so the target is no instrumented
# binary to afl-fuzz, and a hang ends the run rather than being retried.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_FAST_CAL=1

passed=0
failed=0
for target in "${targets[@]}"; do
  findings="findings/$target"
  out="$work/out/$target"
  ok=1
  if ! "${replay[@]}" "$target" "corpus/$target"; then
    echo "fuzz $target: a seed input fails (replay: dotnet fuzz/Tributary.Fuzz/bin/Release/net10.0/Tributary.Fuzz.dll $target fuzz/corpus/$target)"
    ok=0
  elif ! timeout --kill-after=10 $((seconds + 120)) afl-fuzz -i "corpus/$target" -o "$out" -t 10000 -m none -V "$seconds" -- "${fuzzer[@]}" "$target" >"$work/$target.log" 2>&1; then
    # The fork server died (a hang past the timeout, a stack overflow) or afl-fuzz could not start.
    tail -n 20 "$work/$target.log"
    mkdir -p "$findings"
    [ -f "$out/default/.cur_input" ] && cp "$out/default/.cur_input" "$findings/aborted-$(date +%s)"
    echo "fuzz $target: afl-fuzz stopped early; the input it was running is in fuzz/$findings/"
    ok=0
  fi

  stats="$out/default/fuzzer_stats"
  if [ -f "$stats" ]; then
    field() { awk -F' *: *' -v k="$1" '$1 == k {print $2}' "$stats"; }
    crashes=$(field saved_crashes); hangs=$(field saved_hangs)
    echo "fuzz $target: $(field execs_done) executions ($(field execs_per_sec)/s), corpus $(field corpus_count), coverage $(field bitmap_cvg), crashes ${crashes:-0}, hangs ${hangs:-0}"
    for kind in crashes hangs; do
      for input in "$out/default/$kind"/id:*; do
        [ -e "$input" ] || continue
        mkdir -p "$findings"
        cp "$input" "$findings/$kind-$(basename "$input" | tr ':,' '-_')"
        ok=0
      done
    done
  fi

  if [ "$ok" -eq 1 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "fuzz $target: FAILED (inputs in fuzz/$findings/)"; fi
done

echo "fuzz targets: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
