"""aiohttp's own error answers in the API's shape: ``{"error": ..., "status": ..., "code": ...}`` as
``application/json`` (:func:`streams.service.responses._error`), so that a client reads one error
shape whatever refused its request.

Two places make them, each handled here:

- the application: aiohttp raises ``HTTPNotFound`` / ``HTTPMethodNotAllowed`` for a path or method
  no route takes (in the worker, Faust's router handles the paths the service passes on), and
  ``HTTPRequestEntityTooLarge`` when a handler reads a body beyond ``client_max_size``.
  :func:`json_errors`, the outermost middleware, answers those. It changes no answer a handler
  returns: the service's handlers return their responses (JSON already), they raise nothing.
- the protocol parser, before any application code: a malformed request line or header, a line
  or header longer than ``max_line_size`` / ``max_field_size`` (8190 bytes), too many headers.
  aiohttp 3.x answers these from ``RequestHandler.handle_error`` in text/plain, with no hook for
  the application (middlewares and ``on_response_prepare`` never see that request), so
  :class:`JsonErrorRunner` (an ``AppRunner`` whose server builds :class:`JsonErrorRequestHandler`)
  answers them in JSON. It relies on aiohttp's ``AppRunner._make_server`` and ``Server``'s
  ``_kwargs`` (stable through 3.x; tests/test_service_errors.py checks the answers, so an
  aiohttp upgrade that changes them fails there).
"""
from __future__ import annotations

from http import HTTPStatus

from aiohttp import web
from aiohttp.http_exceptions import InvalidURLError, LineTooLong
from aiohttp.web_protocol import RequestHandler

from streams.service.responses import _error

# The parser's refusal of a URL holding raw non-ASCII (or control) bytes, as curl sends a Chinese
# search word typed into the URL: what to do instead, not just "malformed".
URL_NOT_ENCODED = ("the URL holds a character that must be percent-encoded (UTF-8): "
                   "?q=广州 is ?q=%E5%B9%BF%E5%B7%9E; with curl: "
                   "curl -G --data-urlencode 'q=广州' URL")


def _message(exc: web.HTTPException) -> str:
    if isinstance(exc, web.HTTPNotFound):
        return "no such route"
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return f"allowed: {', '.join(sorted(exc.allowed_methods))}"
    text = exc.text or ""
    if text and not text.startswith(f"{exc.status}:"):  # aiohttp's default text is "404: Not Found"
        return text.strip()[:300]
    return exc.reason


def _code(exc: web.HTTPException) -> str:
    # The error code of aiohttp's own refusals (streams.service.error_codes).
    if isinstance(exc, web.HTTPNotFound):
        return "no_such_route"
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return "method_not_allowed"
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return "body_too_large"
    return "internal_error" if exc.status >= 500 else "bad_request"


def error_from_exception(exc: web.HTTPException) -> web.Response:
    """The JSON answer of an aiohttp error (status >= 400), with its headers (``Allow``) kept.

    >>> r = error_from_exception(web.HTTPMethodNotAllowed("POST", ["GET", "HEAD"]))
    >>> r.status, r.content_type, r.body, r.headers["Allow"]
    (405, 'application/json', b'{"error":"allowed: GET, HEAD","status":405,"code":"method_not_allowed"}', 'GET,HEAD')
    """
    response = _error(exc.status, _message(exc), _code(exc))
    for name, value in exc.headers.items():
        if name.lower() not in ("content-type", "content-length"):
            response.headers[name] = value
    return response


@web.middleware
async def json_errors(request: web.Request, handler):
    """Answer aiohttp's errors (status >= 400, raised below this middleware) in JSON; redirects
    and every returned response pass unchanged."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_from_exception(exc)


def parser_error_code(status: int, exc: BaseException | None) -> str:
    """The error code of a request the parser refused (:func:`parser_error_message` its text).

    >>> parser_error_code(400, LineTooLong(b"x" * 9000, 8190)), parser_error_code(500, None)
    ('header_too_long', 'internal_error')
    """
    if status == 500:
        return "internal_error"
    if isinstance(exc, LineTooLong):
        return "header_too_long"
    if isinstance(exc, InvalidURLError):
        return "url_not_encoded"
    return "malformed_request"


def parser_error_message(status: int, exc: BaseException | None) -> str:
    """The message of a request the parser refused: never the request's own bytes (a header
    line may be 8 KiB of anything).

    >>> parser_error_message(400, LineTooLong(b"x" * 9000, 8190))
    'request line or header longer than 8190 bytes'
    >>> parser_error_message(500, None)
    'internal error'

    A URL with bytes that must be percent-encoded (curl sends ``?q=广州`` as it is typed) is told
    how to send it:

    >>> parser_error_message(400, InvalidURLError("x"))[:62]
    'the URL holds a character that must be percent-encoded (UTF-8)'
    """
    if status == 500:
        return "internal error"
    if isinstance(exc, LineTooLong):
        return f"request line or header longer than {exc.args[1]} bytes"
    if isinstance(exc, InvalidURLError):
        return URL_NOT_ENCODED
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "error"
    return f"malformed HTTP request ({phrase.lower()})"


class JsonErrorRequestHandler(RequestHandler):
    """aiohttp's connection handler with the parser's (and a lost request's) answers in JSON."""

    def log_exception(self, *args, **kw) -> None:
        # aiohttp logs every parser refusal as an ERROR with its traceback. A URL that is not
        # percent-encoded is the client's mistake, answered with how to fix it: one WARNING line,
        # without the URL (the client's bytes stay out of the log).
        exc = kw.get("exc_info")
        if isinstance(exc, InvalidURLError):
            peer = args[1] if len(args) > 1 else "?"
            self.logger.warning("refused a request from %s: its URL is not percent-encoded "
                                "(raw non-ASCII or control bytes); answered 400", peer)
            return
        super().log_exception(*args, **kw)

    def handle_error(self, request, status: int = 500, exc=None, message=None):
        # aiohttp's own: logs the error, refuses when an answer was already under way; its text
        # answer is replaced.
        super().handle_error(request, status, exc, message)
        response = _error(status, parser_error_message(status, exc), parser_error_code(status, exc))
        response.force_close()  # as aiohttp does: the connection's state is unknown
        return response


class _JsonErrorServer(web.Server):
    def __call__(self) -> RequestHandler:
        return JsonErrorRequestHandler(self, loop=self._loop, **self._kwargs)


class JsonErrorRunner(web.AppRunner):
    """``web.AppRunner`` whose connections answer parser errors in JSON
    (:class:`JsonErrorRequestHandler`); use it like an ``AppRunner``."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        return _JsonErrorServer(server.request_handler, request_factory=server.request_factory,
                                handler_cancellation=server.handler_cancellation, loop=server._loop,
                                **server._kwargs)
