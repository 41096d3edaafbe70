#!/usr/bin/env python3
"""Cuts the King James Bible (Debian package bible-kjv, public domain) into the demo model's
training text and its held-out evaluation text.

    sudo apt-get install bible-kjv        # provides /usr/bin/bible and the text
    python3 tools/demo_model/prepare_text.py --train .demo-data/train.txt --heldout-dir models/demo

`bible -f "Gen1:1-Rev22:21"` prints one verse a line, "Ge1:1 In the beginning ...". The verse
reference is stripped, so the model learns to write verses, one a line. Genesis .. Colossians
(95.2% of the bytes) is the training text; 1 Thessalonians .. Revelation (the last 4.8%) is held
out: models/demo/heldout.txt, and its first verses models/demo/heldout_slice.txt for fast tests.
"""
import argparse
import os
import re
import subprocess

REFERENCE = re.compile(r"^(\d?[A-Za-z]+)(\d+):(\d+) ")
FIRST_HELDOUT_BOOK = "1Th"   # the books from here to the end are never trained on
SLICE_VERSES = 16            # heldout_slice.txt: the first verses of the held-out text


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", required=True, help="where to write the training text")
    parser.add_argument("--heldout-dir", required=True, help="where heldout.txt and heldout_slice.txt go")
    args = parser.parse_args()

    raw = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], check=True, capture_output=True, text=True).stdout
    books, verses = [], []
    for line in raw.splitlines():
        match = REFERENCE.match(line)
        if match is None:
            raise SystemExit(f"unexpected line without a verse reference: {line[:80]!r}")
        books.append(match.group(1))
        verses.append(line[match.end():].strip())
    if len(verses) != 31102:
        raise SystemExit(f"expected 31102 verses (KJV), got {len(verses)}")
    split = books.index(FIRST_HELDOUT_BOOK)
    train, heldout = verses[:split], verses[split:]

    os.makedirs(os.path.dirname(os.path.abspath(args.train)), exist_ok=True)
    os.makedirs(args.heldout_dir, exist_ok=True)
    outputs = {
        args.train: train,
        os.path.join(args.heldout_dir, "heldout.txt"): heldout,
        os.path.join(args.heldout_dir, "heldout_slice.txt"): heldout[:SLICE_VERSES],
    }
    for path, lines in outputs.items():
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write("\n".join(lines) + "\n")
        print(f"{path}: {len(lines)} verses, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
