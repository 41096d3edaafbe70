// Writes a tiktoken-format tokenizer.model (base64(token bytes) + " " + rank per line, as Meta
// ships for Llama 3) from a Hugging Face tokenizer.json, mapping ByteLevel characters back to
// bytes with GPT-2's bytes_to_unicode table. Meta's file is not redistributable; this gives the
// tests the same vocabulary in that format from an independent conversion.
//   node make_tiktoken_model.mjs tokenizer.json out/tokenizer.model
import { readFileSync, writeFileSync } from "node:fs";

const [input, output] = process.argv.slice(2);
const tokenizer = JSON.parse(readFileSync(input, "utf8"));
const byteToChar = new Map();
let next = 256;
for (let b = 0; b < 256; ++b) {
  const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  byteToChar.set(b, String.fromCodePoint(printable ? b : next++));
}
const charToByte = new Map([...byteToChar].map(([b, c]) => [c, b]));
const lines = Object.entries(tokenizer.model.vocab)
  .sort((a, b) => a[1] - b[1])
  .map(([text, id]) => Buffer.from([...text].map((c) => charToByte.get(c))).toString("base64") + " " + id);
writeFileSync(output, lines.join("\n") + "\n");
