// Shared by the SDK scripts: settings from run.sh, an independent decoder for token ids (reads
// tokenizer.json directly, not through the server), and `llama run` as the greedy reference.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';

export const baseURL = process.env.LLAMA_TEST_BASE_URL;       // http://127.0.0.1:PORT
export const llamaBin = process.env.LLAMA_TEST_BIN;            // build/bin/llama
export const modelPath = process.env.LLAMA_TEST_MODEL_PATH;    // the served model's directory
export const promptIds = JSON.parse(process.env.LLAMA_TEST_PROMPT_IDS ?? '[1, 17, 42, 99, 7]');
export { assert };

// GPT-2's byte <-> printable character map (what byte-level BPE vocabularies are written in).
function unicodeToByte() {
  const bs = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) { bs.push(b); cs.push(256 + n); n++; }
  }
  const map = new Map();
  bs.forEach((b, i) => map.set(String.fromCodePoint(cs[i]), b));
  return map;
}

const tokenizer = JSON.parse(readFileSync(`${modelPath}/tokenizer.json`, 'utf8'));
const idToToken = new Map();
for (const [text, id] of Object.entries(tokenizer.model.vocab)) idToToken.set(id, text);
const special = new Set(tokenizer.added_tokens.filter((t) => t.special).map((t) => t.id));
const byteOf = unicodeToByte();

// Token ids -> text, special tokens dropped (what the server streams).
export function decode(ids) {
  const bytes = [];
  for (const id of ids) {
    if (special.has(id)) continue;
    for (const ch of idToToken.get(id) ?? '') bytes.push(byteOf.get(ch));
  }
  return new TextDecoder().decode(Uint8Array.from(bytes));
}

// Greedy tokens from `llama run` for the same prompt ids: the reference the server must equal.
export function llamaRun(ids, maxTokens) {
  const run = spawnSync(llamaBin, ['run', modelPath, '--prompt-tokens', ids.join(','), '--max-tokens', String(maxTokens), '--json'],
                        { encoding: 'utf8' });
  assert.equal(run.status, 0, `llama run failed: ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()).tokens;
}

let failures = 0;
export async function test(name, fn) {
  try {
    await fn();
    console.log(`  ok   ${name}`);
  } catch (e) {
    failures++;
    console.log(`  FAIL ${name}: ${e?.stack ?? e}`);
  }
}
export function done(suite) {
  console.log(`${suite}: ${failures === 0 ? 'passed' : `${failures} failed`}`);
  process.exit(failures === 0 ? 0 : 1);
}
