// ringgate through the Vercel AI SDK (`ai` + `@ai-sdk/openai`, chat completions API), against
// fake-gemini.
import { describe, test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { generateText, streamText, tool, jsonSchema, stepCountIs, Output, APICallError } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { startStack, partsOf, PASSWORD, GEMINI_KEY } from './harness.mjs';

const MODEL = 'gemini-2.5-flash';
const TEXT = 'Hello from "fake" Gemini \\ Grüße — 你好 🚀\nsecond line.';

async function withLogs(stack, fn) {
  try {
    return await fn();
  } catch (err) {
    err.message += `\n${stack.logs()}`;
    throw err;
  }
}

for (const fakeStreaming of [false, true]) {
  describe(`AI SDK, FAKE_STREAMING=${fakeStreaming}`, () => {
    let stack;
    let model;
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
      // .chat(): chat completions, not the Responses API.
      model = createOpenAI({ baseURL: stack.baseURL, apiKey: PASSWORD }).chat(MODEL);
    });
    after(async () => {
      await stack?.stop();
    });
    beforeEach(async () => {
      await stack.resetFake();
    });

    if (!fakeStreaming) {
      test('generateText', () =>
        withLogs(stack, async () => {
          await stack.setScript({ text: TEXT });
          const result = await generateText({ model, system: 'Be brief.', prompt: 'Say hello.', maxRetries: 0 });
          assert.equal(result.text, TEXT);
          assert.equal(result.finishReason, 'stop');
          assert.ok(result.usage.inputTokens > 0, JSON.stringify(result.usage));
          assert.ok(result.usage.outputTokens > 0, JSON.stringify(result.usage));
          assert.equal(result.response.modelId, MODEL);
          const [req] = await stack.generateRequests();
          assert.equal(partsOf(req.json).at(-1).text, 'Say hello.');
          assert.ok(req.json.systemInstruction);
        }));

      test('structured output (response_format json_schema)', () =>
        withLogs(stack, async () => {
          await stack.setScript({ text: '{"city":"Paris","celsius":21}' });
          const result = await generateText({
            model,
            prompt: 'The weather in Paris as JSON.',
            maxRetries: 0,
            output: Output.object({
              schema: jsonSchema({
                type: 'object',
                properties: { city: { type: 'string' }, celsius: { type: 'number' } },
                required: ['city', 'celsius'],
                additionalProperties: false,
              }),
            }),
          });
          assert.deepEqual(result.output, { city: 'Paris', celsius: 21 });
          const [req] = await stack.generateRequests();
          const gc = req.json.generationConfig ?? {};
          assert.equal(gc.responseMimeType, 'application/json', req.body);
          const schema = gc.responseSchema ?? gc.responseJsonSchema;
          assert.ok(schema?.properties?.city, `no response schema in ${req.body}`);
        }));
    }

    if (fakeStreaming) {
      test('generateText after keep-alive newlines', () =>
        withLogs(stack, async () => {
          await stack.setScript({ text: TEXT, delay_first_ms: 1200 });
          const result = await generateText({ model, prompt: 'Say hello.', maxRetries: 0 });
          assert.equal(result.text, TEXT);
          assert.equal(result.finishReason, 'stop');
        }));
    }

    test('streamText', () =>
      withLogs(stack, async () => {
        // With fake streaming, the delay makes ringgate send keep-alive chunks first.
        await stack.setScript({ text: TEXT, events: 4, ...(fakeStreaming ? { delay_first_ms: 1200 } : {}) });
        const errors = [];
        const result = streamText({ model, prompt: 'Say hello.', maxRetries: 0, onError: ({ error }) => errors.push(error) });
        const pieces = [];
        for await (const piece of result.textStream) pieces.push(piece);
        assert.deepEqual(errors, []);
        assert.equal(pieces.join(''), TEXT);
        if (!fakeStreaming) assert.ok(pieces.length >= 2, `${pieces.length} text pieces`);
        assert.equal(await result.finishReason, 'stop');
        const usage = await result.usage;
        assert.ok(usage.inputTokens > 0 && usage.outputTokens > 0, JSON.stringify(usage));
      }));

    test('tool call with generateText (jsonSchema tool, two steps)', () =>
      withLogs(stack, async () => {
        await stack.setScript({ function_call: 'get_weather', function_args: '{"city":"Paris"}', text_len: 0 });
        const calls = [];
        const result = await generateText({
          model,
          prompt: 'What is the weather in Paris?',
          maxRetries: 0,
          stopWhen: stepCountIs(3),
          tools: {
            get_weather: tool({
              description: 'The current weather in a city',
              inputSchema: jsonSchema({
                type: 'object',
                properties: { city: { type: 'string' } },
                required: ['city'],
                additionalProperties: false,
              }),
              execute: async (input) => {
                calls.push(input);
                // The model's next answer, after it sees the tool result.
                await stack.setScript({ text: 'It is sunny in Paris.' });
                return { sky: 'sunny', celsius: 21 };
              },
            }),
          },
        });
        assert.deepEqual(calls, [{ city: 'Paris' }]);
        assert.equal(result.steps.length, 2);
        assert.equal(result.steps[0].finishReason, 'tool-calls');
        assert.equal(result.steps[0].toolCalls[0].toolName, 'get_weather');
        assert.deepEqual(result.steps[0].toolCalls[0].input, { city: 'Paris' });
        assert.equal(result.text, 'It is sunny in Paris.');
        assert.equal(result.finishReason, 'stop');

        const reqs = await stack.generateRequests();
        assert.equal(reqs.length, 2);
        const parts = partsOf(reqs[1].json);
        const fc = parts.find((p) => p.functionCall);
        const fr = parts.find((p) => p.functionResponse);
        assert.equal(fc?.functionCall?.name, 'get_weather', reqs[1].body);
        assert.deepEqual(fc.functionCall.args, { city: 'Paris' });
        assert.equal(fr?.functionResponse?.name, 'get_weather', reqs[1].body);
      }));

    test('tool call with streamText', () =>
      withLogs(stack, async () => {
        await stack.setScript({ function_call: 'get_weather', function_args: '{"city":"Paris"}', text_len: 0 });
        const errors = [];
        const result = streamText({
          model,
          prompt: 'What is the weather in Paris?',
          maxRetries: 0,
          onError: ({ error }) => errors.push(error),
          tools: {
            get_weather: tool({
              description: 'The current weather in a city',
              inputSchema: jsonSchema({
                type: 'object',
                properties: { city: { type: 'string' } },
                required: ['city'],
              }),
            }),
          },
        });
        const toolCalls = await result.toolCalls;
        assert.deepEqual(errors, []);
        assert.equal(toolCalls.length, 1);
        assert.equal(toolCalls[0].toolName, 'get_weather');
        assert.deepEqual(toolCalls[0].input, { city: 'Paris' });
        assert.equal(await result.finishReason, 'tool-calls');
      }));
  });
}

