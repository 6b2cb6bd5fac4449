"""``harness``: the command line.

    harness devices                 list profiles in devices/ and validate each
    harness devices check NAME      build NAME's controller and capture, read a frame, report
    harness analyze FILE... [--detectors k1,k2|all] [--json PATH|-]
    harness detectors               list registered detectors and their thresholds
    harness report [RESULTS] [-o OUT]   turn Allure results into an HTML report

Exit status: 0 done, 1 a check found problems, 2 bad input (one-line error on stderr).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from harness import __version__
from harness.errors import BadInput, HarnessError, InfrastructureError, ProfileError

REPO_ROOT = Path(__file__).resolve().parent.parent


def _cmd_devices(args: argparse.Namespace) -> int:
    from harness.profile import DEVICES_DIR, load_profile, profile_names

    devices_dir = Path(args.dir) if args.dir else DEVICES_DIR
    if args.action == "check":
        if not args.name:
            raise BadInput("harness devices check NAME: name a profile (or a path)")
        return _check_device(args.name, devices_dir)
    names = profile_names(devices_dir)
    if not names:
        print(f"no profiles in {devices_dir}")
        return 1
    bad = 0
    for name in names:
        try:
            profile = load_profile(name, devices_dir)
        except ProfileError as exc:
            bad += 1
            print(f"INVALID  {name}\n{exc}")
            continue
        audio = f"{profile.audio.type}" if profile.audio else "none"
        print(f"ok       {name:<16} controller={profile.controller.type:<8} "
              f"video={profile.video.type} {profile.video.width}x{profile.video.height}"
              f"@{profile.video.fps:g} audio={audio}  {profile.description}")
    return 1 if bad else 0


def _check_device(name: str, devices_dir: Path) -> int:
    from harness.dut import Dut
    from harness.profile import load_profile
    from harness.rig import Rig

    profile = load_profile(name, devices_dir)
    print(f"profile   ok   {profile.source}")
    try:
        rig = Rig(profile)
    except InfrastructureError as exc:
        print(f"rig       FAIL {exc}")
        return 1
    dut = Dut(rig)
    ok = True
    try:
        frame = dut.screenshot()
        print(f"video     ok   {profile.video.type}: frame {frame.width}x{frame.height} at t={frame.t:.3f}")
        audio = dut.capture_stats().get("audio")
        if profile.audio is not None:
            dut.wait(0.2)
            audio = dut.capture_stats()["audio"]
            status = "ok  " if audio["delivered"] else "FAIL"
            ok &= bool(audio["delivered"])
            print(f"audio     {status} {profile.audio.type}: {audio['delivered']} chunks in 0.2 s")
        print(f"control   ok   {profile.controller.type} ({rig.controller.transport}), "
              f"{len(profile.controller.keymap)} keys mapped")
    except InfrastructureError as exc:
        print(f"capture   FAIL {exc}")
        ok = False
    finally:
        dut.close()
    return 0 if ok else 1


def _cmd_analyze(args: argparse.Namespace) -> int:
    from harness.analyze import analyze_file

    results = [analyze_file(path, args.detectors) for path in args.files]
    payload = results[0] if len(results) == 1 else results
    text = json.dumps(payload, indent=2)
    if args.json in (None, "-"):
        if args.json is None:
            for result in results:
                print(f"{result['source']}: {result['duration_s']:.2f} s, "
                      f"{len(result['events'])} events")
                for event in result["events"]:
                    print(f"  {event['kind']:<12} {event['start_s']:8.3f}-{event['end_s']:8.3f} s "
                          f"score {event['score']:.2f}  ({event['detector']})")
        else:
            print(text)
    else:
        Path(args.json).write_text(text + "\n")
    return 0


def _cmd_detectors(args: argparse.Namespace) -> int:
    from detectors import base as registry

    for name in registry.available():
        cls = registry.detector_class(name)
        print(f"{name:<18} {cls.media:<6} kind={cls.kind}")
        for field, info in cls.Config.model_fields.items():
            print(f"    {field} = {info.default!r}  {info.description or ''}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    results = Path(args.results)
    if not results.is_dir():
        raise BadInput(f"{results}: no Allure results here (run pytest first; results go to "
                       f"allure-results/ by default)")
    out = Path(args.output)
    local = REPO_ROOT / "node_modules" / ".bin" / "allure"
    if local.exists():
        cmd = [str(local), "generate", str(results), "-o", str(out)]
    elif shutil.which("allure"):
        cmd = ["allure", "generate", str(results), "-o", str(out), "--clean"]
    else:
        raise BadInput("Allure is not installed: run scripts/setup.sh (it installs allure@3 with npm)")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stdout + proc.stderr, file=sys.stderr)
        return 1
    print(f"report written to {out / 'index.html'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("devices", help="list and validate device profiles, or check one")
    p.add_argument("action", nargs="?", choices=["list", "check"], default="list")
    p.add_argument("name", nargs="?")
    p.add_argument("--dir", help="profiles directory (default: devices/ of this checkout)")
    p.set_defaults(func=_cmd_devices)

    p = sub.add_parser("analyze", help="run detectors over media files")
    p.add_argument("files", nargs="+")
    p.add_argument("--detectors", default="all", help="comma-separated detector names, or all")
    p.add_argument("--json", nargs="?", const="-", default=None, metavar="PATH",
                   help="write the JSON result to PATH (or - / no value: stdout)")
    p.set_defaults(func=_cmd_analyze)

    p = sub.add_parser("detectors", help="list registered detectors and their thresholds")
    p.set_defaults(func=_cmd_detectors)

    p = sub.add_parser("report", help="generate the Allure HTML report")
    p.add_argument("results", nargs="?", default="allure-results")
    p.add_argument("-o", "--output", default="allure-report")
    p.set_defaults(func=_cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (BadInput, ProfileError) as exc:
        message = str(exc) if isinstance(exc, ProfileError) else str(exc).splitlines()[0]
        print(f"harness: error: {message}", file=sys.stderr)
        return 2
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
