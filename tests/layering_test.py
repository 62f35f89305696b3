#!/usr/bin/env python3
"""Layering as a table: which top-level folder may include which, which
third-party headers a folder must not include, and which binaries must not
link LibTorch (DESIGN.md section 3; STYLE.md rule 1).

  layering_test.py SOURCE_ROOT [BINARY ...]

Checks every .h/.cc under the folders of ALLOWED that exist in SOURCE_ROOT
(a folder in the tree but not in the table fails, so a new folder needs a
row), and `ldd` of each BINARY named in NO_TORCH (a binary that does not
exist, or an ldd that fails, fails too). Prints each violation and exits 1
on any. tests/layering_fixture is a tree that must fail.
"""
import os
import re
import subprocess
import sys

# folder -> the project folders its files may include (generated API
# headers, voxel2pixel/ and grpc/health/, count as proto).
ALLOWED = {
    'proto': {'proto'},
    'spec': {'spec', 'proto'},
    'store': {'store', 'proto'},
    'core': {'core'},
    'workers': {'workers', 'core', 'spec', 'store', 'proto'},
    'server': {'server', 'spec', 'store', 'proto'},
    # The lab CLI reads betas and scores images with core/'s data and
    # evaluation; ldd shows it links no LibTorch (NO_TORCH below).
    'client': {'client', 'core', 'spec', 'store', 'proto'},
    'bench': {'bench', 'client', 'core', 'spec', 'store', 'workers', 'server', 'proto',
              'experiments'},
    'experiments': {'experiments', 'client', 'core', 'spec', 'store', 'workers', 'proto'},
    'tests': {'tests', 'client', 'core', 'spec', 'store', 'workers', 'server', 'proto', 'bench',
              'experiments'},
}
# Single headers a folder may include from a folder its row leaves out:
# the CLI bundles a dataset description's files for an upload with the
# workers' description-to-options step, a library that links no LibTorch
# (ldd of v2p below checks it).
ALLOWED_HEADERS = {
    'client': {'workers/dataset_options.h'},
}
# Folders the table does not cover: not C++ (or this test's own fixture).
NOT_CODE = {'cmake', 'deploy', 'docs', 'examples', 'scripts', 'build', 'out', '.git', '.ci',
            'layering_fixture'}
TORCH = ('torch', 'ATen', 'c10')
TRANSPORT = ('grpc', 'grpcpp', 'google/protobuf', 'voxel2pixel', 'prometheus')
# folder -> third-party header roots it must not include.
FORBIDDEN = {
    'core': TRANSPORT,
    'spec': TORCH + ('opencv2', 'grpcpp', 'prometheus'),
    'proto': TORCH,
    'store': TORCH,
    'server': TORCH + ('opencv2',),
}
# Binaries that must not link LibTorch: the gateway, and the lab CLI (its
# LibTorch commands run in v2p-lab).
NO_TORCH = {'v2p-server', 'v2p'}

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)


def folder_of(include):
    first = include.split('/')[0]
    if first == 'voxel2pixel' or include.startswith('grpc/health/'):
        return 'proto'
    return first if first in ALLOWED else None


def check_sources(root):
    problems = []
    for folder in sorted(os.listdir(root)):
        path = os.path.join(root, folder)
        if not os.path.isdir(path) or folder in NOT_CODE or folder.startswith('.'):
            continue
        if folder not in ALLOWED:
            problems.append(f'{folder}/: a top-level folder with no row in the layering table')
            continue
        for dirpath, dirnames, files in os.walk(path):
            dirnames[:] = [d for d in dirnames if d not in NOT_CODE]
            for f in sorted(files):
                if not f.endswith(('.h', '.cc')):
                    continue
                file = os.path.join(dirpath, f)
                text = open(file, encoding='utf-8', errors='replace').read()
                for inc in INCLUDE.findall(text):
                    rel = os.path.relpath(file, root)
                    target = folder_of(inc)
                    if (target is not None and target not in ALLOWED[folder] and
                            inc not in ALLOWED_HEADERS.get(folder, ())):
                        problems.append(f'{rel}: {folder}/ may not include {inc}')
                    for bad in FORBIDDEN.get(folder, ()):
                        if inc == bad or inc.startswith(bad + '/') or inc.startswith(bad + '.'):
                            problems.append(f'{rel}: {folder}/ may not include {inc}')
    return problems


def check_binaries(binaries):
    problems = []
    for binary in binaries:
        name = os.path.basename(binary)
        if not os.path.isfile(binary):
            problems.append(f'{binary}: no such binary')
            continue
        run = subprocess.run(['ldd', binary], capture_output=True, text=True)
        if run.returncode != 0:
            problems.append(f'ldd {binary} failed: {run.stderr.strip()}')
            continue
        if name in NO_TORCH:
            torch = [l.split()[0] for l in run.stdout.splitlines()
                     if re.search(r'lib(torch|c10)', l)]
            if torch:
                problems.append(f'{name} links LibTorch: {", ".join(torch)}')
    return problems


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    problems = check_sources(sys.argv[1]) + check_binaries(sys.argv[2:])
    for p in problems:
        print('FAIL:', p)
    if not problems:
        print(f'PASS: {len(ALLOWED)} folders keep to the layering table; '
              f'{", ".join(os.path.basename(b) for b in sys.argv[2:])} checked with ldd')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
