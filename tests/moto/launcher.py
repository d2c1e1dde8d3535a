"""moto in server mode for fleetscan's tests, with the few patches the Rust SDK needs.

This file owns: starting moto's WSGI app on a loopback port (a free one unless
told otherwise), announcing that port on stdout, counting the calls it serves,
and patching the moto responses the AWS SDK for Rust cannot parse.

    python launcher.py [--host 127.0.0.1] [--port 0] [--exit-on-stdin-close] [--log-requests]

The first line on stdout is `listening on http://HOST:PORT`. The server runs until
it is killed (SIGTERM/SIGINT), or, with --exit-on-stdin-close, until its stdin
reaches end of file, so a test process that dies takes its moto with it.

Private endpoints (never part of any AWS API):

    GET  /_fleetscan/calls        call counts as JSON (see Counter.snapshot)
    POST /_fleetscan/calls/reset  zero the counts (e.g. after seeding)
    POST /_fleetscan/delay?ms=N   answer every AWS call N ms late from now on
                                  (0 turns it off), to make a scan slow enough
                                  to be interrupted part-way
    GET  /_fleetscan/credentials  every credential moto issued through
                                  AssumeRole/GetSessionToken, so tests can check
                                  none of it leaks into a database or a log
    POST /_fleetscan/deny?operation=OP&account=ID[&region=R]
                                  from now on answer OP (`service:Operation`,
                                  as counted) AccessDenied (HTTP 403) when the
                                  caller's credentials belong to account ID
                                  (and the request is signed for region R), in
                                  the error shape of the service's protocol
                                  (EC2, S3/S3 Control, JSON, query), so a test
                                  can make one scan unit fail
    POST /_fleetscan/deny/reset   answer everything again

Patches (each one is a moto bug or gap; remove it when moto fixes it):

1. GetBucketVersioning: moto 5.2.x answers with the XML root
   `<GetBucketVersioningResponse>`, while S3 (and the S3 model the SDKs are
   generated from) uses `<VersioningConfiguration>`. The Rust SDK checks the
   root element and rejects the response, so the root is renamed here.
"""

import argparse
import io
import json
import os
import re
import signal
import sys
import threading
import time
from collections import defaultdict
from urllib.parse import parse_qs
from xml.etree import ElementTree

from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

PRIVATE_PREFIX = "/_fleetscan/"

# Authorization: AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/s3/aws4_request, ...
CREDENTIAL_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
ROLE_ARN_ACCOUNT = re.compile(r"^arn:[^:]+:iam::(\d{12}):role/")

# S3 sub-resources (query keys) and the operation they select, per HTTP method.
S3_SUBRESOURCES = {
    "GET": {
        "versioning": "GetBucketVersioning",
        "publicAccessBlock": "GetPublicAccessBlock",
        "policyStatus": "GetBucketPolicyStatus",
        "policy": "GetBucketPolicy",
        "encryption": "GetBucketEncryption",
        "ownershipControls": "GetBucketOwnershipControls",
        "logging": "GetBucketLogging",
        "tagging": "GetBucketTagging",
        "location": "GetBucketLocation",
        "acl": "GetBucketAcl",
        "uploads": "ListMultipartUploads",
        "versions": "ListObjectVersions",
    },
    "PUT": {
        "versioning": "PutBucketVersioning",
        "publicAccessBlock": "PutPublicAccessBlock",
        "policy": "PutBucketPolicy",
        "encryption": "PutBucketEncryption",
        "ownershipControls": "PutBucketOwnershipControls",
        "logging": "PutBucketLogging",
        "tagging": "PutBucketTagging",
        "acl": "PutBucketAcl",
    },
    "DELETE": {
        "publicAccessBlock": "DeletePublicAccessBlock",
        "policy": "DeleteBucketPolicy",
        "encryption": "DeleteBucketEncryption",
        "ownershipControls": "DeleteBucketOwnershipControls",
        "tagging": "DeleteBucketTagging",
    },
}


