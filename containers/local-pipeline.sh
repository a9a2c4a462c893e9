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
until curl -sf "http://127.0.0.1:$port/ping" >/dev/null; do
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
rows=$(python3 - "$work/bronze/test/test.csv" <<'PY'
import csv, sys
reader = csv.DictReader(open(sys.argv[1]))
cols = ["cylinders", "displacement", "horsepower", "weight", "acceleration", "model_year", "origin"]
for i, row in zip(range(5), reader):
    print(",".join(row[c] or "?" for c in cols) + "|" + row["mpg"] + "|" + row["car_name"])
PY
)
predictions=$(cut -d'|' -f1 <<<"$rows" | curl -sf -H 'Content-Type: text/csv' -H 'Accept: text/csv' \
  --data-binary @- "http://127.0.0.1:$port/invocations")
paste -d'|' <(cut -d'|' -f2,3 <<<"$rows") <(echo "$predictions") | \
  awk -F'|' '{printf "  %-36s actual %5.1f  predicted %5.1f mpg\n", $2, $1, $3}'

echo
echo "pipeline done in $(( $(date +%s) - start )) s; the endpoint stays up at http://127.0.0.1:$port"
echo "(make down stops it)"
