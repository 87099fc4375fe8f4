#!/bin/sh
# Entrypoint of the trainer image: the trainer CLI, on the GPU by default.
# The API's Batch command override is `run-job --registry <uri> --job <id>` (no --device), so
# commands that take --device get `--device $TRAINER_DEVICE` (default cuda) unless they name one.
set -eu
case "${1:-}" in
  run-job|train|eval|predict)
    case " $* " in
      *" --device "*|*" --device="*) ;;
      *) set -- "$@" --device "${TRAINER_DEVICE:-cuda}" ;;
    esac
    ;;
esac
exec node --enable-source-maps /app/dist/trainer.mjs "$@"
