// The official `openai` SDK against our server: models, chat and completions, streaming, usage,
// tools, errors. Greedy completions equal `llama run` on the same prompt ids.
import OpenAI from 'openai';
import { assert, baseURL, decode, done, llamaRun, promptIds, test } from './common.mjs';

const client = new OpenAI({ baseURL: `${baseURL}/v1`, apiKey: process.env.LLAMA_TEST_API_KEY ?? 'none', maxRetries: 0 });
const compat = new OpenAI({ baseURL: `${baseURL}/v1/openai/v1`, apiKey: process.env.LLAMA_TEST_API_KEY ?? 'none', maxRetries: 0 });
let model;

await test('models.list', async () => {
  const page = await client.models.list();
  assert.ok(page.data.length >= 1);
  model = page.data[0].id;
  assert.equal(page.data[0].object, 'model');
  const again = await compat.models.list();
  assert.equal(again.data[0].id, model);
});

await test('completions greedy equals llama run (token-id prompt)', async () => {
  const expected = decode(llamaRun(promptIds, 12));
  const r = await client.completions.create({ model, prompt: promptIds, max_tokens: 12, temperature: 0 });
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices[0].text, expected);
  assert.equal(r.usage.prompt_tokens, promptIds.length);
  assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
});

await test('completions stream equals non-stream, with usage', async () => {
  const whole = await client.completions.create({ model, prompt: 'Hello', max_tokens: 10, temperature: 0 });
  const stream = await client.completions.create({ model, prompt: 'Hello', max_tokens: 10, temperature: 0, stream: true,
                                                  stream_options: { include_usage: true } });
  let text = '', usage = null, finish = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) { text += c.text; finish = c.finish_reason ?? finish; }
  }
  assert.equal(text, whole.choices[0].text);
  assert.equal(usage.completion_tokens, whole.usage.completion_tokens);
  assert.equal(finish, whole.choices[0].finish_reason);
});

await test('chat.completions non-stream and stream agree (greedy)', async () => {
  const messages = [{ role: 'system', content: 'You are helpful.' }, { role: 'user', content: 'Hello there' }];
  const whole = await client.chat.completions.create({ model, messages, max_tokens: 12, temperature: 0 });
  assert.equal(whole.object, 'chat.completion');
  assert.equal(whole.choices[0].message.role, 'assistant');
  const stream = await client.chat.completions.create({ model, messages, max_completion_tokens: 12, temperature: 0,
                                                        stream: true, stream_options: { include_usage: true } });
  let text = '', usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) text += c.delta?.content ?? '';
  }
  assert.equal(text, whole.choices[0].message.content ?? '');
  assert.equal(usage.total_tokens, whole.usage.total_tokens);
});

await test('chat via /v1/openai/v1 (Llama Stack 0.2 path)', async () => {
  const r = await compat.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4, temperature: 0 });
  assert.equal(r.choices.length, 1);
});

await test('n=3 seeded sampling, logprobs and top_logprobs', async () => {
  const r = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Tell me a story' }], n: 3,
                                                   max_tokens: 6, temperature: 1, seed: 42, logprobs: true, top_logprobs: 2 });
  assert.equal(r.choices.length, 3);
  for (const c of r.choices) {
    assert.ok(c.logprobs.content.length >= 1);
    assert.equal(c.logprobs.content[0].top_logprobs.length, 2);
  }
  const again = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Tell me a story' }], n: 3,
                                                       max_tokens: 6, temperature: 1, seed: 42 });
  assert.deepEqual(again.choices.map((c) => c.message.content), r.choices.map((c) => c.message.content));
});

await test('stop strings end the text before them', async () => {
  const whole = await client.completions.create({ model, prompt: 'The', max_tokens: 16, temperature: 0 });
  const text = whole.choices[0].text;
  if (text.length < 4) return;  // nothing to cut
  const stop = text.slice(2, 4);
  const cut = await client.completions.create({ model, prompt: 'The', max_tokens: 16, temperature: 0, stop: [stop] });
  assert.equal(cut.choices[0].text, text.slice(0, text.indexOf(stop)));
  assert.equal(cut.choices[0].finish_reason, 'stop');
});

await test('tools are accepted (calls parsed when the model emits them)', async () => {
  const r = await client.chat.completions.create({
    model, max_tokens: 8, temperature: 0, messages: [{ role: 'user', content: 'Weather in Paris?' }],
    tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather for a city',
                                            parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
  });
  assert.ok(['stop', 'length', 'tool_calls'].includes(r.choices[0].finish_reason));
});

await test('errors: unknown model 404, bad max_tokens 400, n out of range 400', async () => {
  await assert.rejects(client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
                       (e) => e.status === 404);
  await assert.rejects(client.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }], max_tokens: -1 }),
                       (e) => e.status === 400 && e.param === 'max_tokens');
  await assert.rejects(client.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }], max_tokens: 1e9 }),
                       (e) => e.status === 400 && e.code === 'context_length_exceeded');
  await assert.rejects(client.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }], n: 1000 }),
                       (e) => e.status === 400 && e.param === 'n');
  await assert.rejects(client.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }], logprobs: true, top_logprobs: 50 }),
                       (e) => e.status === 400 && e.param === 'top_logprobs');
});

done('openai');
