#!/usr/bin/env python3
"""Writes a Hugging Face Llama checkpoint of a known shape with random bf16 weights (sharded
safetensors + index + config.json), to time loading a real file from the page cache:

    python3 tools/gpu/make_random_checkpoint.py OUT_DIR [--shape llama3.1-8b]

Needs torch and safetensors (the GPU machine has both). The weights are N(0, 0.02) made on the GPU
when there is one; the values don't matter, the bytes and names do.
"""
import argparse
import json
import os

import torch
from safetensors.torch import save_file

SHAPES = {
    # dim, layers, heads, kv heads, ffn, vocab, rope theta, context
    "llama3.1-8b": (4096, 32, 32, 8, 14336, 128256, 500000.0, 131072),
    "llama3.2-1b": (2048, 16, 32, 8, 8192, 128256, 500000.0, 131072),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--shape", default="llama3.1-8b", choices=sorted(SHAPES))
    parser.add_argument("--shard-gib", type=float, default=5.0)
    args = parser.parse_args()
    dim, layers, heads, kv_heads, ffn, vocab, theta, context = SHAPES[args.shape]
    head_dim = dim // heads
    os.makedirs(args.out, exist_ok=True)
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": dim,
        "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv_heads,
        "intermediate_size": ffn, "vocab_size": vocab, "rope_theta": theta, "rms_norm_eps": 1e-5,
        "max_position_embeddings": context, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
        "head_dim": head_dim,
    }
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    shapes = {"model.embed_tokens.weight": (vocab, dim), "model.norm.weight": (dim,), "lm_head.weight": (vocab, dim)}
    for i in range(layers):
        p = f"model.layers.{i}."
        shapes.update({
            p + "input_layernorm.weight": (dim,), p + "post_attention_layernorm.weight": (dim,),
            p + "self_attn.q_proj.weight": (heads * head_dim, dim),
            p + "self_attn.k_proj.weight": (kv_heads * head_dim, dim),
            p + "self_attn.v_proj.weight": (kv_heads * head_dim, dim),
            p + "self_attn.o_proj.weight": (dim, heads * head_dim),
            p + "mlp.gate_proj.weight": (ffn, dim), p + "mlp.up_proj.weight": (ffn, dim),
            p + "mlp.down_proj.weight": (dim, ffn),
        })
    shards, current, size = [], {}, 0
    limit = int(args.shard_gib * (1 << 30))
    for name, shape in shapes.items():
        tensor = (torch.ones(shape) if len(shape) == 1 else torch.randn(shape, device=device) * 0.02)
        tensor = tensor.to(torch.bfloat16).cpu()
        if current and size + tensor.numel() * 2 > limit:
            shards.append(current)
            current, size = {}, 0
        current[name] = tensor
        size += tensor.numel() * 2
    shards.append(current)
    weight_map = {}
    for index, shard in enumerate(shards):
        file = f"model-{index + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, os.path.join(args.out, file), metadata={"format": "pt"})
        weight_map.update({name: file for name in shard})
    total = sum(t.numel() * 2 for shard in shards for t in shard.values())
    with open(os.path.join(args.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f)
    print(f"{args.out}: {args.shape}, {len(shards)} shards, {total / (1 << 30):.2f} GiB")


if __name__ == "__main__":
    main()
