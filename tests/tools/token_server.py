#!/usr/bin/python3
"""token_server.py - a small token server for the distribution registry's
token auth (https://distribution.github.io/distribution/spec/auth/token/).

GET /token?service=S&scope=repository:NAME:pull,push[&scope=...] with optional
Basic credentials (or POST /token with grant_type=refresh_token and the
--identity-token as refresh_token, the OAuth2 form) answers {"token", "access_token", "expires_in", "issued_at"}:
an RS256 JWT signed with --key (through the openssl CLI; stdlib only), with
the signing certificate in the x5c header so the registry can verify it
against its rootcertbundle.

Valid credentials get what they ask for (except repositories matching
--deny, which get nothing); anonymous requests get pull only
with --anonymous-pull (nothing otherwise); wrong credentials get 401.
Every request is logged (one JSON line, never the password) to --log.
"""
import argparse
import base64
import json
import os
import re
import subprocess
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def cert_der_b64(path: str) -> str:
    pem = open(path).read()
    body = pem.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    return "".join(body.split())


class Server(ThreadingHTTPServer):
    daemon_threads = True


def make_handler(args):
    x5c = cert_der_b64(args.cert)

    def sign(payload: dict) -> str:
        header = {"typ": "JWT", "alg": "RS256", "x5c": [x5c]}
        signing_input = (b64url(json.dumps(header).encode()) + "." +
                         b64url(json.dumps(payload).encode())).encode()
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", args.key],
                             input=signing_input, capture_output=True, check=True).stdout
        return signing_input.decode() + "." + b64url(sig)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def who(self):
            h = self.headers.get("Authorization", "")
            if not h.lower().startswith("basic "):
                return None, False
            try:
                user, _, pw = base64.b64decode(h[6:]).decode().partition(":")
            except Exception:
                return None, True
            if user == args.user and pw == args.password:
                return user, False
            return None, True

        def log(self, **kw):
            if args.log:
                with open(args.log, "a") as f:
                    f.write(json.dumps(kw) + "\n")

        def do_POST(self):
            """OAuth2 refresh_token grant: the refresh token is --identity-token"""
            u = urlparse(self.path)
            n = int(self.headers.get("Content-Length") or 0)
            q = parse_qs(self.rfile.read(n).decode())
            if u.path != "/token" or q.get("grant_type") != ["refresh_token"]:
                self.send_error(400)
                return
            ok = args.identity_token and q.get("refresh_token") == [args.identity_token]
            scopes = [x for s in q.get("scope", []) for x in s.split(" ") if x]
            self.log(user=args.user if ok else None, bad_credentials=not ok, scopes=scopes,
                     service=q.get("service"), grant="refresh_token")
            self.grant(args.user if ok else None, not ok, scopes)

        def do_GET(self):
            u = urlparse(self.path)
            if u.path != "/token":
                self.send_error(404)
                return
            q = parse_qs(u.query)
            user, bad = self.who()
            scopes = q.get("scope", [])
            self.log(user=user, bad_credentials=bad, scopes=scopes, service=q.get("service"))
            self.grant(user, bad, scopes)

        def grant(self, user, bad, scopes):
            if bad or (user is None and not args.anonymous_pull):
                body = json.dumps({"errors": [{"code": "UNAUTHORIZED",
                                               "message": "authentication required"}]}).encode()
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("WWW-Authenticate", 'Basic realm="pinion-token"')
                self.end_headers()
                self.wfile.write(body)
                return
            access = []
            for s in scopes:
                for one in s.split(" "):
                    parts = one.split(":")
                    if len(parts) < 3:
                        continue
                    typ, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1].split(",")
                    if user is None:
                        actions = [a for a in actions if a == "pull"]
                    if args.deny and re.search(args.deny, name):
                        actions = []
                    access.append({"type": typ, "name": name, "actions": actions})
            now = int(time.time())
            payload = {"iss": args.issuer, "sub": user or "", "aud": args.service,
                       "exp": now + args.ttl, "nbf": now - 10, "iat": now,
                       "jti": uuid.uuid4().hex, "access": access}
            tok = sign(payload)
            body = json.dumps({"token": tok, "access_token": tok, "expires_in": args.ttl,
                               "refresh_token": args.identity_token or "",
                               "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                          time.gmtime(now))}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--issuer", default="pinion-token-server")
    p.add_argument("--service", default="pinion-test-registry")
    p.add_argument("--user", default="pinion")
    p.add_argument("--password", default=os.environ.get("TOKEN_SERVER_PASSWORD", ""))
    p.add_argument("--anonymous-pull", action="store_true")
    p.add_argument("--identity-token", default=None,
                   help="refresh token accepted by POST /token (grant_type=refresh_token)")
    p.add_argument("--ttl", type=int, default=300)
    p.add_argument("--deny", default=None, metavar="REGEX",
                   help="repositories matching get no access at all")
    p.add_argument("--log", default=None)
    args = p.parse_args()
    srv = Server(("127.0.0.1", args.port), make_handler(args))
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
