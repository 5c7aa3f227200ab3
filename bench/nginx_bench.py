"""Issue 7, item 3: statusd behind nginx (``bench/nginx-cache.conf``) against nginx serving the
same bytes as a static file, and a wrk run during which one of two statusd instances is killed.

The shipped configuration is rendered with this run's ports into a scratch directory and
included in a minimal main configuration that also holds the static-file server, so both are
served by the same nginx workers.
"""

from __future__ import annotations

import signal
import string
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import httpx

from bench.api_bench import fetch_representations
from bench.procs import (
    BenchError,
    Proc,
    free_port,
    http_status,
    require_tool,
    run_simulator,
    run_statusd,
    spawn,
    wait_for,
)
from bench.report import Section, Target, median
from bench.sizes import Sizes
from bench.wrk import WrkResult, WrkRun, run_wrk

TEMPLATE = Path(__file__).with_name("nginx-cache.conf")
MIN_RATIO = 0.8
# statusd instances collect every second so nginx's copy expires every second (max-age=1)
# and requests keep reaching the upstreams while one of them is killed.
UPSTREAM_ARGS = ("--interval", "1", "--deadline", "1", "--stale-after", "30")

# The main configuration: what a packaged nginx.conf has that matters here (Debian's sets
# sendfile and tcp_nopush), scratch paths, the shipped file, and the static-file server.
MAIN_CONF = """\
load_module /usr/lib/nginx/modules/ngx_nchan_module.so;
daemon off;
worker_processes 2;
worker_rlimit_nofile 65536;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 16384; }}
http {{
    # Requests that took 1 s or more (the event streams aside), to find a slow answer.
    map "$uri $request_time" $statusd_slow {{
        "~^/api/events " 0;
        "~ 0\\." 0;
        default 1;
    }}
    log_format statusd_slow '$time_iso8601 $remote_addr:$remote_port "$request" $status '
        '$request_time s, cache $upstream_cache_status, upstream $upstream_addr '
        '$upstream_status $upstream_connect_time $upstream_response_time, '
        'connection $connection request $connection_requests';
    access_log {dir}/nginx-slow.log statusd_slow if=$statusd_slow;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {dir}/tmp-body;
    proxy_temp_path {dir}/tmp-proxy;
    fastcgi_temp_path {dir}/tmp-fastcgi;
    uwsgi_temp_path {dir}/tmp-uwsgi;
    scgi_temp_path {dir}/tmp-scgi;
    include {dir}/statusd-cache.conf;
    server {{
        listen 127.0.0.1:{static_port};
        location = /api {{
            default_type application/json;
            alias {dir}/api.json;
        }}
    }}
}}
"""


def render_cache_conf(
    listen: str,
    upstream_a: str,
    upstream_b: str,
    cache_dir: Path,
    publish_listen: str,
    more_upstreams: Sequence[str] = (),
) -> str:
    """``nginx-cache.conf`` with its five names filled in (what ``envsubst`` would do); a
    third replica and more get a ``server`` line each, like B's (docs/production.md)."""
    template = TEMPLATE.read_text()
    if more_upstreams:
        line = next(x for x in template.splitlines() if "${STATUSD_UPSTREAM_B}" in x)
        extra = [line.replace("${STATUSD_UPSTREAM_B}", address) for address in more_upstreams]
        template = template.replace(line, "\n".join([line, *extra]), 1)
    text = string.Template(template).safe_substitute(
        STATUSD_NGINX_LISTEN=listen,
        STATUSD_UPSTREAM_A=upstream_a,
        STATUSD_UPSTREAM_B=upstream_b,
        STATUSD_CACHE_DIR=str(cache_dir),
        STATUSD_PUBLISH_LISTEN=publish_listen,
    )
    unfilled = [
        line for line in text.splitlines() if "${" in line and not line.lstrip().startswith("#")
    ]
    if unfilled:
        raise BenchError(f"nginx-cache.conf has names the bench does not fill in: {unfilled}")
    return text


