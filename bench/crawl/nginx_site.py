"""The docs served by nginx on loopback: the fast static server the crawler comparison runs on.

nginx runs as the calling user in the foreground (`daemon off`), from a private prefix with its
own config, logs and temp folders, on 127.0.0.1 and a free port; it is stopped by its PID.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

CONFIG = """
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log error;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    open_file_cache max=2000 inactive=60s;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        index index.html;
    }}
}}
"""


def nginx_available() -> bool:
    return shutil.which("nginx") is not None or Path("/usr/sbin/nginx").exists()


@contextlib.contextmanager
def nginx_site(root: Path, port: int) -> Iterator[list[str]]:
    """Yields the command that runs nginx for `root` on `port` (run it with subprocess_server)."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    with tempfile.TemporaryDirectory(prefix="sitechat-nginx-") as prefix:
        config = Path(prefix) / "nginx.conf"
        config.write_text(CONFIG.format(prefix=prefix, port=port, root=root))
        yield [binary, "-p", prefix, "-c", str(config), "-g", "daemon off;"]
