"""The click queue on disk after damage: torn tails and corrupt bytes.

`serve --no-worker --threads 1` writes clicks to D/queue/part-000/*.seg
(a new segment per server start); the server is stopped, the files are
damaged, and then `warplink worker` runs. Expected: every intact record is
counted exactly once, the damaged ones are not, the damage is reported
(the worker's exit summary, "N events consumed, M corrupt", is what a
standalone worker exposes: it serves no metrics), and nothing crashes.

Frame layout used to aim the damage (src/queue/record.h): magic C7 57 4C 31,
u32 LE payload length, u32 LE crc32, payload.
"""

import re
import struct
from pathlib import Path

from analyticsutil import Owner, Worker, clicks, figure, scaled, total, wait_counted

MAGIC = b"\xC7WL1"
SUMMARY_RE = re.compile(r"(\d+) events consumed, (\d+) corrupt")
OPTS = {"worker": "off", "threads": 1}
WORKER_ARGS = ["--batch-max", "64", "--batch-wait-ms", "20"]


def segments(data_dir):
    parts = sorted((Path(data_dir) / "queue").glob("part-*"))
    assert len(parts) == 1, f"expected one partition with --threads 1: {parts}"
    return sorted(parts[0].glob("*.seg"))


def frames(path):
    """[(offset, payload_len)] of the frames of a segment, walked by length."""
    b = Path(path).read_bytes()
    out, off = [], 0
    while off < len(b):
        assert b[off:off + 4] == MAGIC, f"{path}: no frame magic at {off}"
        (n,) = struct.unpack_from("<I", b, off + 4)
        out.append((off, n))
        off += 12 + n
    assert off == len(b), f"{path}: last frame runs past the end"
    return out


def run_server(factory, data_dir, owner, key, n):
    """Starts serve on data_dir, sends n human clicks, stops it (exit 0)."""
    s = factory.start(data_dir=data_dir, opts=OPTS)
    if owner is None:
        owner = Owner(s, "q")
        key = owner.link()
    owner.rebind(s)
    assert clicks(s.port, key, n) == [302] * n
    assert s.stop() == 0, s.stderr_text()
    return owner, key


def flip(path, offset, n=4):
    b = bytearray(Path(path).read_bytes())
    for i in range(offset, offset + n):
        b[i] ^= 0xFF
    Path(path).write_bytes(bytes(b))


def summary(w):
    m = [SUMMARY_RE.search(ln) for ln in w.err.lines]
    m = [x for x in m if x]
    assert m, f"no summary line from the worker; stderr:\n{w.stderr_text()}"
    return int(m[-1].group(1)), int(m[-1].group(2))


def count_with_worker(factory, data_dir, owner, expected, extra_clicks=None):
    """Runs serve (--no-worker, for the stats API) plus a worker; waits for
    `expected`; returns (doc, consumed, corrupt, worker stderr)."""
    s = factory.start(data_dir=data_dir, opts=OPTS)
    owner.rebind(s)
    w = Worker(data_dir, WORKER_ARGS).start()
    try:
        if extra_clicks:
            key, n = extra_clicks
            assert clicks(s.port, key, n) == [302] * n
        doc = wait_counted(lambda: owner.stats(owner.key), expected, timeout=30)
        assert w.alive(), w.stderr_text()
        rc = w.term()
        assert rc == 0, f"worker exit {rc}; stderr:\n{w.stderr_text()}"
        consumed, corrupt = summary(w)
        return doc, consumed, corrupt, "\n".join(w.err.lines)
    finally:
        w.cleanup()


