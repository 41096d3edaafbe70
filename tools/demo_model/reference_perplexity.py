#!/usr/bin/env python3
"""PyTorch reference for `llama perplexity`: the sliding-window perplexity of a Hugging Face model
directory on text files, and greedy continuations of a few prompts. Expected values for our tests
come from here (transformers, float32), never from the code under test.

    python3 tools/demo_model/reference_perplexity.py --model models/demo \
        --case models/demo/heldout.txt:512:256 --case models/demo/heldout_slice.txt:128:64 \
        --out models/demo/reference_perplexity.json --samples-out models/demo/reference_samples.json

The definition (src/cli/perplexity_command.cpp implements the same):
  ids = tokenizer.json's encoding of the whole file, with <|begin_of_text|> first (the post-processor
  adds it), N = len(ids). Windows begin at 0, stride, 2*stride, ... and end at min(begin + ctx, N);
  the last window is the first that reaches N. Each window is one forward pass over ids[begin:end]
  (positions 0..end-begin-1, a fresh context). A window scores the targets p in
  [max(prev_end, begin + 1), end), prev_end being the previous window's end (1 for the first), with
  -log softmax(logits at p - 1)[ids[p]] computed in float64. Every token after the first is scored
  exactly once when stride < ctx; when stride == ctx the first token of each window has no context
  and is skipped. ppl = exp(sum of NLL / number scored).
"""
import argparse
import hashlib
import json
import math
import os
import time

import torch
from tokenizers import Tokenizer


def sliding_window_nll(model, ids, ctx, stride, device):
    n, begin, prev_end = len(ids), 0, 1
    nll, scored, windows = 0.0, 0, 0
    while True:
        end = min(begin + ctx, n)
        first = max(prev_end, begin + 1)
        if first < end:
            x = torch.tensor([ids[begin:end]], dtype=torch.long, device=device)
            logits = model(input_ids=x, use_cache=False).logits[0].double()  # [end - begin, vocab]
            logp = torch.log_softmax(logits, dim=-1)
            rows = torch.arange(first - 1 - begin, end - 1 - begin, device=device)
            targets = torch.tensor(ids[first:end], dtype=torch.long, device=device)
            nll -= logp[rows, targets].sum().item()
            scored += end - first
            windows += 1
        prev_end = end
        if end == n:
            return nll, scored, windows
        begin += stride


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--case", action="append", default=[], help="FILE:CTX:STRIDE")
    p.add_argument("--out", required=True)
    p.add_argument("--samples-out")
    p.add_argument("--prompt", action="append", default=[])
    p.add_argument("--chat-prompt", action="append", default=[])
    p.add_argument("--max-new-tokens", type=int, default=48)
    args = p.parse_args()

    import tokenizers
    import transformers
    from transformers import LlamaForCausalLM
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    tok = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    model = LlamaForCausalLM.from_pretrained(args.model, dtype=torch.float32, attn_implementation="eager")
    model = model.to(device).eval()

    results = []
    with torch.no_grad():
        for case in args.case:
            path, ctx, stride = case.rsplit(":", 2)
            ctx, stride = int(ctx), int(stride)
            assert 1 <= stride <= ctx, case
            text = open(path, encoding="utf-8").read()
            ids = tok.encode(text).ids
            t0 = time.time()
            nll, scored, windows = sliding_window_nll(model, ids, ctx, stride, device)
            entry = {
                "file": os.path.relpath(path, args.model), "bytes": len(text.encode("utf-8")), "ctx": ctx,
                "stride": stride, "n_tokens": len(ids), "n_scored": scored, "n_windows": windows,
                "nll_sum": nll, "mean_nll": nll / scored, "ppl": math.exp(nll / scored),
                "token_ids_sha256": hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest(),
            }
            if len(ids) <= 2048:
                entry["token_ids"] = ids  # lets a failing test tell tokenizer from forward differences
            results.append(entry)
            print(f"{entry['file']} ctx {ctx} stride {stride}: {len(ids)} tokens, {scored} scored, "
                  f"ppl {entry['ppl']:.6f} ({time.time() - t0:.1f}s)", flush=True)

        reference = {
            "definition": __doc__.split("The definition", 1)[1].strip(),
            "computed_by": "tools/demo_model/reference_perplexity.py",
            "tokenizer": f"tokenizer.json via tokenizers {tokenizers.__version__}",
            "model": f"LlamaForCausalLM (transformers {transformers.__version__}), bf16 weights loaded as float32, "
                     f"eager attention, TF32 off, on {device.type}",
            "torch": torch.__version__,
            "results": results,
        }
        with open(args.out, "w") as f:
            json.dump(reference, f, indent=2)
            f.write("\n")

        if args.samples_out:
            eos = [tok.token_to_id("<|end_of_text|>"), tok.token_to_id("<|eot_id|>")]
            samples = []
            prompts = [(text, text) for text in args.prompt]
            prompts += [(text, "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n" + text.strip() +
                         "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n") for text in args.chat_prompt]
            for shown, text in prompts:
                ids = tok.encode(text, add_special_tokens=not text.startswith("<|begin_of_text|>")).ids
                out = model.generate(torch.tensor([ids], device=device), max_new_tokens=args.max_new_tokens,
                                     do_sample=False, eos_token_id=eos, pad_token_id=eos[0])
                new = out[0, len(ids):].tolist()
                samples.append({"prompt": shown, "chat": text != shown, "prompt_ids": ids, "greedy_ids": new,
                                "text": tok.decode(new, skip_special_tokens=False)})
                print(f"--- {shown!r} ->\n{samples[-1]['text']}", flush=True)
            with open(args.samples_out, "w") as f:
                json.dump({"max_new_tokens": args.max_new_tokens, "samples": samples}, f, indent=2)
                f.write("\n")


if __name__ == "__main__":
    main()
