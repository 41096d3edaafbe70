// The official `ollama` JS client against our server: list/ps/show/version, generate (raw and
// templated, streaming and not), chat. Greedy output ids (Ollama's `context`) equal `llama run`.
import { Ollama } from 'ollama';
import { assert, baseURL, done, llamaRun, test } from './common.mjs';

const ollama = new Ollama({ host: baseURL });
let model;

await test('list, ps, version, show', async () => {
  const tags = await ollama.list();
  assert.ok(tags.models.length >= 1);
  model = tags.models[0].name;
  assert.ok(model.endsWith(':latest'));
  assert.equal(tags.models[0].details.family, 'llama');
  const ps = await ollama.ps();
  assert.equal(ps.models[0].name, model);
  const version = await ollama.version();
  assert.match(version.version, /^\d+\.\d+\.\d+$/);
  const show = await ollama.show({ model });
  assert.ok(show.capabilities.includes('completion'));
  assert.ok(show.model_info['llama.context_length'] > 0);
});

await test('generate raw: greedy ids equal llama run', async () => {
  const r = await ollama.generate({ model, prompt: 'Hello world', raw: true, stream: false,
                                    options: { temperature: 0, num_predict: 12 } });
  assert.equal(r.done, true);
  assert.ok(['stop', 'length'].includes(r.done_reason));
  const promptIds = r.context.slice(0, r.prompt_eval_count);
  const outputIds = r.context.slice(r.prompt_eval_count);
  assert.equal(outputIds.length, r.eval_count);
  assert.deepEqual(outputIds, llamaRun(promptIds, 12));
  for (const key of ['total_duration', 'load_duration', 'prompt_eval_duration', 'eval_duration']) {
    assert.equal(typeof r[key], 'number', key);
  }
});

await test('generate streaming equals non-streaming', async () => {
  const whole = await ollama.generate({ model, prompt: 'Why is the sky blue?', stream: false, options: { temperature: 0, num_predict: 10 } });
  let text = '', last = null;
  for await (const part of await ollama.generate({ model, prompt: 'Why is the sky blue?', stream: true,
                                                   options: { temperature: 0, num_predict: 10 } })) {
    text += part.response;
    last = part;
  }
  assert.equal(text, whole.response);
  assert.equal(last.done, true);
  assert.equal(last.eval_count, whole.eval_count);
});

await test('chat streaming equals non-streaming', async () => {
  const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello' }];
  const whole = await ollama.chat({ model, messages, stream: false, options: { temperature: 0, num_predict: 10 } });
  assert.equal(whole.message.role, 'assistant');
  let text = '';
  for await (const part of await ollama.chat({ model, messages, stream: true, options: { temperature: 0, num_predict: 10 } })) {
    text += part.message.content;
  }
  assert.equal(text, whole.message.content);
});

await test('unknown model is a 404 error', async () => {
  await assert.rejects(ollama.generate({ model: 'nope:latest', prompt: 'x', stream: false }), (e) => e.status_code === 404);
});

done('ollama');
