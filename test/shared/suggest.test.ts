/** "Did you mean": other tools' names, other spellings, typos; no guess when nothing is close. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { closestName, editDistance, unknownNameMessage } from '../../shared/suggest.ts';

const KNOWN = ['mode', 'bottleneck', 'epochs', 'lr', 'batchSize', 'maxSeqLen', 'seeds', 'weightDecay', 'dropout', 'textColumn'];

test('names from Hugging Face and PyTorch scripts map to ours', () => {
  assert.equal(closestName('learning_rate', KNOWN), 'lr');
  assert.equal(closestName('num_train_epochs', KNOWN), 'epochs');
  assert.equal(closestName('per_device_train_batch_size', KNOWN), 'batchSize');
  assert.equal(closestName('max_seq_length', KNOWN), 'maxSeqLen');
  assert.equal(closestName('seed', KNOWN), 'seeds');
  // An alias whose target is not a known name here is no answer.
  assert.equal(closestName('learning_rate', ['epochs']), undefined);
});

test('other case and separator styles, then typos within a third of the length', () => {
  assert.equal(closestName('weight_decay', KNOWN), 'weightDecay');
  assert.equal(closestName('TEXT-COLUMN', KNOWN), 'textColumn');
  assert.equal(closestName('bottlenek', KNOWN), 'bottleneck');
  assert.equal(closestName('dorpout', KNOWN), 'dropout'); // a swap is one edit
  assert.equal(closestName('zzz', KNOWN), undefined);
  assert.equal(closestName('optimizer', KNOWN), undefined);
});

test('edit distance counts a swap of neighbours as one', () => {
  assert.equal(editDistance('abc', 'abc'), 0);
  assert.equal(editDistance('abc', 'acb'), 1);
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('', 'abc'), 3);
});

test('the message names each key, its likely meaning, and the list', () => {
  assert.equal(
    unknownNameMessage('hyperparameter', ['learning_rate'], ['lr', 'epochs']),
    'unknown hyperparameter "learning_rate" (did you mean "lr"?); the hyperparameters are: lr, epochs',
  );
  assert.equal(
    unknownNameMessage('field', ['epoch', 'zzz'], ['lr', 'epochs']),
    'unknown fields "epoch" (did you mean "epochs"?), "zzz"; the fields are: lr, epochs',
  );
});
