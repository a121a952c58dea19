"""The ``residue`` command: serve the studio, or mine files from the shell."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import TextIO

from residue import __version__
from residue.config import Settings
from residue.errors import ResidueError


class ProgressBar:
    """A one-line progress bar on stderr (silent when stderr is not a terminal and quiet)."""

    def __init__(self, stream: TextIO = sys.stderr, *, width: int = 30) -> None:
        self._stream = stream
        self._width = width
        self._last = -1.0
        self._stage = ""

    def __call__(self, fraction: float, stage: str, /) -> None:
        """Redraw the bar (at most ten times a second for the same stage)."""
        now = time.monotonic()
        if fraction < 1.0 and now - self._last < 0.1 and stage == self._stage:
            return
        self._last, self._stage = now, stage
        filled = round(max(0.0, min(1.0, fraction)) * self._width)
        bar = "#" * filled + "-" * (self._width - filled)
        self._stream.write(f"\r[{bar}] {fraction * 100:5.1f}% {stage[:40]:<40}")
        self._stream.flush()

    def done(self) -> None:
        """End the line."""
        self._stream.write("\n")
        self._stream.flush()


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from residue.transport.app import create_app
    from residue.transport.tls import tls_files

    settings = Settings.from_env(
        data_dir=args.data,
        host=args.host,
        port=args.port,
        demo=False if args.no_demo else None,
        https=True if args.https else None,
    )
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    tls = tls_files(settings)
    where = base_url(settings)
    if settings.host in ("0.0.0.0", "::"):
        where = f"{base_url(settings, '127.0.0.1')} on this machine (every network address)"
    print(f"residue {__version__}: {where}  (data: {settings.data_dir})")
    print(owner_notice(settings))
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        ws_max_size=settings.max_frame_bytes * 2,
        ssl_certfile=None if tls is None else str(tls.cert),
        ssl_keyfile=None if tls is None else str(tls.key),
    )
    return 0


def base_url(settings: Settings, host: str | None = None) -> str:
    """``http(s)://host:port`` of the server."""
    scheme = "https" if settings.https else "http"
    return f"{scheme}://{host or settings.host}:{settings.port}"


def owner_notice(settings: Settings) -> str:
    """The owner's link (made at first start) and who may enter without one."""
    from residue.store import Store
    from residue.transport.auth import is_loopback

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with Store.open(settings.data_dir) as store:
        token = store.sessions.ensure_owner_token(settings.data_dir)
    from residue.transport.tls import lan_addresses

    wide = settings.host in ("0.0.0.0", "::")
    lan = lan_addresses() if wide else []
    host = settings.host if not wide else (lan[0] if lan else "<this machine>")
    link = f"{base_url(settings, host)}/#s=default&t={token}"
    if settings.local_access and is_loopback(settings.host):
        who = "this machine opens the studio without it; others need a link you share"
    else:
        who = "listening beyond this machine: every page needs a link (a token)"
    lines = [f"owner link (keep it private): {link}", f"  {who}"]
    if wide:
        lines.append(f"  on a phone: {base_url(settings, host)}/swipe/#s=default&t={token}")
        lines.append(
            "  (accept the certificate the first time)" if settings.https else
            "  (plain http: the swipe page plays whole previews; for the studio on a phone, start"
            " with RESIDUE_HTTPS=1 or --https)"
        )
    return "\n".join(lines)


def _decompose(args: argparse.Namespace) -> int:
    from residue.services import offline

    settings = Settings.from_env()
    bar = ProgressBar()
    dec = offline.decompose_file(
        args.input,
        n_components=args.units,
        beta=args.beta,
        n_iter=args.iterations,
        seed=args.seed,
        settings=settings,
        progress=bar,
    )
    bar.done()
    for path in offline.write_decomposition(dec, args.out):
        print(path)
    return 0


def _remix(args: argparse.Namespace) -> int:
    from residue.services import offline

    settings = Settings.from_env()
    bar = ProgressBar()
    library = []
    for source in args.library:
        if (source / "residue.db").is_file():
            from residue.store import Store

            store = Store.open(source)
            try:
                for record in store.library.list(tag=args.tag):
                    w, sr, _ = store.library.load_spectrum(record.component_id)
                    library.append((record.name, w, sr))
            finally:
                store.close()
        else:
            library += offline.library_from_files(
                offline.audio_files(source),
                n_components=args.units,
                settings=settings,
                progress=bar,
            )
    dec = offline.decompose_file(
        args.input,
        n_components=args.units,
        seed=args.seed,
        settings=settings,
        progress=lambda f, s: bar(f, f"decomposing {args.input.name}"),
    )
    bar.done()
    result = offline.remix(dec, library, strategy=args.strategy, seed=args.seed)
    from residue.services.audio_io import write_wav

    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_wav(args.out, result.y, sr=result.sr)
    print(
        json.dumps({"out": str(args.out), "strategy": args.strategy, "plan": result.plan}, indent=2)
    )
    return 0


