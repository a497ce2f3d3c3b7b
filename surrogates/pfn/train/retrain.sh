#!/usr/bin/env bash
# Retrains the pfn network from scratch exactly as the committed weights were made (docs/surrogates.md "## pfn"):
# 40 minutes from random initialisation, then 12 minutes more at a lower learning rate from that checkpoint.
# Needs Debian's python3-torch and python3-numpy. Rebuild bbo afterwards (the plugin embeds the weights).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
out=$repo/surrogates/pfn/weights
train=$repo/surrogates/pfn/train/pfn_train.py
rm -f "$out/training_log.txt"
/usr/bin/python3 "$train" train --out "$out" --steps 20000 --max-minutes 40 --batch 32 --emsize 64 --layers 3 \
  --ff 128 --dec-hidden 128 --buckets 100 --warmup 100 --lr 2e-3 --checkpoint-every 100
phase1=$(mktemp /tmp/pfn_phase1.XXXXXX.pt)
cp "$out/checkpoint.pt" "$phase1"
/usr/bin/python3 "$train" train --out "$out" --resume "$phase1" --seed 1 --steps 20000 --max-minutes 12 --batch 32 \
  --warmup 50 --lr 5e-4 --checkpoint-every 100
rm -f "$phase1"
