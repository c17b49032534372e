"""Log output in SGLang's format: `[%Y-%m-%d %H:%M:%S] msg` on stderr, Uvicorn access lines on stdout."""
import os
import sys
import time

_MS = os.environ.get("SGLANG_LOG_MS", "").lower() in ("1", "true", "yes")
_prefix = ""

for _stream in (sys.stdout, sys.stderr):
    try:
        _stream.reconfigure(line_buffering=True)
    except (AttributeError, ValueError):
        pass


def set_prefix(prefix):
    global _prefix
    _prefix = prefix


_last_stamp = [None, ""]


def _stamp():
    now = time.time()
    sec = int(now)
    if sec != _last_stamp[0]:
        _last_stamp[0], _last_stamp[1] = sec, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
    s = _last_stamp[1]
    if _MS:
        s += ".%03d" % int((now % 1) * 1000)
    return s


def log(msg, prefix=None):
    """A scheduler / server logger line (INFO, WARNING and ERROR look the same in SGLang's format)."""
    sys.stderr.write("[%s%s] %s\n" % (_stamp(), _prefix if prefix is None else prefix, msg))


def uvicorn(level, msg):
    """Uvicorn's own lines (startup, errors) with SGLang's replaced formatter."""
    sys.stderr.write("[%s] %s %s\n" % (_stamp(), (level + ":").ljust(9), msg))


def access(client, method, path, version, status):
    sys.stdout.write('[%s] INFO:     %s - "%s %s HTTP/%s" %d\n' % (_stamp(), client, method, path, version, status))


def raw(text):
    """Text written unformatted (tracebacks continue the previous record)."""
    sys.stderr.write(text if text.endswith("\n") else text + "\n")


def flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
