#!/bin/sh
# The first command of the README: install what is missing, build, and run gust's main job on
# the bundled examples: validate them, then run the data-refresh example once, now.
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh
make -s -j2
./build/gust dags validate examples
./build/gust dags test examples/data_refresh.yaml
