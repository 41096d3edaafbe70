#!/usr/bin/env python3
"""Writes the seed inputs for fuzz_pickle next to this script (no torch needed).

state_dict.pkl: the data.pkl that torch.save({"w": bf16 (2, 3)}) writes (protocol 2), as
                CPython's pickle.py composes it.
state_dict.pth: that pickle in a torch.save-style ZIP (STORED, 64-byte-aligned records).
Run: python3 tools/fuzz/make_pickle_seeds.py
"""
import os
import struct

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fuzz", "corpus", "pickle")


def binunicode(text):
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


PICKLE = (
    b"\x80\x02}q\x00" + binunicode("w") + b"q\x01"
    + b"ctorch._utils\n_rebuild_tensor_v2\nq\x02"
    + b"((" + binunicode("storage") + b"q\x03"
    + b"ctorch\nBFloat16Storage\nq\x04"
    + binunicode("0") + b"q\x05" + binunicode("cpu") + b"q\x06"
    + b"K\x06tq\x07Q" + b"K\x00"
    + b"K\x02K\x03\x86q\x08" + b"K\x03K\x01\x86q\x09" + b"\x89"
    + b"ccollections\nOrderedDict\nq\x0a)Rq\x0b"
    + b"tq\x0cRq\x0ds."
)


def make_zip(records, alignment=64):
    out = b""
    central = b""
    for name, data in records:
        name = name.encode()
        offset = len(out)
        start = offset + 30 + len(name)
        pad = (-start) % alignment
        if pad and pad < 4:
            pad += alignment
        extra = struct.pack("<HH", 0x4246, pad - 4) + b"Z" * (pad - 4) if pad else b""
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0, 0, len(data), len(data),
                           len(name), len(extra)) + name + extra + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0, 0, len(data),
                               len(data), len(name), 0, 0, 0, 0, 0, offset) + name
    directory_offset = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(records), len(records), len(central),
                       directory_offset, 0)
    return out


def main():
    with open(os.path.join(HERE, "state_dict.pkl"), "wb") as f:
        f.write(PICKLE)
    bf16 = struct.pack("<6H", 0x3F80, 0xC000, 0x3F00, 0x4040, 0x0000, 0x3FC0)
    archive = make_zip([
        ("archive/data.pkl", PICKLE),
        ("archive/byteorder", b"little"),
        ("archive/data/0", bf16),
        ("archive/version", b"3\n"),
    ])
    with open(os.path.join(HERE, "state_dict.pth"), "wb") as f:
        f.write(archive)


if __name__ == "__main__":
    main()
