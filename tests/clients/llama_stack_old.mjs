// `llama-stack-client` 0.2.x: the native inference routes (/v1/inference/chat-completion and
// /v1/inference/completion with start/progress/complete events) and /v1/openai/v1/*.
import LlamaStackClient from 'llama-stack-client-old';
import { assert, baseURL, decode, done, llamaRun, promptIds, test } from './common.mjs';

const client = new LlamaStackClient({ baseURL, apiKey: process.env.LLAMA_TEST_API_KEY, maxRetries: 0 });
let model;

await test('models.list (native shape)', async () => {
  const models = await client.models.list();
  assert.ok(models.length >= 1);
  model = models[0].identifier;
  assert.equal(models[0].model_type, 'llm');
});

await test('inference.chatCompletion non-stream and stream agree', async () => {
  const messages = [{ role: 'user', content: 'Hello' }];
  const sampling_params = { strategy: { type: 'greedy' }, max_tokens: 8 };
  const whole = await client.inference.chatCompletion({ model_id: model, messages, sampling_params });
  assert.equal(whole.completion_message.role, 'assistant');
  assert.ok(['end_of_turn', 'out_of_tokens', 'end_of_message'].includes(whole.completion_message.stop_reason));
  const events = [];
  let text = '';
  for await (const chunk of await client.inference.chatCompletion({ model_id: model, messages, sampling_params, stream: true })) {
    events.push(chunk.event.event_type);
    if (chunk.event.event_type === 'progress' && chunk.event.delta.type === 'text') text += chunk.event.delta.text;
  }
  assert.equal(events[0], 'start');
  assert.equal(events[events.length - 1], 'complete');
  assert.equal(text, whole.completion_message.content);
});

await test('inference.completion greedy', async () => {
  const r = await client.inference.completion({ model_id: model, content: 'Hello', sampling_params: { strategy: { type: 'greedy' }, max_tokens: 8 } });
  assert.equal(typeof r.content, 'string');
  let text = '';
  for await (const chunk of await client.inference.completion({ model_id: model, content: 'Hello', stream: true,
                                                                sampling_params: { strategy: { type: 'greedy' }, max_tokens: 8 } })) {
    text += chunk.delta;
  }
  assert.equal(text, r.content);
});

await test('openai-compat under /v1/openai/v1 equals llama run', async () => {
  const r = await client.completions.create({ model, prompt: promptIds, max_tokens: 8, temperature: 0 });
  assert.equal(r.choices[0].text, decode(llamaRun(promptIds, 8)));
});

done('llama-stack-client 0.2.x');
