#!/usr/bin/env python3
"""`llama run` under mpirun, one rank per process: on fixture variants, --tp 2 and --pp 2 over 2
processes (CPU ranks, MPI host-staged communicator) give the same greedy tokens as --tp 1 in one
process and as transformers (gqa-llama3 also --tp 2 --pp 2 on 4) (expected.json, made by tests/fixtures/make_fixtures.py); only rank 0
prints. usage: mpi_golden_test.py LLAMA MPIEXEC [MPIEXEC_FLAGS...]"""
import json
import pathlib
import subprocess
import sys

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "models"
TP2, PP2, TP2_PP2 = ["--tp", "2"], ["--pp", "2"], ["--tp", "2", "--pp", "2"]
# odd-llama3 has 5 heads: tp 2 is refused (tests/model/parallel_golden_test.cpp checks the message).
VARIANTS = {"mha-tied/hf": [TP2, PP2], "gqa-llama3/hf": [TP2, PP2, TP2_PP2], "mha-tied/gguf-f32": [TP2, PP2],
            "odd-llama3/hf": [PP2]}


def model_path(variant):
    d = FIXTURES / variant
    return str(d / "model.gguf") if (d / "model.gguf").exists() else str(d)


def run(command):
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        print(f"FAIL: {' '.join(command)} exited {done.returncode}\n{done.stderr[-2000:]}")
        return None
    return done.stdout


def main():
    llama, mpirun = sys.argv[1], sys.argv[2:]
    failures = 0
    for variant, layouts in VARIANTS.items():
        expected = json.loads((FIXTURES / variant / "expected.json").read_text())
        common = [model_path(variant), "--device", "cpu", "--threads", "1", "--json", "--ignore-eos",
                  "--prompt-tokens", ",".join(map(str, expected["prompt_tokens"])),
                  "--max-tokens", str(len(expected["greedy_tokens"])), "--collective-timeout", "60"]
        single = run([llama, "run", *common, "--tp", "1"])
        if single is None:
            failures += 1
            continue
        single = json.loads(single)["tokens"]
        for layout in layouts:
            n_processes = 1
            for flag, value in zip(layout[::2], layout[1::2]):
                n_processes *= int(value)
            out = run([*mpirun, "-np", str(n_processes), llama, "run", *common, *layout])
            if out is None:
                failures += 1
                continue
            out = out.strip().splitlines()
            if len(out) != 1:  # only rank 0 prints
                print(f"FAIL {variant} {layout}: {len(out)} output lines, expected 1 (rank 0 only)")
                failures += 1
                continue
            tokens = json.loads(out[0])["tokens"]
            ok = tokens == single == expected["greedy_tokens"]
            failures += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {variant} {' '.join(layout)} x {n_processes} processes: {tokens}"
                  + ("" if ok else f" (tp 1: {single}, transformers: {expected['greedy_tokens']})"))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