def _transcribe(args: argparse.Namespace) -> int:
    from residue.dsp.notes import CleanupOptions
    from residue.services import transcription

    cleanup = CleanupOptions(
        min_duration_s=args.min_duration,
        merge_gap_s=args.merge_gap,
        key=args.key,
        quantize=args.quantize,
        tempo_bpm=args.tempo,
        steps_per_beat=args.grid,
        max_notes_per_s=args.max_notes_per_s,
    )
    options = transcription.TranscribeOptions(
        onset_threshold=args.onset_threshold,
        frame_threshold=args.frame_threshold,
        min_note_ms=args.min_note_ms,
        min_pitch=args.min_pitch,
        max_pitch=args.max_pitch,
        bends=not args.no_bends,
        cleanup=cleanup,
    )
    bar = ProgressBar()
    result = transcription.run_transcribe_cli(
        args.input, args.backend, args.out, options, settings=Settings.from_env(), progress=bar
    )
    bar.done()
    print(
        f"{result.out}: {result.n_notes} notes ({result.backend}; {result.duration_s:.1f} s of "
        f"audio in {result.seconds:.1f} s)"
    )
    return 0


def _render(args: argparse.Namespace) -> int:
    from residue.services import transcription

    out = transcription.run_render_cli(
        args.input,
        args.synth,
        args.out,
        preset=args.preset,
        program=args.program,
        tuning=args.tuning,
        tonic_key=args.tonic,
        mapping=args.mapping,
        sr=args.sr,
        soundfont=args.soundfont,
        sample=args.sample,
        settings=Settings.from_env(),
    )
    print(out)
    return 0


def _separate(args: argparse.Namespace) -> int:
    from residue.services import separation

    bar = ProgressBar()
    manifest = separation.run_separate_cli(
        args.input, args.grid, args.out, bar, settings=Settings.from_env()
    )
    bar.done()
    print(manifest)
    return 0


def _song_settings(args: argparse.Namespace) -> object:
    from residue.dsp.compose import DEFAULT_GRAMMAR, SongSettings

    grammar = args.grammar.read_text() if getattr(args, "grammar", None) else DEFAULT_GRAMMAR
    return SongSettings(
        seed=args.seed,
        minutes=args.minutes,
        criterion=getattr(args, "criterion", "weirdness"),
        grammar=grammar,
        ambience=getattr(args, "ambience", "off"),
    )


def _song(args: argparse.Namespace) -> int:
    from residue.services import timbre

    bar = ProgressBar()
    result = timbre.run_song_cli(
        args.seed,
        args.minutes,
        args.out,
        Settings.from_env(),
        bar,
        song=_song_settings(args),  # type: ignore[arg-type]
    )
    bar.done()
    print(
        f"{result.path}: \u201c{result.name}\u201d, {result.duration_s / 60:.1f} min, sections "
        f"{result.structure} ({result.seconds:.1f} s; timbre model {result.model_id})"
    )
    return 0


