#!/bin/sh
# The first command of the README: install what is missing, build, validate the bundled
# examples, run the data-refresh example once now, then start the scheduler on the examples
# (SQLite under ./.gust) in the foreground; Ctrl-C stops it.
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh
make -s -j2
./build/gust dags validate examples
./build/gust dags test examples/data_refresh.yaml
echo
echo "Starting the scheduler on examples/ (state in ./.gust). In another terminal:"
echo "  ./build/gust dags trigger data_refresh     # run it now"
echo "  ./build/gust runs list                     # history"
echo "Ctrl-C stops the server; running tasks carry on and the next server adopts them."
exec ./build/gust server --dags examples
