"""Reads the numeric matrices of a MATLAB v5 file with the standard library
and numpy, so that the Python client's test loads the same betas the C++
CLI does (scipy is not a dependency). Real double, single and integer
matrices, compressed (miCOMPRESSED) or not; little-endian files only. The
layout is MathWorks' "MAT-File Format" (level 5): a 128-byte header, then
tagged data elements, each padded to 8 bytes; a matrix is a miMATRIX whose
sub-elements are its flags, dimensions, name and real part, column-major."""
import struct
import zlib

import numpy as np

_NUMERIC = {1: "i1", 2: "u1", 3: "<i2", 4: "<u2", 5: "<i4", 6: "<u4", 7: "<f4", 9: "<f8",
            12: "<i8", 13: "<u8"}
_MI_MATRIX, _MI_COMPRESSED = 14, 15


def _elements(data):
    """(type, payload) of each data element in `data`."""
    pos = 0
    while pos + 8 <= len(data):
        kind, size = struct.unpack_from("<II", data, pos)
        if kind >> 16:  # small element: size in the upper half, data in 4 bytes
            kind, size = kind & 0xFFFF, kind >> 16
            yield kind, data[pos + 4:pos + 4 + size]
            pos += 8
            continue
        yield kind, data[pos + 8:pos + 8 + size]
        pos += 8 + size
        if kind != _MI_COMPRESSED:
            pos = (pos + 7) // 8 * 8


def _matrix(payload):
    parts = list(_elements(payload))
    dims = np.frombuffer(parts[1][1], dtype="<i4")
    name = parts[2][1].decode("ascii")
    kind, real = parts[3]
    if kind not in _NUMERIC:
        return name, None
    values = np.frombuffer(real, dtype=_NUMERIC[kind]).astype(np.float64)
    return name, values.reshape(tuple(dims), order="F")


def load(path):
    """{name: 2-D float64 array} of the file's numeric matrices."""
    with open(path, "rb") as f:
        data = f.read()
    if data[126:128] != b"IM":
        raise ValueError("%s: not a little-endian MATLAB v5 file" % path)
    out = {}
    for kind, payload in _elements(data[128:]):
        if kind == _MI_COMPRESSED:
            kind, payload = next(_elements(zlib.decompress(payload)))
        if kind == _MI_MATRIX:
            name, values = _matrix(payload)
            if values is not None:
                out[name] = values
    return out
