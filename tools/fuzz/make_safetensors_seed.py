#!/usr/bin/env python3
# Writes the seeds for fuzz_safetensors, built by hand from the format (u64 LE header length,
# JSON header, data section tiled by data_offsets):
#   one_f32.safetensors: one F32 [2] tensor (1.0, -2.0) plus __metadata__;
#   three_dtypes.safetensors: F16 [2], BF16 [1, 2] and a zero-size F32 [0], space-padded header.
# Run: python3 tools/fuzz/make_safetensors_seed.py (writes into fuzz/corpus/safetensors/).
import json
import os
import struct

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fuzz", "corpus", "safetensors")


def write(path, tensors, data, pad=0):
    header = json.dumps(tensors, separators=(",", ":")).encode() + b" " * pad
    with open(os.path.join(HERE, path), "wb") as out:
        out.write(struct.pack("<Q", len(header)) + header + data)


write("one_f32.safetensors",
      {"__metadata__": {"format": "pt"}, "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}},
      struct.pack("<2f", 1.0, -2.0))
write("three_dtypes.safetensors",
      {"h": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]},
       "b": {"dtype": "BF16", "shape": [1, 2], "data_offsets": [4, 8]},
       "e": {"dtype": "F32", "shape": [0], "data_offsets": [8, 8]}},
      bytes([0x00, 0x3C, 0x00, 0x38, 0x80, 0x3F, 0x80, 0xBF]), pad=5)
