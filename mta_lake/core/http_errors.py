"""One line saying what a requests or urllib3 error means, without their long wrappers.

Plain Python, no Dagster. Used by the source client (``mta_lake.core.source``) and the GraphQL
client of the tools.
"""

import re

_POOL_PREFIX = re.compile(r"^\w*HTTPS?Connection(?:Pool)?\(host='[^']*', port=\d+\):\s*")
"""What urllib3 puts before each message: the host and port, which the caller's URL already names."""


def innermost_http_error(error: BaseException) -> BaseException:
    """The last exception that requests or urllib3 raised under ``error``: the one that says what happened.

    requests wraps urllib3's ``MaxRetryError`` (in ``args[0]``), which wraps the real failure (in
    ``reason``), which may wrap an OS error (``__cause__``). The OS error alone loses the context
    (``[Errno -2] Name or service not known`` without the host), so the descent stops at the last
    exception from requests or urllib3 and ``error`` is returned when it is from neither.
    """
    current, seen = error, {id(error)}
    while True:
        wrapped = _wrapped_exception(current)
        if wrapped is None or id(wrapped) in seen or not _from_http_library(wrapped):
            return current
        seen.add(id(wrapped))
        current = wrapped


def _wrapped_exception(error: BaseException) -> BaseException | None:
    reason = getattr(error, "reason", None)  # urllib3's MaxRetryError
    if isinstance(reason, BaseException):
        return reason
    if error.__cause__ is not None:
        return error.__cause__
    if error.args and isinstance(error.args[0], BaseException):  # requests' wrappers
        return error.args[0]
    return None


def _from_http_library(error: BaseException) -> bool:
    return type(error).__module__.split(".")[0] in ("requests", "urllib3")


def describe_http_error(error: BaseException, limit: int = 300) -> str:
    """One line saying what went wrong, for a message: the innermost cause's class and message.

    ``NameResolutionError: Failed to resolve 'web.mta.info' ([Errno -2] Name or service not known)``
    rather than requests' ``HTTPConnectionPool(host='web.mta.info', port=80): Max retries exceeded
    with url: ... (Caused by NameResolutionError("HTTPConnection(host='web.mta.in...``, whose useful
    part a length limit cuts off. Longer than ``limit`` characters, the end is cut.
    """
    inner = innermost_http_error(error)
    args = inner.args
    if len(args) >= 2 and isinstance(args[0], str) and isinstance(args[-1], BaseException):
        # urllib3's ProtocolError('Connection aborted.', ConnectionResetError(104, ...)): say both,
        # unless the first already quotes the second (ProtocolError('... IncompleteRead(...)', ...)).
        detail = args[-1]
        text = args[0]
        if str(detail) not in text and repr(detail) not in text:
            text = f"{text.rstrip('.')}: {type(detail).__name__}: {detail}"
    else:
        text = str(inner)
    text = _POOL_PREFIX.sub("", text.strip())
    line = " ".join(f"{type(inner).__name__}: {text}".split()) if text else type(inner).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."
