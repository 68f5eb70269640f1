"""Tools for integrators: ``validate`` message files, ``replay`` sample exchanges, ``record`` new ones through a proxy.

Invariant: each tool's exit code says whether it found everything in order (0) or not (1; 2 for unusable
arguments or a broken manifest), and its last line of output says the same in words.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

__all__ = ["register"]


def _gateway_options(p: argparse.ArgumentParser, *, url: str, timeout: float) -> None:
    p.add_argument("--url", required=True, help=url)
    p.add_argument("--timeout", type=float, default=timeout, metavar="SECONDS", help=f"per request ({timeout:g})")


REPLAY = (
    "Send each sample request of SAMPLES-DIR (in manifest order, signed as the manifest says) to URL and compare the "
    "answer with the expected response as canonical XML; tickets are matched one-to-one across the run and incident "
    "ids are ignored. Exit code 1 on any mismatch or transport error."
)
RECORD = (
    "Listen on HOST:PORT, forward every request to URL unchanged, return its answer unchanged, and save each SOAP "
    "exchange into DIR as a sample pair (the request without wsse:Security) with an entry appended to "
    "DIR/manifest.json. Ctrl-C stops."
)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "validate",
        help="check XML messages against xsd/, printing each error with path and line",
        description="Check XML messages (SOAP envelopes or bare documents) against the project's schemas.",
    )
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.set_defaults(handler=_validate)

    p = sub.add_parser(
        "replay", help="replay sample exchanges against a gateway and compare the answers", description=REPLAY
    )
    p.add_argument("folder", type=Path, metavar="SAMPLES-DIR")
    _gateway_options(p, url="the endpoint, e.g. http://127.0.0.1:8080/soap/repertorium", timeout=30.0)
    p.add_argument("--junit", type=Path, metavar="FILE", help="also write a JUnit XML report to FILE")
    p.add_argument(
        "--only", nargs="+", metavar="NAME", help="replay only these samples (and the samples they depend on)"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="list passed samples too")
    p.set_defaults(handler=_replay)

    p = sub.add_parser(
        "record",
        help="a recording proxy: forward requests to a gateway and save each exchange as a sample",
        description=RECORD,
    )
    _gateway_options(p, url="the gateway endpoint to forward to", timeout=60.0)
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="the sample folder to add to")
    p.add_argument("--listen", default="127.0.0.1:8081", metavar="HOST:PORT", help="where to listen (127.0.0.1:8081)")
    p.set_defaults(handler=_record)


def _validate(args: argparse.Namespace) -> int:
    from gateway.tools.validate import check_file

    failed = 0
    for path in args.files:
        try:
            problems = check_file(path)
        except OSError as exc:
            print(f"{path}: cannot read: {exc.strerror}", file=sys.stderr)
            failed += 1
            continue
        if problems:
            failed += 1
            for problem in problems:
                print(f"{path}: {problem}")
        else:
            print(f"{path}: valid")
    print(f"{len(args.files) - failed} valid, {failed} invalid")
    return 1 if failed else 0


def _replay(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from gateway.tools.samples import ManifestError, Outcome, Sample, load_manifest, replay, write_junit

    try:
        manifest = load_manifest(args.folder)
        chosen = manifest.select(args.only) if args.only else list(manifest.samples)
    except ManifestError as exc:
        print(f"{args.folder}: {exc}", file=sys.stderr)
        return 2
    days = sorted({s.day.isoformat() for s in chosen if s.day is not None})
    assumed = f"; they assume the gateway's day {' and '.join(days)} (serve --today)" if days else ""
    print(f"Replaying {len(chosen)} sample(s) of {args.folder} against {args.url}{assumed}.", flush=True)
    if len(days) > 1:
        print("Warning: these samples assume different days; one server can only have one.", file=sys.stderr)

    # On a terminal only, on standard error; what is printed on standard output is written above it.
    with tqdm(total=len(chosen), desc="replaying", unit="sample", file=sys.stderr, disable=None, leave=False) as bar:

        def started(index: int, total: int, sample: Sample) -> None:
            bar.set_postfix_str(sample.name)

        def done(outcome: Outcome) -> None:
            bar.update()
            if outcome.passed:
                if args.verbose:
                    bar.write(f"PASS {outcome.sample.name}", file=sys.stdout)
                return
            lines = [f"FAIL {outcome.sample.name}: {outcome.message}"]
            if outcome.sample.shows:
                lines.append(f"     (shows: {outcome.sample.shows})")
            if outcome.diff:
                lines.append(outcome.diff.removesuffix("\n"))
            bar.write("\n".join(lines), file=sys.stdout)
            sys.stdout.flush()

        outcomes = replay(
            args.folder,
            args.url,
            manifest=manifest,
            only=args.only,
            timeout=args.timeout,
            on_start=started,
            on_done=done,
        )
    if args.junit is not None:
        write_junit(outcomes, args.junit, suite=args.folder.resolve().name or "samples")
    failed = sum(1 for o in outcomes if not o.passed)
    print(f"{len(outcomes) - failed} passed, {failed} failed")
    return 1 if failed else 0


class _Stop(Exception):
    pass


def _stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def _record(args: argparse.Namespace) -> int:
    from gateway.tools.recorder import Recorder, RecordingProxy, is_loopback, parse_listen
    from gateway.tools.samples import ManifestError, Sample

    try:
        listen = parse_listen(args.listen)
    except ValueError as exc:
        print(f"--listen: {exc}", file=sys.stderr)
        return 2
    try:
        recorder = Recorder(args.out)
    except (ManifestError, OSError) as exc:
        print(f"{args.out}: {exc}", file=sys.stderr)
        return 2

    def saved(sample: Sample) -> None:
        print(f"saved {sample.name}: {sample.shows}", flush=True)

    try:
        proxy = RecordingProxy(args.url, recorder, listen, timeout=args.timeout, on_saved=saved)
    except ValueError as exc:
        print(f"--url: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"cannot listen on {args.listen}: {exc.strerror}", file=sys.stderr)
        return 2
    host, port = proxy.address
    shown = f"[{host}]" if ":" in host else host
    if not is_loopback(host):
        print(f"Warning: listening on {host}, not on loopback: anyone who reaches it can use the gateway through it.")
    print(f"Recording http://{shown}:{port} -> {args.url} into {args.out}; Ctrl-C stops.", flush=True)
    # Ctrl-C and a polite kill both stop it, even where the shell started it with SIGINT ignored.
    previous = {signum: signal.signal(signum, _stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        proxy.serve_forever()
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        proxy.close()
    print(f"Stopped; {args.out / 'manifest.json'} lists {len(recorder.manifest.samples)} sample(s).", flush=True)
    return 0
