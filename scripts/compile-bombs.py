#!/usr/bin/env python3
"""Core wasm modules (WAT) that stress Cranelift, for host/examples/compile_probe.rs
(docs/performance.md, "Compile bounds"); the probe wraps them into a component.

Usage: compile-bombs.py KIND N [M] [COPIES] > out.wat
  locals-blocks N     N locals, N/10 nested blocks
  locals-nested L D   L locals live across D nested blocks
  locals-flat N       N locals, N sequential `if`s writing them
  locals-ifs L N      L locals, N sequential `if`s writing them
  many-funcs N        N tiny functions
  big-flat N          one function of N straight-line instructions
  br-table N          N nested blocks left by one `br_table` (a C switch)
COPIES (default 1) repeats the function, to measure a whole component at
the code-size limits rather than one function.
"""
import sys

kind, n = sys.argv[1], int(sys.argv[2])
m = int(sys.argv[3]) if len(sys.argv) > 3 else None
copies = int(sys.argv[4]) if len(sys.argv) > 4 else 1


def locals_nested(locals_, depth):
    body = ["(local" + " i64" * locals_ + ")"]
    for d in range(depth):
        body.append(f"(block (local.set {d % locals_} (i64.add (local.get {(d*7) % locals_}) (local.get {(d*13) % locals_})))")
        body.append(f"(br_if {d % 3} (i32.wrap_i64 (local.get {(d*3) % locals_})))")
    body.append(")" * depth)
    return body


def locals_ifs(locals_, ifs):
    body = ["(local" + " i64" * locals_ + ")"]
    for i in range(ifs):
        body.append(f"(if (i32.wrap_i64 (local.get {i % locals_})) (then (local.set {(i*31) % locals_} (i64.const {i}))))")
    return body


def big_flat(count):
    return ["(local i32)"] + ["(local.set 0 (i32.add (local.get 0) (i32.const 1)))"] * count


def br_table(depth):
    body = ["(local i32)"] + ["(block"] * depth
    body.append("(br_table " + " ".join(str(i) for i in range(depth)) + " (local.get 0))")
    for i in range(depth):
        body.append(f") (local.set 0 (i32.add (local.get 0) (i32.const {i})))")
    return body


out = ['(module (memory (export "memory") 1)']
if kind == "many-funcs":
    for i in range(n):
        out.append(f'(func (param i32) (result i32) (i32.add (local.get 0) (i32.const {i})))')
else:
    body = {
        "locals-blocks": lambda: locals_nested(n, n // 10),
        "locals-nested": lambda: locals_nested(n, m),
        "locals-flat": lambda: locals_ifs(n, n),
        "locals-ifs": lambda: locals_ifs(n, m),
        "big-flat": lambda: big_flat(n),
        "br-table": lambda: br_table(n),
    }[kind]()
    text = " ".join(body)
    for c in range(copies):
        export = '(export "f") ' if c == 0 else ""
        out.append(f"(func {export}{text})")
out.append(")")
print("\n".join(out))
