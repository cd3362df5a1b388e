"""A stand-in OpenID Connect issuer for the unit tests: a local HTTP server publishing a
discovery document and a JWKS of keys made for the test, signing people's access
tokens (:class:`Issuer`).

For a client that signs people in (the portal), the discovery document also names an
authorization, a token and an end-session endpoint. The token endpoint records each
form posted to it and answers what the test prepared (:attr:`Issuer.token_answers`);
:meth:`Issuer.answer` answers as the server does, so a test may also serve the issuer
through an ``httpx.MockTransport``."""

from __future__ import annotations

import functools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

#: The audience the tokens are for, as the services' settings name it.
AUDIENCE = "partnerhub"


@functools.cache
def private_key(kid: str) -> rsa.RSAPrivateKey:
    """One RSA key per key id for the whole module (making one takes a while)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Issuer:
    """Signs tokens and serves ``/.well-known/openid-configuration``, ``/jwks`` and
    ``/token``."""

    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.published: list[str] = []
        self.jwks_fetches = 0
        #: What ``POST /token`` answers next, in order: ``(status, body)``.
        self.token_answers: list[tuple[int, dict[str, Any]]] = []
        #: Every form posted to ``/token``, in order.
        self.token_requests: list[dict[str, str]] = []
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._send(*issuer.answer("GET", self.path))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                self._send(*issuer.answer("POST", self.path, form))

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def discovery(self) -> dict[str, Any]:
        """The discovery document (``/.well-known/openid-configuration``)."""
        return {
            "issuer": self.url,
            "jwks_uri": f"{self.url}/jwks",
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "end_session_endpoint": f"{self.url}/logout",
        }

    def answer(
        self, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """``(status, JSON body)`` of a request to the issuer."""
        if (method, path) == ("GET", "/.well-known/openid-configuration"):
            return 200, self.discovery()
        if (method, path) == ("GET", "/jwks"):
            self.jwks_fetches += 1
            return 200, {"keys": [self.jwk(kid) for kid in self.published]}
        if (method, path) == ("POST", "/token"):
            self.token_requests.append(dict(form or {}))
            if self.token_answers:
                return self.token_answers.pop(0)
            return 400, {"error": "invalid_grant", "error_description": "no answer prepared"}
        return 404, {"error": "not_found"}

    def add_key(self, kid: str, *, publish: bool = True) -> None:
        self.keys[kid] = private_key(kid)
        if publish:
            self.published.append(kid)

    def jwk(self, kid: str) -> dict[str, Any]:
        public: dict[str, Any] = RSAAlgorithm.to_jwk(self.keys[kid].public_key(), as_dict=True)
        return {**public, "kid": kid, "use": "sig", "alg": "RS256"}

    def token(self, kid: str = "k1", **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": "person-1",
            "iat": now,
            "exp": now + 300,
            **claims,
        }
        payload = {name: value for name, value in payload.items() if value is not None}
        return jwt.encode(payload, self.keys[kid], algorithm="RS256", headers={"kid": kid})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
