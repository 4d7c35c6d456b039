#!/usr/bin/env bash
# Submit a gncond profile to Slurm: an N-task array (one shard each) and a merge job that
# runs when every task succeeded. Prints the two job ids. Extra arguments go to both sbatch
# calls (e.g. --partition=short --time=02:00:00).
#   GNCOND_BIN=$PWD/target/release/gncond GNCOND_PROFILE=paper GNCOND_CACHE=/shared/cache \
#   GNCOND_OUT=/shared/out contrib/slurm/submit.sh 16 --partition=long
set -euo pipefail
n=${1:?usage: submit.sh N [sbatch options...]}
shift
here=$(cd "$(dirname "$0")" && pwd)
array=$(sbatch --parsable --array=1-"$n" --export=ALL,GNCOND_SHARDS="$n" "$@" "$here/reproduce.sbatch")
array=${array%%;*}
merge=$(sbatch --parsable --dependency=afterok:"$array" --kill-on-invalid-dep=yes --export=ALL "$@" "$here/merge.sbatch")
echo "$array ${merge%%;*}"
