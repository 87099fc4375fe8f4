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
  /** config.json's `model_type`; absent means BERT. Selects the family (trainer/model/families/). */
  model_type?: string;
  /** ELECTRA's embedding width (the embeddings and their LayerNorm), projected to hidden_size when it differs. */
  embedding_size?: number;
  /** RoBERTa's padding_idx: its position ids count from pad_token_id + 1. */
  pad_token_id?: number;
  /** Label names in class order, when the checkpoint already carries a head. */
  id2label?: Record<string, string>;
}
