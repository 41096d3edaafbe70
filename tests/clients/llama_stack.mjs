// `llama-stack-client` (current, 0.7.x) against our server: models, health, version, providers,
// routes, OpenAI-style chat and completions under /v1.
import LlamaStackClient from 'llama-stack-client';
import { assert, baseURL, decode, done, llamaRun, promptIds, test } from './common.mjs';

const client = new LlamaStackClient({ baseURL, apiKey: process.env.LLAMA_TEST_API_KEY, maxRetries: 0 });
let model;

await test('models.list and retrieve', async () => {
  const models = await client.models.list();
  const list = Array.isArray(models) ? models : models.data;
  assert.ok(list.length >= 1);
  model = list[0].id;
  const one = await client.models.retrieve(model);
  assert.equal(one.identifier ?? one.id, model);
});

await test('health, version, providers, routes', async () => {
  const health = await client.inspect.health();
  assert.equal(health.status, 'OK');
  const version = await client.inspect.version();
  assert.ok(version.version.length > 0);
  const providers = await client.providers.list();
  assert.ok((Array.isArray(providers) ? providers : providers.data).length >= 1);
  const routes = await client.routes.list();
  const list = Array.isArray(routes) ? routes : routes.data;
  assert.ok(list.some((r) => r.route === '/v1/chat/completions'));
});

await test('chat.completions (non-stream and stream agree)', async () => {
  const messages = [{ role: 'user', content: 'Hello' }];
  const whole = await client.chat.completions.create({ model, messages, max_tokens: 8, temperature: 0 });
  let text = '';
  for await (const chunk of await client.chat.completions.create({ model, messages, max_tokens: 8, temperature: 0, stream: true })) {
    text += chunk.choices[0]?.delta?.content ?? '';
  }
  assert.equal(text, whole.choices[0].message.content);
});

await test('completions greedy equals llama run', async () => {
  const r = await client.completions.create({ model, prompt: promptIds, max_tokens: 8, temperature: 0 });
  assert.equal(r.choices[0].text, decode(llamaRun(promptIds, 8)));
});

done('llama-stack-client (current)');
