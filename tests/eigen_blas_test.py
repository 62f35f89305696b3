#!/usr/bin/env python3
"""Fails unless every C++ file of the build is compiled with EIGEN_USE_BLAS.

Eigen's BLAS-backed GEMM and its own kernel are one symbol: a file built
without the definition can hand its kernel to files built with it (the linker
keeps the first definition it meets), which is how SMR's products once ran on
Eigen's single-threaded kernel. The top-level CMakeLists.txt sets it for
everything; this keeps it so. Reads the build's compile_commands.json.
"""
import json
import sys

with open(sys.argv[1]) as f:
    commands = json.load(f)
cxx = [c for c in commands if c["file"].endswith((".cc", ".cpp"))]
missing = [c["file"] for c in cxx
           if "-DEIGEN_USE_BLAS" not in c.get("command", " ".join(c.get("arguments", [])))]
if not cxx:
    print("FAIL: no C++ files in", sys.argv[1])
    sys.exit(1)
for m in missing:
    print("FAIL: built without EIGEN_USE_BLAS:", m)
if missing:
    sys.exit(1)
print("PASS: all %d C++ files built with EIGEN_USE_BLAS" % len(cxx))
