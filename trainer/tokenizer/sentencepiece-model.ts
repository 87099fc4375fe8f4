/**
 * The parts of a SentencePiece `ModelProto` (`*.model`, e.g. DeBERTa-v3's `spm.model`, XLM-R's
 * `sentencepiece.bpe.model`) a tokenizer needs, read with @bufbuild/protobuf's wire reader. Field numbers
 * are those of sentencepiece_model.proto; fields not listed here are skipped.
 */
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { TokenizerError } from './bert-tokenizer-core.ts';

/** SentencePiece.Type: how the piece is used. */
export const PieceType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;
/** TrainerSpec.ModelType. */
export const ModelType = { UNIGRAM: 1, BPE: 2, WORD: 3, CHAR: 4 } as const;

export interface SentencePiece {
  piece: string;
  score: number;
  type: number;
}

export interface SentencePieceModel {
  pieces: SentencePiece[];
  trainerSpec: { modelType: number; byteFallback: boolean; unkId: number; bosId: number; eosId: number; padId: number; unkPiece: string };
  normalizerSpec: {
    name: string;
    precompiledCharsmap: Uint8Array;
    addDummyPrefix: boolean;
    removeExtraWhitespaces: boolean;
    escapeWhitespaces: boolean;
  };
}

type FieldReader = (r: BinaryReader, field: number, wire: WireType) => boolean;

/** Reads one length-delimited message, handing each field to `read`; unknown fields are skipped. */
function readMessage(r: BinaryReader, end: number, read: FieldReader): void {
  while (r.pos < end) {
    const [field, wire] = r.tag();
    if (!read(r, field, wire)) r.skip(wire, field);
  }
  if (r.pos !== end) throw new Error('a field runs past the end of its message');
}

function sub(r: BinaryReader, read: FieldReader): void {
  const len = r.uint32();
  readMessage(r, r.pos + len, read);
}

/** Parses the bytes of a SentencePiece model; `file` names it in messages. */
export function parseSentencePieceModel(file: string, bytes: Uint8Array): SentencePieceModel {
  const model: SentencePieceModel = {
    pieces: [],
    trainerSpec: { modelType: ModelType.UNIGRAM, byteFallback: false, unkId: 0, bosId: 1, eosId: 2, padId: -1, unkPiece: '<unk>' },
    normalizerSpec: {
      name: '',
      precompiledCharsmap: new Uint8Array(),
      addDummyPrefix: true,
      removeExtraWhitespaces: true,
      escapeWhitespaces: true,
    },
  };
  const LEN = WireType.LengthDelimited;
  try {
    const r = new BinaryReader(bytes);
    readMessage(r, bytes.length, (r, field, wire) => {
      if (field === 1 && wire === LEN) {
        const p: SentencePiece = { piece: '', score: 0, type: PieceType.NORMAL };
        sub(r, (r, f, w) => {
          if (f === 1 && w === LEN) p.piece = r.string(true);
          else if (f === 2 && w === WireType.Bit32) p.score = r.float();
          else if (f === 3 && w === WireType.Varint) p.type = r.int32();
          else return false;
          return true;
        });
        model.pieces.push(p);
      } else if (field === 2 && wire === LEN) {
        const t = model.trainerSpec;
        sub(r, (r, f, w) => {
          if (w === WireType.Varint && f === 3) t.modelType = r.int32();
          else if (w === WireType.Varint && f === 35) t.byteFallback = r.bool();
          else if (w === WireType.Varint && f === 40) t.unkId = r.int32();
          else if (w === WireType.Varint && f === 41) t.bosId = r.int32();
          else if (w === WireType.Varint && f === 42) t.eosId = r.int32();
          else if (w === WireType.Varint && f === 43) t.padId = r.int32();
          else if (w === LEN && f === 45) t.unkPiece = r.string(true);
          else return false;
          return true;
        });
      } else if (field === 3 && wire === LEN) {
        const n = model.normalizerSpec;
        sub(r, (r, f, w) => {
          if (w === LEN && f === 1) n.name = r.string(true);
          else if (w === LEN && f === 2) n.precompiledCharsmap = r.bytes();
          else if (w === WireType.Varint && f === 3) n.addDummyPrefix = r.bool();
          else if (w === WireType.Varint && f === 4) n.removeExtraWhitespaces = r.bool();
          else if (w === WireType.Varint && f === 5) n.escapeWhitespaces = r.bool();
          else return false;
          return true;
        });
      } else return false;
      return true;
    });
  } catch (e) {
    throw new TokenizerError(`${file}: not a SentencePiece ModelProto: ${(e as Error).message}`);
  }
  if (model.pieces.length === 0) throw new TokenizerError(`${file}: not a SentencePiece ModelProto (it holds no pieces)`);
  const { unkId, modelType } = model.trainerSpec;
  if (unkId < 0 || unkId >= model.pieces.length)
    throw new TokenizerError(`${file}: trainer_spec.unk_id ${unkId} is not one of the ${model.pieces.length} pieces`);
  if (modelType !== ModelType.UNIGRAM && modelType !== ModelType.BPE)
    throw new TokenizerError(`${file}: SentencePiece model type ${modelType} is not supported (only Unigram (1) and BPE (2) are)`);
  return model;
}
