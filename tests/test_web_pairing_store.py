"""Paired phones outlive a restart of `showctl serve --lan`: the store's file (digests only, 0600, written
atomically), what a corrupt file or an unwritable folder does (one warning line, pairing goes on), and the
real server stopped and started again on the same --state-dir."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path

import pytest
from test_web import PHONE_ADDRESS, Stopwatch, http_get, next_state, serve_process, wait_state, ws_connect

from showctl.web.model import PairedDevice
from showctl.web.pairing import (
    SEEN_SAVE_EVERY,
    SESSION_LIFETIME,
    PairedDeviceStore,
    Pairing,
    PairingStoreError,
    default_state_dir,
)

PHONE = {"source": PHONE_ADDRESS, "host": PHONE_ADDRESS}
BASE_URL = "http://192.0.2.7:8650"


def code(pairing: Pairing) -> str:
    link = pairing.link
    assert link is not None
    return link.rsplit("/", 1)[1]


class MemoryStore:
    """A store that keeps what it was given, counts saves, and fails when told to."""

    def __init__(self, devices: Mapping[str, PairedDevice] | None = None) -> None:
        self.devices = dict(devices or {})
        self.saves = 0
        self.failing: str | None = None

    def prepare(self) -> None:
        pass

    def load(self) -> dict[str, PairedDevice]:
        return dict(self.devices)

    def save(self, devices: Mapping[str, PairedDevice]) -> None:
        if self.failing:
            raise PairingStoreError(self.failing)
        self.devices = dict(devices)
        self.saves += 1


# -- the store and Pairing, in this process ------------------------------------------------------------------
def test_paired_devices_are_saved_as_digests_and_come_back_revoked_ones_do_not(tmp_path: Path) -> None:
    folder = tmp_path / "state" / "showctl"
    store = PairedDeviceStore(folder / "paired-devices.json")
    wall = Stopwatch()
    pairing = Pairing(BASE_URL, store=store, wall_clock=wall)
    kept = pairing.pair(code(pairing), "iPhone")
    wall.t += 1
    gone = pairing.pair(code(pairing), "Android")
    [_, android] = pairing.devices()
    assert pairing.revoke(android.id)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    text = store.path.read_text()
    assert kept not in text and gone not in text  # only the digest of the one still paired
    assert hashlib.sha256(kept.encode()).hexdigest() in text and hashlib.sha256(gone.encode()).hexdigest() not in text
    assert [p.name for p in folder.iterdir()] == ["paired-devices.json"]  # no temporary file left behind

    again = Pairing(BASE_URL, store=store, wall_clock=wall)  # the server started again
    assert again.devices() == pairing.devices()
    assert again.device(kept) is not None and again.device(gone) is None
    assert again.link != pairing.link  # the link is never stored: a new one each start


def test_a_file_others_can_read_is_made_private_at_start(tmp_path: Path) -> None:
    path = tmp_path / "paired-devices.json"
    path.write_text('{"format": 1, "devices": []}')
    path.chmod(0o644)
    Pairing(BASE_URL, store=PairedDeviceStore(path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_last_seen_reaches_the_store_every_five_minutes_and_when_the_server_stops() -> None:
    clock, wall, store = Stopwatch(), Stopwatch(), MemoryStore()
    pairing = Pairing(BASE_URL, clock=clock, wall_clock=wall, store=store)
    token = pairing.pair(code(pairing), "iPhone")
    assert store.saves == 1
    for _ in range(100):  # every request a phone makes: no disk write for each
        clock.t += 1
        wall.t += 1
        assert pairing.device(token) is not None
    assert store.saves == 1
    clock.t += SEEN_SAVE_EVERY
    wall.t += SEEN_SAVE_EVERY
    pairing.device(token)
    assert store.saves == 2 and next(iter(store.devices.values())).last_seen == wall.t
    pairing.flush()
    assert store.saves == 2  # nothing new
    wall.t += 1
    pairing.device(token)
    pairing.flush()
    assert store.saves == 3 and next(iter(store.devices.values())).last_seen == wall.t


def test_phones_paired_longer_ago_than_their_cookie_lives_are_not_loaded() -> None:
    wall = Stopwatch()
    wall.t = 1_000_000.0
    fresh = PairedDevice("a1b2c3d4", "iPhone", wall.t - SESSION_LIFETIME + 60, wall.t - 10)
    stale = PairedDevice("e5f6a7b8", "Android", wall.t - SESSION_LIFETIME - 60, wall.t - 10)
    store = MemoryStore({"a" * 64: fresh, "b" * 64: stale})
    pairing = Pairing(BASE_URL, wall_clock=wall, store=store)
    assert pairing.devices() == (fresh,)
    assert store.devices == {"a" * 64: fresh}  # and gone from the file, not shown on the laptop tomorrow


@pytest.mark.parametrize(("content", "reason"), [
    (b"", "Expecting value: line 1 column 1 (char 0)"),
    (b'{"format": 1, "devices": [', "Expecting value: line 1 column 27 (char 26)"),
    (b"\xff\xfe", "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"),
    (b'{"format": 2, "devices": []}', 'expected {"format": 1, "devices": [...]}'),
    (b'{"format": 1, "devices": [{"token_sha256": "secret", "id": "a", "label": "b", "paired_at": 1, '
     b'"last_seen": 1}]}', "device 1: token_sha256 is not a SHA-256 in hex"),
    (b'{"format": 1, "devices": [{"token_sha256": "' + b"0" * 64 + b'", "id": "a", "label": "b", '
     b'"paired_at": "today", "last_seen": 1}]}', "device 1: paired_at and last_seen must be times (seconds)"),
])
def test_a_corrupt_file_is_one_warning_and_no_paired_phones(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "paired-devices.json"
    path.write_bytes(content)
    warnings: list[str] = []
    pairing = Pairing(BASE_URL, store=PairedDeviceStore(path), warn=warnings.append)
    assert warnings == [f"{path} is not valid ({reason}): starting with no paired phones"]
    assert pairing.devices() == ()
    token = pairing.pair(code(pairing), "iPhone")  # pairing works, and the next save replaces the bad file
    assert pairing.device(token) is not None and len(json.loads(path.read_text())["devices"]) == 1
    assert warnings == [f"{path} is not valid ({reason}): starting with no paired phones"]


def test_a_folder_that_cannot_be_written_is_one_warning_and_pairing_works_in_memory(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    folder = tmp_path / "a-file" / "showctl"  # cannot be made, whoever runs the tests (root too)
    warnings: list[str] = []
    pairing = Pairing(BASE_URL, store=PairedDeviceStore(folder / "paired-devices.json"), warn=warnings.append)
    assert warnings == [f"cannot write to {folder} (Not a directory): phones paired now stay paired only until "
                        "the server stops"]
    first = pairing.pair(code(pairing), "iPhone")
    second = pairing.pair(code(pairing), "Android")
    assert pairing.device(first) is not None and pairing.device(second) is not None
    assert len(warnings) == 1  # not one per phone


def test_a_failing_save_warns_once_until_one_works_again() -> None:
    store = MemoryStore()
    warnings: list[str] = []
    pairing = Pairing(BASE_URL, store=store, warn=warnings.append)
    store.failing = "cannot save paired phones to /x/paired-devices.json (No space left on device)"
    pairing.pair(code(pairing), "iPhone")
    pairing.pair(code(pairing), "iPad")
    assert warnings == ["cannot save paired phones to /x/paired-devices.json (No space left on device): phones "
                        "paired now stay paired only until the server stops"]
    store.failing = None
    pairing.pair(code(pairing), "Android")
    assert len(store.devices) == 3  # the phones paired meanwhile are saved with the next one
    store.failing = "cannot save paired phones to /x/paired-devices.json (Read-only file system)"
    pairing.revoke(pairing.devices()[0].id)
    assert len(warnings) == 2


def test_a_save_that_fails_midway_leaves_the_old_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = PairedDeviceStore(tmp_path / "paired-devices.json")
    pairing = Pairing(BASE_URL, store=store)
    pairing.pair(code(pairing), "iPhone")
    before = store.path.read_bytes()

    def fsync_fails(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", fsync_fails)
    with pytest.raises(PairingStoreError, match=r"^cannot save paired phones to .*paired-devices\.json "
                                                r"\(Input/output error\)$"):
        store.save({})
    assert store.path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["paired-devices.json"]


def test_the_state_folder_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_state_dir() == tmp_path / "showctl"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/state")  # the XDG spec says to ignore it
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_state_dir() == tmp_path / "home" / ".local" / "state" / "showctl"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert default_state_dir() == tmp_path / "home" / ".local" / "state" / "showctl"


# -- the real server, stopped and started again ----------------------------------------------------------------
def pair_phone(port: int, link: str) -> str:
    """Open the pairing `link` as a phone would: its session cookie (`showctl_session=TOKEN`)."""
    response = http_get(port, link.split(f":{port}", 1)[1], **PHONE)
    assert response.status == 303
    return response.getheader("set-cookie", "").split(";", 1)[0]


@pytest.mark.slow
def test_paired_phones_stay_paired_across_a_restart_of_serve(tmp_path: Path) -> None:
    state = tmp_path / "state"
    path = state / "paired-devices.json"
    args = ("--lan", "--state-dir", str(state))
    with serve_process(*args) as (_process, port, lines):
        assert f"paired phones are kept in {path}" in lines
        kept = pair_phone(port, next(line for line in lines if line.startswith("pairing link")).rsplit(" ", 1)[1])
        with ws_connect(port) as laptop:
            gone = pair_phone(port, next_state(laptop)["pairing"]["link"])
            devices = wait_state(laptop, lambda m: len(m["pairing"]["devices"]) == 2)["pairing"]["devices"]
            laptop.send(json.dumps({"type": "revoke", "device": devices[1]["id"]}))
            wait_state(laptop, lambda m: len(m["pairing"]["devices"]) == 1)
        assert http_get(port, "/", **PHONE, cookie=kept).status == 200
        assert http_get(port, "/", **PHONE, cookie=gone).status == 401
    assert stat.S_IMODE(state.stat().st_mode) == 0o700 and stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    for cookie in (kept, gone):
        assert cookie.split("=", 1)[1] not in text
    [saved] = json.loads(text)["devices"]
    assert saved["id"] == devices[0]["id"]

    with serve_process(*args) as (_process, port, lines):
        assert f"paired phones are kept in {path} (1 still paired from before)" in lines
        assert not any(line.startswith("showctl serve:") for line in lines)
        assert http_get(port, "/", **PHONE, cookie=kept).status == 200  # no new scan before class
        with ws_connect(port, **PHONE, cookie=kept) as phone:
            assert next_state(phone)["role"] == "phone"
        assert http_get(port, "/", **PHONE, cookie=gone).status == 401  # revoked stays revoked
        with ws_connect(port) as laptop:
            assert [d["id"] for d in next_state(laptop)["pairing"]["devices"]] == [devices[0]["id"]]

    path.write_text('{"format": 1, "devices": [')  # cut short (a full disk, a hand edit)
    with serve_process(*args) as (_process, port, lines):
        assert [line for line in lines if line.startswith("showctl serve:")] == [
            f"showctl serve: {path} is not valid (Expecting value: line 1 column 27 (char 26)): starting with no "
            "paired phones"]
        assert not any("Traceback" in line for line in lines)
        assert http_get(port, "/").status == 200
        assert http_get(port, "/", **PHONE, cookie=kept).status == 401
        again = pair_phone(port, next(line for line in lines if line.startswith("pairing link")).rsplit(" ", 1)[1])
        assert http_get(port, "/", **PHONE, cookie=again).status == 200


@pytest.mark.slow
def test_serve_pairs_in_memory_when_the_state_folder_cannot_be_written(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    state = tmp_path / "a-file" / "state"
    with serve_process("--lan", "--state-dir", str(state)) as (_process, port, lines):
        assert [line for line in lines if line.startswith("showctl serve:")] == [
            f"showctl serve: cannot write to {state} (Not a directory): phones paired now stay paired only until "
            "the server stops"]
        cookie = pair_phone(port, next(line for line in lines if line.startswith("pairing link")).rsplit(" ", 1)[1])
        assert http_get(port, "/", **PHONE, cookie=cookie).status == 200
