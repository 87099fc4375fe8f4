/** Synthesizes the adapter store stack for tests, without esbuild bundling unless asked. */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { AdapterStoreConfig } from '../../cdk/config.ts';
import { AdapterStoreStack } from '../../cdk/stack.ts';

export interface Synth {
  app: App;
  stack: AdapterStoreStack;
  template: Template;
}

export function synth(config: Partial<AdapterStoreConfig> = {}, opts: { bundle?: boolean; outdir?: string } = {}): Synth {
  const app = new App({
    outdir: opts.outdir,
    // An empty list skips esbuild for every stack: the Lambda code becomes a placeholder asset.
    context: opts.bundle ? {} : { 'aws:cdk:bundling-stacks': [] },
  });
  const stack = new AdapterStoreStack(app, 'AdapterStore', { config });
  return { app, stack, template: Template.fromStack(stack) };
}

/** Resources of one type in the template, as [logicalId, properties] pairs. */
export function resourcesOf(template: Template, type: string): [string, Record<string, unknown>][] {
  return Object.entries(template.findResources(type)).map(([id, r]) => [id, (r as { Properties: Record<string, unknown> }).Properties]);
}
