// Builds the tokenizer test corpus deterministically (seeded PRNG), so that the C++ tests and the
// JS reference tokenizers see the same texts.
//   node build_corpus.mjs --out corpus.json [--count 3000]         -> JSON array of texts
//   node build_corpus.mjs --bench-out bench.txt [--bytes 10000000] -> one mixed text file
// Texts avoid U+0085 and U+FEFF, where JavaScript's \s differs from Unicode White_Space (which
// Rust/Oniguruma, tiktoken and PCRE2 follow), and scripts newer than Unicode 14 (PCRE2 10.42).
import { writeFileSync } from "node:fs";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));

function mulberry32(seed) {
  return () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = mulberry32(20240725);
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));

const samples = [
  "Hello world", " Hello world", "Hello World!", "I'm sure you'll see it's what we've done, they'd say.",
  "DON'T SHOUT, IT'S RUDE. YOU'LL SEE. WE'RE HERE. I'M OK. HE'D GO.",
  "The quick brown fox jumps over the lazy dog.",
  "Ünïcödé wörds: straße, naïve café, coöperate, façade, Ångström.",
  "Le cœur a ses raisons que la raison ne connaît point.",
  "¿Dónde está la biblioteca? ¡Ahí está!",
  "Съешь же ещё этих мягких французских булок, да выпей чаю.",
  "Τάχιστη αλώπηξ βαφής ψημένη γη, δρασκελίζει υπέρ νωθρού κυνός.",
  "مرحبا بالعالم! هذا اختبار للتقطيع.", "שלום עולם, זה מבחן.", "नमस्ते दुनिया, यह एक परीक्षण है।",
  "你好，世界！这是一个分词测试。我们今天去北京大学。", "こんにちは世界。カタカナとひらがなと漢字のテストです。",
  "안녕하세요 세계! 토크나이저 테스트입니다.", "สวัสดีชาวโลก นี่คือการทดสอบ", "Xin chào thế giới, đây là bài kiểm tra.",
  "Γειά σου Κόσμε", "Բարեւ աշխարհ", "გამარჯობა მსოფლიო", "ሰላም ልዑል", "வணக்கம் உலகம்", "ওহে বিশ্ব",
  "🦙🦙🦙 llamas!", "👨‍👩‍👧‍👦 family, 👍🏽 thumbs, 🇺🇸🇯🇵 flags, ❤️‍🔥", "emoji:😀😃😄😁😆😅🤣😂🙂",
  "3.14159 2718281828 1234567890 00001 -42 +7 1e10 0x1F 1,000,000 12:30 2024-07-23",
  "int main() {\n  return 0;\n}\n", "def f(x):\n    return x ** 2  # square\n\n\n",
  "for (let i = 0; i < n; ++i) { sum += a[i] * b[i]; }", "SELECT * FROM users WHERE id = 42;",
  "<html><body><p class=\"x\">Hi &amp; bye</p></body></html>", "{\"key\": [1, 2, 3], \"nested\": {\"a\": null}}",
  "   leading spaces", "trailing spaces   ", "\t\ttabs\tand\ttext\t", "line1\nline2\r\nline3\rline4",
  "\n\n\n\n", " \n \n ", "a  b   c    d     e", "    \n    \n\n\t\n", "\u00a0non\u00a0breaking\u2003em\u3000ideographic",
  "<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
  "<|eot_id", "|eot_id|>", "<<|eot_id|>>", "<|reserved_special_token_5|><|python_tag|>x", "text<|eom_id|>text",
  "<|end_of_text|> <|finetune_right_pad_id|>", "<s> </s> <unk> [INST] <<SYS>>",
  "e\u0301 combining acute, a\u0308, n\u0303", "zero\u200bwidth\u200cjoiner\u200d", "A\u0000B\u0001C\u007f",
  "ℕ ℤ ℚ ℝ ∀x∈ℝ: x²≥0 ∑∫∂√∞ ≠ ≤ ≥", "½ ¾ ⅓ ² ³ ① ② ⑩ Ⅻ ٣ ٤ ५ ६ ๓", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝐁𝐨𝐥𝐝 𝕯𝖔𝖚𝖇𝖑𝖊",
  "'s 'S 'll 'LL 're 'Re 've 'VE 'm 'M 'd 'D 't 'T ''' 'x",
];

// Code points from long-assigned blocks (Unicode <= 13).
const ranges = [
  [0x20, 0x7e], [0xa0, 0xff], [0x100, 0x17f], [0x370, 0x3ff], [0x400, 0x4ff], [0x5d0, 0x5ea], [0x620, 0x64a],
  [0x900, 0x97f], [0xe01, 0xe3a], [0x3041, 0x3096], [0x30a1, 0x30fa], [0x4e00, 0x9fa5], [0xac00, 0xd7a3],
  [0x2000, 0x206f], [0x2190, 0x21ff], [0x2200, 0x22ff], [0x1f300, 0x1f5ff], [0x1f600, 0x1f64f], [0x300, 0x36f],
  [0x660, 0x669], [0xff01, 0xff5e], [0x1d400, 0x1d4ff],
];
const excluded = new Set([0x85, 0xfeff, 0x2028, 0x2029, 0x2065]);
function randomChar() {
  for (;;) {
    const [lo, hi] = pick(ranges);
    const cp = int(lo, hi);
    if (!excluded.has(cp)) return String.fromCodePoint(cp);
  }
}
const words = samples.join(" ").split(/\s+/).filter((w) => w.length > 0);
const spaces = [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n", "\n ", "        ", "\u00a0", "\u3000"];

function randomText() {
  switch (int(0, 7)) {
    case 0: return pick(samples);
    case 1: { let s = ""; const n = int(1, 40); for (let i = 0; i < n; ++i) s += pick(words) + pick(spaces); return s; }
    case 2: { let s = ""; const n = int(1, 80); for (let i = 0; i < n; ++i) s += randomChar(); return s; }
    case 3: { const unit = pick(["a", "ab", "🦙", "0", " ", "\n", "abc ", "ذ", "中", "!", "<|", "1 ", "'s"]); return unit.repeat(int(2, 700)); }
    case 4: { let s = ""; const n = int(1, 30); for (let i = 0; i < n; ++i) s += String(int(0, 1e9)).slice(0, int(1, 10)) + pick(["", " ", ".", ",", "-", "\n"]); return s; }
    case 5: return pick(samples) + pick(spaces) + pick(samples) + pick(spaces);
    case 6: { let s = ""; const n = int(1, 20); for (let i = 0; i < n; ++i) s += pick(spaces).repeat(int(1, 5)) + pick([randomChar(), pick(words), ""]); return s; }
    default: { let s = ""; const n = int(2, 8); for (let i = 0; i < n; ++i) s += [...pick(samples)].slice(0, int(0, 30)).join(""); return s; }  // whole code points
  }
}

if (args.out) {
  const count = Number(args.count ?? 3000);
  const texts = [...samples, ""];
  while (texts.length < count) texts.push(randomText());
  writeFileSync(args.out, JSON.stringify(texts));
}
if (args["bench-out"]) {
  const target = Number(args.bytes ?? 10_000_000);
  const parts = [];
  let bytes = 0;
  while (bytes < target) {
    // Mostly prose and code, as a serving workload, with the hard cases mixed in.
    const t = rand() < 0.7 ? pick(samples) + pick(spaces) : randomText() + "\n";
    parts.push(t);
    bytes += Buffer.byteLength(t);
  }
  writeFileSync(args["bench-out"], parts.join(""));
}
