# tests/tools/pip_index.sh - a local PEP 503 package index on loopback and
# small pure-Python wheels made with the stdlib (sourced; needs $PYTHON).
#   wheel_make NAME VERSION OUTDIR   prints the path of the new wheel
#   pip_index_start DIR              serves DIR (wheels in DIR/files/) on a free
#                                    127.0.0.1 port (requests logged to
#                                    DIR/.access.log); sets PIP_INDEX_URL
#                                    (http://127.0.0.1:PORT/simple/) and PIP_INDEX_PID
#   pip_index_stop                   stops it
# Use: pip install --index-url "$PIP_INDEX_URL" NAME
_pip_index_py="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)/pip_index.py"

wheel_make() {
	"${PYTHON:-python3}" "$_pip_index_py" wheel "$1" "$2" "$3"
}

pip_index_start() {
	local dir=$1 i=0
	mkdir -p "$dir/files"
	"${PYTHON:-python3}" "$_pip_index_py" index "$dir" || return 1
	rm -f "$dir/.port"
	"${PYTHON:-python3}" "$_pip_index_py" serve "$dir" "$dir/.port" >/dev/null 2>&1 &
	PIP_INDEX_PID=$!
	while [ ! -s "$dir/.port" ]; do
		i=$((i + 1))
		[ $i -gt 100 ] && { echo "pip index did not start" >&2; pip_index_stop; return 1; }
		sleep 0.05
	done
	PIP_INDEX_PORT=$(cat "$dir/.port")
	PIP_INDEX_URL="http://127.0.0.1:$PIP_INDEX_PORT/simple/"
	export PIP_INDEX_URL PIP_INDEX_PORT PIP_INDEX_PID
}

pip_index_stop() {
	if [ -n "${PIP_INDEX_PID:-}" ]; then
		kill "$PIP_INDEX_PID" 2>/dev/null
		wait "$PIP_INDEX_PID" 2>/dev/null
		PIP_INDEX_PID=
	fi
	return 0
}
