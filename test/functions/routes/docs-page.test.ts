/** The /docs page from an OpenAPI document: routes, parameters, body fields with bounds; text escaped. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { docsPage } from '../../../functions/routes/docs-page.ts';

const doc = {
  info: { title: 'T', description: 'about <T>' },
  paths: {
    '/things/{id}': {
      post: {
        summary: 'Make a <thing>',
        parameters: [{ name: 'id', in: 'path', required: true, description: 'which', schema: { type: 'string', maxLength: 8 } }],
        requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Thing' } } } },
        responses: { 201: {}, 400: {} },
      },
    },
  },
  components: {
    schemas: {
      Thing: {
        type: 'object',
        required: ['size'],
        properties: {
          size: { type: 'number', minimum: 0, exclusiveMinimum: true, maximum: 1, description: 'how big' },
          kind: { enum: ['a', 'b'] },
          part: { $ref: '#/components/schemas/Part' },
        },
      },
      Part: { type: 'object', description: 'a part', properties: { note: { type: 'string', description: '<script>alert(1)</script>' } } },
      Unused: { type: 'object', properties: { secret: { type: 'string' } } },
    },
  },
};

test('each route with its parameters and body; the body schemas and the ones they name, field by field', () => {
  const html = docsPage(doc);
  assert.match(html, /<h2><code>POST \/things\/\{id\}<\/code><\/h2><p>Make a &#60;thing&#62;<\/p>/);
  assert.match(html, /<td><code>id<\/code> \(path, required\)<\/td><td>string, 0-8 characters<\/td><td>which<\/td>/);
  assert.match(html, /JSON body: <a href="#schema-Thing">Thing<\/a>/);
  assert.match(html, /<td><code>size<\/code> \(required\)<\/td><td>number, 0 &#60; x ≤ 1<\/td><td>how big<\/td>/);
  assert.match(html, /<td><code>kind<\/code><\/td><td><code>a<\/code> \| <code>b<\/code><\/td>/);
  assert.match(html, /<section id="schema-Part"><h2>Part<\/h2><p>a part<\/p>/);
  assert.match(html, /Responses: 201, 400/);
  // Only what a request body uses is listed.
  assert.doesNotMatch(html, /schema-Unused/);
  // Descriptions are text, never markup.
  assert.doesNotMatch(html, /<script>/);
  assert.match(html, /&#60;script&#62;alert\(1\)&#60;\/script&#62;/);
});
