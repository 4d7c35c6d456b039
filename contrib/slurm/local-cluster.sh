#!/usr/bin/env bash
# A one-node Slurm cluster on 127.0.0.1 for tests: munged, slurmctld and slurmd with their
# configuration, state and logs under DIR. Needs root and Debian's slurm-wlm and munge.
#   local-cluster.sh start DIR   start the daemons, wait until the node is idle
#   local-cluster.sh stop DIR    stop them
# Jobs run as the calling user; SLURM_CONF=DIR/slurm.conf must be set for sbatch/squeue.
set -euo pipefail
cmd=${1:?usage: local-cluster.sh start|stop DIR}
dir=${2:?usage: local-cluster.sh start|stop DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
host=$(hostname -s)
stop() {
  for p in slurmd slurmctld munged; do
    [ -f "$dir/$p.pid" ] && kill "$(cat "$dir/$p.pid")" 2>/dev/null || true
  done
  sleep 1
}
case "$cmd" in
  stop) stop; exit 0 ;;
  start) ;;
  *) echo "usage: local-cluster.sh start|stop DIR" >&2; exit 2 ;;
esac
for bin in munged mungekey slurmctld slurmd sbatch sinfo; do
  command -v "$bin" >/dev/null 2>&1 || { echo "local-cluster: $bin not found (apt-get install slurm-wlm munge)" >&2; exit 3; }
done
mkdir -p "$dir/munge" "$dir/spool/ctld" "$dir/spool/d" "$dir/log"
chmod 700 "$dir/munge"
[ -f "$dir/munge/munge.key" ] || mungekey --create --keyfile="$dir/munge/munge.key" >/dev/null
chmod 600 "$dir/munge/munge.key"
munged --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
  --pid-file="$dir/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/seed" \
  --force
cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
user=$(id -un)
cat > "$dir/slurm.conf" <<CONF
ClusterName=gncond-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=$user
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
SlurmctldPort=${GNCOND_SLURM_PORT:-16817}
SlurmdPort=$(( ${GNCOND_SLURM_PORT:-16817} + 1 ))
StateSaveLocation=$dir/spool/ctld
SlurmdSpoolDir=$dir/spool/d
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$dir/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 1 60); do
  if sinfo -h -o '%T' 2>/dev/null | grep -q '^idle'; then
    echo "local-cluster: node $host idle (SLURM_CONF=$SLURM_CONF)"
    exit 0
  fi
  sleep 1
done
echo "local-cluster: the node did not become idle; logs in $dir/log" >&2
tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
stop
exit 1
