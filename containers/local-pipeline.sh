#!/usr/bin/env bash
# Run the whole pipeline on the local engine with docker-compose.yml, then show what it made:
# the evaluation metrics and a few predictions from the running endpoint.
# usage: containers/local-pipeline.sh "docker compose"|docker-compose
set -euo pipefail
compose=(${1:-docker-compose})
work="${MPG_WORK_DIR:-./work}"
port="${MPG_SERVING_PORT:-8080}"
export MPG_WORK_DIR="$work" MPG_SERVING_PORT="$port"
start=$(date +%s)

"${compose[@]}" down --remove-orphans >/dev/null 2>&1 || true
rm -rf "$work"
mkdir -p "$work"

if ! "${compose[@]}" up -d serving; then
  echo "the pipeline failed; the job's own reason:" >&2
  cat "$work"/processing/job-output/failure "$work"/training/output/failure 2>/dev/null >&2 || true
  "${compose[@]}" logs --tail 20 >&2
  exit 1
fi

deadline=$(( $(date +%s) + 120 ))
ping() {
  python3 -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" \
    "http://127.0.0.1:$port/ping" 2>/dev/null
}
until ping; do
  if (( $(date +%s) > deadline )); then
    echo "the endpoint did not answer /ping within 120 s" >&2
    "${compose[@]}" logs --tail 40 serving >&2
    exit 1
  fi
  sleep 0.5
done

echo
echo "== evaluation (training/output/data/evaluation.json)"
python3 - "$work/training/output/data/evaluation.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
print(f"{'split':<12}{'rows':>6}{'MAE':>10}{'RMSE':>10}{'R2':>10}")
for split, m in report["metrics"].items():
    print(f"{split:<12}{report['rows'][split]:>6}{m['mae']:>10.3f}{m['rmse']:>10.3f}{m['r2']:>10.3f}")
PY

echo
echo "== predictions from http://127.0.0.1:$port/invocations (first 5 test cars)"
python3 - "$work/bronze/test/test.csv" "http://127.0.0.1:$port/invocations" \
  "$work/training/model/artifact.json" <<'PY'
import csv, json, sys, urllib.request
# The columns the endpoint takes, in order, and the target: the model's own, from artifact.json
# (mpg_core.schema owns them; this host script has no mpg_core to import).
artifact = json.load(open(sys.argv[3]))
cols, target = artifact["input_columns"], artifact["output_columns"][0]
cars = [row for _, row in zip(range(5), csv.DictReader(open(sys.argv[1])))]
label = [c for c in cars[0] if c not in cols and c != target]  # the car's name
body = "".join(",".join(car[c] or "?" for c in cols) + "\n" for car in cars).encode()
request = urllib.request.Request(sys.argv[2], data=body,
                                 headers={"Content-Type": "text/csv", "Accept": "text/csv"})
with urllib.request.urlopen(request, timeout=30) as response:
    predictions = response.read().decode().split()
for car, predicted in zip(cars, predictions):
    name = " ".join(car[c] for c in label)
    print(f"  {name:<36} actual {float(car[target]):5.1f}  "
          f"predicted {float(predicted):5.1f} {target}")
PY

echo
echo "pipeline done in $(( $(date +%s) - start )) s; the endpoint stays up at http://127.0.0.1:$port"
echo "(make down stops it)"
