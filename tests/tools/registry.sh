# tests/tools/registry.sh - start and stop Debian's docker-registry (the CNCF
# distribution registry) on 127.0.0.1 for tests.  Source it after
# tests/e2e/lib.sh (it uses $T, free_port, wait_port, at_exit):
#
#   . "$TEST_ROOT/tests/tools/registry.sh"
#   registry_start plain          # or: tls | token
#   pinion copy oci:$T/l:v1 $REGISTRY/demo:v1
#
# registry_start MODE [NAME] exports
#   REGISTRY       127.0.0.1:PORT
#   REGISTRY_MODE  plain | tls | token
#   REGISTRY_DIR   its directory under $T (config, data, logs)
#   REGISTRY_CA    (tls, token) the CA certificate (PEM) that signed the registry's certificate
#   REGISTRY_CERT_DIR (tls, token) a directory with that CA as ca.crt (skopeo --cert-dir)
#   REGISTRY_USER, REGISTRY_PASS  (tls, token) valid credentials
#   REGISTRY_TOKEN_URL (token) the token server's realm
#   REGISTRY_IDENTITY_TOKEN (token) an OAuth2 refresh token it accepts (docker's "identitytoken")
# and registers registry_stop with at_exit (when started inside a test body,
# a watchdog still stops it once test_done removes $T).  Several registries can run at
# once when each gets a NAME (the exports describe the last one started).
#   plain  HTTP, no auth
#   tls    HTTPS with a CA made here (openssl), htpasswd basic auth
#   token  HTTPS like tls, bearer tokens from tests/tools/token_server.py
#          (anonymous pull allowed, push needs REGISTRY_USER/REGISTRY_PASS,
#          repositories under denied/ are refused to everyone)
# registry_stop [NAME] stops it (done at exit anyway).
#
# base_registry_start [TITLE [MORE]] (at the top level of a test file, not in a
# case): a plain registry serving the default base image (fixture_base_layout)
# as library/python:3.11-slim (or as $BASE_REPO), published in a case TITLE
# (default "setup: registry with library/python:3.11-slim") whose body goes on
# with the shell code MORE; then sets REGISTRY (127.0.0.1:1 when that case
# failed), BASE_LAYOUT (the layout dir) and MIRROR (--registry-mirror options
# sending docker.io and r8.im there).  The registry is stopped at exit.
#
# fault_proxy_start NAME [fault_proxy.py options...] puts tests/tools/fault_proxy.py
# in front of $REGISTRY (plain mode) and exports PROXY=127.0.0.1:PORT and
# PROXY_STATS (its counters, JSON); fault_proxy_stat KEY prints one counter;
# fault_proxy_stop NAME.

_registry_tools=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# _registry_ca DIR: a CA and a server certificate for 127.0.0.1/localhost
_registry_ca() {
	local d=$1
	[ -s "$d/ca.pem" ] && return 0
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=pinion test CA" \
		-keyout "$d/ca.key" -out "$d/ca.pem" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
		>/dev/null 2>&1 || return 1
	openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
		-keyout "$d/server.key" -out "$d/server.csr" >/dev/null 2>&1 || return 1
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
		>"$d/server.ext"
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
		-days 2 -extfile "$d/server.ext" -out "$d/server.pem" >/dev/null 2>&1
}

# _registry_token_keys DIR: the token signing key and its self-signed certificate
_registry_token_keys() {
	local d=$1
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=pinion token issuer" \
		-keyout "$d/token.key" -out "$d/token.pem" >/dev/null 2>&1
}

# _registry_bg PIDFILE LOG CMD...: runs CMD in the background, its pid in
# PIDFILE, with a watchdog that stops it once $T is gone (test_done), so a
# service started inside a test body (a subshell, whose at_exit is lost)
# does not outlive the test file
_close_extra_fds() {
	local fd
	for fd in /proc/$BASHPID/fd/*; do
		fd=${fd##*/}
		case $fd in 0|1|2) ;; *) eval "exec $fd>&-" 2>/dev/null ;; esac
	done
}
_registry_bg() {
	local pidfile=$1 log=$2 pid
	shift 2
	# neither the service nor its watchdog may hold the caller's other fds
	# (a test body's output pipe would stay open and hang the test file)
	( _close_extra_fds; exec "$@" ) >"$log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$pidfile"
	( _close_extra_fds
	  while [ -d "$T" ] && kill -0 "$pid" 2>/dev/null; do sleep 1; done
	  kill "$pid" 2>/dev/null ) >/dev/null 2>&1 </dev/null &
}

