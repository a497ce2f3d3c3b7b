#!/usr/bin/env python3
"""cu_to_cc.py IN.cu OUT.cc — rewrites a CUDA source into host C++ for the test-only emulation (cuda_emu.h).

  kernel<<<grid, block[, shared[, stream]]>>>(args)  ->  ::bbo_emu::launcher("kernel", LINE,
                                                          ::bbo_emu::config(grid, block[, ...]), kernel)(args)
  extern __shared__ T name[];                          ->  T* name = ::bbo_emu::dynamic_shared<T>("name");
  a __global__ function whose body calls __syncthreads() becomes a coroutine: its return type
  ::bbo_emu::BlockTask, each __syncthreads() a `co_await ::bbo_emu::Barrier{LINE}`, each `return;` a `co_return;`.

Comments and string literals are left alone; line numbers are kept (a #line directive names the .cu), so
compiler messages and debuggers point into the original file.
"""
import re
import sys


def mask_text(src):
    """src with comments and string/char literals blanked (same length, newlines kept)."""
    out = list(src)
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            for k in range(i, j):
                out[k] = " "
            i = j
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            for k in range(i, j):
                if out[k] != "\n":
                    out[k] = " "
            i = j
        elif c in "\"'":
            if c == "'" and i > 0 and (src[i - 1].isalnum()):  # digit separator 1'000
                i += 1
                continue
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if src[j] == "\\" else 1
            for k in range(i + 1, min(j, n)):
                if out[k] != "\n":
                    out[k] = " "
            i = j + 1
        else:
            i += 1
    return "".join(out)


