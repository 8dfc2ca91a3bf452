// ringgate through the official `openai` npm package, against fake-gemini.
import { describe, test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startStack, partsOf, PASSWORD, GEMINI_KEY } from './harness.mjs';

const MODEL = 'gemini-2.5-flash';
// Quotes, a backslash, non-ASCII (2-, 3- and 4-byte UTF-8) and a newline: all must survive.
const TEXT = 'Hello from "fake" Gemini \\ Grüße — 你好 🚀\nsecond line.';
// A 1x1 transparent PNG.
const PNG_BASE64 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

function client(stack, options = {}) {
  return new OpenAI({ baseURL: stack.baseURL, apiKey: PASSWORD, maxRetries: 0, timeout: 20_000, ...options });
}

// Runs `fn`; on failure adds both servers' logs to the error.
async function withLogs(stack, fn) {
  try {
    return await fn();
  } catch (err) {
    err.message += `\n${stack.logs()}`;
    throw err;
  }
}

const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The current weather in a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
    },
  },
};

for (const fakeStreaming of [false, true]) {
  describe(`openai SDK, FAKE_STREAMING=${fakeStreaming}`, () => {
    let stack;
    let openai;
    before(async () => {
      stack = await startStack({
        fakeStreaming,
        // RANDOM_STRING off: the tests read the last upstream part (the disguise would be last
        // for a one-message conversation, as in HAJIMI).
        env: {
          FAKE_STREAMING_INTERVAL: '0.5',
          NONSTREAM_KEEPALIVE_INTERVAL: '500ms',
          RANDOM_STRING: 'false',
        },
      });
      openai = client(stack);
    });
    after(async () => {
      await stack?.stop();
    });
    beforeEach(async () => {
      await stack.resetFake();
    });

    if (!fakeStreaming) {
      test('non-stream chat completion', () =>
        withLogs(stack, async () => {
          await stack.setScript({ text: TEXT });
          const completion = await openai.chat.completions.create({
            model: MODEL,
            messages: [
              { role: 'system', content: 'Be brief.' },
              { role: 'user', content: 'Say hello.' },
            ],
          });
          assert.equal(completion.object, 'chat.completion');
          assert.equal(completion.model, MODEL);
          assert.equal(completion.choices.length, 1);
          const choice = completion.choices[0];
          assert.equal(choice.message.role, 'assistant');
          assert.equal(typeof choice.message.content, 'string');
          assert.equal(choice.message.content, TEXT);
          assert.equal(choice.finish_reason, 'stop');
          assert.ok(Number.isInteger(completion.usage.prompt_tokens) && completion.usage.prompt_tokens > 0);
          assert.ok(Number.isInteger(completion.usage.completion_tokens) && completion.usage.completion_tokens > 0);
          assert.equal(completion.usage.total_tokens,
            completion.usage.prompt_tokens + completion.usage.completion_tokens);

          const [req] = await stack.generateRequests();
          assert.equal(req.key, GEMINI_KEY, 'ringgate calls upstream with its Gemini key');
          assert.match(req.path, new RegExp(`/models/${MODEL}:generateContent`));
          assert.ok(req.json.systemInstruction, 'the system message becomes systemInstruction');
          assert.equal(partsOf(req.json).at(-1).text, 'Say hello.');
        }));
    }

    if (fakeStreaming) {
      test('non-stream answer after keep-alive newlines', () =>
        withLogs(stack, async () => {
          // Slower than NONSTREAM_KEEPALIVE_INTERVAL: ringgate answers 200 at once and sends
          // newlines before the JSON.
          await stack.setScript({ text: TEXT, delay_first_ms: 1200 });
          const completion = await openai.chat.completions.create({
            model: MODEL,
            messages: [{ role: 'user', content: 'Say hello.' }],
          });
          assert.equal(completion.choices[0].message.content, TEXT);
          assert.equal(completion.choices[0].finish_reason, 'stop');
          assert.ok(completion.usage.total_tokens > 0);
        }));
    }

    test('streamed chat completion with usage', () =>
      withLogs(stack, async () => {
        // With fake streaming, the delay makes ringgate send keep-alive chunks first.
        await stack.setScript({ text: TEXT, events: 4, ...(fakeStreaming ? { delay_first_ms: 1200 } : {}) });
        const stream = await openai.chat.completions.create({
          model: MODEL,
          messages: [{ role: 'user', content: 'Say hello.' }],
          stream: true,
          stream_options: { include_usage: true },
        });
        const chunks = [];
        for await (const chunk of stream) chunks.push(chunk);
        assert.ok(chunks.length >= 2, `got ${chunks.length} chunks`);
        for (const chunk of chunks) {
          assert.equal(chunk.object, 'chat.completion.chunk');
          assert.equal(chunk.model, MODEL);
          assert.equal(chunk.id, chunks[0].id, 'one id for the whole stream');
        }
        const content = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
        assert.equal(content, TEXT);
        const finishes = chunks.map((c) => c.choices[0]?.finish_reason).filter((f) => f);
        assert.deepEqual(finishes, ['stop']);
        const last = chunks.at(-1);
        assert.deepEqual(last.choices, [], 'the usage chunk has no choices');
        assert.ok(last.usage, 'the last chunk carries usage');
        assert.ok(last.usage.prompt_tokens > 0 && last.usage.completion_tokens > 0);
        for (const chunk of chunks.slice(0, -1)) assert.ok(!chunk.usage, 'only the last chunk has usage');

        const reqs = await stack.generateRequests();
        assert.equal(reqs.length, 1);
        assert.equal(reqs[0].api_method, fakeStreaming ? 'generateContent' : 'streamGenerateContent');
      }));

    test('stream without include_usage has no usage chunk', () =>
      withLogs(stack, async () => {
        await stack.setScript({ text: TEXT, events: 3 });
        const stream = await openai.chat.completions.create({
          model: MODEL,
          messages: [{ role: 'user', content: 'Say hello.' }],
          stream: true,
        });
        let content = '';
        let finish = null;
        for await (const chunk of stream) {
          assert.ok(!chunk.usage, `unexpected usage in ${JSON.stringify(chunk)}`);
          content += chunk.choices[0]?.delta?.content ?? '';
          finish = chunk.choices[0]?.finish_reason ?? finish;
        }
        assert.equal(content, TEXT);
        assert.equal(finish, 'stop');
      }));

    test('streamed tool call through the stream helper', () =>
      withLogs(stack, async () => {
        await stack.setScript({ function_call: 'get_weather', function_args: '{"city":"Paris"}', text_len: 0 });
        const runner = openai.chat.completions.stream({
          model: MODEL,
          messages: [{ role: 'user', content: 'Weather in Paris?' }],
          tools: [weatherTool],
        });
        const final = await runner.finalChatCompletion();
        const choice = final.choices[0];
        assert.equal(choice.finish_reason, 'tool_calls');
        assert.equal(choice.message.tool_calls.length, 1);
        const call = choice.message.tool_calls[0];
        assert.equal(call.type, 'function');
        assert.equal(call.function.name, 'get_weather');
        assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });
        assert.ok(call.id, 'the tool call has an id');
      }));
  });
}

