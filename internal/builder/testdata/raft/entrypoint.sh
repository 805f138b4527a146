#!/bin/sh
# What the seed image's entry point does to var/.one (the seed chart's docker/entrypoint.sh
# at commit 88e8ec3), for the tests of the start wrapper: it takes a start with no SQLite
# database holding users (every start on MySQL) for a first boot, removes the keys and
# auth files, writes one_auth, and writes oneflow_auth and onegate_auth from the oneadmin
# password when they are missing. Then it runs its arguments.
set -eu
var=${ONE_LOCATION:+$ONE_LOCATION/var}
var=${var:-/var/lib/one}
mkdir -p "$var/.one"
bootstrapped=$(sqlite3 "$var/one.db" "SELECT COUNT(*) FROM user_pool;" 2>/dev/null || echo 0)
if [ "$bootstrapped" = 0 ]; then
  rm -f "$var/one.db"
  for f in sunstone_auth one_key fireedge_key one_auth oneflow_auth onegate_auth; do
    rm -f "$var/.one/$f"
  done
  echo "oneadmin:${ONEADMIN_PASSWORD:-oneadmin}" > "$var/.one/one_auth"
fi
for f in oneflow_auth onegate_auth; do
  [ -f "$var/.one/$f" ] || echo "serveradmin:${ONEADMIN_PASSWORD:-oneadmin}" > "$var/.one/$f"
done
exec "$@"
