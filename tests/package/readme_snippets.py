#!/usr/bin/env python3
"""Turns every ```cpp block of README.md into one C++ file, so CI compiles the README's examples
against the installed ember (tests/package/check.sh). Each block is a complete program: its
#include lines move to the top, the rest goes into a namespace of its own with main renamed, and
a real main() calls none of them (the file is compiled and linked, not run).

usage: readme_snippets.py README.md OUT.cpp   (prints the number of snippets)"""
import re
import sys


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    blocks = re.findall(r"^```cpp\n(.*?)^```", text, flags=re.S | re.M)
    if not blocks:
        sys.exit("readme_snippets: README.md has no ```cpp blocks")
    includes, bodies = [], []
    for i, block in enumerate(blocks):
        if "int main(" not in block:
            sys.exit(f"readme_snippets: ```cpp block {i + 1} is not a complete program (no main):\n{block}")
        body = []
        for line in block.splitlines():
            (includes if line.startswith("#include") else body).append(line)
        code = "\n".join(body).replace("int main(", "int snippet_main(")
        bodies.append(f"namespace readme_snippet_{i + 1} {{\n{code}\n}}  // namespace readme_snippet_{i + 1}\n")
    seen = []
    for inc in includes:
        if inc not in seen:
            seen.append(inc)
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        f.write("// Generated from README.md by tests/package/readme_snippets.py: do not edit.\n")
        f.write("\n".join(seen) + "\n\n" + "\n".join(bodies))
        refs = ", ".join(f"(void*)&readme_snippet_{i + 1}::snippet_main" for i in range(len(blocks)))
        f.write(f"\nint main() {{\n  void* snippets[] = {{{refs}}};\n  return snippets[0] == nullptr;\n}}\n")
    print(len(blocks))


if __name__ == "__main__":
    main()
