#!/usr/bin/env bash
# install_test.sh CMAKE BUILD_DIR SOURCE_DIR
# The plugin SDK end to end: install the build into a temporary prefix, build examples/out_of_tree_plugin
# against it with find_package(bbo), run its app with BBO_PLUGIN_PATH, and drive the plugin through the
# installed `bbo` (plugins, create-study, ask, tell, best).
set -euo pipefail
cmake=$1 build=$2 src=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bbo_install_test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }
# run_logged LOG CMD...: runs CMD, shows its output only when it fails.
run_logged() { local log=$1; shift; "$@" >"$log" 2>&1 || { cat "$log" >&2; fail "'$*' failed"; }; }

step "install into $prefix"
run_logged "$tmp/install.log" "$cmake" --install "$build" --prefix "$prefix"
for f in bin/bbo include/bbo/study.h include/bbo/plugin.h lib/cmake/bbo/bboConfig.cmake lib/cmake/bbo/bboTargets.cmake \
         lib/cmake/bbo/bboPlugin.cmake lib/bbo/plugins/libbbo_random.so; do
  [[ -e $prefix/$f ]] || fail "the install lacks $f"
done

step "build examples/out_of_tree_plugin against the install"
unset BBO_PLUGIN_PATH
run_logged "$tmp/configure.log" "$cmake" -S "$src/examples/out_of_tree_plugin" -B "$tmp/oot" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=RelWithDebInfo
run_logged "$tmp/build.log" "$cmake" --build "$tmp/oot" -j2
plugin=$(find "$tmp/oot" -name libbbo_my_strategy.so | head -n1)
[[ -n $plugin ]] || fail "libbbo_my_strategy.so was not built"
[[ -x $tmp/oot/app ]] || fail "the app was not built"
plugin_dir=$(dirname "$plugin")

step "without BBO_PLUGIN_PATH the strategy is unknown"
if "$prefix/bin/bbo" create-study --storage "sqlite://$tmp/none.db" --study s --strategy my_strategy >"$tmp/none.log" 2>&1; then
  fail "create-study with an unknown strategy succeeded"
fi
grep -q my_strategy "$tmp/none.log" || { cat "$tmp/none.log"; fail "the error does not name my_strategy"; }

export BBO_PLUGIN_PATH=$plugin_dir
step "app with BBO_PLUGIN_PATH=$plugin_dir"
out=$("$tmp/oot/app" "sqlite://$tmp/app.db") || fail "app exited with status $?"
echo "$out"
grep -q "strategy my_strategy from $plugin" <<<"$out" || fail "the app did not load the plugin from $plugin"
grep -Eq "trials 20, best #[0-9]+ value" <<<"$out" || fail "the app did not run 20 trials"

step "bbo plugins"
out=$("$prefix/bin/bbo" plugins) || fail "bbo plugins exited with status $?"
echo "$out"
grep -q "my_strategy" <<<"$out" || fail "bbo plugins does not list my_strategy"
grep -q "random" <<<"$out" || fail "bbo plugins does not list the installed random strategy"

step "bbo create-study / ask / tell / best with my_strategy"
url="sqlite://$tmp/cli.db"
bbo=("$prefix/bin/bbo")
"${bbo[@]}" create-study --storage "$url" --study oot --strategy my_strategy --strategy-params '{"n_startup": 3}' \
  --seed 5 --search-space '{"x": {"type": "float", "low": -4, "high": 4}, "c": {"type": "categorical", "choices": ["a", "b"]}}' \
  || fail "create-study failed"
for i in $(seq 1 8); do
  asked=$("${bbo[@]}" ask --storage "$url" --study oot) || fail "ask #$i failed"
  # {"number": N, "params": {"x": ..., "c": ...}} → "N VALUE" with VALUE = (x - 1)^2 (+1 for c = b)
  read -r number value < <(python3 -c '
import json, sys
t = json.loads(sys.argv[1])
p = t["params"]
print(t["number"], (p["x"] - 1) ** 2 + (1.0 if p["c"] == "b" else 0.0))' "$asked") || fail "cannot parse ask output: $asked"
  "${bbo[@]}" tell --storage "$url" --study oot --trial "$number" --value "$value" >/dev/null || fail "tell #$number failed"
done
out=$("${bbo[@]}" trials --storage "$url" --study oot --format json) || fail "bbo trials failed"
n_complete=$(python3 -c 'import json,sys; print(sum(1 for t in json.loads(sys.argv[1]) if t["state"] == "COMPLETE"))' "$out")
[[ $n_complete == 8 ]] || fail "expected 8 COMPLETE trials, found $n_complete"
"${bbo[@]}" best --storage "$url" --study oot || fail "bbo best failed"
echo "PASS"
