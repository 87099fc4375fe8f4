// CloudFormation custom resource: an RSA key pair for CloudFront signed URLs. The private key goes
// into a Secrets Manager secret (never into the template or a response); the public key PEM is returned.
// Inlined into the template (ZipFile) by cdk/cdn-key-pair.ts: CommonJS, only the runtime's AWS SDK.
'use strict';
const crypto = require('node:crypto');
const https = require('node:https');

function sm() {
  const { SecretsManagerClient } = require('@aws-sdk/client-secrets-manager');
  return new SecretsManagerClient({});
}

async function readPrivateKey(client, secretId) {
  const { GetSecretValueCommand } = require('@aws-sdk/client-secrets-manager');
  try {
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    return crypto.createPrivateKey(out.SecretString || '');
  } catch {
    return null; // the generated placeholder is not a key
  }
}

function publicPem(privateKey) {
  return crypto.createPublicKey(privateKey).export({ type: 'spki', format: 'pem' });
}

// Create, or Update with a new Rotation: a new pair. Update otherwise: the same public key again.
async function keyPair(event, client) {
  const p = event.ResourceProperties;
  const rotate = event.RequestType === 'Create' || event.OldResourceProperties?.Rotation !== p.Rotation;
  const existing = rotate ? null : await readPrivateKey(client, p.SecretId);
  if (existing) return publicPem(existing);
  const { PutSecretValueCommand } = require('@aws-sdk/client-secrets-manager');
  const pair = crypto.generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  await client.send(new PutSecretValueCommand({ SecretId: p.SecretId, SecretString: pair.privateKey }));
  return pair.publicKey;
}

function respond(event, body) {
  const data = JSON.stringify({ StackId: event.StackId, RequestId: event.RequestId, LogicalResourceId: event.LogicalResourceId, ...body });
  return new Promise((resolve, reject) => {
    const req = https.request(
      event.ResponseURL,
      { method: 'PUT', headers: { 'content-type': '', 'content-length': Buffer.byteLength(data) } },
      (res) => {
        res.resume();
        res.on('end', resolve);
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

// deps are injectable for tests; Lambda calls exports.handler.
exports.makeHandler = (deps) => async (event) => {
  const physicalId = `cdn-key-pair-${event.ResourceProperties.Rotation}`;
  try {
    if (event.RequestType === 'Delete')
      return await deps.respond(event, { Status: 'SUCCESS', PhysicalResourceId: event.PhysicalResourceId });
    const pem = await keyPair(event, deps.client || sm());
    await deps.respond(event, { Status: 'SUCCESS', PhysicalResourceId: physicalId, Data: { PublicKeyPem: pem } });
  } catch (err) {
    console.error(err);
    await deps.respond(event, {
      Status: 'FAILED',
      Reason: String(err?.message),
      PhysicalResourceId: event.PhysicalResourceId || physicalId,
    });
  }
};
exports.handler = exports.makeHandler({ client: null, respond });
