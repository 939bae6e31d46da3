#!/usr/bin/env python3
"""An independent safetensors reader/writer (stdlib only: json + struct) for ember's interop test.

  safetensors_check.py read  <file.safetensors> <expected.json>   exit 0 iff the file matches
  safetensors_check.py write <file.safetensors> <spec.json>       write the spec as safetensors

expected/spec JSON: {"metadata": {str: str}, "tensors": [{"name": str, "dtype": "F32", "shape": [..],
"values": [numbers, row-major]}, ...]}. `read` checks the layout rules of the Hugging Face format
(8-byte little-endian header length, header padded to 8 bytes, offsets tiling the data section,
each tensor aligned to its element size),
then names, header order, dtypes, shapes and exact values. `write` lays the data out in reverse
header order, so the reader under test cannot assume data order equals header order.
"""
import json
import struct
import sys

FORMATS = {"F64": "d", "F32": "f", "F16": "e", "I64": "q", "I32": "i", "U8": "B", "BOOL": "?"}
SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "U8": 1, "BOOL": 1}


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def decode(dtype, raw):
    if dtype == "BF16":
        halves = struct.unpack("<%dH" % (len(raw) // 2), raw)
        return [struct.unpack("<f", struct.pack("<I", h << 16))[0] for h in halves]
    count = len(raw) // SIZES[dtype]
    return list(struct.unpack("<%d%s" % (count, FORMATS[dtype]), raw))


def encode(dtype, values):
    if dtype == "BF16":
        bits = [struct.unpack("<I", struct.pack("<f", v))[0] >> 16 for v in values]
        return struct.pack("<%dH" % len(bits), *bits)
    return struct.pack("<%d%s" % (len(values), FORMATS[dtype]), *values)


def fail(msg):
    print("safetensors_check: " + msg, file=sys.stderr)
    sys.exit(1)


def read(path, expected_path):
    with open(path, "rb") as f:
        blob = f.read()
    with open(expected_path) as f:
        expected = json.load(f)
    if len(blob) < 8:
        fail("file shorter than 8 bytes")
    (n,) = struct.unpack("<Q", blob[:8])
    if n % 8 != 0:
        fail("header length %d is not a multiple of 8" % n)
    if 8 + n > len(blob):
        fail("header length %d beyond file size %d" % (n, len(blob)))
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    metadata = header.pop("__metadata__", {})
    if metadata != expected.get("metadata", {}):
        fail("metadata %r != expected %r" % (metadata, expected.get("metadata", {})))
    names = list(header.keys())
    want_names = [t["name"] for t in expected["tensors"]]
    if names != want_names:
        fail("tensor names %r != expected %r" % (names, want_names))
    spans = sorted((e["data_offsets"][0], e["data_offsets"][1]) for e in header.values())
    pos = 0
    for begin, end in spans:
        if begin != pos:
            fail("data_offsets do not tile the data section (begin %d, expected %d)" % (begin, pos))
        pos = end
    if pos != len(data):
        fail("data section is %d bytes, tensors cover %d" % (len(data), pos))
    for want in expected["tensors"]:
        got = header[want["name"]]
        if got["dtype"] != want["dtype"] or got["shape"] != want["shape"]:
            fail("%s: %s %r != expected %s %r" % (want["name"], got["dtype"], got["shape"], want["dtype"], want["shape"]))
        begin, end = got["data_offsets"]
        if begin % SIZES[got["dtype"]] != 0:
            fail("%s: data starts at %d, not aligned to its %d-byte elements" % (want["name"], begin, SIZES[got["dtype"]]))
        if end - begin != numel(got["shape"]) * SIZES[got["dtype"]]:
            fail("%s: data_offsets span %d bytes for shape %r" % (want["name"], end - begin, got["shape"]))
        values = decode(got["dtype"], data[begin:end])
        if values != want["values"]:
            fail("%s: values %r != expected %r" % (want["name"], values, want["values"]))
    print("safetensors_check: %d tensors match" % len(want_names))


def write(path, spec_path):
    with open(spec_path) as f:
        spec = json.load(f)
    header = {}
    if spec.get("metadata"):
        header["__metadata__"] = spec["metadata"]
    chunks = {}
    for t in spec["tensors"]:
        if len(t["values"]) != numel(t["shape"]):
            fail("%s: %d values for shape %r" % (t["name"], len(t["values"]), t["shape"]))
        chunks[t["name"]] = encode(t["dtype"], t["values"])
    offset = 0
    data = b""
    for t in reversed(spec["tensors"]):  # data order differs from header order on purpose
        raw = chunks[t["name"]]
        t["data_offsets"] = [offset, offset + len(raw)]
        offset += len(raw)
        data += raw
    for t in spec["tensors"]:
        header[t["name"]] = {"dtype": t["dtype"], "shape": t["shape"], "data_offsets": t["data_offsets"]}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("read", "write"):
        fail("usage: safetensors_check.py read|write <file.safetensors> <json>")
    (read if sys.argv[1] == "read" else write)(sys.argv[2], sys.argv[3])
