#!/usr/bin/env python3
"""Fails unless every project C++ file is compiled with EIGEN_USE_BLAS.

Eigen's BLAS-backed GEMM and its own kernel are one symbol: a file built
without the definition can hand its kernel to files built with it (the linker
keeps the first definition it meets), which is how SMR's products once ran on
Eigen's single-threaded kernel. v2p::options (cmake/v2p_options.cmake)
carries it to every project target; this keeps it so. Reads the build's
compile_commands.json (argv[1]) and checks the files under the source tree
(argv[2]) outside the build tree: not the generated protobuf code, which
includes no Eigen.
"""
import json
import os
import sys

with open(sys.argv[1]) as f:
    commands = json.load(f)
source = os.path.realpath(sys.argv[2]) + os.sep
build = os.path.dirname(os.path.realpath(sys.argv[1])) + os.sep


def project_file(path):
    path = os.path.realpath(path)
    return path.startswith(source) and not path.startswith(build)


cxx = [c for c in commands if c["file"].endswith((".cc", ".cpp")) and project_file(c["file"])]
missing = [c["file"] for c in cxx
           if "-DEIGEN_USE_BLAS" not in c.get("command", " ".join(c.get("arguments", [])))]
if not cxx:
    print("FAIL: no C++ files in", sys.argv[1])
    sys.exit(1)
for m in missing:
    print("FAIL: built without EIGEN_USE_BLAS:", m)
if missing:
    sys.exit(1)
print("PASS: all %d project C++ files built with EIGEN_USE_BLAS" % len(cxx))