registry_start() {
	local mode=${1:-plain} name=${2:-default} dir port tport secret
	dir="$T/registry-$name"
	rm -rf "$dir"; mkdir -p "$dir/data"
	port=$(free_port)
	secret=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
	{
		echo "version: 0.1"
		echo "log:"
		echo "  level: warn"
		echo "  accesslog:"
		echo "    disabled: true"
		echo "storage:"
		echo "  filesystem:"
		echo "    rootdirectory: $dir/data"
		echo "  delete:"
		echo "    enabled: true"
		echo "http:"
		echo "  addr: 127.0.0.1:$port"
		echo "  secret: $secret"
	} >"$dir/config.yml"
	unset REGISTRY_CA REGISTRY_CERT_DIR REGISTRY_USER REGISTRY_PASS REGISTRY_TOKEN_URL REGISTRY_IDENTITY_TOKEN
	case "$mode" in
	plain) ;;
	tls|token)
		_registry_ca "$dir" || { echo "registry_start: openssl failed"; return 1; }
		{
			echo "  tls:"
			echo "    certificate: $dir/server.pem"
			echo "    key: $dir/server.key"
		} >>"$dir/config.yml"
		mkdir -p "$dir/certs" && cp "$dir/ca.pem" "$dir/certs/ca.crt"
		export REGISTRY_CA="$dir/ca.pem" REGISTRY_CERT_DIR="$dir/certs"
		export REGISTRY_USER=pinion REGISTRY_PASS="pw-$secret"
		;;
	*) echo "registry_start: unknown mode '$mode' (plain, tls, token)"; return 2 ;;
	esac
	if [ "$mode" = tls ]; then
		htpasswd -Bbn "$REGISTRY_USER" "$REGISTRY_PASS" >"$dir/htpasswd" 2>/dev/null
		{
			echo "auth:"
			echo "  htpasswd:"
			echo "    realm: pinion-test"
			echo "    path: $dir/htpasswd"
		} >>"$dir/config.yml"
	fi
	if [ "$mode" = token ]; then
		_registry_token_keys "$dir" || return 1
		tport=$(free_port)
		export REGISTRY_IDENTITY_TOKEN="idt-$secret"
		export REGISTRY_TOKEN_URL="http://127.0.0.1:$tport/token"
		{
			echo "auth:"
			echo "  token:"
			echo "    realm: $REGISTRY_TOKEN_URL"
			echo "    service: pinion-test-registry"
			echo "    issuer: pinion-token-server"
			echo "    rootcertbundle: $dir/token.pem"
		} >>"$dir/config.yml"
		_registry_bg "$dir/token.pid" "$dir/token.out" \
		"$PYTHON" "$_registry_tools/token_server.py" --port "$tport" \
			--key "$dir/token.key" --cert "$dir/token.pem" \
			--issuer pinion-token-server --service pinion-test-registry \
			--user "$REGISTRY_USER" --password "$REGISTRY_PASS" --anonymous-pull --deny '^denied/' \
			--identity-token "$REGISTRY_IDENTITY_TOKEN" \
			--log "$dir/token.log"
		wait_port "$tport" 20 || { cat "$dir/token.out"; return 1; }
	fi
	_registry_bg "$dir/registry.pid" "$dir/registry.log" docker-registry serve "$dir/config.yml"
	at_exit "registry_stop $name"
	wait_port "$port" 30 || { cat "$dir/registry.log"; return 1; }
	export REGISTRY="127.0.0.1:$port" REGISTRY_MODE=$mode REGISTRY_DIR=$dir
}

registry_stop() {
	local name=${1:-default} dir f
	dir="$T/registry-$name"
	for f in "$dir/registry.pid" "$dir/token.pid"; do
		[ -s "$f" ] || continue
		kill "$(cat "$f")" 2>/dev/null
		rm -f "$f"
	done
	return 0
}

base_registry_start() {
	local title=${1:-"setup: registry with library/python:3.11-slim"} more=${2:-true}
	registry_start plain >"$T/registry.log" 2>&1 || echo "# registry did not start: $(cat "$T/registry.log")"
	test_expect_success "$title" '
		base=$(fixture_base_layout) &&
		pinion copy "oci:$base:library/python:3.11-slim" "$REGISTRY/${BASE_REPO:-library/python:3.11-slim}" \
			>/dev/null &&
		echo "$REGISTRY" >"$T/registry" && echo "$base" >"$T/base" &&
		'"$more"
	REGISTRY=$(cat "$T/registry" 2>/dev/null || echo 127.0.0.1:1)
	BASE_LAYOUT=$(cat "$T/base" 2>/dev/null)
	MIRROR="--registry-mirror docker.io=$REGISTRY --registry-mirror r8.im=$REGISTRY"
}

fault_proxy_start() {
	local name=$1 port dir
	shift
	dir="$T/proxy-$name"
	rm -rf "$dir"; mkdir -p "$dir"
	port=$(free_port)
	_registry_bg "$dir/proxy.pid" "$dir/proxy.log" \
		"$PYTHON" "$_registry_tools/fault_proxy.py" --port "$port" --upstream "$REGISTRY" \
		--stats "$dir/stats.json" "$@"
	at_exit "fault_proxy_stop $name"
	wait_port "$port" 20 || { cat "$dir/proxy.log"; return 1; }
	export PROXY="127.0.0.1:$port" PROXY_STATS="$dir/stats.json"
}

fault_proxy_stat() {
	"$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); k=sys.argv[2].split("."); v=d
for p in k: v=v.get(p, 0) if isinstance(v, dict) else 0
print(v)' "$PROXY_STATS" "$1"
}

fault_proxy_stop() {
	local f="$T/proxy-$1/proxy.pid"
	[ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
	rm -f "$f"
	return 0
}