describe('openai SDK features, real streaming', () => {
  let stack;
  let openai;
  before(async () => {
    // MAX_EMPTY_RESPONSES=0: a blocked prompt reaches the SDK as content_filter instead of being
    // retried on other keys (one key here).
    stack = await startStack({ fakeStreaming: false, env: { MAX_EMPTY_RESPONSES: '0' } });
    openai = client(stack);
  });
  after(async () => {
    await stack?.stop();
  });
  beforeEach(async () => {
    await stack.resetFake();
  });

  for (const model of [MODEL, 'gemini-3-flash-preview']) test(`tool call round trip (${model})`, () =>
    withLogs(stack, async () => {
      await stack.setScript({ function_call: 'get_weather', function_args: '{"city":"Paris"}', text_len: 0 });
      const messages = [{ role: 'user', content: 'What is the weather in Paris?' }];
      const first = await openai.chat.completions.create({ model, messages, tools: [weatherTool] });
      const choice = first.choices[0];
      assert.equal(choice.finish_reason, 'tool_calls');
      assert.equal(choice.message.tool_calls?.length, 1, JSON.stringify(choice.message));
      const call = choice.message.tool_calls[0];
      assert.equal(call.type, 'function');
      assert.equal(call.function.name, 'get_weather');
      assert.equal(typeof call.function.arguments, 'string');
      assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });
      assert.ok(call.id);

      await stack.setScript({ text: 'It is sunny in Paris.' });
      messages.push(choice.message);
      messages.push({ role: 'tool', tool_call_id: call.id, content: JSON.stringify({ sky: 'sunny', celsius: 21 }) });
      const second = await openai.chat.completions.create({ model, messages, tools: [weatherTool] });
      assert.equal(second.choices[0].message.content, 'It is sunny in Paris.');
      assert.equal(second.choices[0].finish_reason, 'stop');

      const reqs = await stack.generateRequests();
      assert.equal(reqs.length, 2);
      const decl = reqs[0].json.tools?.flatMap((t) => t.functionDeclarations ?? []) ?? [];
      assert.deepEqual(decl.map((d) => d.name), ['get_weather'], 'the tool is declared upstream');
      const parts = partsOf(reqs[1].json);
      const fc = parts.find((p) => p.functionCall);
      const fr = parts.find((p) => p.functionResponse);
      assert.ok(fc, `no functionCall part in ${reqs[1].body}`);
      assert.ok(fr, `no functionResponse part in ${reqs[1].body}`);
      assert.equal(fc.functionCall.name, 'get_weather');
      assert.deepEqual(fc.functionCall.args, { city: 'Paris' });
      assert.equal(fr.functionResponse.name, 'get_weather');
      assert.equal(fc.role, 'model');
      // The fake signs its function calls; the signature rides on the tool call
      // (extra_content.google.thought_signature) and must go back upstream unchanged.
      const signature = call.extra_content?.google?.thought_signature;
      assert.ok(signature, `no thought_signature on ${JSON.stringify(call)}`);
      assert.equal(fc.thoughtSignature, signature);
    }));

  test('thoughts: reasoning_content and reasoning_tokens', () =>
    withLogs(stack, async () => {
      await stack.setScript({ text: 'Done.', thoughts: 1 });
      const completion = await openai.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'Think, then answer.' }],
      });
      const message = completion.choices[0].message;
      assert.equal(message.content, 'Done.', 'thoughts stay out of content');
      assert.ok(message.reasoning_content?.length > 0, JSON.stringify(message));
      const usage = completion.usage;
      assert.equal(usage.completion_tokens_details?.reasoning_tokens, 48);
      // OpenAI counts reasoning inside completion_tokens.
      assert.ok(usage.completion_tokens >= 48);
      assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
    }));

  test('safety block -> finish_reason content_filter', () =>
    withLogs(stack, async () => {
      for (const safety of ['prompt', 'candidate']) {
        await stack.setScript({ safety });
        const completion = await openai.chat.completions.create({
          model: MODEL,
          messages: [{ role: 'user', content: 'hi' }],
        });
        assert.equal(completion.choices[0].finish_reason, 'content_filter', safety);
      }
    }));

  test('finish MAX_TOKENS -> finish_reason length (stream too)', () =>
    withLogs(stack, async () => {
      await stack.setScript({ text: TEXT, finish: 'MAX_TOKENS' });
      const completion = await openai.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'hi' }],
      });
      assert.equal(completion.choices[0].finish_reason, 'length');
      const stream = await openai.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      });
      let finish = null;
      for await (const chunk of stream) finish = chunk.choices[0]?.finish_reason ?? finish;
      assert.equal(finish, 'length');
    }));

  test('upstream error mid-stream -> the SDK throws with the upstream message', () =>
    withLogs(stack, async () => {
      await stack.setScript({ text: TEXT, events: 3, error_after: 1, error_status: '503' });
      const stream = await openai.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      });
      let content = '';
      await assert.rejects(
        (async () => {
          for await (const chunk of stream) content += chunk.choices[0]?.delta?.content ?? '';
        })(),
        (err) => {
          assert.ok(err instanceof OpenAI.APIError, `got ${err?.constructor?.name}: ${err}`);
          assert.match(err.message, /overloaded/i);
          return true;
        });
      assert.ok(content.length > 0 && TEXT.startsWith(content), `content before the error: ${content}`);
    }));

  test('image input as a data: URL', () =>
    withLogs(stack, async () => {
      await stack.setScript({ text: 'A tiny image.' });
      const completion = await openai.chat.completions.create({
        model: MODEL,
        messages: [{
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_BASE64}` } },
          ],
        }],
      });
      assert.equal(completion.choices[0].message.content, 'A tiny image.');
      const [req] = await stack.generateRequests();
      const parts = partsOf(req.json);
      const image = parts.find((p) => p.inlineData);
      assert.ok(image, `no inlineData part in ${req.body}`);
      assert.equal(image.inlineData.mimeType, 'image/png');
      assert.equal(image.inlineData.data, PNG_BASE64);
      assert.ok(parts.some((p) => p.text === 'What is this?'));
    }));

  test('JSON mode', () =>
    withLogs(stack, async () => {
      await stack.setScript({ text: '{"answer":42}' });
      const completion = await openai.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'Answer in JSON.' }],
        response_format: { type: 'json_object' },
      });
      assert.deepEqual(JSON.parse(completion.choices[0].message.content), { answer: 42 });
      const [req] = await stack.generateRequests();
      assert.equal(req.json.generationConfig?.responseMimeType, 'application/json', req.body);
    }));

  test('sampling parameters reach generationConfig', () =>
    withLogs(stack, async () => {
      await stack.setScript({ text: 'ok' });
      await openai.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'hi' }],
        temperature: 0.5,
        top_p: 0.9,
        max_tokens: 100,
        stop: ['END'],
      });
      const [req] = await stack.generateRequests();
      const gc = req.json.generationConfig ?? {};
      assert.equal(gc.temperature, 0.5, req.body);
      assert.equal(gc.topP, 0.9, req.body);
      assert.equal(gc.maxOutputTokens, 100, req.body);
      assert.deepEqual(gc.stopSequences, ['END'], req.body);
    }));

  test('models.list() returns the chat models', () =>
    withLogs(stack, async () => {
      const ids = [];
      for await (const model of openai.models.list()) {
        assert.equal(model.object, 'model');
        assert.equal(typeof model.created, 'number');
        assert.equal(typeof model.owned_by, 'string');
        ids.push(model.id);
      }
      for (const id of ['gemini-2.5-flash', 'gemini-2.5-pro', 'gemini-2.0-flash']) {
        assert.ok(ids.includes(id), `${id} missing from ${ids.join(', ')}`);
      }
      assert.ok(!ids.some((id) => /embedding/.test(id)), `embedding models listed: ${ids.join(', ')}`);
      assert.equal(new Set(ids).size, ids.length, 'no duplicates');
    }));
});

describe('openai SDK errors', () => {
  let stack;
  before(async () => {
    stack = await startStack({ fakeStreaming: false });
  });
  after(async () => {
    await stack?.stop();
  });
  beforeEach(async () => {
    await stack.resetFake();
  });

  const chat = (openai, extra = {}) =>
    openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], ...extra });

  test('wrong password -> AuthenticationError 401', () =>
    withLogs(stack, async () => {
      const openai = client(stack, { apiKey: 'wrong-password' });
      await assert.rejects(chat(openai), (err) => {
        assert.ok(err instanceof OpenAI.AuthenticationError, `got ${err?.constructor?.name}: ${err}`);
        assert.equal(err.status, 401);
        assert.ok(err.message.length > 0);
        return true;
      });
      await assert.rejects(openai.models.list(), OpenAI.AuthenticationError);
      assert.equal((await stack.generateRequests()).length, 0, 'nothing reached the upstream');
    }));

  test('http image URL -> BadRequestError 400', () =>
    withLogs(stack, async () => {
      const openai = client(stack);
      await assert.rejects(
        chat(openai, {
          messages: [{
            role: 'user',
            content: [
              { type: 'text', text: 'What is this?' },
              { type: 'image_url', image_url: { url: 'http://example.com/cat.png' } },
            ],
          }],
        }),
        (err) => {
          assert.ok(err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}: ${err}`);
          assert.equal(err.status, 400);
          assert.ok(err.message.length > 0);
          return true;
        });
      assert.equal((await stack.generateRequests()).length, 0, 'nothing reached the upstream');
    }));

  test('unknown model -> NotFoundError 404', () =>
    withLogs(stack, async () => {
      const openai = client(stack);
      await assert.rejects(chat(openai, { model: 'no-such-model' }), (err) => {
        assert.ok(err instanceof OpenAI.NotFoundError, `got ${err?.constructor?.name}: ${err}`);
        assert.equal(err.status, 404);
        return true;
      });
    }));

  test('upstream 503 -> InternalServerError 503', () =>
    withLogs(stack, async () => {
      await stack.setScript({ status: '503' });
      await assert.rejects(chat(client(stack)), (err) => {
        assert.ok(err instanceof OpenAI.InternalServerError, `got ${err?.constructor?.name}: ${err}`);
        assert.equal(err.status, 503);
        assert.match(err.message, /overloaded/i);
        return true;
      });
    }));

  // Last: the key's quota state may make ringgate rest the key.
  test('exhausted key quota -> RateLimitError 429 (non-stream and stream)', () =>
    withLogs(stack, async () => {
      await stack.setKeys({ [GEMINI_KEY]: 'minute_quota' });
      const openai = client(stack);
      await assert.rejects(chat(openai), (err) => {
        assert.ok(err instanceof OpenAI.RateLimitError, `got ${err?.constructor?.name}: ${err}`);
        assert.equal(err.status, 429);
        assert.ok(err.message.length > 0, 'the error has a message');
        assert.ok(!err.message.includes(GEMINI_KEY), 'the Gemini key is not disclosed');
        return true;
      });
      await assert.rejects(
        (async () => {
          const stream = await chat(openai, { stream: true });
          for await (const chunk of stream) void chunk;
        })(),
        (err) => {
          assert.ok(err instanceof OpenAI.RateLimitError, `got ${err?.constructor?.name}: ${err}`);
          assert.equal(err.status, 429);
          return true;
        });
    }));
});
