"""Process lifecycle and the command line: restart durability, SIGKILL
durability of 201s, SIGTERM/SIGINT drain, CLI help/version/errors,
configuration by environment, and `warplink link import`."""

import re
import signal
import socket
import time

import pytest

from conftest import PUBLIC_URL, STOP_TIMEOUT, report_figure, run_cli
from helpers import (Conn, build_request, connect_outcome, create_link, http, poll)

SERVE_OPTIONS = ["listen", "data-dir", "public-url", "threads", "cache-bytes", "cache-ttl",
                 "negative-ttl", "max-connections", "header-timeout", "idle-timeout",
                 "anonymous-create"]


def check_all_redirect(port, links):
    """Pipelines GET for every (key, url) on one connection; asserts each 302."""
    with Conn(port, timeout=10) as c:
        c.send(b"".join(build_request("GET", "/" + k) for k, _ in links))
        for key, url in links:
            r = c.read_response(timeout=10)
            assert r.status == 302, (key, r)
            assert r.header("location") == url, (key, r)


# -- durability -------------------------------------------------------------
def test_restart_durability_200_links(server_factory):
    s = server_factory.start()
    t0 = time.monotonic()
    links = []
    with Conn(s.port) as c:
        for i in range(200):
            url = f"https://example.com/durable/{i}?v={i * 7}"
            body = ('{"long_url": "%s"}' % url).encode()
            r = c.request("POST", "/links", [("Content-Type", "application/json")], body)
            assert r.status == 201, (i, r)
            links.append((r.json()["key"], url))
    took = time.monotonic() - t0
    report_figure("200 sequential creates on one connection", f"{took * 1000:.0f} ms "
                  f"({200 / took:.0f}/s)")
    assert len({k for k, _ in links}) == 200
    assert s.stop() == 0
    s2 = server_factory.start(data_dir=s.data_dir)
    check_all_redirect(s2.port, links)


def test_created_links_survive_sigkill(server_factory):
    # ARCHITECTURE.md 3: "201 Created means the link is durable".
    s = server_factory.start()
    links = [(create_link(s.port, f"https://example.com/kill9/{i}")["key"],
              f"https://example.com/kill9/{i}") for i in range(50)]
    s.signal(signal.SIGKILL)
    assert s.wait(5) == -signal.SIGKILL
    s2 = server_factory.start(data_dir=s.data_dir)
    check_all_redirect(s2.port, links)


# -- drain --------------------------------------------------------------------
def test_sigterm_answers_request_in_flight_then_exits_0(server_factory):
    s = server_factory.start()
    link = create_link(s.port, "https://example.com/drain")
    with Conn(s.port) as c:
        assert c.request("GET", "/healthz").status == 200  # accepted, keep-alive
        c.send(build_request("GET", "/" + link["key"]))
        s.signal(signal.SIGTERM)
        r = c.read_response(timeout=5)
        assert r.status == 302 and r.header("location") == "https://example.com/drain", r
        # The connection stays open on our side: an idle keep-alive client
        # must not hold up the shutdown.
        t0 = time.monotonic()
        rc = s.wait(STOP_TIMEOUT)
        assert rc == 0, f"exit {rc} after SIGTERM; stderr:\n{s.stderr_text()}"
        report_figure("SIGTERM to exit with an idle keep-alive client",
                      f"{(time.monotonic() - t0) * 1000:.0f} ms")
    assert connect_outcome(s.port, timeout=1.0)[0] == "refused"


def test_sigterm_closes_listener_but_finishes_partial_request(server_factory):
    # A request whose body is still arriving is in flight: SIGTERM must stop
    # new connections at once, yet let it complete (201 = durable).
    s = server_factory.start()
    body = b'{"long_url": "https://example.com/drain-post"}'
    with Conn(s.port) as c:
        assert c.request("GET", "/healthz").status == 200
        c.send(build_request("POST", "/links", [("Content-Type", "application/json"),
                                                ("Content-Length", str(len(body)))],
                             body[:10], content_length=False))
        # No wait here on purpose: bytes a client has sent are in flight
        # whether or not the server's loop has read them yet, so a correct
        # drain never treats this connection as idle.
        s.signal(signal.SIGTERM)

        def refused():
            kind, _ = connect_outcome(s.port, timeout=1.0)
            return kind in ("refused", "closed") and s.alive()
        assert poll(refused, 3.0), ("not (new connections refused and process alive) "
                                    f"within 3 s of SIGTERM; stderr:\n{s.stderr_text()}")
        assert s.alive(), "exited without finishing the in-flight request"
        c.send(body[10:])
        r = c.read_response(timeout=5)
        assert r.status == 201, r
        key = r.json()["key"]
        assert s.wait(STOP_TIMEOUT) == 0, s.stderr_text()
    s2 = server_factory.start(data_dir=s.data_dir)
    g = http(s2.port, "GET", "/" + key)
    assert g.status == 302 and g.header("location") == "https://example.com/drain-post"


