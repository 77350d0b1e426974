"""Read by the `chronik` subprocesses of a test run (`secret_watch.subprocess_env` puts this
directory on their PYTHONPATH): every log record of the process is also written, as
production would write it, to `<pid>.log` in the session's log directory, for the check that
no secret reaches a log line."""

import os

_directory = os.environ.get("CHRONIK_TEST_LOG_COPY")
if _directory:
    import logging

    from telemetry.logs import JsonFormatter, RedactSecrets

    _handler = logging.FileHandler(os.path.join(_directory, f"{os.getpid()}.log"), delay=True)
    _handler.setFormatter(JsonFormatter())
    _handler.addFilter(RedactSecrets())
    # configure_logging replaces only its own handler: this one stays for the whole run (and
    # a FileHandler reopens its file after uvicorn's dictConfig closed it).
    logging.getLogger().addHandler(_handler)