def test_flipped_bytes_mid_segment(server_factory):
    data = server_factory.data_dir()
    n1, n2 = scaled(200, 60), scaled(200, 60)
    o, key = run_server(server_factory, data, None, None, n1)
    o.key = key
    run_server(server_factory, data, o, key, n2)
    segs = segments(data)
    assert len(segs) == 2, segs
    f1, f2 = frames(segs[0]), frames(segs[1])
    assert (len(f1), len(f2)) == (n1, n2), "one frame per click expected"
    # damage the payload of one record in the middle of each segment (the
    # first is sealed, the second is the newest)
    for seg, fr in ((segs[0], f1), (segs[1], f2)):
        off, n = fr[len(fr) // 2]
        flip(seg, off + 12 + n // 2)
    expected = n1 + n2 - 2
    doc, consumed, corrupt, err = count_with_worker(server_factory, data, o, expected)
    figure("queue-recovery/flip: counted / intact / written", f"{total(doc)} / {expected} / "
           f"{n1 + n2}")
    figure("queue-recovery/flip: worker summary consumed, corrupt", f"{consumed}, {corrupt}")
    assert total(doc) == expected
    assert consumed == expected, err
    assert corrupt == 2, f"two damaged records, the worker reported {corrupt}:\n{err}"


def test_damaged_length_in_sealed_segment(server_factory):
    """A record whose length field was damaged to point past the end of its
    (sealed) segment: only that record is lost, the records after it in the
    same segment are still counted."""
    data = server_factory.data_dir()
    n1, n2 = scaled(200, 60), scaled(50, 20)
    o, key = run_server(server_factory, data, None, None, n1)
    o.key = key
    run_server(server_factory, data, o, key, n2)
    segs = segments(data)
    assert len(segs) == 2, segs
    f1 = frames(segs[0])
    assert len(f1) == n1
    off, _ = f1[n1 // 2]
    size = segs[0].stat().st_size
    b = bytearray(segs[0].read_bytes())
    struct.pack_into("<I", b, off + 4, min(60000, 65536))   # well past EOF
    assert off + 12 + 60000 > size
    segs[0].write_bytes(bytes(b))
    expected = n1 + n2 - 1
    doc, consumed, corrupt, err = count_with_worker(server_factory, data, o, expected)
    figure("queue-recovery/bad-length: counted / intact", f"{total(doc)} / {expected}")
    figure("queue-recovery/bad-length: worker summary consumed, corrupt",
           f"{consumed}, {corrupt}")
    assert total(doc) == expected
    assert corrupt >= 1, f"the damaged record was not reported:\n{err}"


def test_torn_tail_of_newest_segment(server_factory):
    """The newest segment ends in the middle of a record (a crash during a
    write). The worker counts what is intact and keeps running; once a new
    server starts (a new segment: the torn one can never grow again), the
    clicks after it are counted too, and the torn record is reported."""
    data = server_factory.data_dir()
    n1, n2 = scaled(150, 50), scaled(50, 20)
    o, key = run_server(server_factory, data, None, None, n1)
    o.key = key
    segs = segments(data)
    assert len(segs) == 1, segs
    f1 = frames(segs[0])
    assert len(f1) == n1
    off, n = f1[-1]
    cut = off + 12 + n // 2                     # mid-payload of the last record
    with open(segs[0], "r+b") as fh:
        fh.truncate(cut)
    s = server_factory.start(data_dir=data, opts=OPTS)
    o.rebind(s)
    w = Worker(data, WORKER_ARGS).start()
    try:
        # intact records before the torn one are counted (while the torn
        # segment may still be the newest one)
        wait_counted(lambda: o.stats(key), n1 - 1, timeout=30)
        assert w.alive(), w.stderr_text()
        # serve was started after the damage, so it already owns a newer
        # segment: more clicks go there and must all be counted
        assert clicks(s.port, key, n2) == [302] * n2
        doc = wait_counted(lambda: o.stats(key), n1 - 1 + n2, timeout=30)
        assert w.alive(), w.stderr_text()
        rc = w.term()
        assert rc == 0, w.stderr_text()
        consumed, corrupt = summary(w)
    finally:
        w.cleanup()
    err = "\n".join(w.err.lines)
    torn_lines = [ln for ln in w.err.lines if "torn" in ln.lower()]
    figure("queue-recovery/torn: counted / intact", f"{total(doc)} / {n1 - 1 + n2}")
    figure("queue-recovery/torn: worker summary consumed, corrupt; lines mentioning torn",
           f"{consumed}, {corrupt}; {len(torn_lines)}")
    assert total(doc) == n1 - 1 + n2
    assert consumed == n1 - 1 + n2, err
    assert corrupt >= 1 or torn_lines, \
        f"the torn record was dropped without any report (metric or log):\n{err}"
