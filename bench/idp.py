#!/usr/bin/env python3
"""A tiny identity-provider double for bench/run.sh: answers every POST (the token
endpoint of a client-credentials grant) with a fresh bearer token valid for a day, so
the runtime's token read has a vaulted token to decrypt and never needs a refresh.

    python3 bench/idp.py PORT
"""
import http.server
import json
import secrets
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the server's IdP client pools connections

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({
            "access_token": "bench-" + secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_in": 86400,
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    port = int(sys.argv[1])
    http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