def test_sigint_exits_0(server_factory):
    s = server_factory.start()
    assert http(s.port, "GET", "/healthz").status == 200
    assert s.stop(signal.SIGINT) == 0


def test_sigterm_with_idle_connections_exits_0(server_factory):
    s = server_factory.start()
    conns = [Conn(s.port) for _ in range(5)]
    try:
        for c in conns:
            assert c.request("GET", "/healthz").status == 200
        assert s.stop(signal.SIGTERM, timeout=5) == 0
        for c in conns:  # the server closed them on its way out
            assert c.wait_closed(1.0)
    finally:
        for c in conns:
            c.close()


# -- command line -------------------------------------------------------------
def test_help_lists_subcommands():
    p = run_cli(["--help"])
    assert p.returncode == 0, p.stderr
    for word in ("serve", "version", "link"):
        assert word in p.stdout, f"'{word}' missing from --help:\n{p.stdout}"


def test_serve_help_lists_every_option_with_default_and_env():
    p = run_cli(["serve", "--help"])
    assert p.returncode == 0, p.stderr
    text = p.stdout
    positions = []
    for opt in SERVE_OPTIONS:
        m = re.search(r"--" + re.escape(opt) + r"\b", text)
        assert m, f"--{opt} missing from `serve --help`:\n{text}"
        positions.append((m.start(), opt))
        env = "WARPLINK_" + opt.upper().replace("-", "_")
        assert env in text, f"{env} missing from `serve --help`"
    positions.sort()
    for (start, opt), (nxt, _) in zip(positions, positions[1:] + [(len(text), None)]):
        assert "default" in text[start:nxt].lower(), f"--{opt} shows no default"


def test_version():
    p = run_cli(["version"])
    assert p.returncode == 0, p.stderr
    assert re.fullmatch(r"warplink \d+\.\d+\.\d+\n?", p.stdout), repr(p.stdout)


@pytest.mark.parametrize("args,needles", [
    (["serve", "--bogus-option", "1"], ["--bogus-option"]),
    (["frobnicate"], ["frobnicate"]),
    (["serve", "--threads", "abc"], ["threads", "abc"]),
    (["serve", "--anonymous-create", "maybe"], ["anonymous-create", "maybe"]),
    (["serve", "--listen", "not-an-address"], ["listen", "not-an-address"]),
], ids=["unknown-option", "unknown-command", "threads-abc", "anon-maybe", "listen-bad"])
def test_bad_command_line_fails_with_message(tmp_path, args, needles):
    # The message must name the offending option or value.
    if args[0] == "serve":
        args = args + ["--data-dir", str(tmp_path), "--listen", "127.0.0.1:0"] \
            if "--listen" not in args else args + ["--data-dir", str(tmp_path)]
    p = run_cli(args, timeout=10)
    assert p.returncode != 0, p
    assert any(n in p.stderr for n in needles), f"stderr names none of {needles}:\n{p.stderr}"


def test_listen_port_in_use_fails(tmp_path):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        p = run_cli(["serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp_path),
                     "--public-url", PUBLIC_URL], timeout=10)
    assert p.returncode != 0
    assert p.stderr.strip(), "no message for a port already in use"


def test_configuration_from_environment(server_factory):
    d = server_factory.data_dir()
    s = server_factory.start(data_dir=d, use_flags=False, env={
        "WARPLINK_LISTEN": "127.0.0.1:0", "WARPLINK_DATA_DIR": str(d),
        "WARPLINK_PUBLIC_URL": "http://env.example"})
    link = create_link(s.port, "https://example.com/env")
    assert link["short_url"] == "http://env.example/" + link["key"]


def test_flags_override_environment(server_factory):
    s = server_factory.start(public_url="http://flag.example",
                             env={"WARPLINK_PUBLIC_URL": "http://env.example"})
    link = create_link(s.port, "https://example.com/flag")
    assert link["short_url"] == "http://flag.example/" + link["key"]


def test_link_import(server_factory, tmp_path):
    d = server_factory.data_dir()
    rows = [("Imp0001", "https://example.com/imported/1"),
            ("Imp0002", "https://example.com/imported/2?q=a&b=c"),
            ("Imp0003", "http://192.0.2.1:8080/three")]
    tsv = tmp_path / "links.tsv"
    tsv.write_text("".join(f"{k}\t{u}\n" for k, u in rows))
    p = run_cli(["link", "import", "--data-dir", str(d), str(tsv)])
    assert p.returncode == 0, p.stderr
    assert f"imported {len(rows)} links" in p.stdout, p.stdout
    s = server_factory.start(data_dir=d)
    check_all_redirect(s.port, rows)
