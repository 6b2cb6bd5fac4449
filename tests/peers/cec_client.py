"""A stand-in for libCEC's ``cec-client`` with a simulated CEC bus behind it (no CEC adapter in CI).

It takes cec-client's arguments and speaks its console: the startup banner, ``waiting for
input`` after each command, ``TRAFFIC: [ms]\\t<< 14:44:00`` for each frame it transmits, and
the answers of ``self``, ``pow``, ``ver``, ``name``.  Everything it receives is appended to
``$FAKE_CEC_LOG`` as JSON lines (``{"argv": [...]}`` first, then ``{"stdin": line}``).
``$FAKE_CEC_MODE`` scripts faults: ``no-adapter`` (autodetect fails, exit 1), ``exit-after-N``
(dies after N commands), ``hang`` (stops answering after startup), ``no-traffic`` (transmits
nothing), ``standby`` (the target's power status is unknown).

Run it as a program: ``python cec_client.py [cec-client arguments]``.
"""

from __future__ import annotations

import json
import os
import sys
import time

START = time.monotonic()
VENDOR = {"4": "Sony", "0": "LG"}


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def log(level: str, message: str) -> None:
    say(f"{level:<9}[{int((time.monotonic() - START) * 1000):16d}]\t{message}")


def record(entry: dict) -> None:
    path = os.environ.get("FAKE_CEC_LOG")
    if path:
        with open(path, "a") as out:
            out.write(json.dumps(entry) + "\n")


def main(argv: list[str]) -> int:
    record({"argv": argv})
    mode = os.environ.get("FAKE_CEC_MODE", "ok")
    device_type = argv[argv.index("-t") + 1] if "-t" in argv else "r"
    kind = {"p": "playback device", "r": "recording device"}.get(device_type, device_type)
    say(f"== using device type '{kind}'")
    say("CEC Parser created - libCEC version 6.0.2")
    if mode == "no-adapter":
        say("no serial port given. trying autodetect: FAILED")
        return 1
    say("no serial port given. trying autodetect: \n path:     /sys/devices/pci0000:00/usb1/1-1\n"
        " com port: /dev/ttyACM0\n")
    say("opening a connection to the CEC adapter...")
    address = {"r": 1, "p": 4, "t": 3, "a": 5}[device_type]
    log("NOTICE:", f"CEC client registered: libCEC version = 6.0.2, client version = 6.0.2, "
                   f"firmware version = 12, logical address(es) = Recorder 1 ({address}) , "
                   f"physical address: 1.0.0.0, compiled on Linux")
    say("waiting for input")
    commands = 0
    for raw in sys.stdin:
        line = raw.rstrip("\n")
        record({"stdin": line})
        if mode == "hang":
            continue
        words = line.split()
        if not words:
            continue
        if words[0] in ("q", "quit"):
            return 0
        commands += 1
        if mode.startswith("exit-after-") and commands > int(mode.rsplit("-", 1)[1]):
            say("Connection lost - trying to reconnect\n")
            say("Failed to reconnect\n")
            return 1
        if words[0] == "tx" and len(words) == 2 and mode != "no-traffic":
            log("TRAFFIC:", f"<< {words[1].lower()}")
        elif words[0] == "self":
            say(f"Addresses controlled by libCEC: {address}")
        elif words[0] == "pow" and len(words) == 2:
            say(f"power status: {'unknown' if mode == 'standby' else 'on'}")
        elif words[0] == "ver" and len(words) == 2:
            say("CEC version 1.4")
        elif words[0] == "name" and len(words) == 2:
            say(f"OSD name of device {int(words[1])} is 'PS5'")
        say("waiting for input")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
