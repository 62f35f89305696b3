#!/usr/bin/env python3
"""Seed inputs for the fuzz harnesses: small valid .npy and .npz files
(stored and deflated), written with the standard library only.
  make_seeds.py DIR npy|zip"""
import io
import struct
import sys
import zipfile


def npy(shape, descr="<f8", fortran=False):
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (
        descr, "True" if fortran else "False", "".join("%d," % n for n in shape))
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    count = 1
    for n in shape:
        count *= n
    size = int(descr[2:])
    body = bytes(range(256)) * (count * size // 256 + 1)
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + body[:count * size]


def main():
    out, kind = sys.argv[1], sys.argv[2]
    arrays = {"a.npy": npy((3, 4)), "b.npy": npy((5,), "<f4"), "c.npy": npy((2, 2), "<f8", True)}
    if kind == "npy":
        for name, data in arrays.items():
            open("%s/%s" % (out, name), "wb").write(data)
        return
    for method, name in ((zipfile.ZIP_STORED, "stored.npz"), (zipfile.ZIP_DEFLATED, "deflated.npz")):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", method) as z:
            for member, data in arrays.items():
                z.writestr(member, data)
        open("%s/%s" % (out, name), "wb").write(buffer.getvalue())


main()
