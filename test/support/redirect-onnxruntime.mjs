// `node --import ./test/support/redirect-onnxruntime.mjs`: every `import 'onnxruntime-node'` (and import.meta.resolve
// of it) loads the package copy at $TEST_ONNXRUNTIME_NODE instead of node_modules' (see onnxruntime-copy.ts).
import { register } from 'node:module';

register('./redirect-onnxruntime-hooks.mjs', import.meta.url);
