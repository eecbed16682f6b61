#!/usr/bin/env bash
# Builds the fuzz targets and replays their seed and regression corpora once each
# (libFuzzer with -runs=0 executes the given files and exits): deterministic, no
# open-ended fuzzing. Called from .ci/run as `bash fuzz/ci.sh`.
#
# FUZZ_SANITIZER=address builds with AddressSanitizer (slower); the default is none,
# which still links libFuzzer and runs the same checks.
set -euo pipefail
cd "$(dirname "$0")"

export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never
sanitizer="${FUZZ_SANITIZER:-none}"
targets=(policy_json differential selector_text prefix_map netconf calico_selector cnp_json calico_json live)

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

# A target directory of its own, so CI builds never replace the binaries of a local
# fuzzing campaign (which uses the default, target/).
target_dir="${FUZZ_CI_TARGET_DIR:-target/ci}"

echo "== cargo fuzz build (sanitizer: $sanitizer, target dir: fuzz/$target_dir)"
cargo fuzz build --sanitizer "$sanitizer" --target-dir "$target_dir"

triple="$(rustc -vV | sed -n 's/^host: //p')"
bin_dir="$target_dir/$triple/release"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for t in "${targets[@]}"; do
    inputs=()
    for d in "seeds/$t" "../tests/fuzz_regressions/$t"; do
        if [ -d "$d" ] && [ -n "$(find "$d" -type f ! -name README.md -print -quit)" ]; then
            inputs+=("$d")
        fi
    done
    if [ "${#inputs[@]}" -eq 0 ]; then
        echo "error: no seeds for $t" >&2
        exit 1
    fi
    echo "== replay $t: ${inputs[*]}"
    if ! "$bin_dir/$t" -runs=0 "${inputs[@]}" >"$log" 2>&1; then
        cat "$log" >&2
        echo "error: $t failed on its corpus" >&2
        exit 1
    fi
    grep -E '^(INFO: seed corpus|#[0-9]+[[:space:]]+(INITED|DONE))' "$log" || true
done
echo "== fuzz corpora replayed"
