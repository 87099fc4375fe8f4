/**
 * XLM-RoBERTa (`model_type` "xlm-roberta"): RoBERTa's graph, head and names (XLMRobertaForSequenceClassification
 * keeps the `roberta.` prefix); what differs is its SentencePiece tokenizer, not yet wired (pre-tokenized rows).
 */
import type { ModelFamily } from './family.ts';
import { robertaFamily } from './roberta.ts';

export const xlmRobertaFamily: ModelFamily = {
  ...robertaFamily,
  modelType: 'xlm-roberta',
  adapterHub: robertaFamily.adapterHub && { ...robertaFamily.adapterHub, modelClass: 'XLMRobertaAdapterModel' },
};