describe('AI SDK errors', () => {
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

  const isApiCallError = (status) => (err) => {
    assert.ok(APICallError.isInstance(err), `got ${err?.constructor?.name}: ${err}`);
    assert.equal(err.statusCode, status);
    assert.ok(err.message.length > 0);
    return true;
  };

  test('wrong password -> APICallError 401', () =>
    withLogs(stack, async () => {
      const model = createOpenAI({ baseURL: stack.baseURL, apiKey: 'wrong-password' }).chat(MODEL);
      await assert.rejects(generateText({ model, prompt: 'hi', maxRetries: 0 }), isApiCallError(401));
    }));

  test('exhausted key quota -> APICallError 429 (generateText and streamText)', () =>
    withLogs(stack, async () => {
      await stack.setKeys({ [GEMINI_KEY]: 'minute_quota' });
      const model = createOpenAI({ baseURL: stack.baseURL, apiKey: PASSWORD }).chat(MODEL);
      await assert.rejects(generateText({ model, prompt: 'hi', maxRetries: 0 }), isApiCallError(429));
      const errors = [];
      const result = streamText({ model, prompt: 'hi', maxRetries: 0, onError: ({ error }) => errors.push(error) });
      let text = '';
      for await (const piece of result.textStream) text += piece;
      assert.equal(text, '');
      assert.equal(errors.length, 1);
      isApiCallError(429)(errors[0]);
    }));
});
