"""Fuzz campaigns: every case ends in a store that validates or in a clean one-line Nwb1ZarrError.

- ``test_fuzz_nwb1_trees``: Hypothesis builds NWB 1.0-like files (random names, dtypes, shapes, attributes).
- ``test_fuzz_corrupted_bytes``: byte-level damage (bit flips, zeroed or random ranges, truncation, damaged
  HDF5 metadata blocks) of a small generator file. Each case runs in a forked, supervised child, so a
  damaged file that makes libhdf5 loop forever or crash is caught and reported as the CLI reports it.

Case counts per outcome are printed at the end of the session and saved in
``<pytest basetemp>/fault_observations.json``. Longer campaigns: ``NWB1ZARR_FUZZ_EXAMPLES=500``
(seed: ``NWB1ZARR_FUZZ_SEED``).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nwb1zarr
from nwb1zarr.errors import Nwb1ZarrError

EXAMPLES = int(os.environ.get("NWB1ZARR_FUZZ_EXAMPLES", "8"))
BYTE_CASES = max(10, EXAMPLES)
FUZZ_SEED = int(os.environ.get("NWB1ZARR_FUZZ_SEED", "20261126"))

# ---- Hypothesis: NWB 1.0-like trees ---------------------------------------------------------------

names = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"), min_size=1,
                max_size=40).filter(lambda s: s != ".")
shapes = st.lists(st.integers(0, 3), min_size=0, max_size=4).map(tuple)
plain_dtypes = st.sampled_from(["i1", "u2", "i4", "i8", "f4", "f8", "?", "c8"])
attr_values = st.one_of(
    st.integers(-(2**31), 2**31 - 1), st.floats(allow_nan=True, allow_infinity=True),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30),
    st.binary(max_size=20).map(np.bytes_), st.lists(st.floats(allow_nan=False, width=32), max_size=5).map(np.array),
)


@st.composite
def datasets(draw):
    kind = draw(st.sampled_from(["plain", "plain", "plain", "string", "vlen_string", "compound", "vlen", "ref"]))
    shape = draw(shapes)
    size = int(np.prod(shape)) if shape else 1
    if kind == "plain":
        dtype = np.dtype(draw(plain_dtypes))
        return kind, np.arange(size).astype(dtype).reshape(shape) if dtype.kind != "c" else \
            (np.arange(size) * (1 + 1j)).astype(dtype).reshape(shape)
    if kind == "string":
        return kind, np.array([f"s{i}".encode() for i in range(size)], dtype="S6").reshape(shape)
    if kind == "vlen_string":
        word = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8)
        words = draw(st.lists(word, min_size=size, max_size=size))  # HDF5 vlen strings cannot hold NUL
        return kind, np.array(words, dtype=object).reshape(shape)
    if kind == "compound":
        dtype = np.dtype([("a", "i4"), (draw(names), "f8")]) if draw(st.booleans()) else np.dtype([("x", "u1")])
        return kind, np.zeros(shape, dtype=dtype)
    return kind, shape


@st.composite
def trees(draw, depth=0):
    node = {}
    for name in draw(st.lists(names, max_size=4, unique=True)):
        if depth < 2 and draw(st.booleans()):
            node[name] = draw(trees(depth=depth + 1))
        else:
            node[name] = (draw(datasets()), draw(st.dictionaries(names, attr_values, max_size=3)))
    return node


def _write_tree(group: h5py.Group, tree: dict, root: h5py.File) -> None:
    for name, value in tree.items():
        if isinstance(value, dict):
            _write_tree(group.create_group(name), value, root)
            continue
        (kind, data), attrs = value
        if kind == "vlen_string":
            ds = group.create_dataset(name, data=data, dtype=h5py.string_dtype())
        elif kind == "vlen":
            ds = group.create_dataset(name, shape=data, dtype=h5py.vlen_dtype(np.int16))
        elif kind == "ref":
            ds = group.create_dataset(name, shape=data, dtype=h5py.ref_dtype)
            ds[...] = root["nwb_version"].ref if ds.size else ds[...]
        else:
            ds = group.create_dataset(name, data=data)
        for key, attr in attrs.items():
            ds.attrs[key] = attr


def _outcome(src: Path, dst: Path, validate) -> tuple[str, str]:
    try:
        nwb1zarr.convert(src, dst)
    except Nwb1ZarrError as exc:
        text = str(exc)
        assert "\n" not in text and text.startswith(str(src)), text
        assert not dst.exists()
        return f"clean error ({type(exc).__name__})", text
    validate(src, dst)
    return "store validates", ""


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])
@given(tree=trees(), top=st.sampled_from(["acquisition", "processing", "stimulus", "general", "odd"]))
def test_fuzz_nwb1_trees(tree, top, tmp_path, fault_validate, fuzz_counts):
    case = Path(tempfile.mkdtemp(dir=tmp_path))
    src, dst = case / "tree.nwb", case / "tree.zarr"
    with h5py.File(src, "w") as f:
        f.create_dataset("nwb_version", data="NWB-1.0.6", dtype=h5py.string_dtype("ascii"))
        f.create_dataset("identifier", data="fuzz", dtype=h5py.string_dtype("ascii"))
        _write_tree(f.create_group(top), tree, f)
    before = (src.read_bytes(), src.stat().st_mtime_ns)
    outcome, _ = _outcome(src, dst, fault_validate)
    assert (src.read_bytes(), src.stat().st_mtime_ns) == before
    counts = fuzz_counts.setdefault("hypothesis_trees", {})
    counts[outcome] = counts.get(outcome, 0) + 1
    shutil.rmtree(case)


# ---- byte-level corruption of a real fixture --------------------------------------------------------

SIGNATURES = [b"OHDR", b"TREE", b"HEAP", b"SNOD", b"GCOL", b"FRHP", b"BTHD", b"\x89HDF"]


def corrupt(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One random kind of damage; returns (description, damaged bytes)."""
    b = bytearray(data)
    mode = rng.choice(["flip bits", "zero range", "random range", "truncate", "zeroed tail", "metadata block"])
    if mode == "flip bits":
        for _ in range(rng.randint(1, 16)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    elif mode == "zero range":
        at, n = rng.randrange(len(b)), rng.randint(1, 4096)
        b[at:at + n] = bytes(len(b[at:at + n]))
    elif mode == "random range":
        at, n = rng.randrange(len(b)), rng.randint(1, 512)
        b[at:at + n] = rng.randbytes(len(b[at:at + n]))
    elif mode == "truncate":
        b = b[: rng.randrange(1, len(b))]
    elif mode == "zeroed tail":  # a pre-allocated download that stopped part way
        at = rng.randrange(len(b) // 2, len(b))
        b[at:] = bytes(len(b) - at)
    else:
        found = [i for sig in SIGNATURES for i in range(len(b)) if b.startswith(sig, i)]
        at = rng.choice(found) + rng.randrange(4, 48)
        n = rng.randint(1, 32)
        b[at:at + n] = rng.randbytes(len(b[at:at + n])) if rng.random() < 0.5 else bytes(len(b[at:at + n]))
        mode = f"metadata block @{at}"
    return mode, bytes(b)


def _byte_worker(case_dir: str) -> None:
    """Run every case in ``case_dir`` in a supervised child; write ``<case>.json`` with its outcome."""
    from nwb1zarr.supervise import supervised

    os.environ.setdefault("NWB1ZARR_STALL_SECONDS", "5")
    for src in sorted(Path(case_dir).glob("*.nwb")):
        dst, result = src.with_suffix(".zarr"), src.with_suffix(".json")

        def run(src: Path = src, dst: Path = dst, result: Path = result) -> int:
            try:
                outcome, message = _outcome(src, dst, _validator())
            except Exception as exc:  # the bug the campaign looks for
                outcome, message = "BUG", f"{type(exc).__name__}: {exc}"[:500]
            result.write_text(json.dumps({"outcome": outcome, "message": message}))
            return 0

        code = supervised(run, src=src, dst=dst)
        if not result.exists():  # stalled or crashed: the supervisor already said so in one line
            result.write_text(json.dumps({"outcome": f"supervisor stopped it (exit {code})", "message": ""}))


def _validator():
    from nwb1zarr.validation.validate import validate

    def check(src: Path, dst: Path) -> None:
        report = validate(src, dst)
        if not report.ok:
            raise AssertionError(f"store does not validate: {report.summary()}")

    return check


def test_fuzz_corrupted_bytes(fault_sources, tmp_path, fuzz_counts, fault_guard):
    rng = random.Random(FUZZ_SEED)
    data = fault_sources["generic"].read_bytes()
    described = {}
    for i in range(BYTE_CASES):
        mode, damaged = corrupt(data, rng)
        (tmp_path / f"case{i:04d}.nwb").write_bytes(damaged)
        described[f"case{i:04d}"] = mode
    fingerprints = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.glob("*.nwb")}
    tests_dir = str(Path(__file__).resolve().parent)
    code = f"import sys; sys.path.insert(0, {tests_dir!r}); import test_fuzz; test_fuzz._byte_worker({str(tmp_path)!r})"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60 * BYTE_CASES)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    for line in proc.stderr.strip().splitlines():  # only the supervisor's one-line reports
        assert line.startswith("error: "), line
    counts = fuzz_counts.setdefault("corrupted_bytes", {})
    bugs = []
    for name, mode in described.items():
        outcome = json.loads((tmp_path / f"{name}.json").read_text())
        counts[outcome["outcome"]] = counts.get(outcome["outcome"], 0) + 1
        if outcome["outcome"] == "BUG":
            bugs.append(f"{name} ({mode}): {outcome['message']}")
        if not outcome["outcome"].startswith("store"):
            assert not (tmp_path / f"{name}.zarr").exists(), name
        assert not list(tmp_path.glob(f".{name}.zarr.*")), name  # no partial dirs or locks left
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.glob("*.nwb")} == fingerprints
    assert not bugs, f"seed {FUZZ_SEED}:\n" + "\n".join(bugs)