@contextmanager
def run_nginx(
    directory: Path, upstreams: Sequence[Proc], body: bytes, publish_port: int
) -> Iterator[tuple[str, str]]:
    """nginx with the cache configuration in front of ``upstreams`` (one or more; with one,
    it is both A and B), its nchan publisher on ``publish_port``, and a static copy of
    ``body``; yields both URLs."""
    nginx = require_tool("nginx")
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    directory.parent.chmod(0o755)  # nginx workers may run as another user
    cache_port, static_port = free_port(), free_port()
    addresses = [upstream.url.removeprefix("http://") for upstream in upstreams]
    (directory / "api.json").write_bytes(body)
    (directory / "statusd-cache.conf").write_text(
        render_cache_conf(
            f"127.0.0.1:{cache_port}",
            addresses[0],
            addresses[1] if len(addresses) > 1 else addresses[0],
            directory / "cache",
            f"127.0.0.1:{publish_port}",
            addresses[2:],
        )
    )
    conf = directory / "nginx.conf"
    conf.write_text(MAIN_CONF.format(dir=directory, static_port=static_port))
    check = subprocess.run(
        [
            nginx,
            "-t",
            "-q",
            "-c",
            str(conf),
            "-p",
            str(directory),
            "-e",
            str(directory / "nginx-error.log"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if check.returncode != 0:
        raise BenchError(f"nginx -t refused the configuration: {check.stderr.strip()}")
    cache_url, static_url = f"http://127.0.0.1:{cache_port}", f"http://127.0.0.1:{static_port}"
    command = [
        nginx,
        "-c",
        str(conf),
        "-p",
        str(directory),
        "-e",
        str(directory / "nginx-error.log"),
    ]
    with spawn("nginx", command, directory, cache_url) as proc:
        for url in (cache_url, static_url):
            wait_for(proc, partial(serves_api, url), 30, f"{url} serving")
        yield cache_url, static_url


def publishing_config(workdir: Path) -> tuple[int, Path]:
    """A free port for nginx's nchan publisher, and a statusd TOML file publishing there."""
    port = free_port()
    path = workdir / "publish.toml"
    path.write_text(f'nchan_publish_url = "http://127.0.0.1:{port}/statusd/publish"\n')
    return port, path


def serves_api(url: str) -> bool:
    return http_status(f"{url}/api") == 200


def upstream_api_requests(statusd: Proc) -> int:
    """How many /api responses ``statusd`` has served (from its /metrics)."""
    text = httpx.get(f"{statusd.url}/metrics", timeout=5).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("statusd_http_requests_total{") and 'route="/api"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def measure_nginx(workdir: Path, sizes: Sizes) -> list[Section]:
    """Cached statusd vs static nginx (alternating), then a kill of one upstream under load."""
    runs: dict[str, list[WrkResult]] = {"static": [], "cached": []}
    publish_port, publish_toml = publishing_config(workdir)
    upstream_args = (*UPSTREAM_ARGS, "--config", str(publish_toml))
    with (
        run_simulator(workdir, "--seed", "1") as sim,
        run_statusd(workdir, sim, *upstream_args, name="statusd-a") as first,
        run_statusd(workdir, sim, *upstream_args, name="statusd-b") as second,
    ):
        plain_path, _, _ = fetch_representations(first, workdir)
        nginx_dir = workdir / "nginx"
        with run_nginx(nginx_dir, (first, second), plain_path.read_bytes(), publish_port) as urls:
            cache_url, static_url = urls
            if httpx.get(f"{cache_url}/api", timeout=5).content != plain_path.read_bytes():
                raise BenchError("nginx's cached /api differs from statusd's")
            for repeat in range(sizes.repeats):
                order = ["static", "cached"] if repeat % 2 == 0 else ["cached", "static"]
                for name in order:
                    url = static_url if name == "static" else cache_url
                    runs[name].append(
                        run_wrk(
                            f"{url}/api", connections=sizes.connections, seconds=sizes.wrk_seconds
                        )
                    )
            kill = kill_during_load(cache_url, first, second, sizes)
    return [nginx_section(runs, kill, sizes)]


def kill_during_load(
    cache_url: str, victim: Proc, survivor: Proc, sizes: Sizes
) -> dict[str, object]:
    """wrk on the cached /api; one third in, SIGKILL ``victim``. Every request must succeed."""
    before = upstream_api_requests(survivor)
    seconds = sizes.nginx_kill_seconds
    with WrkRun(f"{cache_url}/api", connections=sizes.connections, seconds=seconds) as run:
        time.sleep(seconds / 3)
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(5)
        killed_at = time.monotonic()
        result = run.result()
        after_kill = time.monotonic() - killed_at
    served_by_survivor = upstream_api_requests(survivor) - before
    return {
        "wrk": result,
        "seconds_after_kill": round(after_kill, 2),
        "survivor_api_requests": served_by_survivor,
    }


def nginx_section(
    runs: dict[str, list[WrkResult]], kill: dict[str, object], sizes: Sizes
) -> Section:
    section = Section(
        title=f"nginx micro-cache: wrk -t1 -c{sizes.connections} -d{sizes.wrk_seconds}s, "
        f"median of {sizes.repeats} alternating runs",
        headers=["server", "req/s", "p50 ms", "p99 ms", "bytes/response", "failed"],
    )
    rps: dict[str, float] = {}
    for name, results in runs.items():
        rps[name] = median([r.rps for r in results])
        section.rows.append(
            [
                f"nginx {name}",
                rps[name],
                median([r.p50_ms for r in results]),
                median([r.p99_ms for r in results]),
                median([r.bytes_per_response for r in results]),
                sum(r.failed for r in results),
            ]
        )
        section.data[name] = [r.as_json() for r in results]
    result = kill["wrk"]
    assert isinstance(result, WrkResult)
    section.rows.append(
        [
            "nginx cached, one statusd killed",
            result.rps,
            result.p50_ms,
            result.p99_ms,
            result.bytes_per_response,
            result.failed,
        ]
    )
    ratio = rps["cached"] / rps["static"]
    section.targets.append(Target("cached/static req/s", round(ratio, 3), MIN_RATIO, ">="))
    section.targets.append(
        Target("failed requests while a statusd is killed", result.failed, 0, "<=")
    )
    section.notes.append(
        f"kill run: -d{sizes.nginx_kill_seconds}s, statusd-a SIGKILLed after "
        f"{sizes.nginx_kill_seconds / 3:.1f} s; statusd-b served {kill['survivor_api_requests']} "
        f"/api requests (cache refreshes) during the run; errors {dict(result.errors)}"
    )
    section.data["kill"] = {**kill, "wrk": result.as_json()}
    section.data["ratio"] = ratio
    return section