def s3_operation(method, path, query):
    """Name the S3 REST operation of a path-style request (what the SDKs send to an emulator)."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return "ListBuckets" if method == "GET" else f"{method} /"
    for key, operation in S3_SUBRESOURCES.get(method, {}).items():
        if key in query:
            return operation
    if len(parts) == 1:
        return {
            "GET": "ListObjects",
            "PUT": "CreateBucket",
            "DELETE": "DeleteBucket",
            "HEAD": "HeadBucket",
        }.get(method, f"{method} bucket")
    return {
        "GET": "GetObject",
        "PUT": "PutObject",
        "DELETE": "DeleteObject",
        "HEAD": "HeadObject",
    }.get(method, f"{method} object")


def s3control_operation(method, path):
    """Name the few S3 Control operations fleetscan uses (account-level public access block)."""
    if path.rstrip("/").endswith("/configuration/publicAccessBlock"):
        return {
            "GET": "GetPublicAccessBlock",
            "PUT": "PutPublicAccessBlock",
            "DELETE": "DeletePublicAccessBlock",
        }.get(method, f"{method} publicAccessBlock")
    return f"{method} {path}"


class Counter:
    """Thread-safe call counts, and the mapping from issued access keys to accounts."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()
        # Survives reset: a credential issued while seeding is still that account's.
        self.key_account = {}
        self.issued = []

    def reset(self):
        with getattr(self, "lock", threading.Lock()):
            self.total = 0
            self.operations = defaultdict(int)
            self.errors = defaultdict(int)
            self.by_account = defaultdict(lambda: defaultdict(int))
            self.by_region = defaultdict(lambda: defaultdict(int))
            self.assume_role_accounts = defaultdict(int)
            self.assume_role_arns = defaultdict(int)

    def account_of(self, access_key):
        # moto gives every key it did not issue to its default account, the
        # management account of the seeded organization.
        return self.key_account.get(access_key, DEFAULT_ACCOUNT_ID)

    def record(self, operation, access_key, region, status, role_arn):
        with self.lock:
            self.total += 1
            self.operations[operation] += 1
            if status >= 400:
                self.errors[operation] += 1
            self.by_account[self.account_of(access_key)][operation] += 1
            self.by_region[region][operation] += 1
            if role_arn is not None:
                self.assume_role_arns[role_arn] += 1
                match = ROLE_ARN_ACCOUNT.match(role_arn)
                self.assume_role_accounts[match.group(1) if match else "?"] += 1

    def remember_credentials(self, account, credentials):
        with self.lock:
            self.key_account[credentials["AccessKeyId"]] = account
            self.issued.append(dict(credentials, Account=account))

    def snapshot(self):
        with self.lock:
            return {
                "total": self.total,
                # "service:Operation" -> calls
                "operations": dict(self.operations),
                # "service:Operation" -> calls answered with an HTTP error
                "errors": dict(self.errors),
                # account the caller's credentials belong to -> operation -> calls
                "by_account": {k: dict(v) for k, v in self.by_account.items()},
                # region of the request signature -> operation -> calls
                "by_region": {k: dict(v) for k, v in self.by_region.items()},
                # account of AssumeRole's RoleArn -> calls
                "assume_role": dict(self.assume_role_accounts),
                # RoleArn -> calls
                "assume_role_arns": dict(self.assume_role_arns),
            }

    def credentials(self):
        with self.lock:
            return list(self.issued)


def fix_versioning_root(body):
    """Patch 1: rename GetBucketVersioning's root element to VersioningConfiguration."""
    return re.sub(
        rb"<(/?)GetBucketVersioningResponse\b",
        rb"<\1VersioningConfiguration",
        body,
    )


def issued_credentials(body):
    """The Credentials element of an STS AssumeRole/GetSessionToken answer, as a dict."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None
    for element in root.iter():
        if element.tag.endswith("}Credentials") or element.tag == "Credentials":
            fields = {child.tag.split("}")[-1]: (child.text or "") for child in element}
            if "AccessKeyId" in fields:
                return fields
    return None


def denied_answer(environ, service, operation):
    """An AccessDenied error body in the shape the service's SDK parser expects."""
    message = f"denied by the test launcher: {operation}"
    if environ.get("HTTP_X_AMZ_TARGET"):
        body = json.dumps({"__type": "AccessDeniedException", "message": message})
        return "application/x-amz-json-1.1", body.encode()
    if service == "ec2":
        body = (
            "<Response><Errors><Error><Code>UnauthorizedOperation</Code>"
            f"<Message>{message}</Message></Error></Errors><RequestID>denied</RequestID></Response>"
        )
    elif service in ("s3", "s3-control", "s3control"):
        body = f"<Error><Code>AccessDenied</Code><Message>{message}</Message><RequestId>denied</RequestId></Error>"
    else:
        body = (
            "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
            f"<Message>{message}</Message></Error><RequestId>denied</RequestId></ErrorResponse>"
        )
    return "text/xml", body.encode()


