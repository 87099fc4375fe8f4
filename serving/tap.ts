/**
 * An engine provider that reports every run's logits before the runtime turns them into probabilities:
 * for comparing runtimes (Node against the browser) on the logits themselves, and for debugging.
 */
import type { EngineProvider } from './engine.ts';

export type LogitsListener = (logits: { data: Float32Array; dims: number[] }) => void;

export function tapEngines(provider: EngineProvider, onRun: LogitsListener): EngineProvider {
  return {
    async engine(base, variant) {
      const e = await provider.engine(base, variant);
      return {
        async run(rows, adapters) {
          const out = await e.run(rows, adapters);
          onRun({ data: out.data.slice(), dims: [...out.dims] });
          return out;
        },
      };
    },
    close: () => provider.close(),
  };
}
