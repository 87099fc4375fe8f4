/** The key pair custom resource's handler (cdk/cdn-key-pair/handler.cjs), with a fake Secrets Manager. */

import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, createSign, createVerify } from 'node:crypto';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { CDN_KEY_PAIR_HANDLER } from '../../cdk/cdn-key-pair.ts';

type Event = Record<string, unknown> & {
  RequestType: 'Create' | 'Update' | 'Delete';
  ResourceProperties: { SecretId: string; Rotation: string };
};
interface Response {
  Status: string;
  PhysicalResourceId: string;
  Reason?: string;
  Data?: { PublicKeyPem: string };
}
type Handler = (event: Event) => Promise<void>;
const { makeHandler } = createRequire(import.meta.url)('../../cdk/cdn-key-pair/handler.cjs') as {
  makeHandler: (deps: {
    client: { send(cmd: { input: Record<string, string> }): Promise<unknown> };
    respond: (e: Event, r: Response) => Promise<void>;
  }) => Handler;
};

/** Secrets Manager as a map; the commands are the SDK's, told apart by their input. */
function fakeSecrets(initial = 'generated-placeholder') {
  const values = new Map([['arn:secret', initial]]);
  let fail = false;
  return {
    values,
    failNext() {
      fail = true;
    },
    async send(cmd: { input: Record<string, string> }) {
      if (fail) {
        fail = false;
        throw new Error('AccessDenied');
      }
      if ('SecretString' in cmd.input) {
        values.set(cmd.input.SecretId, cmd.input.SecretString);
        return {};
      }
      return { SecretString: values.get(cmd.input.SecretId) };
    },
  };
}

async function run(
  client: ReturnType<typeof fakeSecrets>,
  event: Partial<Event> & Pick<Event, 'RequestType'>,
  rotation = '1',
): Promise<Response> {
  const responses: Response[] = [];
  const handler = makeHandler({
    client,
    respond: async (_e, r) => {
      responses.push(r);
    },
  });
  await handler({
    ResourceProperties: { SecretId: 'arn:secret', Rotation: rotation },
    StackId: 's',
    RequestId: 'r',
    LogicalResourceId: 'l',
    ...event,
  } as Event);
  assert.equal(responses.length, 1, 'exactly one response to CloudFormation');
  return responses[0];
}

test('Create stores an RSA private key and returns its public key', async () => {
  const secrets = fakeSecrets();
  const r = await run(secrets, { RequestType: 'Create' });
  assert.equal(r.Status, 'SUCCESS');
  assert.equal(r.PhysicalResourceId, 'cdn-key-pair-1');
  const pem = r.Data!.PublicKeyPem;
  assert.match(pem, /^-----BEGIN PUBLIC KEY-----\n/);
  const privatePem = secrets.values.get('arn:secret')!;
  assert.match(privatePem, /^-----BEGIN RSA PRIVATE KEY-----\n/);
  assert.equal(createPrivateKey(privatePem).asymmetricKeyDetails?.modulusLength, 2048);
  // What CloudFront does with a signed URL: the signature by the secret's key verifies with the returned key.
  const signature = createSign('RSA-SHA1').update('policy').sign(privatePem);
  assert.ok(createVerify('RSA-SHA1').update('policy').verify(createPublicKey(pem), signature));
  assert.ok(!JSON.stringify(r).includes('PRIVATE'), 'the private key never leaves through the response');
});

test('Update keeps the key pair; a new Rotation makes a new one', async () => {
  const secrets = fakeSecrets();
  const created = await run(secrets, { RequestType: 'Create' });
  const same = await run(secrets, {
    RequestType: 'Update',
    PhysicalResourceId: 'cdn-key-pair-1',
    OldResourceProperties: { SecretId: 'arn:secret', Rotation: '1' },
  });
  assert.equal(same.Data!.PublicKeyPem, created.Data!.PublicKeyPem);
  assert.equal(same.PhysicalResourceId, 'cdn-key-pair-1');
  const rotated = await run(
    secrets,
    { RequestType: 'Update', PhysicalResourceId: 'cdn-key-pair-1', OldResourceProperties: { SecretId: 'arn:secret', Rotation: '1' } },
    '2',
  );
  assert.notEqual(rotated.Data!.PublicKeyPem, created.Data!.PublicKeyPem);
  assert.equal(rotated.PhysicalResourceId, 'cdn-key-pair-2', 'a new physical id: CloudFormation deletes the old one');
});

test('Delete succeeds without touching the secret; errors are reported as FAILED', async (t) => {
  t.mock.method(console, 'error', () => {});
  const secrets = fakeSecrets('untouched');
  const deleted = await run(secrets, { RequestType: 'Delete', PhysicalResourceId: 'cdn-key-pair-1' });
  assert.deepEqual(
    [deleted.Status, deleted.PhysicalResourceId, secrets.values.get('arn:secret')],
    ['SUCCESS', 'cdn-key-pair-1', 'untouched'],
  );
  secrets.failNext();
  const failed = await run(secrets, { RequestType: 'Create' });
  assert.equal(failed.Status, 'FAILED');
  assert.match(failed.Reason!, /AccessDenied/);
});

test('the handler fits in an inline (ZipFile) function', () => {
  assert.ok(CDN_KEY_PAIR_HANDLER.length < 4096, `${CDN_KEY_PAIR_HANDLER.length} characters`);
  assert.match(CDN_KEY_PAIR_HANDLER, /exports\.handler = /);
});
