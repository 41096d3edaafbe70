#!/bin/bash
# expect_job_failure.sh SECONDS PATTERN COMMAND...: COMMAND must exit non-zero within SECONDS
# (a hang is killed and fails the test) and its stderr or stdout must match PATTERN (grep -E).
set -u
limit=$1 pattern=$2
shift 2
log=$(mktemp)
start=$(date +%s)
timeout --kill-after=5 "$limit" "$@" >"$log" 2>&1
status=$?
elapsed=$(($(date +%s) - start))
cat "$log"
if [ "$status" -eq 0 ]; then echo "FAIL: exited 0, expected non-zero"; exit 1; fi
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then echo "FAIL: still running after ${limit}s (hung)"; exit 1; fi
if ! grep -Eq "$pattern" "$log"; then echo "FAIL: output does not match /$pattern/"; exit 1; fi
echo "ok: exit status $status after ${elapsed}s"
