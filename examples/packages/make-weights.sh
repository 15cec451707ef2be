#!/bin/sh
# make-weights.sh [DIR] - writes DIR/weights/model.bin (12 MiB, deterministic),
# the stand-in for real model weights (not committed).
set -eu
dir=${1:-$(dirname "$0")}
mkdir -p "$dir/weights"
python3 -c 'import hashlib,sys
out=open(sys.argv[1],"wb"); s=b"pinion"
for i in range(12*1024*1024//32):
    s=hashlib.sha256(s).digest(); out.write(s)' "$dir/weights/model.bin"
