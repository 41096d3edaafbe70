#!/usr/bin/env python3
"""Reference renderings for the C++ Jinja interpreter and chat formats, made by real Jinja.

Two modes:

  cases  IN.json OUT.json
      Renders small interpreter cases ([{name, template, context, now?}]) with jinja2 configured
      exactly as transformers configures it (ImmutableSandboxedEnvironment, trim_blocks,
      lstrip_blocks, loopcontrols, json.dumps-based tojson, raise_exception, strftime_now).
      Writes [{name, template, context, now, expected | error}]. Runs anywhere jinja2 is installed.

  chat   --template FILE --conversations IN.json --out OUT.json [--tokenizer-dir DIR]
      Renders each conversation with transformers' apply_chat_template(tokenize=False), the
      reference the issue asks for. With --tokenizer-dir (a folder holding tokenizer.json and
      tokenizer_config.json) the real tokenizer class renders; without it, transformers'
      render_jinja_template does. Writes {template_sha256, transformers_version, cases: [...]},
      each case {name, messages, tools?, add_generation_prompt, bos_token, eos_token,
      date_string?, extra_context?, expected | error}.
"""
import argparse
import hashlib
import json
import sys
from datetime import datetime


def transformers_like_environment():
    import jinja2
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        # transformers' override: json.dumps without Jinja's HTML escaping.
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env


def run_cases(in_path, out_path):
    env = transformers_like_environment()
    cases = json.load(open(in_path, encoding="utf-8"))
    out = []
    for case in cases:
        record = dict(case)
        context = dict(case.get("context", {}))
        env.globals.pop("strftime_now", None)
        if case.get("now"):
            now = datetime(*case["now"])
            env.globals["strftime_now"] = lambda fmt, now=now: now.strftime(fmt)
        try:
            record["expected"] = env.from_string(case["template"]).render(**context)
        except Exception as e:  # the C++ side must fail too; the message differs by design
            record["error"] = type(e).__name__ + ": " + str(e)
        out.append(record)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{out_path}: {len(out)} cases, {sum('error' in r for r in out)} expected errors")


def run_chat(args):
    import transformers

    template = open(args.template, encoding="utf-8").read()
    conversations = json.load(open(args.conversations, encoding="utf-8"))
    tokenizer = None
    if args.tokenizer_dir:
        from transformers import AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(args.tokenizer_dir)
        except Exception as e:  # fall back to the template renderer apply_chat_template uses
            print(f"AutoTokenizer failed ({type(e).__name__}: {e}); using render_jinja_template", file=sys.stderr)
    cases = []
    for conv in conversations:
        record = dict(conv)
        kwargs = dict(conv.get("extra_context", {}))
        kwargs["bos_token"] = conv.get("bos_token", "<|begin_of_text|>")
        kwargs["eos_token"] = conv.get("eos_token", "<|eot_id|>")
        if conv.get("date_string"):
            kwargs["date_string"] = conv["date_string"]
        record.setdefault("bos_token", kwargs["bos_token"])
        record.setdefault("eos_token", kwargs["eos_token"])
        try:
            if tokenizer is not None:
                text = tokenizer.apply_chat_template(
                    conv["messages"], tools=conv.get("tools"), chat_template=template, tokenize=False,
                    add_generation_prompt=conv.get("add_generation_prompt", False), **kwargs)
            else:
                from transformers.utils.chat_template_utils import render_jinja_template

                rendered, _ = render_jinja_template(
                    conversations=[conv["messages"]], tools=conv.get("tools"), chat_template=template,
                    add_generation_prompt=conv.get("add_generation_prompt", False), **kwargs)
                text = rendered[0]
            record["expected"] = text
        except Exception as e:
            record["error"] = type(e).__name__ + ": " + str(e)
        cases.append(record)
    result = {
        "template": args.template_name or args.template,
        "template_sha256": hashlib.sha256(template.encode("utf-8")).hexdigest(),
        "generator": f"transformers {transformers.__version__} apply_chat_template(tokenize=False)"
                     + (" via AutoTokenizer" if tokenizer is not None else " via render_jinja_template"),
        "cases": cases,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{args.out}: {len(cases)} cases, {sum('error' in c for c in cases)} expected errors")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    cases = sub.add_parser("cases")
    cases.add_argument("input")
    cases.add_argument("output")
    chat = sub.add_parser("chat")
    chat.add_argument("--template", required=True)
    chat.add_argument("--template-name", help="how the fixture names the template (default: the path)")
    chat.add_argument("--conversations", required=True)
    chat.add_argument("--out", required=True)
    chat.add_argument("--tokenizer-dir")
    args = parser.parse_args()
    if args.mode == "cases":
        run_cases(args.input, args.output)
    else:
        run_chat(args)


if __name__ == "__main__":
    sys.exit(main())
