#!/usr/bin/env bash
# Grant each Brink service, on a cluster with an authorizer, only what it needs (the table is
# shared/acls.py; docs/security.md shows it):
#
#   deploy/kafka/acls.sh grant  [--prefix P] [--user U]...   create the ACLs (idempotent)
#   deploy/kafka/acls.sh revoke [--prefix P] [--user U]...   delete them
#   deploy/kafka/acls.sh table  [--prefix P]                 print the table (Markdown)
#
# P is the pipeline's topic prefix (default $BRINK_TOPIC_PREFIX, else none); U one of ingest,
# enrichment, alerting, publisher, reader (default: all). It connects as the cluster's admin
# with the BRINK_* variables in $BRINK_ACLS_ENV (default: the admin.env that
# `kafka.sh up --secure` wrote, $BRINK_KAFKA_HOME/secure/env/admin.env).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
home=${BRINK_KAFKA_HOME:-$repo/.cache/kafka}
env_file=${BRINK_ACLS_ENV:-$home/secure/env/admin.env}
python=${BRINK_PYTHON:-$repo/.venv/bin/python}
if [[ ${1:-} == grant || ${1:-} == revoke ]]; then
  [[ -r $env_file ]] || { echo "acls: no admin settings in $env_file (kafka.sh up --secure writes it)" >&2; exit 2; }
  set -a
  # shellcheck disable=SC1090
  source "$env_file"
  set +a
fi
cd "$repo"
exec "$python" -m shared.acls "$@"
