#!/bin/sh
# Creates the secrets deploy/compose/compose.yaml mounts: the token signing key every instance
# signs and verifies registry tokens with (EC P-256, PKCS#8 PEM), and the database and Redis
# passwords. Keeps existing files (rotating the key would log every client out).
set -eu
cd "$(dirname "$0")"
mkdir -p secrets
umask 022 # compose bind-mounts the files as they are; the containers' users must read them
[ -s secrets/token-signing-key.pem ] ||
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out secrets/token-signing-key.pem
[ -s secrets/db-password ] || openssl rand -hex 24 >secrets/db-password
[ -s secrets/redis-password ] || openssl rand -hex 24 >secrets/redis-password
ls -l secrets
