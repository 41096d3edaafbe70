#!/usr/bin/env python3
"""Trains the built-in demo model: a byte-level BPE tokenizer and a small Llama (transformers
LlamaForCausalLM: RMSNorm, RoPE, GQA, SwiGLU) on the King James Bible, and saves both as a
Hugging Face model directory (config.json, model.safetensors in bf16, tokenizer.json,
tokenizer_config.json with a chat template, generation_config.json).

Runs on one GPU in a few minutes (bf16 autocast, AdamW, cosine schedule); see models/demo/README.md
for the command that made the shipped model. The text comes from tools/demo_model/prepare_text.py.

Training samples are 512 tokens drawn at random from the training text, three kinds mixed:
  * <|begin_of_text|> + the text from the start of a random verse (what `llama run` sees),
  * a window starting anywhere (what later windows of a sliding-window perplexity see),
  * chat turns in the tokenizer's own template: the user gives verses, the assistant answers with
    the verses that follow, then <|eot_id|> (so `llama chat` answers and stops).
The last 2% of the training verses are a validation slice, never trained on, that picks the best
checkpoint; the held-out books are only reported, never used for a decision.
"""
import argparse
import json
import math
import os
import random
import time

import torch
import torch.nn.functional as F
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

BOS, EOS, START_HEADER, END_HEADER, EOT = (
    "<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")
SPECIAL_TOKENS = [BOS, EOS, START_HEADER, END_HEADER, EOT]  # ids 0..4
# Llama 3's pre-tokenizer regex (tiktoken's cl100k pattern).
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")
# Llama 3's chat format without its system-prompt extras.
CHAT_TEMPLATE = (
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim"
    " + '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}")


def render_chat(messages, add_generation_prompt=False):
    """CHAT_TEMPLATE in Python (the training data uses it; the saved template is checked against it)."""
    text = BOS
    for m in messages:
        text += f"{START_HEADER}{m['role']}{END_HEADER}\n\n{m['content'].strip()}{EOT}"
    if add_generation_prompt:
        text += f"{START_HEADER}assistant{END_HEADER}\n\n"
    return text


def train_tokenizer(lines, vocab_size):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    chunks = ["\n".join(lines[i:i + 100]) + "\n" for i in range(0, len(lines), 100)]
    tok.train_from_iterator(chunks, trainer)
    tok.post_processor = processors.TemplateProcessing(single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B",
                                                       special_tokens=[(BOS, tok.token_to_id(BOS))])
    for i, t in enumerate(SPECIAL_TOKENS):
        assert tok.token_to_id(t) == i, (t, tok.token_to_id(t))
    return tok


def save_tokenizer(tok, out_dir, ctx):
    tok.save(os.path.join(out_dir, "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": BOS,
        "eos_token": EOS,
        "model_max_length": ctx,
        "clean_up_tokenization_spaces": False,
        "model_input_names": ["input_ids", "attention_mask"],
        "chat_template": CHAT_TEMPLATE,
        "added_tokens_decoder": {str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                                          "single_word": False, "special": True}
                                 for i, t in enumerate(SPECIAL_TOKENS)},
    }
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    # The template must render exactly what the training data used (jinja2 set up as transformers does).
    import jinja2.sandbox
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    messages = [{"role": "user", "content": "Jesus wept."}, {"role": "assistant", "content": " Amen. "}]
    rendered = env.from_string(CHAT_TEMPLATE).render(messages=messages, bos_token=BOS, add_generation_prompt=True)
    assert rendered == render_chat(messages, add_generation_prompt=True), repr(rendered)


