#!/usr/bin/env python3
# Generates core wasm modules (WAT) that stress Cranelift; wrapped into a
# component by the Rust driver. Usage: gen.py KIND N > out.wat
import sys
kind, n = sys.argv[1], int(sys.argv[2])
out = ['(module (memory (export "memory") 1)']
if kind == "locals-blocks":
    # n locals, n/10 nested blocks, each touching a few locals
    locals_ = n
    depth = n // 10
    body = []
    body.append("(local" + " i64" * locals_ + ")")
    for d in range(depth):
        body.append(f"(block (local.set {d % locals_} (i64.add (local.get {(d*7) % locals_}) (local.get {(d*13) % locals_})))")
        body.append(f"(br_if {d % 3} (i32.wrap_i64 (local.get {(d*3)%locals_})))")
    body.append(")" * depth)
    out.append('(func (export "f") ' + " ".join(body) + ")")
elif kind == "locals-flat":
    # n locals, each read and written across n/2 straight-line ops with branches
    body = ["(local" + " i64" * n + ")"]
    for i in range(n):
        body.append(f"(if (i32.wrap_i64 (local.get {i})) (then (local.set {(i*31)%n} (i64.const {i}))))")
    out.append('(func (export "f") ' + " ".join(body) + ")")
elif kind == "many-funcs":
    for i in range(n):
        out.append(f'(func (param i32) (result i32) (i32.add (local.get 0) (i32.const {i})))')
elif kind == "big-flat":
    # one function of n straight-line instructions
    body = ["(local i32)"] + ["(local.set 0 (i32.add (local.get 0) (i32.const 1)))"] * n
    out.append('(func (export "f") ' + " ".join(body) + ")")
elif kind == "br-table":
    # a big switch: n nested blocks + br_table dispatch (what LLVM emits for C switches)
    body = ["(local i32)"] + ["(block"] * n
    body.append("(br_table " + " ".join(str(i) for i in range(n)) + " (local.get 0))")
    for i in range(n):
        body.append(f") (local.set 0 (i32.add (local.get 0) (i32.const {i})))")
    out.append('(func (export "f") ' + " ".join(body) + ")")
out.append(")")
print("\n".join(out))
