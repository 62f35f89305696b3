#!/usr/bin/env python3
"""Seed inputs for the fuzz harnesses, written with the standard library
only: small valid .npy and .npz files (stored and deflated), and PNG
(grey, RGB, grey + alpha, RGBA, palette, 16-bit) and baseline JPEG images.
  make_seeds.py DIR npy|zip|image"""
import io
import struct
import sys
import zipfile
import zlib


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


def png(width, height, colour_type, depth=8, palette=None):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour_type]
    row_bytes = width * channels * depth // 8
    raw = b"".join(b"\x00" + bytes((x * 37 + y * 11) % 256 for x in range(row_bytes))
                   for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    body = chunk(b"IHDR", ihdr)
    if palette is not None:
        body += chunk(b"PLTE", palette)
    return b"\x89PNG\r\n\x1a\n" + body + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def jpeg_grey_8x8():
    """A baseline JPEG of one flat 8 x 8 grey block: one-symbol Huffman
    tables (DC category 0, AC end-of-block), so the scan is two bits."""
    def segment(marker, data):
        return b"\xff" + bytes([marker]) + struct.pack(">H", len(data) + 2) + data
    counts = bytes([1] + [0] * 15)
    return (b"\xff\xd8" + segment(0xDB, b"\x00" + bytes([1] * 64)) +
            segment(0xC0, bytes([8]) + struct.pack(">HH", 8, 8) + b"\x01\x01\x11\x00") +
            segment(0xC4, b"\x00" + counts + b"\x00") + segment(0xC4, b"\x10" + counts + b"\x00") +
            segment(0xDA, b"\x01\x01\x00\x00\x3f\x00") + b"\x3f" + b"\xff\xd9")


def images(out):
    seeds = {"grey.png": png(9, 7, 0), "rgb.png": png(5, 4, 2), "grey_alpha.png": png(4, 4, 4),
             "rgba.png": png(3, 6, 6), "grey16.png": png(4, 3, 0, 16),
             "palette.png": png(6, 2, 3, 8, bytes(range(256)) * 3), "grey.jpg": jpeg_grey_8x8()}
    for name, data in seeds.items():
        open("%s/%s" % (out, name), "wb").write(data)


def main():
    out, kind = sys.argv[1], sys.argv[2]
    if kind == "image":
        images(out)
        return
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
