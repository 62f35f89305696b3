#!/usr/bin/env python3
"""Function lengths in the service's C++ (issue "Methods as plugins", item 6).

Prints every function over the limit (default 80 lines, signature to closing
brace), the count, the median and p90 of all functions' lengths, and exits 1
when any function is over the limit. Functions are found by brace matching
outside comments and literals: a body is a `{` at namespace or class scope
whose statement so far has a parameter list and is not a class, struct,
enum, namespace or initialiser; lambdas count with the function around them.

  scripts/function_lengths.py [--limit 80] [folders...]   (default: core server
  workers store client spec, relative to the repository root)
"""
import argparse
import os
import re
import statistics
import sys

SCOPES = re.compile(r'\b(class|struct|union|namespace|enum)\b')
CONTROL = re.compile(r'^\s*(if|for|while|switch|catch|do|else|try)\b')


def strip(text):
    """The text with comments, string and char literals blanked (newlines kept)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith('//', i):
            j = text.find('\n', i)
            j = n if j < 0 else j
            out.append(' ' * (j - i)); i = j
        elif text.startswith('/*', i):
            j = text.find('*/', i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r'[^\n]', ' ', text[i:j])); i = j
        elif text.startswith('R"', i):
            m = re.match(r'R"([^(]*)\(', text[i:])
            end = text.find(')' + m.group(1) + '"', i) if m else -1
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append(re.sub(r'[^\n]', ' ', text[i:j])); i = j
        elif c in '"\'':
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == '\\' else 1
            out.append(' ' * (j + 1 - i)); i = j + 1
        else:
            out.append(c); i += 1
    return ''.join(out)


def functions(path):
    """(name, first line, length in lines) of each function body in a file."""
    text = strip(open(path, encoding='utf-8', errors='replace').read())
    found = []
    stack = []  # per open brace: 'scope' (transparent), 'function', or 'other'
    statement_start = 0
    i = 0
    while i < len(text):
        c = text[i]
        if c in ';':
            statement_start = i + 1
        elif c == '{':
            head = text[statement_start:i]
            in_function = any(kind == 'function' for kind, _ in stack)
            if in_function:
                stack.append(('other', i))
            elif SCOPES.search(head) and not re.search(
                    r'\)\s*(const\s*)?(noexcept\s*)?(override\s*)?$', head.strip()):
                stack.append(('scope', i))
            elif '(' in head and ')' in head and not CONTROL.match(head) and \
                    not re.search(r'=\s*$', head.strip()):
                stack.append(('function', statement_start))
            else:
                stack.append(('other', i))
            statement_start = i + 1
        elif c == '}':
            if stack:
                kind, start = stack.pop()
                if kind == 'function':
                    head = text[start:i]
                    first = text.count('\n', 0, start) + 1
                    # The signature's first non-blank line.
                    while first <= text.count('\n') and not text.splitlines()[first - 1].strip():
                        first += 1
                    last = text.count('\n', 0, i) + 1
                    name = re.findall(r'([~\w:]+)\s*\(', head.split('{')[0])
                    found.append((name[0] if name else '?', first, last - first + 1))
            statement_start = i + 1
        i += 1
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--limit', type=int, default=80)
    parser.add_argument('folders', nargs='*',
                        default=['core', 'server', 'workers', 'store', 'client', 'spec'])
    args = parser.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    lengths, over = [], []
    for folder in args.folders:
        for dirpath, _, files in os.walk(os.path.join(root, folder)):
            for f in sorted(files):
                if not f.endswith(('.cc', '.h')):
                    continue
                path = os.path.join(dirpath, f)
                for name, line, length in functions(path):
                    lengths.append(length)
                    if length > args.limit:
                        over.append((length, os.path.relpath(path, root), line, name))
    for length, path, line, name in sorted(over, reverse=True):
        print(f'{length:5d} lines  {path}:{line}  {name}')
    lengths.sort()
    p90 = lengths[int(0.9 * (len(lengths) - 1))] if lengths else 0
    print(f'{len(lengths)} functions in {", ".join(args.folders)}: median '
          f'{statistics.median(lengths) if lengths else 0:g} lines, p90 {p90}, '
          f'{len(over)} over {args.limit}')
    return 1 if over else 0


if __name__ == '__main__':
    sys.exit(main())