def match_forward(m, i, open_ch, close_ch):
    """Index of the bracket closing the one at m[i] (nesting of (), [], {} counted together)."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack = []
    j = i
    while j < len(m):
        c = m[j]
        if c in pairs:
            stack.append(pairs[c])
        elif c in ")]}":
            if not stack or stack.pop() != c:
                raise SystemExit(f"cu_to_cc.py: unbalanced '{c}' at offset {j}")
            if not stack:
                return j
        j += 1
    raise SystemExit(f"cu_to_cc.py: no closing '{close_ch}' for the one at offset {i}")


def line_of(src, pos):
    return src.count("\n", 0, pos) + 1


def kernel_expr_start(m, end):
    """Start of the kernel expression (identifier, ns::name, name<T...>) that ends right before `end`."""
    j = end - 1
    while j >= 0 and m[j].isspace():
        j -= 1
    while True:
        if m[j] == ">":  # template arguments
            depth = 0
            while j >= 0:
                if m[j] == ">":
                    depth += 1
                elif m[j] == "<":
                    depth -= 1
                    if depth == 0:
                        break
                j -= 1
            j -= 1
            while j >= 0 and m[j].isspace():
                j -= 1
        if not (m[j].isalnum() or m[j] == "_"):
            raise SystemExit(f"cu_to_cc.py: no kernel name before <<< (offset {end})")
        while j >= 0 and (m[j].isalnum() or m[j] == "_"):
            j -= 1
        if j >= 1 and m[j - 1 : j + 1] == "::":
            j -= 2
            continue
        return j + 1


def rewrite(src, path):
    m = mask_text(src)
    edits = []  # (start, end, replacement)

    # Kernel launches.
    for hit in re.finditer(r"<<<", m):
        start = kernel_expr_start(m, hit.start())
        name = re.sub(r"\s+", "", src[start : hit.start()])
        depth, j = 0, hit.end()
        while True:
            if j >= len(m):
                raise SystemExit(f"cu_to_cc.py: {path}:{line_of(src, hit.start())}: no >>>")
            if m[j] in "([{":
                depth += 1
            elif m[j] in ")]}":
                depth -= 1
            elif depth == 0 and m.startswith(">>>", j):
                break
            j += 1
        cfg = src[hit.end() : j]
        line = line_of(src, hit.start())
        kernel = src[start : hit.start()].strip()
        # Only `kernel<<<cfg>>>` is replaced: the argument list that follows calls the returned launcher (so a
        # launch inside a macro works too).
        text = f'::bbo_emu::launcher("{name}", {line}, ::bbo_emu::config({cfg}), {kernel})'
        original = src[start : j + 3]
        text += "\n" * (original.count("\n") - text.count("\n"))
        edits.append((start, j + 3, text))

    # Dynamic shared memory.
    shared = re.compile(
        r"extern\s+__shared__\s+(?:__align__\s*\(\s*\d+\s*\)\s*)?(?P<type>[A-Za-z_][\w:<>,\s]*?)\s*"
        r"(?:__align__\s*\(\s*\d+\s*\)\s*)?(?P<name>[A-Za-z_]\w*)\s*\[\s*\]\s*;"
    )
    for hit in shared.finditer(m):
        t, name = hit.group("type").strip(), hit.group("name")
        text = f'{t}* {name} = ::bbo_emu::dynamic_shared<{t}>("{name}");'
        text += "\n" * (hit.group(0).count("\n"))
        edits.append((hit.start(), hit.end(), text))

    # Kernels that synchronize their block: coroutines.
    sync_names, headers = set(), []
    for hit in re.finditer(r"\b__global__\b", m):
        j = hit.end()
        depth, name, paren = 0, None, None
        while j < len(m):
            c = m[j]
            if c == "(" and depth == 0:
                ident = re.search(r"([A-Za-z_]\w*)\s*$", m[hit.end() : j])
                if ident and ident.group(1) != "__launch_bounds__":
                    name, paren = ident.group(1), j
                    break
                j = match_forward(m, j, "(", ")") + 1
                continue
            j += 1
        if name is None:
            raise SystemExit(f"cu_to_cc.py: {path}:{line_of(src, hit.start())}: cannot parse the __global__ function")
        close = match_forward(m, paren, "(", ")")
        j = close + 1
        while j < len(m) and m[j] not in "{;":
            j += 1
        body = None
        if j < len(m) and m[j] == "{":
            body = (j, match_forward(m, j, "{", "}"))
            if re.search(r"\b__syncthreads\s*\(", m[body[0] : body[1]]):
                sync_names.add(name)
        headers.append((hit.end(), paren, name, body))
    for head_start, paren, name, body in headers:
        if name not in sync_names:
            continue
        void = re.search(r"\bvoid\b", m[head_start:paren])
        if not void:
            raise SystemExit(f"cu_to_cc.py: {path}: kernel {name} does not return void")
        edits.append((head_start + void.start(), head_start + void.end(), "::bbo_emu::BlockTask"))
        if body is None:
            continue
        b0, b1 = body
        for s in re.finditer(r"\b__syncthreads\s*\(\s*\)", m[b0:b1]):
            edits.append((b0 + s.start(), b0 + s.end(), f"co_await ::bbo_emu::Barrier{{{line_of(src, b0 + s.start())}}}"))
        for r in re.finditer(r"\breturn\s*;", m[b0:b1]):
            edits.append((b0 + r.start(), b0 + r.end(), "co_return;"))

    edits.sort()
    for (s0, e0, _), (s1, _, _) in zip(edits, edits[1:]):
        if s1 < e0:
            raise SystemExit(f"cu_to_cc.py: {path}:{line_of(src, s1)}: overlapping rewrites (a launch inside a launch?)")
    out = src
    for s, e, text in reversed(edits):
        out = out[:s] + text + out[e:]
    return out


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: cu_to_cc.py IN.cu OUT.cc")
    path, target = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        src = f.read()
    out = rewrite(src, path)
    header = f'// Generated from {path} by tests/cuda_emu/cu_to_cc.py (host emulation, tests only). Do not edit.\n'
    with open(target, "w", encoding="utf-8") as f:
        f.write(header + f'#line 1 "{path}"\n' + out)


if __name__ == "__main__":
    main()
