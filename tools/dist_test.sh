#!/usr/bin/env bash
# Distributed testing with torchrun (one process per GPU); each test video is evaluated once.
#
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test options...]
#
# Environment (defaults as MMAction2's script): NNODES=1, NODE_RANK=0, MASTER_ADDR=127.0.0.1,
# PORT (or MASTER_PORT)=29500. Extra options go to `vidlab test` (--out, --metrics, --cfg-options).
set -euo pipefail

if [ $# -lt 3 ]; then
    echo "usage: bash $0 CONFIG CHECKPOINT GPUS [test options...]" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-${MASTER_PORT:-29500}}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}

PYTHONPATH="$(dirname "$0")/..${PYTHONPATH:+:$PYTHONPATH}" \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    -m vidlab.cli.main test "$CONFIG" "$CHECKPOINT" --launcher pytorch "${@:4}"
