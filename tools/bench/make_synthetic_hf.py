#!/usr/bin/env python3
"""Writes a Hugging Face Llama checkpoint (config.json + model.safetensors, bf16) of a chosen size
with arbitrary weights, for measuring load time and peak host memory (e.g. TP=1 vs TP=2):

  python3 tools/bench/make_synthetic_hf.py /tmp/llama-370m --dim 1024 --layers 8 --heads 16 \
      --kv-heads 8 --ffn 4096 --vocab 32000

The weights are one random block of small bf16 values tiled over every tensor: fine for memory
and speed, meaningless as a language model. Standard library only (no numpy/torch).
"""
import argparse
import json
import os
import random
import struct


def bf16_block(n_values, seed=1):
    rng = random.Random(seed)
    out = bytearray()
    for _ in range(n_values):
        out += struct.pack("<f", rng.uniform(-0.05, 0.05))[2:4]  # the high half of an f32 is its bf16
    return bytes(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--dim", type=int, default=1024)
    p.add_argument("--layers", type=int, default=8)
    p.add_argument("--heads", type=int, default=16)
    p.add_argument("--kv-heads", type=int, default=8)
    p.add_argument("--ffn", type=int, default=4096)
    p.add_argument("--vocab", type=int, default=32000)
    a = p.parse_args()
    head_dim = a.dim // a.heads
    shapes = {"model.embed_tokens.weight": [a.vocab, a.dim]}
    for i in range(a.layers):
        pre = f"model.layers.{i}."
        shapes.update({
            pre + "input_layernorm.weight": [a.dim],
            pre + "self_attn.q_proj.weight": [a.heads * head_dim, a.dim],
            pre + "self_attn.k_proj.weight": [a.kv_heads * head_dim, a.dim],
            pre + "self_attn.v_proj.weight": [a.kv_heads * head_dim, a.dim],
            pre + "self_attn.o_proj.weight": [a.dim, a.heads * head_dim],
            pre + "post_attention_layernorm.weight": [a.dim],
            pre + "mlp.gate_proj.weight": [a.ffn, a.dim],
            pre + "mlp.up_proj.weight": [a.ffn, a.dim],
            pre + "mlp.down_proj.weight": [a.dim, a.ffn],
        })
    shapes["model.norm.weight"] = [a.dim]
    shapes["lm_head.weight"] = [a.vocab, a.dim]
    header, offset = {}, 0
    for name, shape in shapes.items():
        n = 1
        for d in shape:
            n *= d
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + 2 * n]}
        offset += 2 * n
    blob = json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)
    os.makedirs(a.out, exist_ok=True)
    block = bf16_block(1 << 16)
    one = struct.pack("<f", 1.0)[2:4]
    with open(os.path.join(a.out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for name, shape in shapes.items():
            size = header[name]["data_offsets"][1] - header[name]["data_offsets"][0]
            if name.endswith("norm.weight"):
                f.write(one * (size // 2))
                continue
            while size > 0:
                chunk = block[:size]
                f.write(chunk)
                size -= len(chunk)
    config = {"model_type": "llama", "hidden_size": a.dim, "num_hidden_layers": a.layers,
              "num_attention_heads": a.heads, "num_key_value_heads": a.kv_heads, "head_dim": head_dim,
              "intermediate_size": a.ffn, "vocab_size": a.vocab, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
              "max_position_embeddings": 8192, "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2}
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    print(f"{a.out}: {offset / 1e6:.0f} MB of bf16 weights")


if __name__ == "__main__":
    main()