class Samples:
    """Random training batches; see the module docstring for the three kinds."""

    def __init__(self, tok, lines, ctx, chat_fraction, seed):
        self.ctx, self.chat_fraction = ctx, chat_fraction
        self.rng = random.Random(seed)
        self.lines = lines
        self.tok = tok
        text = "\n".join(lines) + "\n"
        encoding = tok.encode(text, add_special_tokens=False)
        self.ids = torch.tensor(encoding.ids, dtype=torch.long)
        line_starts, pos = set(), 0
        for line in lines:
            line_starts.add(pos)
            pos += len(line) + 1
        # Verse starts are token starts: the regex never joins a letter to the newline before it.
        self.verse_token_starts = [i for i, (a, _) in enumerate(encoding.offsets) if a in line_starts]
        self.bos = tok.token_to_id(BOS)

    def _chat(self):
        ids = []
        while len(ids) < self.ctx + 1:
            i = self.rng.randrange(0, len(self.lines) - 6)
            n_user, n_answer = self.rng.randint(1, 2), self.rng.randint(1, 3)
            messages = [{"role": "user", "content": " ".join(self.lines[i:i + n_user])},
                        {"role": "assistant", "content": "\n".join(self.lines[i + n_user:i + n_user + n_answer])}]
            ids += self.tok.encode(render_chat(messages), add_special_tokens=False).ids
        return torch.tensor(ids[:self.ctx + 1], dtype=torch.long)

    def _text(self):
        if self.rng.random() < 0.5:
            start = self.verse_token_starts[self.rng.randrange(len(self.verse_token_starts) - 200)]
            return torch.cat([torch.tensor([self.bos]), self.ids[start:start + self.ctx]])
        start = self.rng.randrange(len(self.ids) - self.ctx - 1)
        return self.ids[start:start + self.ctx + 1]

    def batch(self, batch_size):
        rows = [self._chat() if self.rng.random() < self.chat_fraction else self._text() for _ in range(batch_size)]
        seq = torch.stack(rows)  # [batch, ctx + 1]
        return seq[:, :-1], seq[:, 1:]


