#!/bin/sh
# CTest wrapper of the headless-Chromium test of `bbo dashboard`:
#   browser_test.sh BBO_BINARY OUTPUT_DIR
# Creates a study with `bbo run` (a small shell objective that reports learning curves and writes logs),
# starts `bbo dashboard --port 0` on it, runs browser_test.js against the printed URL (which saves
# OUTPUT_DIR/dashboard_screenshot.png) and stops the dashboard. Exits 77 (CTest SKIP_RETURN_CODE) when
# Chromium or the npm packages are missing: apt-get install -y chromium; npm ci --prefix tests/cli/dashboard.
set -u
bbo=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
chromium=${CHROMIUM:-/usr/bin/chromium}

if [ ! -x "$chromium" ]; then echo "SKIP: $chromium not found (apt-get install -y chromium)"; exit 77; fi
if ! command -v node >/dev/null 2>&1; then echo "SKIP: node not found (apt-get install -y nodejs)"; exit 77; fi
if [ ! -d "$here/node_modules/playwright-core" ]; then
  echo "SKIP: playwright-core not installed (npm ci --prefix tests/cli/dashboard)"; exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bbo_dashboard_browser_XXXXXX")
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  rm -rf "$tmp"
  rm -f "$out/page_ready"
}
trap cleanup EXIT INT TERM

url=sqlite:///$tmp/study.db
"$bbo" create-study --study browser-demo --strategy random --seed 11 --storage "$url" --search-space \
  '{"lr": {"type": "float", "low": 0.0001, "high": 0.1, "log": true}, "layers": {"type": "int", "low": 1, "high": 4}, "act": {"type": "categorical", "choices": ["relu", "tanh", "gelu"]}}' \
  >/dev/null || exit 1
cat > "$tmp/objective.sh" <<'OBJ'
#!/bin/sh
# A fake training run: a learning curve over 4 epochs whose floor depends on the parameters.
echo "training lr=$1 layers=$2 act=$3"
floor=$(awk -v lr="$1" -v l="$2" 'BEGIN { d = log(lr) / log(10) + 2.5; if (d < 0) d = -d; print d + 0.1 * l }')
for e in 0 1 2 3; do
  v=$(awk -v f="$floor" -v e="$e" 'BEGIN { print f + 1 / (e + 1) }')
  echo "bbo: {\"step\": $e, \"value\": $v}"
done
echo "bbo: {\"value\": $v}"
echo "finished" >&2
OBJ
chmod +x "$tmp/objective.sh"
"$bbo" run --study browser-demo --storage "$url" --trials 12 --workers 2 --log-dir "$tmp/logs" \
  -- "$tmp/objective.sh" {lr} {layers} {act} >"$tmp/run.log" 2>&1 || { cat "$tmp/run.log"; exit 1; }

"$bbo" dashboard --storage "$url" --port 0 >"$tmp/dashboard.out" 2>"$tmp/dashboard.err" &
pid=$!
i=0
while [ ! -s "$tmp/dashboard.out" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
page=$(head -n 1 "$tmp/dashboard.out")
case "$page" in
  http://*) ;;
  *) echo "the dashboard did not print its URL"; cat "$tmp/dashboard.err"; exit 1 ;;
esac
echo "dashboard at $page"
mkdir -p "$out"
rm -f "$out/page_ready"
# Live refresh: once the page shows the study (browser_test.js touches page_ready), another process asks for a
# trial; the page must show it without a reload.
node "$here/browser_test.js" "$page" browser-demo "$out" &
node_pid=$!
i=0
while [ ! -e "$out/page_ready" ] && [ $i -lt 300 ] && kill -0 $node_pid 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
if [ -e "$out/page_ready" ]; then
  "$bbo" ask --study browser-demo --storage "$url" >/dev/null || echo "bbo ask failed"
fi
wait $node_pid
