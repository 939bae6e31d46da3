#!/usr/bin/env bash
# ember as a dependency, checked the way a user would use it (tests/package/CMakeLists.txt):
#  1. `cmake --install` this build into a temporary prefix;
#  2. examples/ configured and built as an outside project with find_package(ember), then run;
#  3. a one-file program compiled with `pkg-config --cflags --libs ember`, then run, and every
#     ```cpp block of README.md compiled and linked the same way (readme_snippets.py);
#  4. a project that adds the source tree with add_subdirectory and names its own target like one
#     of ember's examples: it must configure without collisions, get no tests or benches, see
#     ember::ember, and compile its code without ember's -Werror (its main.cpp has an unused
#     variable on purpose). Only its object file is built: linking would rebuild all of ember.
# usage: check.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src="$1"; build="$2"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
gen=(); command -v ninja >/dev/null && gen=(-G Ninja)

echo "== install"
cmake --install "$build" --prefix "$tmp/prefix" > "$tmp/install.log"
test -f "$tmp/prefix/include/ember/ember.h"
test -f "$tmp/prefix/include/ember/tensor/tensor.h"
test -f "$tmp/prefix/lib/cmake/ember/emberConfig.cmake"
test -f "$tmp/prefix/lib/cmake/ember/emberConfigVersion.cmake"
test -f "$tmp/prefix/lib/pkgconfig/ember.pc"

echo "== find_package(ember): examples/ as an outside project"
cmake -S "$src/examples" -B "$tmp/examples" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" > "$tmp/examples.log"
cmake --build "$tmp/examples" -j 2 >> "$tmp/examples.log" || { cat "$tmp/examples.log"; exit 1; }
"$tmp/examples/toy_regression" | tail -n 1

echo "== pkg-config"
cat > "$tmp/umbrella.cpp" <<'CPP'
#include <ember/ember.h>
#include <cstdio>
int main() {
  ember::Tensor x = ember::Tensor::ones({2, 3}).requires_grad_();
  ember::Tensor y = ember::sum(x * 2.0);
  y.backward();
  std::printf("sum %g, grad %g\n", y.item<float>(), x.grad().sum().item<float>());
  return y.item<float>() == 12.0f ? 0 : 1;
}
CPP
PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" pkg-config --modversion ember
# shellcheck disable=SC2046
g++ -O1 "$tmp/umbrella.cpp" -o "$tmp/umbrella" $(PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" pkg-config --cflags --libs ember)
"$tmp/umbrella"

echo "== README.md: every \`\`\`cpp block compiled and linked against the installed tree"
n="$(python3 "$src/tests/package/readme_snippets.py" "$src/README.md" "$tmp/readme.cpp")"
# shellcheck disable=SC2046
g++ -O0 -Wall -Wextra -Werror -Wno-unused-function -Wno-return-type "$tmp/readme.cpp" -o "$tmp/readme" \
  $(PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" pkg-config --cflags --libs ember)
echo "$n snippets compiled"

echo "== add_subdirectory"
cmake -S "$src/tests/package/subdir" -B "$tmp/sub" "${gen[@]}" -DEMBER_SOURCE_DIR="$src" \
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON > "$tmp/sub.log" || { cat "$tmp/sub.log"; exit 1; }
python3 - "$tmp/sub/compile_commands.json" <<'PY'
import json, sys
cmds = [e["command"] for e in json.load(open(sys.argv[1])) if e["file"].endswith("subdir/main.cpp")]
assert len(cmds) == 1, cmds
bad = [f for f in ("-Werror", "-Wall", "-Wextra") if f in cmds[0].split()]
if bad: sys.exit(f"ember's warning flags {bad} reached the consumer's code: {cmds[0]}")
PY
if [ -n "${gen[*]}" ]; then
  targets="$(ninja -C "$tmp/sub" -t targets all)"
  if grep -q "gtest\|bench_gemm\|_test_" <<< "$targets"; then echo "tests or benches were configured"; exit 1; fi
  ninja -C "$tmp/sub" CMakeFiles/train_classifier.dir/main.cpp.o > "$tmp/sub-build.log" || { cat "$tmp/sub-build.log"; exit 1; }
  if grep -q "libember\|ember_tensor.dir" "$tmp/sub-build.log"; then echo "building the object rebuilt ember"; exit 1; fi
fi
echo "package check passed"