def _album(args: argparse.Namespace) -> int:
    from residue.services import timbre

    bar = ProgressBar()
    result = timbre.run_album_cli(
        args.songs,
        args.out,
        Settings.from_env(),
        bar,
        song=_song_settings(args),  # type: ignore[arg-type]
        fmt=args.format,
    )
    bar.done()
    print(f"{result.folder}: {len(result.files)} songs and {result.tracklist.name} "
          f"({result.seconds:.1f} s; timbre model {result.model_id})")
    for path in result.files:
        print(f"  {path.name}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="residue", description="Mine loops of songs for new material."
    )
    parser.add_argument("--version", action="version", version=f"residue {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the studio (http://127.0.0.1:8000)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument(
        "--data", type=Path, default=None, help="data folder (default $RESIDUE_DATA or ./.residue)"
    )
    serve.add_argument("--no-demo", action="store_true", help="do not create the demo loops")
    serve.add_argument(
        "--https",
        action="store_true",
        help="serve https (self-signed unless RESIDUE_TLS_CERT/_KEY): for a phone on the network",
    )
    serve.set_defaults(run=_serve)

    dec = sub.add_parser("decompose", help="split a sound into NMF units")
    dec.add_argument("input", type=Path)
    dec.add_argument("--units", "-k", type=int, default=8, help="number of units (default 8)")
    dec.add_argument("--out", "-o", type=Path, required=True, help="output folder")
    dec.add_argument(
        "--beta", type=float, default=1.0, help="0 Itakura-Saito, 1 KL (default), 2 Euclidean"
    )
    dec.add_argument("--iterations", type=int, default=200)
    dec.add_argument("--seed", type=int, default=0)
    dec.set_defaults(run=_decompose)

    rmx = sub.add_parser("remix", help="rebuild a sound with components from a library")
    rmx.add_argument("input", type=Path)
    rmx.add_argument(
        "--library",
        "-l",
        type=Path,
        nargs="+",
        required=True,
        help="a residue data folder, audio files, or folders of audio files",
    )
    rmx.add_argument("--out", "-o", type=Path, required=True, help="output WAV")
    rmx.add_argument("--units", "-k", type=int, default=8)
    rmx.add_argument("--strategy", choices=["nearest", "random", "weird"], default="nearest")
    rmx.add_argument("--tag", default=None, help="only library components with this tag")
    rmx.add_argument("--seed", type=int, default=0)
    rmx.set_defaults(run=_remix)

    sep = sub.add_parser("separate", help="run a grid of separations: every cell as WAV + manifest")
    sep.add_argument("input", type=Path)
    sep.add_argument(
        "--grid", "-g", default="quick", help="quick, deep, or a grid JSON file (default quick)"
    )
    sep.add_argument("--out", "-o", type=Path, required=True, help="output folder")
    sep.set_defaults(run=_separate)

    sp = sub.add_parser("song", help="render a generated ambient song from the timbre space")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--minutes", type=float, default=4.0)
    sp.add_argument("--out", "-o", type=Path, required=True, help="output .wav or .flac")
    sp.add_argument("--ambience", choices=("off", "wind", "rain", "waves"), default="off")
    sp.add_argument(
        "--criterion", choices=("centroid", "loudness", "weirdness", "random"), default="weirdness"
    )
    sp.add_argument("--grammar", type=Path, default=None, help="a grammar file (S -> ... lines)")
    sp.set_defaults(run=_song)

    ap = sub.add_parser("album", help="render an album of generated songs into a folder")
    ap.add_argument("--songs", type=int, default=50)
    ap.add_argument("--out", "-o", type=Path, required=True, help="output folder")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--format", choices=("flac", "wav"), default="flac")
    ap.set_defaults(run=_album)

    tr = sub.add_parser("transcribe", help="turn a sound into MIDI")
    tr.add_argument("input", type=Path)
    tr.add_argument("--out", "-o", type=Path, required=True, help="output .mid")
    tr.add_argument(
        "--backend",
        "-b",
        choices=["basic-pitch", "nmf", "pyin", "drums"],
        default=None,
        help="default: basic-pitch when its model is installed, else nmf",
    )
    tr.add_argument("--onset-threshold", type=float, default=None)
    tr.add_argument("--frame-threshold", type=float, default=None)
    tr.add_argument("--min-note-ms", type=float, default=None, help="the backend's own minimum")
    tr.add_argument("--min-pitch", type=int, default=None)
    tr.add_argument("--max-pitch", type=int, default=None)
    tr.add_argument("--min-duration", type=float, default=None, help="drop shorter notes (s)")
    tr.add_argument("--merge-gap", type=float, default=None, help="join repeated notes (s)")
    tr.add_argument("--max-notes-per-s", type=float, default=None, help="note budget")
    tr.add_argument("--quantize", action="store_true", help="snap notes to a grid")
    tr.add_argument("--tempo", type=float, default=None, help="grid tempo (default: detected)")
    tr.add_argument("--grid", type=int, default=4, help="grid steps per beat (4 = sixteenths)")
    tr.add_argument("--key", default=None, help="snap to a key: 'C major', 'A minor' or 'auto'")
    tr.add_argument("--no-bends", action="store_true", help="drop pitch bends")
    tr.set_defaults(run=_transcribe)

    rn = sub.add_parser("render", help="play a MIDI file through a synth")
    rn.add_argument("input", type=Path)
    rn.add_argument("--out", "-o", type=Path, required=True, help="output WAV")
    rn.add_argument(
        "--synth",
        "-s",
        choices=["additive", "subtractive", "fm", "sampler", "soundfont"],
        default="subtractive",
    )
    rn.add_argument("--preset", default=None)
    rn.add_argument("--program", type=int, default=None, help="General MIDI program (soundfont)")
    rn.add_argument(
        "--soundfont", default=None, help="a .sf2 file (default: the installed GM font)"
    )
    rn.add_argument("--tuning", default="12-tet", help="12-tet, 24-tet, N-edo, just, or ratios")
    rn.add_argument("--tonic", type=int, default=60, help="MIDI key of the tuning's 1/1")
    rn.add_argument("--mapping", choices=["nearest", "keyboard"], default="nearest")
    rn.add_argument("--sr", type=int, default=44100)
    rn.add_argument("--sample", type=Path, default=None, help="audio played by the sampler")
    rn.set_defaults(run=_render)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``residue`` command."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
        return code
    except ResidueError as exc:
        sys.stderr.write(f"\nresidue: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("\nresidue: interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
