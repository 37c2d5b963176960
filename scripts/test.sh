#!/usr/bin/env bash
# Runs every test: installs what the tests need (apt, pip, npm packages, the model, the photos),
# builds the workspace, then runs the Rust tests, the infra checks, and the browser test against
# a real `imgpipe serve`. Exits non-zero when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export CARGO_TERM_COLOR=never

step() { printf '\n=== %s\n' "$*"; }

step "system packages"
need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

step "python packages"
python3 -m pip install --quiet --disable-pip-version-check -r tests/infra/requirements.txt -r tests/requirements.txt

step "model and photos"
scripts/fetch-model.sh
export IMGPIPE_MODEL="${IMGPIPE_MODEL:-$HOME/.cache/imgpipe/models/ssd_mobilenet_v2_coco.pb}"
export IMGPIPE_TEST_PHOTOS
IMGPIPE_TEST_PHOTOS=$(tests/fixtures/photos.sh | tail -n 1)
export IMGPIPE_VISION_REFERENCE
IMGPIPE_VISION_REFERENCE=$(tests/vision-reference/run.sh | tail -n 1)
export IMGPIPE_JSONATA_REFERENCE
IMGPIPE_JSONATA_REFERENCE=$(tests/jsonata-reference/run.sh | tail -n 1)

step "npm packages"
(cd tests/infra && npm ci --silent --no-audit --no-fund)
(cd tests/browser && npm ci --silent --no-audit --no-fund)

step "build (the same command as scripts/run.sh, so either reuses the other's build)"
cargo build --workspace --bins

step "rust tests"
set +e
cargo test --workspace --no-fail-fast 2>&1 | tee /tmp/imgpipe-cargo-test.log
rust_status=${PIPESTATUS[0]}
set -e

step "gates: rustfmt, clippy, rustdoc"
set +e
gates_status=0
cargo fmt --all -- --check || gates_status=1
cargo clippy --workspace --all-targets -- -D warnings || gates_status=1
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps || gates_status=1
set -e

step "infra checks (cfn-lint, asl-validator, statelint, ties)"
set +e
python3 -m pytest tests/infra -q
infra_status=$?
set -e

step "AWS CLI against imgpipe serve (tests/awscli: the README's DynamoDB commands, S3, Step Functions)"
set +e
python3 -m pytest tests/awscli -q
awscli_status=$?
set -e

step "browser test against imgpipe serve"
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
data=$(mktemp -d)
log="$data/serve.log"
IMGPIPE_TIME_SCALE=0.01 "$target_dir/debug/imgpipe" serve --port 0 --data "$data" >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
url=""
for _ in $(seq 1 600); do
  url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$log" | head -n 1 || true)
  [ -n "$url" ] && break
  kill -0 $server 2>/dev/null || break
  sleep 0.1
done
set +e
if [ -z "$url" ]; then
  echo "imgpipe serve did not start:"; cat "$log"; browser_status=1
else
  # The browser tests create their users with `imgpipe users add --data "$data"`.
  IMGPIPE_URL="$url" IMGPIPE_BIN="$target_dir/debug/imgpipe" IMGPIPE_DATA="$data" node --test --test-concurrency=1 tests/browser/
  browser_status=$?
fi
set -e
kill $server 2>/dev/null || true

step "summary"
echo "rust: $rust_status, gates: $gates_status, infra: $infra_status, awscli: $awscli_status, browser: $browser_status"
[ "$rust_status" -eq 0 ] && [ "$gates_status" -eq 0 ] && [ "$infra_status" -eq 0 ] && [ "$awscli_status" -eq 0 ] \
  && [ "$browser_status" -eq 0 ]
