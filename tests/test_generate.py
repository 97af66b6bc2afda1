"""The synthetic generator: deterministic, Firehose-shaped, and realistic enough to test on."""

from __future__ import annotations

import gzip
import hashlib
import re
from datetime import date

from pipelines.generate import GenerateOptions, generate
from pipelines.storage import Storage

KEY_RE = re.compile(r"^landing/rtl/\d{4}/\d{2}/\d{2}/\d{2}/footfall-rtl-1-\d{4}(-\d{2}){5}-[0-9a-f-]{36}\.gz$")
STD_RE = re.compile(r"^landing/standard/E2EXAMPLE\.\d{4}-\d{2}-\d{2}-\d{2}\.[0-9a-f]{8}\.gz$")


def snapshot(root) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    opts = GenerateOptions(start=date(2026, 11, 1), days=1, visitors=200, seed=3)
    generate(Storage(str(tmp_path / "a")), opts)
    generate(Storage(str(tmp_path / "b")), opts)
    generate(Storage(str(tmp_path / "c")), GenerateOptions(**{**opts.__dict__, "seed": 4}))
    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b")
    assert snapshot(tmp_path / "a") != snapshot(tmp_path / "c")


def test_objects_look_like_firehose_and_standard_deliveries(tmp_path):
    stats = generate(Storage(str(tmp_path)), GenerateOptions(start=date(2026, 11, 1), days=1, visitors=300))
    files = [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()]
    rtl = [f for f in files if f.startswith("landing/rtl/")]
    std = [f for f in files if f.startswith("landing/standard/")]
    assert rtl and all(KEY_RE.match(f) for f in rtl)
    assert std and all(STD_RE.match(f) for f in std)
    body = gzip.decompress((tmp_path / rtl[0]).read_bytes())
    assert (tmp_path / rtl[0]).read_bytes()[:2] == b"\x1f\x8b"
    assert body.split(b"\n")[0].count(b"\t") == 45
    first_std = gzip.decompress((tmp_path / std[0]).read_bytes()).split(b"\n")
    assert first_std[0] == b"#Version: 1.0" and first_std[1].startswith(b"#Fields: date time")
    assert stats["rtl"]["duplicates"] > 0 and stats["rtl"]["late"] >= 0
    everything = b"".join(gzip.decompress((tmp_path / f).read_bytes()) for f in rtl)
    for feature in (b"Googlebot", b"utm_campaign=", b"\t404\t", b"\t502\t", b"\t301\t", b"\tRefreshHit\t",
                    b"x-visitor-id:", b"/static/", b"\t304\t"):
        assert feature in everything, feature