class FleetscanMiddleware:
    """Wraps moto's WSGI app: identifies each call, counts it, patches its answer."""

    def __init__(self, app, counter):
        self.app = app
        self.counter = counter
        self.delay_seconds = 0.0
        # (operation, account, region or None) -> answered AccessDenied
        self.denied = set()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(PRIVATE_PREFIX):
            return self.private(environ, start_response, path)

        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        form = self.buffer_form_body(environ)
        access_key, region, service = "", "us-east-1", "unknown"
        scope = CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if scope:
            access_key, region, service = scope.groups()
        operation = self.operation(environ, service, path, query, form)
        role_arn = None
        if operation == "sts:AssumeRole":
            role_arn = (form.get("RoleArn") or query.get("RoleArn") or ["?"])[0]

        if self.delay_seconds > 0:
            time.sleep(self.delay_seconds)

        account = self.counter.account_of(access_key)
        if (operation, account, None) in self.denied or (operation, account, region) in self.denied:
            self.counter.record(operation, access_key, region, 403, role_arn)
            content_type, body = denied_answer(environ, service, operation)
            start_response(
                "403 Forbidden",
                [("Content-Type", content_type), ("Content-Length", str(len(body)))],
            )
            return [body]

        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"] = status
            captured["headers"] = headers
            return lambda data: None  # moto never uses the write callable

        chunks = self.app(environ, capture)
        try:
            body = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        status_code = int(captured["status"].split(" ", 1)[0])

        if operation == "s3:GetBucketVersioning" and status_code == 200:
            body = fix_versioning_root(body)
        if operation in ("sts:AssumeRole", "sts:GetSessionToken") and status_code == 200:
            credentials = issued_credentials(body)
            if credentials is not None:
                match = ROLE_ARN_ACCOUNT.match(role_arn or "")
                account = match.group(1) if match else self.counter.account_of(access_key)
                self.counter.remember_credentials(account, credentials)

        self.counter.record(operation, access_key, region, status_code, role_arn)
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
        start_response(captured["status"], headers)
        return [body]

    @staticmethod
    def buffer_form_body(environ):
        """Read a form-encoded (query protocol) body, and put it back for moto."""
        if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            return {}
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return {}
        raw = environ["wsgi.input"].read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        return parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)

    @staticmethod
    def operation(environ, service, path, query, form):
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target:
            return f"{service}:{target.rsplit('.', 1)[-1]}"
        action = (form.get("Action") or query.get("Action") or [None])[0]
        if action:
            return f"{service}:{action}"
        method = environ.get("REQUEST_METHOD", "GET")
        # S3 Control is signed as service `s3` too; its paths carry the API version.
        if service in ("s3", "s3-control", "s3control") and path.startswith("/v20180820/"):
            return f"s3control:{s3control_operation(method, path)}"
        if service == "s3":
            return f"s3:{s3_operation(method, path, query)}"
        return f"{service}:{method} {path}"

    def private(self, environ, start_response, path):
        method = environ.get("REQUEST_METHOD", "GET")
        if path == PRIVATE_PREFIX + "calls" and method == "GET":
            payload = self.counter.snapshot()
        elif path == PRIVATE_PREFIX + "calls/reset" and method == "POST":
            self.counter.reset()
            payload = {"reset": True}
        elif path == PRIVATE_PREFIX + "delay" and method == "POST":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            try:
                milliseconds = int((query.get("ms") or ["0"])[0])
            except ValueError:
                milliseconds = -1
            if milliseconds < 0:
                start_response("400 Bad Request", [("Content-Type", "text/plain")])
                return [b"ms must be a whole number of milliseconds\n"]
            self.delay_seconds = milliseconds / 1000.0
            payload = {"delay_ms": milliseconds}
        elif path == PRIVATE_PREFIX + "deny" and method == "POST":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            operation = (query.get("operation") or [""])[0]
            account = (query.get("account") or [""])[0]
            region = (query.get("region") or [None])[0]
            if not operation or not account:
                start_response("400 Bad Request", [("Content-Type", "text/plain")])
                return [b"operation and account are required\n"]
            self.denied.add((operation, account, region))
            payload = {
                "denied": [
                    {"operation": op, "account": acct, "region": reg}
                    for op, acct, reg in sorted(self.denied, key=repr)
                ]
            }
        elif path == PRIVATE_PREFIX + "deny/reset" and method == "POST":
            self.denied.clear()
            payload = {"denied": []}
        elif path == PRIVATE_PREFIX + "credentials" and method == "GET":
            payload = self.counter.credentials()
        else:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"unknown fleetscan endpoint\n"]
        body = json.dumps(payload, sort_keys=True).encode()
        start_response(
            "200 OK",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]


class QuietRequestHandler(MotoRequestHandler):
    """moto's handler without werkzeug's line per request (tests make thousands)."""

    def log_request(self, code="-", size="-"):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--exit-on-stdin-close", action="store_true")
    parser.add_argument("--log-requests", action="store_true")
    args = parser.parse_args()

    counter = Counter()
    app = FleetscanMiddleware(DomainDispatcherApplication(create_backend_app), counter)
    handler = MotoRequestHandler if args.log_requests else QuietRequestHandler
    server = make_server(args.host, args.port, app, threaded=True, request_handler=handler)
    port = server.server_address[1]
    # Some moto answers embed the server's own URL (e.g. SQS queue URLs).
    os.environ["MOTO_PORT"] = str(port)

    stop = threading.Event()

    def shut_down(*_):
        stop.set()

    signal.signal(signal.SIGTERM, shut_down)
    signal.signal(signal.SIGINT, shut_down)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    print(f"listening on http://{args.host}:{port}", flush=True)

    if args.exit_on_stdin_close:

        def watch_stdin():
            while sys.stdin.buffer.read(4096):
                pass
            stop.set()

        threading.Thread(target=watch_stdin, daemon=True).start()

    while not stop.wait(0.5):
        pass
    server.shutdown()


if __name__ == "__main__":
    main()
