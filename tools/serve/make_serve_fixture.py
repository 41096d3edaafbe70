#!/usr/bin/env python3
"""A servable copy of a tiny fixture model: the weights of tests/fixtures/models/gqa-llama3/hf plus
a small byte-level BPE tokenizer.json, for the server and SDK tests (tests/clients/run.sh).

The fixture models ship no tokenizer. This one has 384 ids (the fixture's vocab_size):
  0..95     single characters: "\\n" and printable ASCII 0x20..0x7e (byte-level BPE strings)
  96..375   merges learned by plain BPE on the short English text below
  376..383  Llama 3 special tokens (<|begin_of_text|>, <|eot_id|>, <|python_tag|>, ...)
Every token decodes to ASCII, so anything the random-weight model emits is valid UTF-8 and a
client can decode ids independently (tests/clients/common.mjs). config.json and
generation_config.json are rewritten so that BOS/EOS name the special ids. No chat_template is
written: the server renders the built-in Llama 3 format.

usage: make_serve_fixture.py --src tests/fixtures/models/gqa-llama3/hf --out DIR
Deterministic: the same inputs give byte-identical files. Needs only the Python standard library.
"""
import argparse
import collections
import json
import os
import re
import shutil

CORPUS = """
The quick brown fox jumps over the lazy dog. Hello, world! This is a small model that runs on the
server for the tests of the Llama Stack in C++. It speaks the OpenAI, Ollama and Llama Stack APIs.
What is the weather in San Francisco today? The weather is sunny and the temperature is twenty
degrees. Tell me a story about a dragon who lived in a castle near the sea. Once upon a time there
was a little girl who loved to read books in the garden with her mother and her father.
You are a helpful assistant. Answer the question of the user in one sentence. Thank you!
def main(): return print("hello") if __name__ == "__main__" else None
{"name": "get_weather", "parameters": {"city": "Paris"}}
"""

SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
            "<|eot_id|>", "<|eom_id|>", "<|python_tag|>", "<|finetune_right_pad_id|>"]
VOCAB_SIZE = 384
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+"""


def byte_to_unicode():
    """GPT-2's reversible byte -> printable character map (as in Hugging Face tokenizers)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--src", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    b2u = byte_to_unicode()
    chars = [b2u[0x0A]] + [b2u[b] for b in range(0x20, 0x7F)]
    vocab = {c: i for i, c in enumerate(chars)}
    n_merges = VOCAB_SIZE - len(SPECIALS) - len(chars)

    words = collections.Counter()
    for piece in re.findall(GPT2_PATTERN, CORPUS):
        words[tuple(b2u[b] for b in piece.encode())] += 1
    merges = []
    while len(merges) < n_merges:
        pairs = collections.Counter()
        for word, count in words.items():
            for a, b in zip(word, word[1:]):
                pairs[(a, b)] += count
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]  # ties: the larger pair, stable
        merges.append(best)
        vocab[best[0] + best[1]] = len(vocab)
        merged = collections.Counter()
        for word, count in words.items():
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] += count
        words = merged
    # Pad with unused two-character tokens if the corpus ran out of pairs (keeps ids dense).
    filler = (a + b for a in chars[1:] for b in chars[1:])
    while len(vocab) < VOCAB_SIZE - len(SPECIALS):
        t = next(filler)
        if t not in vocab:
            vocab[t] = len(vocab)
    first_special = len(vocab)
    added = [{"id": first_special + i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, s in enumerate(SPECIALS)]
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [], "special_tokens": {}},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": [[a, b] for a, b in merges]},
    }
    os.makedirs(args.out, exist_ok=True)
    for name in os.listdir(args.src):
        if name.endswith(".safetensors") or name.endswith(".json") and name not in ("expected.json",):
            shutil.copyfile(os.path.join(args.src, name), os.path.join(args.out, name))
    bos, eos = first_special, [first_special + 1, first_special + 4, first_special + 5]
    for name in ("config.json", "generation_config.json"):
        path = os.path.join(args.out, name)
        if not os.path.exists(path):
            continue
        with open(path) as f:
            config = json.load(f)
        config["bos_token_id"], config["eos_token_id"] = bos, eos
        with open(path, "w") as f:
            json.dump(config, f, indent=2, sort_keys=True)
    with open(os.path.join(args.out, "tokenizer.json"), "w") as f:
        json.dump(tokenizer, f, ensure_ascii=False, indent=1)
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": SPECIALS[0], "eos_token": "<|eot_id|>", "add_bos_token": True,
                   "model_max_length": 512, "tokenizer_class": "PreTrainedTokenizerFast"}, f, indent=2)


if __name__ == "__main__":
    main()