@torch.no_grad()
def eval_loss(model, ids, ctx, device, batch_size=32):
    """Mean next-token NLL over consecutive non-overlapping windows of ctx + 1 tokens."""
    n = (len(ids) - 1) // ctx
    windows = torch.stack([ids[i * ctx:i * ctx + ctx + 1] for i in range(n)])
    total, count = 0.0, 0
    model.eval()
    for b in range(0, n, batch_size):
        w = windows[b:b + batch_size].to(device)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
            logits = model(input_ids=w[:, :-1]).logits
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1), reduction="sum")
        total += loss.item()
        count += w[:, 1:].numel()
    model.train()
    return total / count


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", required=True, help="training text (prepare_text.py)")
    p.add_argument("--heldout", required=True, help="held-out text, only reported")
    p.add_argument("--out", required=True, help="model directory to write")
    p.add_argument("--vocab", type=int, default=4096)
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--layers", type=int, default=8)
    p.add_argument("--heads", type=int, default=6)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--ffn", type=int, default=1024)
    p.add_argument("--ctx", type=int, default=512)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1.5e-3)
    p.add_argument("--epochs", type=float, default=24.0, help="passes over the training tokens (sets the steps)")
    p.add_argument("--time-budget", type=float, default=200.0,
                   help="seconds of training at most; fewer steps if the measured step time needs it")
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--chat-fraction", type=float, default=0.15)
    p.add_argument("--seed", type=int, default=1234)
    args = p.parse_args()

    t_start = time.time()
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = True
    os.makedirs(args.out, exist_ok=True)
    lines = open(args.train, encoding="utf-8").read().splitlines()
    heldout_text = open(args.heldout, encoding="utf-8").read()
    n_val = len(lines) // 50
    train_lines, val_lines = lines[:-n_val], lines[-n_val:]

    tok = train_tokenizer(train_lines, args.vocab)
    save_tokenizer(tok, args.out, args.ctx)
    samples = Samples(tok, train_lines, args.ctx, args.chat_fraction, args.seed)
    val_ids = torch.tensor(tok.encode("\n".join(val_lines) + "\n").ids, dtype=torch.long)
    heldout_ids = torch.tensor(tok.encode(heldout_text).ids, dtype=torch.long)
    n_train_tokens = len(samples.ids)
    print(f"tokenizer: vocab {tok.get_vocab_size()}, {n_train_tokens} training tokens "
          f"({sum(map(len, train_lines)) / n_train_tokens:.2f} chars/token), {len(val_ids)} validation, "
          f"{len(heldout_ids)} held-out; {time.time() - t_start:.1f}s", flush=True)

    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM
    config = LlamaConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=args.dim, intermediate_size=args.ffn,
        num_hidden_layers=args.layers, num_attention_heads=args.heads, num_key_value_heads=args.kv_heads,
        head_dim=args.dim // args.heads, max_position_embeddings=args.ctx, rms_norm_eps=1e-5,
        hidden_act="silu", tie_word_embeddings=True, attention_bias=False, mlp_bias=False,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        bos_token_id=tok.token_to_id(BOS), eos_token_id=tok.token_to_id(EOS))
    model = LlamaForCausalLM(config).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params / 1e6:.2f}M parameters, {config.num_hidden_layers} layers, dim {args.dim}, "
          f"{args.heads} heads ({args.kv_heads} kv), ffn {args.ffn}, ctx {args.ctx}", flush=True)

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=args.lr, betas=(0.9, 0.95), fused=device.type == "cuda")
    max_steps = max(1, int(args.epochs * n_train_tokens / (args.batch * args.ctx)))
    warmup, total_steps = min(100, max_steps // 10), max_steps

    def lr_at(step):
        if step < warmup:
            return args.lr * (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))

    best = (float("inf"), -1, None)
    t_train = time.time()
    t_measure = t_train
    step = 0
    while step < total_steps:
        x, y = samples.batch(args.batch)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
            logits = model(input_ids=x).logits
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        if step in (10, 40) and device.type == "cuda":
            torch.cuda.synchronize()
        if step == 10:
            t_measure = time.time()
        if step == 40 and total_steps > 40:  # fit the schedule to the time budget, from the measured step time
            per_step = (time.time() - t_measure) / 30
            total_steps = max(step + 1, min(max_steps, int(args.time_budget / per_step)))
            print(f"{per_step * 1000:.1f} ms/step -> {total_steps} steps "
                  f"({total_steps * args.batch * args.ctx / n_train_tokens:.1f} epochs of the training text)",
                  flush=True)
        if step % args.eval_every == 0 or step == total_steps:
            val = eval_loss(model, val_ids, args.ctx, device)
            held = eval_loss(model, heldout_ids, args.ctx, device)
            print(f"step {step:5d}  train {loss.item():.4f}  val {val:.4f}  heldout {held:.4f}  "
                  f"lr {lr_at(step - 1):.2e}  {time.time() - t_train:.0f}s", flush=True)
            if val < best[0]:
                best = (val, step, {k: v.detach().clone() for k, v in model.state_dict().items()})
    train_seconds = time.time() - t_train
    print(f"best validation loss {best[0]:.4f} at step {best[1]} of {step}; {train_seconds:.0f}s of training",
          flush=True)
    model.load_state_dict(best[2])
    final_val = eval_loss(model, val_ids, args.ctx, device)
    final_held = eval_loss(model, heldout_ids, args.ctx, device)

    model = model.to(torch.bfloat16)
    model.generation_config = GenerationConfig(bos_token_id=tok.token_to_id(BOS),
                                               eos_token_id=[tok.token_to_id(EOS), tok.token_to_id(EOT)],
                                               do_sample=False)
    model.save_pretrained(args.out)
    summary = {
        "parameters": n_params, "steps": step, "chosen_step": best[1], "batch": args.batch, "ctx": args.ctx,
        "train_tokens": n_train_tokens, "tokens_seen": step * args.batch * args.ctx,
        "validation_loss": final_val, "heldout_loss": final_held, "train_seconds": round(train_seconds, 1),
        "total_seconds": round(time.time() - t_start, 1), "device": torch.cuda.get_device_name(0)
        if device.type == "cuda" else "cpu", "torch": torch.__version__,
        "args": vars(args),
    }
    with open(os.path.join(args.out, "training_summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
