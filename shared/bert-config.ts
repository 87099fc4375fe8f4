/** The fields of a Hugging Face `BertConfig` (config.json) that the trainer reads. */
export interface BertConfig {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: 'gelu';
  max_position_embeddings: number;
  type_vocab_size: number;
  layer_norm_eps: number;
  initializer_range?: number;
  model_type?: string;
  /** Label names in class order, when the checkpoint already carries a head. */
  id2label?: Record<string, string>;
}
