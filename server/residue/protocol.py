"""The wire contract between the server and the page: the single source of every frame.

One binary WebSocket per tab carries two kinds of message:

* control frames: msgpack maps decoded into the Structs below (``type`` is the tag);
* audio frames: raw little-endian float32 PCM behind a 16-byte header (:data:`PCM_HEADER`).

The first byte tells them apart: a control frame is a msgpack map (``0x80..0x8f``, ``0xde``,
``0xdf``) and an audio frame starts with the ASCII magic ``RS``.

``shared/protocol.schema.json`` and ``shared/protocol.ts`` are generated from this module
(``python -m residue.protocol``); CI regenerates them and fails on a diff.
"""

from __future__ import annotations

import struct
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

PROTOCOL_VERSION = 1

# --- audio frames ---------------------------------------------------------------------------
#: magic "RS", kind (1 = float32 PCM), channels, request_id, chunk index, sample rate.
PCM_HEADER = struct.Struct("<2sBBIII")
PCM_MAGIC = b"RS"
PCM_KIND_F32 = 1

# --- shared bounds --------------------------------------------------------------------------
RequestId = Annotated[int, Meta(ge=1, le=2**32 - 1)]
EventId = Annotated[int, Meta(ge=0, le=0)]
Id = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Name = Annotated[str, Meta(min_length=1, max_length=120)]
Tag = Annotated[str, Meta(min_length=1, max_length=40, pattern=r"^[^\s,]+$")]
UnitIndex = Annotated[int, Meta(ge=0, le=63)]
Seed = Annotated[int, Meta(ge=0, le=2**31 - 1)]
Seconds = Annotated[float, Meta(ge=0.0, le=24 * 3600.0)]


class Frame(
    msgspec.Struct, tag_field="type", forbid_unknown_fields=True, frozen=True, kw_only=True
):
    """Base of every control frame."""


class Struct(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Base of every nested (untagged) value."""


# ============================================================================================
# Nested values
# ============================================================================================


class SoundInfo(Struct, frozen=True, kw_only=True):
    """A sound in the store: an upload, a demo loop, a render that was kept."""

    sound_id: Id
    name: str
    sample_rate: int
    channels: int
    n_samples: int
    duration_s: float
    tempo_bpm: float | None = None
    origin: str = "upload"
    created_at: float = 0.0


class UnitComponent(Struct, tag="unit", tag_field="kind", frozen=True, kw_only=True):
    """Component ``unit`` of an existing decomposition (of this sound or another one)."""

    decomposition_id: Id
    unit: UnitIndex


class LibraryComponent(Struct, tag="library", tag_field="kind", frozen=True, kw_only=True):
    """A component saved in the library."""

    component_id: Id


ComponentRef = UnitComponent | LibraryComponent


class UnitEdit(Struct, frozen=True, kw_only=True):
    """How one unit is changed in a render; the default changes nothing."""

    unit: UnitIndex
    component: ComponentRef | None = None
    gain_db: Annotated[float, Meta(ge=-60.0, le=24.0)] = 0.0
    reverse: bool = False
    stretch: Annotated[float, Meta(ge=0.125, le=8.0)] = 1.0
    shift_frames: Annotated[int, Meta(ge=-100_000, le=100_000)] = 0


class RenderSpec(Struct, frozen=True, kw_only=True):
    """What to render from a decomposition: which units sound, and how each is edited.

    ``units`` lists the units that sound (solo/mute happen here); ``None`` means all of them.
    """

    decomposition_id: Id
    units: list[UnitIndex] | None = None
    edits: list[UnitEdit] = []


class Provenance(Struct, frozen=True, kw_only=True):
    """Where a library component came from, so that a happy accident can be repeated."""

    sound_id: str
    sound_name: str
    decomposition_id: str
    unit: int
    n_components: int
    beta: float
    sample_rate: int
    n_fft: int


class LibraryItem(Struct, frozen=True, kw_only=True):
    """A saved component, with a display curve on the spectrogram's log-frequency rows."""

    component_id: Id
    name: str
    tags: list[str]
    creator: str
    created_at: float
    provenance: Provenance
    curve: bytes  # float32 little-endian, length CURVE_ROWS, max 1
    distance: float | None = None
    version: int = 1  # of the name: a rename names the version it was based on


class Assignment(Struct, frozen=True, kw_only=True):
    """One line of a remix plan: unit ``unit`` takes library component ``component_id``."""

    unit: UnitIndex
    component_id: Id
    name: str
    distance: float


# ============================================================================================
# Client -> server
# ============================================================================================


class Hello(Frame, tag="hello", frozen=True, kw_only=True):
    """The first frame of every socket."""

    request_id: RequestId
    protocol_version: int
    client: Annotated[str, Meta(max_length=80)] = ""


class ListSounds(Frame, tag="list_sounds", frozen=True, kw_only=True):
    """Ask for every sound in the store."""

    request_id: RequestId


class DeleteSound(Frame, tag="delete_sound", frozen=True, kw_only=True):
    """Remove a sound (its decompositions go with it; saved components stay)."""

    request_id: RequestId
    sound_id: Id


class GetSpectrogram(Frame, tag="get_spectrogram", frozen=True, kw_only=True):
    """Stream the sound's spectrogram as uint8 tiles, left to right."""

    request_id: RequestId
    sound_id: Id


class Decompose(Frame, tag="decompose", frozen=True, kw_only=True):
    """Decompose a sound (or a region of it) into ``n_components`` units.

    Replies: ``job_progress`` frames, then ``decomposition``. Cached by its settings.
    """

    request_id: RequestId
    sound_id: Id
    n_components: Annotated[int, Meta(ge=1, le=64)] = 8
    beta: Annotated[float, Meta(ge=0.0, le=2.0)] = 1.0
    n_iter: Annotated[int, Meta(ge=1, le=2000)] = 200
    start_s: Seconds | None = None
    end_s: Seconds | None = None
    seed: Seed = 0


class GetDecomposition(Frame, tag="get_decomposition", frozen=True, kw_only=True):
    """Fetch a cached decomposition by id."""

    request_id: RequestId
    decomposition_id: Id


class Cancel(Frame, tag="cancel", frozen=True, kw_only=True):
    """Cancel the long work started by ``target_request_id`` on this socket."""

    request_id: RequestId
    target_request_id: RequestId


class PlaySound(Frame, tag="play_sound", frozen=True, kw_only=True):
    """Stream a sound (or a region of it) as PCM."""

    request_id: RequestId
    sound_id: Id
    start_s: Seconds | None = None
    end_s: Seconds | None = None


class Audition(Frame, tag="audition", frozen=True, kw_only=True):
    """Render a decomposition with edits and stream it as PCM: one unit, several, or the edit."""

    request_id: RequestId
    spec: RenderSpec


class PlanRemix(Frame, tag="plan_remix", frozen=True, kw_only=True):
    """Pick a library component for every unit by a strategy; the page applies the plan."""

    request_id: RequestId
    decomposition_id: Id
    strategy: Literal["nearest", "random", "weird"] = "nearest"
    seed: Seed = 0
    tag: Tag | None = None


class SaveComponent(Frame, tag="save_component", frozen=True, kw_only=True):
    """Save a unit's component to the library."""

    request_id: RequestId
    decomposition_id: Id
    unit: UnitIndex
    name: Name
    tags: Annotated[list[Tag], Meta(max_length=16)] = []


class ListLibrary(Frame, tag="list_library", frozen=True, kw_only=True):
    """List library components whose name contains ``query`` and that carry ``tag``."""

    request_id: RequestId
    query: Annotated[str, Meta(max_length=120)] = ""
    tag: Tag | None = None


class FindSimilar(Frame, tag="find_similar", frozen=True, kw_only=True):
    """The library components nearest in timbre to a component."""

    request_id: RequestId
    component: ComponentRef
    limit: Annotated[int, Meta(ge=1, le=100)] = 8


class RenameComponent(Frame, tag="rename_component", frozen=True, kw_only=True):
    """Give a library component a new name.

    With ``base_version`` (the item's ``version`` as seen) a rename of a name that someone else
    changed meanwhile is refused with a ``conflict`` error instead of overwriting theirs.
    """

    request_id: RequestId
    component_id: Id
    name: Name
    base_version: Annotated[int, Meta(ge=1)] | None = None


class TagComponent(Frame, tag="tag_component", frozen=True, kw_only=True):
    """Replace a library component's tags."""

    request_id: RequestId
    component_id: Id
    tags: Annotated[list[Tag], Meta(max_length=16)]


class DeleteComponent(Frame, tag="delete_component", frozen=True, kw_only=True):
    """Delete a library component."""

    request_id: RequestId
    component_id: Id


# ============================================================================================
# Server -> client
# ============================================================================================


class Welcome(Frame, tag="welcome", frozen=True, kw_only=True):
    """The reply to ``hello``: versions and the limits this server enforces.

    ``phone_url`` is where a phone on the same network opens residue (https), else None and
    ``phone_note`` says how to make that possible.
    """

    request_id: int
    protocol_version: int
    server_version: str
    max_upload_bytes: int
    max_duration_s: float
    max_frame_bytes: int
    phone_url: str | None = None
    phone_note: str = ""


class Error(Frame, tag="error", frozen=True, kw_only=True):
    """A request failed.

    ``code`` is stable; ``message`` is for people; ``error_id`` names the server log entry.
    """

    request_id: int
    code: str
    message: str
    error_id: str | None = None


class Ok(Frame, tag="ok", frozen=True, kw_only=True):
    """A request that needs no data back succeeded."""

    request_id: int


class Sounds(Frame, tag="sounds", frozen=True, kw_only=True):
    """Every sound in the store, newest first."""

    request_id: int
    sounds: list[SoundInfo]


class SoundAdded(Frame, tag="sound_added", frozen=True, kw_only=True):
    """Event: a sound was added (an upload from another tab, a kept render)."""

    request_id: int
    sound: SoundInfo


class SoundRemoved(Frame, tag="sound_removed", frozen=True, kw_only=True):
    """Event: a sound was deleted (every tab of the session drops it from its list)."""

    request_id: int
    sound_id: str


class SpectrogramInfo(Frame, tag="spectrogram_info", frozen=True, kw_only=True):
    """Geometry of the tiles that follow: ``n_rows`` log-frequency rows by ``n_frames`` frames."""

    request_id: int
    sound_id: str
    n_rows: int
    n_frames: int
    hop_s: float
    f_min_hz: float
    f_max_hz: float
    top_db: float


class SpectrogramTile(Frame, tag="spectrogram_tile", frozen=True, kw_only=True):
    """Frames ``[frame_start, frame_start + n_frames)``: uint8 dB, row-major (n_rows, n_frames).

    Row 0 is the lowest frequency. ``last`` marks the final tile.
    """

    request_id: int
    frame_start: int
    n_frames: int
    n_rows: int
    data: bytes
    last: bool


class JobProgress(Frame, tag="job_progress", frozen=True, kw_only=True):
    """Progress of long work started by ``request_id``."""

    request_id: int
    fraction: float
    stage: str


class Decomposition(Frame, tag="decomposition", frozen=True, kw_only=True):
    """A decomposition ready to audition.

    ``components`` are float32 (n_components, n_rows) display curves on the spectrogram's rows,
    each scaled to max 1; ``activations`` are float32 (n_components, n_frames), each scaled to
    max 1, on the spectrogram's frames offset by ``frame_offset``.
    """

    request_id: int
    decomposition_id: str
    sound_id: str
    n_components: int
    beta: float
    n_rows: int
    n_frames: int
    frame_offset: int
    hop_s: float
    start_s: float
    end_s: float
    components: bytes
    activations: bytes
    unit_rms_db: list[float]
    loss: list[float]
    cached: bool


class AudioStart(Frame, tag="audio_start", frozen=True, kw_only=True):
    """PCM for ``request_id`` follows in audio frames; ``n_frames`` is the total length."""

    request_id: int
    sample_rate: int
    channels: int
    n_frames: int


class AudioEnd(Frame, tag="audio_end", frozen=True, kw_only=True):
    """All PCM for ``request_id`` was sent."""

    request_id: int
    n_frames: int
    peak: float


class RemixPlan(Frame, tag="remix_plan", frozen=True, kw_only=True):
    """A library component for each unit, chosen by ``strategy``."""

    request_id: int
    decomposition_id: str
    strategy: str
    assignments: list[Assignment]


class Library(Frame, tag="library", frozen=True, kw_only=True):
    """Library components (a listing or a similarity search, nearest first)."""

    request_id: int
    items: list[LibraryItem]


class LibraryChanged(Frame, tag="library_changed", frozen=True, kw_only=True):
    """Event or reply: a library component was added, renamed, retagged or deleted.

    ``seq`` is the op's number in the session's log (1, 2, 3, ... without gaps; 0 from an old
    server); ``item`` is the component's state right after the op (None after a delete);
    ``actor`` who did it; ``tag`` the tag of a ``tag``/``untag`` op.
    """

    request_id: int
    op: Literal["add", "rename", "tag", "untag", "delete"]
    component_id: str
    item: LibraryItem | None = None
    seq: int = 0
    actor: str = ""
    tag: str | None = None


# ============================================================================================
# The MIDI room: audio to notes, edited notes back to audio, .mid files
# ============================================================================================

MidiKey = Annotated[int, Meta(ge=0, le=127)]
Velocity = Annotated[int, Meta(ge=1, le=127)]
Program = Annotated[int, Meta(ge=0, le=127)]
Tempo = Annotated[float, Meta(ge=30.0, le=300.0)]
Threshold = Annotated[float, Meta(ge=0.0, le=1.0)]
Choice = Annotated[str, Meta(min_length=1, max_length=40)]
#: Notes of one part on the wire (as the transcription service's default limit).
MAX_PART_NOTES = 20_000
#: Points of one note's pitch-bend curve on the wire.
MAX_BEND_POINTS = 4096
#: Bytes of a .mid file sent over the socket.
MAX_MIDI_BYTES = 900_000


class SoundSource(Struct, tag="sound", tag_field="kind", frozen=True, kw_only=True):
    """A stored sound (or a region of it) as a source of notes or as a sampler instrument."""

    sound_id: Id
    start_s: Seconds | None = None
    end_s: Seconds | None = None


#: What can be transcribed: a sound (region) or a unit of a decomposition.
MidiSource = SoundSource | UnitComponent
#: What a sampler can play: a unit's component, a library component, or a sound (one-shot).
Instrument = UnitComponent | LibraryComponent | SoundSource


class MidiNote(Struct, frozen=True, kw_only=True):
    """One note; times are seconds from the source's start.

    ``bends`` is float32 little-endian pairs ``(time_s, semitones)``: the pitch curve relative to
    ``pitch`` at times after ``start_s``, sorted (empty for a steady note).
    """

    pitch: MidiKey
    start_s: Seconds
    end_s: Seconds
    velocity: Velocity = 100
    bends: Annotated[bytes, Meta(max_length=8 * MAX_BEND_POINTS)] = b""


class NotePart(Struct, frozen=True, kw_only=True):
    """One part: its notes, GM program, whether it is a drum part, a name and its tempo."""

    notes: Annotated[list[MidiNote], Meta(max_length=MAX_PART_NOTES)]
    program: Program = 0
    is_drum: bool = False
    name: Annotated[str, Meta(max_length=120)] = ""
    tempo_bpm: Tempo | None = None


class TranscribeSettings(Struct, frozen=True, kw_only=True):
    """Thresholds and clean-ups of a transcription; ``None`` keeps the backend's default.

    ``min_note_ms`` is both the backend's minimum note length and a clean-up after merging;
    ``merge_gap_ms`` joins repeated notes; ``key`` snaps to a key ("A minor", or "auto");
    ``quantize`` snaps to a grid of ``steps_per_beat`` at ``tempo_bpm`` (``None``: detected);
    ``max_notes_per_s`` is a note budget (the most salient notes are kept).
    """

    onset_threshold: Threshold | None = None
    frame_threshold: Threshold | None = None
    min_note_ms: Annotated[float, Meta(ge=0.0, le=5000.0)] | None = None
    min_pitch: MidiKey | None = None
    max_pitch: MidiKey | None = None
    bends: bool = True
    min_velocity: Velocity | None = None
    merge_gap_ms: Annotated[float, Meta(ge=0.0, le=2000.0)] | None = None
    key: Choice | None = None
    quantize: bool = False
    tempo_bpm: Tempo | None = None
    steps_per_beat: Annotated[int, Meta(ge=1, le=16)] = 4
    quantize_strength: Annotated[float, Meta(ge=0.0, le=1.0)] = 1.0
    max_notes_per_s: Annotated[float, Meta(ge=0.1, le=200.0)] | None = None


class NoteRender(Struct, frozen=True, kw_only=True):
    """How to play notes.

    Synth and preset (the sampler's preset is its mode), GM program and SoundFont, tuning
    ("12-tet", "24-tet", "N-edo", "just" or a list of ratios/cents), and a sampler instrument.
    ``with_source`` mixes the source under the render ("both"); ``notes_from`` names where the
    notes were transcribed from (kept in a saved render's provenance).
    """

    parts: Annotated[list[NotePart], Meta(min_length=1, max_length=16)]
    synth: Choice = "subtractive"
    preset: Choice | None = None
    program: Program | None = None
    soundfont: Annotated[str, Meta(min_length=1, max_length=120)] | None = None
    tuning: Annotated[str, Meta(min_length=1, max_length=2000)] = "12-tet"
    tonic_key: MidiKey = 60
    mapping: Literal["nearest", "keyboard"] = "nearest"
    instrument: Instrument | None = None
    with_source: MidiSource | None = None
    notes_from: MidiSource | None = None
    sample_rate: Annotated[int, Meta(ge=8000, le=96000)] = 44100


class BackendChoice(Struct, frozen=True, kw_only=True):
    """A transcription backend, and why it cannot run here when it cannot."""

    name: str
    available: bool
    reason: str
    polyphonic: bool
    description: str


class SynthChoice(Struct, frozen=True, kw_only=True):
    """A way to render notes, its presets, and why it cannot run here when it cannot."""

    name: str
    presets: list[str]
    available: bool
    reason: str
    needs_instrument: bool


class GetMidiChoices(Frame, tag="get_midi_choices", frozen=True, kw_only=True):
    """Ask which backends, synths, SoundFonts, programs and tunings this server offers."""

    request_id: RequestId


class Transcribe(Frame, tag="transcribe", frozen=True, kw_only=True):
    """Transcribe a sound or a unit into notes (``None`` backend: the server's default).

    Replies: ``job_progress`` frames, then ``transcription``.
    """

    request_id: RequestId
    source: MidiSource
    backend: Choice | None = None
    settings: TranscribeSettings = msgspec.field(default_factory=TranscribeSettings)


class GetSourceSpectrogram(Frame, tag="get_source_spectrogram", frozen=True, kw_only=True):
    """Stream the spectrogram of a source (a unit sounds alone) as ``get_spectrogram`` does."""

    request_id: RequestId
    source: MidiSource


class RenderNotes(Frame, tag="render_notes", frozen=True, kw_only=True):
    """Render notes and stream them as PCM (``audio_start``, PCM frames, ``audio_end``)."""

    request_id: RequestId
    render: NoteRender


class SaveRender(Frame, tag="save_render", frozen=True, kw_only=True):
    """Render notes and keep the result as a new sound (reply and event: ``sound_added``)."""

    request_id: RequestId
    render: NoteRender
    name: Name


class ImportMidi(Frame, tag="import_midi", frozen=True, kw_only=True):
    """Read a Standard MIDI File into parts (reply: ``midi_parts``)."""

    request_id: RequestId
    data: Annotated[bytes, Meta(max_length=MAX_MIDI_BYTES)]
    name: Annotated[str, Meta(max_length=120)] = ""


class MidiChoices(Frame, tag="midi_choices", frozen=True, kw_only=True):
    """What the MIDI room can do here; unavailable options carry the reason."""

    request_id: int
    backends: list[BackendChoice]
    default_backend: str
    synths: list[SynthChoice]
    soundfonts: list[str]
    programs: list[str]
    tunings: list[str]
    scales: list[str]
    max_notes: int


class Transcription(Frame, tag="transcription", frozen=True, kw_only=True):
    """Notes of a source: times from the source's start, which sits at ``start_s`` of the sound.

    ``key`` is the key the notes suggest; ``seconds`` how long the work took.
    """

    request_id: int
    source: MidiSource
    backend: str
    part: NotePart
    sound_id: str
    start_s: float
    duration_s: float
    key: str | None = None
    seconds: float = 0.0


class MidiParts(Frame, tag="midi_parts", frozen=True, kw_only=True):
    """The parts of an imported MIDI file."""

    request_id: int
    name: str
    parts: list[NotePart]
    duration_s: float


# ============================================================================================
# === Sessions === shared workspaces: joining by link, presence, the library's op log, sharing
# ============================================================================================

#: A capability token (``secrets.token_urlsafe(32)``: 43 URL-safe characters).
Token = Annotated[str, Meta(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
DisplayName = Annotated[str, Meta(max_length=40)]
#: Missed ops a resume sends one by one; past this the whole library comes instead.
MAX_RESUME_OPS = 500


class SessionInfo(Struct, frozen=True, kw_only=True):
    """A session: a named workspace with its own sounds, units and library."""

    session_id: str
    name: str
    created_at: float


class Member(Struct, frozen=True, kw_only=True):
    """Someone in the session: a display name, a colour, and what they are listening to."""

    member_id: str
    name: str
    colour: str
    role: Literal["admin", "guest"]
    playing: str | None = None


class InviteInfo(Struct, frozen=True, kw_only=True):
    """A sharing link of the session (the token itself is only shown when it is made)."""

    invite_id: str
    label: str
    created_at: float
    revoked: bool


class LibraryOpInfo(Struct, frozen=True, kw_only=True):
    """One missed op of the log: ``item`` is the component's state now (None once deleted)."""

    seq: int
    op: Literal["add", "rename", "tags", "tag", "untag", "delete"]
    component_id: str
    actor: str
    detail: str
    item: LibraryItem | None = None


class Join(Frame, tag="join", frozen=True, kw_only=True):
    """Enter a session with a token (a sharing link's ``t``), under a display name.

    Without a token only the default session can be entered, and only from the server's own
    machine while it listens on a loopback address. A failed join leaves the socket outside of
    every session.
    """

    request_id: RequestId
    session_id: Id | None = None
    token: Token | None = None
    name: DisplayName = ""


class Resume(Frame, tag="resume", frozen=True, kw_only=True):
    """Catch up on the library: every op after ``since`` (0: the whole library)."""

    request_id: RequestId
    since: Annotated[int, Meta(ge=0, le=2**53)]


class SetPresence(Frame, tag="set_presence", frozen=True, kw_only=True):
    """Tell the others what you are listening to (None: nothing), or a new display name."""

    request_id: RequestId
    playing: Annotated[str, Meta(max_length=200)] | None = None
    name: Annotated[str, Meta(min_length=1, max_length=40)] | None = None


class AddTag(Frame, tag="add_tag", frozen=True, kw_only=True):
    """Add one tag to a library component (commutes with everyone else's tag edits)."""

    request_id: RequestId
    component_id: Id
    tag: Tag


class RemoveTag(Frame, tag="remove_tag", frozen=True, kw_only=True):
    """Remove one tag from a library component."""

    request_id: RequestId
    component_id: Id
    tag: Tag


class CreateSession(Frame, tag="create_session", frozen=True, kw_only=True):
    """Make a new named session (the server's owner only)."""

    request_id: RequestId
    name: Annotated[str, Meta(min_length=1, max_length=60)]


class ListSessions(Frame, tag="list_sessions", frozen=True, kw_only=True):
    """List every session (the server's owner only)."""

    request_id: RequestId


class CreateInvite(Frame, tag="create_invite", frozen=True, kw_only=True):
    """Make a sharing link for the current session (the owner only)."""

    request_id: RequestId
    label: Annotated[str, Meta(max_length=60)] = ""


class ListInvites(Frame, tag="list_invites", frozen=True, kw_only=True):
    """List the current session's sharing links (the owner only)."""

    request_id: RequestId


class RevokeInvite(Frame, tag="revoke_invite", frozen=True, kw_only=True):
    """Revoke a sharing link: whoever joined with it is let out at once (the owner only)."""

    request_id: RequestId
    invite_id: Id


class Joined(Frame, tag="joined", frozen=True, kw_only=True):
    """The reply to ``join``: the session, who you are in it, who else is here, the log's end."""

    request_id: int
    session: SessionInfo
    role: Literal["admin", "guest"]
    member_id: str
    name: str
    colour: str
    members: list[Member]
    last_seq: int


class LibraryOps(Frame, tag="library_ops", frozen=True, kw_only=True):
    """The reply to ``resume``: the ops after ``since`` up to ``last_seq``, oldest first.

    When ``snapshot`` is set (``since`` was 0, or too much was missed) it is the whole library
    as of ``last_seq`` and ``ops`` is empty.
    """

    request_id: int
    since: int
    last_seq: int
    ops: list[LibraryOpInfo]
    snapshot: list[LibraryItem] | None = None


class Presence(Frame, tag="presence", frozen=True, kw_only=True):
    """Event: these members arrived or changed (``members``), these left (``left``)."""

    request_id: int
    members: list[Member]
    left: list[str] = []


class SessionCreated(Frame, tag="session_created", frozen=True, kw_only=True):
    """The reply to ``create_session``."""

    request_id: int
    session: SessionInfo


class SessionList(Frame, tag="session_list", frozen=True, kw_only=True):
    """The reply to ``list_sessions``."""

    request_id: int
    sessions: list[SessionInfo]


class Invite(Frame, tag="invite", frozen=True, kw_only=True):
    """The reply to ``create_invite``: the link's token, shown this once."""

    request_id: int
    session_id: str
    invite: InviteInfo
    token: str


class Invites(Frame, tag="invites", frozen=True, kw_only=True):
    """The reply to ``list_invites``, newest first."""

    request_id: int
    invites: list[InviteInfo]


class InviteRevoked(Frame, tag="invite_revoked", frozen=True, kw_only=True):
    """Reply and event: a sharing link was revoked."""

    request_id: int
    invite_id: str


# ============================================================================================
# === The separations room === many separations of one sound, streamed cell by cell
# ============================================================================================

#: Sweeps of a custom grid; values tried per parameter; stems per sweep.
MAX_GRID_SWEEPS = 16
MAX_GRID_VALUES = 8
MAX_GRID_STEMS = 8
GridValue = int | float | Annotated[str, Meta(min_length=1, max_length=40)]


class GridSweep(Struct, frozen=True, kw_only=True):
    """One backend, the values to try for each parameter, the target stems."""

    backend: Choice
    params: Annotated[
        dict[Choice, Annotated[list[GridValue], Meta(min_length=1, max_length=MAX_GRID_VALUES)]],
        Meta(max_length=8),
    ] = {}
    stems: Annotated[list[Choice], Meta(min_length=1, max_length=MAX_GRID_STEMS)]


class StartGrid(Frame, tag="start_grid", frozen=True, kw_only=True):
    """Run a grid over a sound: a preset, or custom ``sweeps`` (exactly one of them).

    Replies: ``grid_started``, ``job_progress``, one ``grid_cell`` per cell as it ends,
    ``grid_done``.
    """

    request_id: RequestId
    sound_id: Id
    preset: Literal["quick", "deep"] | None = None
    sweeps: Annotated[list[GridSweep], Meta(min_length=1, max_length=MAX_GRID_SWEEPS)] | None = (
        None
    )


class CancelCell(Frame, tag="cancel_cell", frozen=True, kw_only=True):
    """Cancel one cell of the grid started by ``target_request_id``; the rest goes on."""

    request_id: RequestId
    target_request_id: RequestId
    cell_id: Id


class PlayResult(Frame, tag="play_result", frozen=True, kw_only=True):
    """Stream a grid result (an estimate or a residual) as PCM."""

    request_id: RequestId
    result_id: Id


class KeepCell(Frame, tag="keep_cell", frozen=True, kw_only=True):
    """Keep a grid result as a new sound (origin "separation"; reply and event: ``sound_added``)."""

    request_id: RequestId
    result_id: Id
    name: Name


class GridCellInfo(Struct, frozen=True, kw_only=True):
    """A cell of a grid: its target stem and backend setting (the page's row and column)."""

    cell_id: str
    stem: str
    backend: str
    setting: str


class GridStarted(Frame, tag="grid_started", frozen=True, kw_only=True):
    """The grid's cells, in grid order, before any has run."""

    request_id: int
    sound_id: str
    cells: list[GridCellInfo]


class GridHints(Struct, frozen=True, kw_only=True):
    """What a candidate sounds like (see :class:`residue.dsp.hints.Hints`)."""

    loudness_lufs: float
    flatness: float
    bleed: float
    transients_per_s: float
    loudness_method: str


class GridCell(Frame, tag="grid_cell", frozen=True, kw_only=True):
    """One cell ended: ``done``, ``failed`` (with ``error``) or ``cancelled``.

    A done cell has a result id for its estimate and one for its residual (the mix minus the
    estimate), both playable and keepable; ``provenance`` is JSON text; ``thumbnail`` is the
    estimate's mini spectrogram, uint8 ``(thumb_rows, thumb_cols)`` row-major, row 0 lowest.
    """

    request_id: int
    cell_id: str
    status: Literal["done", "failed", "cancelled"]
    elapsed_s: float
    hints: GridHints | None = None
    residual_hints: GridHints | None = None
    provenance: str = "{}"
    error: str | None = None
    error_code: str | None = None
    result_id: str | None = None
    residual_result_id: str | None = None
    thumbnail: bytes = b""
    thumb_rows: int = 0
    thumb_cols: int = 0


class GridDone(Frame, tag="grid_done", frozen=True, kw_only=True):
    """The grid is over: cells per status and whether it was cancelled."""

    request_id: int
    done: int
    failed: int
    cancelled: int
    grid_cancelled: bool
    elapsed_s: float


class GetSeparationCatalog(Frame, tag="get_separation_catalog", frozen=True, kw_only=True):
    """What a grid editor needs (reply: ``separation_catalog``)."""

    request_id: RequestId


class GridParamInfo(Struct, frozen=True, kw_only=True):
    """A parameter a sweep may list values for.

    ``kind`` says how its values read: ``int`` and ``float`` within ``[min, max]`` (either
    bound may be absent), ``choice`` one of ``choices``. ``default`` is used when a sweep leaves
    the parameter out (None: the backend's own). ``odd``: only odd integers; ``below``: the name
    of a parameter of the same backend this one must stay below, in every cell.
    """

    name: str
    kind: Literal["int", "float", "choice"]
    default: int | float | str | None
    min: float | None
    max: float | None
    choices: list[str]
    optional: bool
    doc: str
    odd: bool = False
    below: str | None = None


class GridBackendInfo(Struct, frozen=True, kw_only=True):
    """A backend a sweep may name; ``model`` backends take a ``model`` parameter (see models)."""

    name: str
    kind: Literal["weightless", "model"]
    params: list[GridParamInfo]
    doc: str = ""


class GridModelInfo(Struct, frozen=True, kw_only=True):
    """A demucs model: available, or why not and which folder its files go in."""

    name: str
    available: bool
    reason: str | None
    folder: str | None
    stems: list[str]


class GridPresetInfo(Struct, frozen=True, kw_only=True):
    """A built-in grid as sweeps (what the editor starts from), and its cell count."""

    name: Literal["quick", "deep"]
    sweeps: list[GridSweep]
    n_cells: int


class SeparationCatalog(Frame, tag="separation_catalog", frozen=True, kw_only=True):
    """Backends with their parameters, stems, models, presets and the grid limits.

    ``max_cells`` is the server's cell limit (a grid counts ``stems x values of every
    parameter`` per sweep, summed); ``max_sweeps``, ``max_values`` and ``max_stems`` are
    :class:`StartGrid`'s bounds.
    """

    request_id: int
    backends: list[GridBackendInfo]
    stems: list[str]
    models: list[GridModelInfo]
    presets: list[GridPresetInfo]
    max_cells: int
    max_sweeps: int
    max_values: int
    max_stems: int
    models_dir: str | None = None


# ============================================================================================
# === The timbre room === a latent space of the user's timbres, songs through it, curation
# ============================================================================================

#: What the swipe page curates: generated songs, separation-grid results, training clips.
ItemKind = Literal["song", "cell", "clip"]
#: A swipe item id: a song id, a grid result id, or ``<set_id>-<clip index>``.
ItemId = Annotated[str, Meta(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")]
MapCoord = Annotated[float, Meta(ge=-1e6, le=1e6)]
MAX_REGION_POINTS = 256
MAX_EFFECTS = 16


class PinRef(Struct, frozen=True, kw_only=True):
    """A song point placed on a map: its point number ``point`` exactly, else ``(x, y)``."""

    point: Annotated[int, Meta(ge=0)] | None = None
    x: MapCoord = 0.0
    y: MapCoord = 0.0


class SongParams(Struct, frozen=True, kw_only=True):
    """A song's settings; ``None`` means the server's default (``timbre_state.defaults``).

    ``region`` is a polygon of ``[x, y]`` map coordinates (for ``criterion="region"``);
    ``grammar`` is the rules text (``S -> XYXZ | ...``, one rule per line); ``pins`` are up
    to five points placed on the map of the request's ``map_id``: the song's A, B, ... (the
    criterion picks the rest).
    """

    seed: Seed = 0
    minutes: float | None = None
    criterion: Choice | None = None
    direction: Literal["high", "low"] | None = None
    region: (
        Annotated[
            list[Annotated[list[MapCoord], Meta(min_length=2, max_length=2)]],
            Meta(max_length=MAX_REGION_POINTS),
        ]
        | None
    ) = None
    grammar: Annotated[str, Meta(max_length=4000)] | None = None
    wiggle_amplitude: float | None = None
    wiggle_rate_hz: float | None = None
    step_s: float | None = None
    fade_s: float | None = None
    loudness_lufs: float | None = None
    n_candidates: int | None = None
    ambience: Choice | None = None
    effects: Annotated[list[Id], Meta(max_length=MAX_EFFECTS)] | None = None
    ambience_lufs: float | None = None
    pins: Annotated[list[PinRef], Meta(max_length=5)] | None = None


class TimbreModelInfo(Struct, frozen=True, kw_only=True):
    """A trained timbre model: what it learned from, and its loss per epoch."""

    model_id: str
    is_default: bool
    latent_dim: int
    training_set: str
    n_clips: int
    loss: list[float]


class TrainingSetInfo(Struct, frozen=True, kw_only=True):
    """Clips cut from library sounds; ``n_usable`` are neither transient nor silent."""

    set_id: str
    name: str
    created_at: float
    n_clips: int
    n_usable: int


class AlbumInfo(Struct, frozen=True, kw_only=True):
    """An album: a named run of songs from one settings template."""

    album_id: str
    name: str
    created_at: float
    n_songs: int
    model_id: str


class SongInfo(Struct, frozen=True, kw_only=True):
    """A generated song.

    ``thumbnail`` is a uint8 ``(thumb_rows, thumb_cols)`` row-major log-frequency spectrogram
    (row 0 lowest); ``settings`` is its recipe as JSON text.
    """

    song_id: str
    name: str
    album_id: str | None
    position: int
    seed: int
    model_id: str
    created_at: float
    duration_s: float
    loudness_lufs: float | None
    structure: str
    thumbnail: bytes
    thumb_rows: int
    thumb_cols: int
    decision: Literal["keep", "reject"] | None
    settings: str


class MapPointInfo(Struct, frozen=True, kw_only=True):
    """A point of the timbre map: a training clip, a library component, or a model anchor."""

    kind: Literal["clip", "component", "anchor"]
    item_id: str
    label: str
    x: float
    y: float
    flagged: bool = False


class SwipeCard(Struct, frozen=True, kw_only=True):
    """One card of the swipe page (see :class:`SongInfo` for the thumbnail layout)."""

    kind: ItemKind
    item_id: str
    title: str
    subtitle: str
    duration_s: float
    thumbnail: bytes
    thumb_rows: int
    thumb_cols: int
    decision: Literal["keep", "reject"] | None


class GetTimbreState(Frame, tag="get_timbre_state", frozen=True, kw_only=True):
    """Models, training sets, albums and song defaults (reply: ``timbre_state``)."""

    request_id: RequestId


class BuildTrainingSet(Frame, tag="build_training_set", frozen=True, kw_only=True):
    """Cut clips from library sounds (all of this session's when ``sound_ids`` is None).

    Replies: ``job_progress``, ``training_set_built``.
    """

    request_id: RequestId
    name: Name = "library"
    sound_ids: Annotated[list[Id], Meta(min_length=1, max_length=500)] | None = None


class TrainModel(Frame, tag="train_model", frozen=True, kw_only=True):
    """Train a timbre model on a training set (a job).

    Replies: ``job_progress``, one ``training_epoch`` per epoch, ``model_trained``.
    """

    request_id: RequestId
    set_id: Id
    epochs: Annotated[int, Meta(ge=1, le=1000)] | None = None
    seed: Seed = 0


class GetTimbreMap(Frame, tag="get_timbre_map", frozen=True, kw_only=True):
    """The 2-D map of a model's latent space: a set's clips, library components, anchors.

    The default model is trained first if there is none yet (``job_progress`` says so).
    Reply: ``timbre_map``.
    """

    request_id: RequestId
    model_id: Id | None = None
    set_id: Id | None = None
    method: Literal["pca", "umap"] = "pca"


class PreviewPoint(Frame, tag="preview_point", frozen=True, kw_only=True):
    """Hover to hear: a looping drone of a point of map ``map_id`` (reply: PCM).

    The latent under ``(x, y)``, or that of point number ``point`` of the map exactly.
    """

    request_id: RequestId
    map_id: Id
    x: MapCoord = 0.0
    y: MapCoord = 0.0
    point: Annotated[int, Meta(ge=0)] | None = None
    seconds: Annotated[float, Meta(ge=0.1, le=30.0)] = 2.0


class CheckGrammar(Frame, tag="check_grammar", frozen=True, kw_only=True):
    """Validate a song grammar (reply: ``grammar_checked``, never an error frame)."""

    request_id: RequestId
    grammar: Annotated[str, Meta(max_length=4000)]
    seed: Seed = 0


class CreateSong(Frame, tag="create_song", frozen=True, kw_only=True):
    """Render one song and keep it (a job).

    ``set_id``: the training set of the map a region was drawn on; ``map_id``: the map the
    pins were placed on.

    Replies: ``job_progress``, ``song_added`` (also sent to the session's other tabs).
    """

    request_id: RequestId
    params: SongParams = SongParams()
    model_id: Id | None = None
    set_id: Id | None = None
    map_id: Id | None = None


class GenerateAlbum(Frame, tag="generate_album", frozen=True, kw_only=True):
    """Generate an album of ``n_songs`` songs as one job (``params.seed`` seeds the album).

    Replies: ``job_progress``, ``song_added`` per song as it is made, ``album_made``.
    """

    request_id: RequestId
    n_songs: int = 50
    params: SongParams = SongParams()
    name: Name | None = None
    model_id: Id | None = None
    set_id: Id | None = None
    map_id: Id | None = None


class ListSongs(Frame, tag="list_songs", frozen=True, kw_only=True):
    """Songs of one album (track order) or all (newest first). Reply: ``song_list``."""

    request_id: RequestId
    album_id: Id | None = None


class DeleteSong(Frame, tag="delete_song", frozen=True, kw_only=True):
    """Delete a song and its audio (reply ``ok``; event ``song_removed`` to every tab)."""

    request_id: RequestId
    song_id: Id


class GetSwipeDeck(Frame, tag="get_swipe_deck", frozen=True, kw_only=True):
    """The cards to curate (reply: ``swipe_deck``).

    Songs (of ``album_id``, else all), this session's recent grid results, or the clips of
    training set ``set_id``.
    """

    request_id: RequestId
    kind: ItemKind
    album_id: Id | None = None
    set_id: Id | None = None


class PlayItem(Frame, tag="play_item", frozen=True, kw_only=True):
    """Stream a song, grid result or clip as PCM, from ``start_s`` for at most ``max_s``."""

    request_id: RequestId
    kind: ItemKind
    item_id: ItemId
    start_s: Seconds = 0.0
    max_s: Annotated[float, Meta(gt=0.0, le=3600.0)] | None = None


class Decide(Frame, tag="decide", frozen=True, kw_only=True):
    """Keep or reject an item (reply and event to every tab: ``decided``)."""

    request_id: RequestId
    kind: ItemKind
    item_id: ItemId
    decision: Literal["keep", "reject"]


class UndoDecision(Frame, tag="undo_decision", frozen=True, kw_only=True):
    """Undo this session's most recent decision of ``kind``.

    Reply and event: ``decided`` with ``undone`` true and ``decision`` None; error
    ``not_found`` if there is none.
    """

    request_id: RequestId
    kind: ItemKind


class ExportAlbum(Frame, tag="export_album", frozen=True, kw_only=True):
    """Export kept songs as a loudness-matched album folder and a zip to download (a job).

    The songs: ``song_ids`` in order, else the kept songs of ``album_id``, else every kept
    song.

    Replies: ``job_progress``, ``album_exported``.
    """

    request_id: RequestId
    album_id: Id | None = None
    song_ids: Annotated[list[Id], Meta(min_length=1, max_length=1000)] | None = None
    format: Literal["flac", "wav"] = "flac"
    title: Name | None = None


class Manipulate(Frame, tag="manipulate", frozen=True, kw_only=True):
    """Audition an embedding manipulation (reply: PCM).

    ``stretch``: ``sound_id`` time-stretched by ``factor`` in latent space (same pitch);
    ``blend``: ``sound_id`` and ``other_sound_id`` interpolated (``mix`` 0 = first, 1 = other);
    ``crossfade``: the first morphing into the other over ``crossfade_s``;
    ``nmf_stretch``: decomposition ``decomposition_id`` stretched by resampling activations.
    """

    request_id: RequestId
    op: Literal["stretch", "blend", "crossfade", "nmf_stretch"]
    sound_id: Id | None = None
    other_sound_id: Id | None = None
    decomposition_id: Id | None = None
    factor: Annotated[float, Meta(ge=0.125, le=8.0)] = 1.0
    mix: Annotated[float, Meta(ge=0.0, le=1.0)] = 0.5
    crossfade_s: Annotated[float, Meta(ge=0.0, le=60.0)] = 4.0
    model_id: Id | None = None


class TimbreState(Frame, tag="timbre_state", frozen=True, kw_only=True):
    """Everything the timbre room lists, and the concrete song defaults and choices."""

    request_id: int
    models: list[TimbreModelInfo]
    default_model_id: str | None
    sets: list[TrainingSetInfo]
    albums: list[AlbumInfo]
    defaults: SongParams
    criteria: list[str]
    ambiences: list[str]
    map_methods: list[str]
    max_album_songs: int


class TrainingSetBuilt(Frame, tag="training_set_built", frozen=True, kw_only=True):
    """A training set was built."""

    request_id: int
    set: TrainingSetInfo


class TrainingEpoch(Frame, tag="training_epoch", frozen=True, kw_only=True):
    """One epoch of a training job ended (the loss curve grows by one point)."""

    request_id: int
    epoch: int
    epochs: int
    loss: float


class ModelTrained(Frame, tag="model_trained", frozen=True, kw_only=True):
    """A training job ended with a saved model."""

    request_id: int
    model: TimbreModelInfo


class TimbreMapFrame(Frame, tag="timbre_map", frozen=True, kw_only=True):
    """A map of a latent space; ``map_id`` names it for ``preview_point``."""

    request_id: int
    map_id: str
    model_id: str
    set_id: str | None
    method: str
    points: list[MapPointInfo]


class GrammarChecked(Frame, tag="grammar_checked", frozen=True, kw_only=True):
    """A grammar's check: ``ok``, else ``error`` says what is wrong.

    ``example`` is one expansion (the song's sections, seeded by the request's seed).
    """

    request_id: int
    ok: bool
    error: str | None = None
    example: str | None = None
    symbols: list[str] = []


class SongAdded(Frame, tag="song_added", frozen=True, kw_only=True):
    """A song was made (the reply to its job; request_id 0: another tab's, or an album's)."""

    request_id: int
    song: SongInfo


class SongRemoved(Frame, tag="song_removed", frozen=True, kw_only=True):
    """A song was deleted (event, request_id 0)."""

    request_id: int
    song_id: str


class AlbumMade(Frame, tag="album_made", frozen=True, kw_only=True):
    """An album job ended (also when cancelled: ``n_songs`` says how many were made)."""

    request_id: int
    album: AlbumInfo


class SongList(Frame, tag="song_list", frozen=True, kw_only=True):
    """Songs and albums."""

    request_id: int
    songs: list[SongInfo]
    albums: list[AlbumInfo]


class SwipeDeck(Frame, tag="swipe_deck", frozen=True, kw_only=True):
    """The cards to curate, in order; ``undo`` says whether there is a decision to undo."""

    request_id: int
    kind: ItemKind
    cards: list[SwipeCard]
    undo: bool


class Decided(Frame, tag="decided", frozen=True, kw_only=True):
    """A decision was made, or undone (``undone`` true, ``decision`` None)."""

    request_id: int
    kind: ItemKind
    item_id: str
    decision: Literal["keep", "reject"] | None
    undone: bool = False


class AlbumExported(Frame, tag="album_exported", frozen=True, kw_only=True):
    """An exported album: its folder on the server and a zip at ``url`` (same origin)."""

    request_id: int
    title: str
    folder: str
    url: str
    files: list[str]
    loudness_lufs: float


# ============================================================================================
# The unions: each room of the page adds its own frames above and its union here.
# ============================================================================================

StudioClientFrame = (
    Hello
    | ListSounds
    | DeleteSound
    | GetSpectrogram
    | Decompose
    | GetDecomposition
    | Cancel
    | PlaySound
    | Audition
    | PlanRemix
    | SaveComponent
    | ListLibrary
    | FindSimilar
    | RenameComponent
    | TagComponent
    | DeleteComponent
)

StudioServerFrame = (
    Welcome
    | Error
    | Ok
    | Sounds
    | SoundAdded
    | SoundRemoved
    | SpectrogramInfo
    | SpectrogramTile
    | JobProgress
    | Decomposition
    | AudioStart
    | AudioEnd
    | RemixPlan
    | Library
    | LibraryChanged
)

MidiClientFrame = (
    GetMidiChoices | Transcribe | GetSourceSpectrogram | RenderNotes | SaveRender | ImportMidi
)

MidiServerFrame = MidiChoices | Transcription | MidiParts

SessionClientFrame = (
    Join
    | Resume
    | SetPresence
    | AddTag
    | RemoveTag
    | CreateSession
    | ListSessions
    | CreateInvite
    | ListInvites
    | RevokeInvite
)

SessionServerFrame = (
    Joined
    | LibraryOps
    | Presence
    | SessionCreated
    | SessionList
    | Invite
    | Invites
    | InviteRevoked
)

SeparationClientFrame = StartGrid | CancelCell | PlayResult | KeepCell | GetSeparationCatalog

SeparationServerFrame = GridStarted | GridCell | GridDone | SeparationCatalog

TimbreClientFrame = (
    GetTimbreState
    | BuildTrainingSet
    | TrainModel
    | GetTimbreMap
    | PreviewPoint
    | CheckGrammar
    | CreateSong
    | GenerateAlbum
    | ListSongs
    | DeleteSong
    | GetSwipeDeck
    | PlayItem
    | Decide
    | UndoDecision
    | ExportAlbum
    | Manipulate
)

TimbreServerFrame = (
    TimbreState
    | TrainingSetBuilt
    | TrainingEpoch
    | ModelTrained
    | TimbreMapFrame
    | GrammarChecked
    | SongAdded
    | SongRemoved
    | AlbumMade
    | SongList
    | SwipeDeck
    | Decided
    | AlbumExported
)

ClientFrame = (
    StudioClientFrame
    | MidiClientFrame
    | SessionClientFrame
    | SeparationClientFrame
    | TimbreClientFrame
)
ServerFrame = (
    StudioServerFrame
    | MidiServerFrame
    | SessionServerFrame
    | SeparationServerFrame
    | TimbreServerFrame
)


#: Rows of every display curve and spectrogram.
CURVE_ROWS = 256


def pack_pcm(
    request_id: int, chunk_index: int, sample_rate: int, pcm: bytes, channels: int
) -> bytes:
    """Prefix interleaved little-endian float32 PCM with the audio-frame header."""
    return (
        PCM_HEADER.pack(PCM_MAGIC, PCM_KIND_F32, channels, request_id, chunk_index, sample_rate)
        + pcm
    )


def schema() -> dict[str, object]:
    """JSON Schema of both unions, for ``shared/protocol.schema.json``."""
    (client, server), components = msgspec.json.schema_components(
        [ClientFrame, ServerFrame], ref_template="#/$defs/{name}"
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "residue protocol",
        "description": f"residue wire contract, protocol version {PROTOCOL_VERSION}",
        "protocolVersion": PROTOCOL_VERSION,
        "type": "object",
        "properties": {"client": client, "server": server},
        "$defs": components,
    }


def golden_frames() -> dict[str, Frame]:
    """Representative frames of both directions, written to ``shared/fixtures/`` for the page."""
    curve = struct.pack("<4f", 0.0, 0.5, 1.0, 0.25)
    item = LibraryItem(
        component_id="c0ffee",
        name="warm pad",
        tags=["pad", "keep"],
        creator="ana",
        created_at=1700000000.5,
        provenance=Provenance(
            sound_id="s1",
            sound_name="demo pad",
            decomposition_id="d1",
            unit=2,
            n_components=6,
            beta=1.0,
            sample_rate=44100,
            n_fft=2048,
        ),
        curve=curve,
        distance=0.125,
    )
    return {
        "hello": Hello(request_id=1, protocol_version=PROTOCOL_VERSION, client="fixture"),
        "audition": Audition(
            request_id=7,
            spec=RenderSpec(
                decomposition_id="d1",
                units=[0, 2],
                edits=[
                    UnitEdit(
                        unit=0, component=LibraryComponent(component_id="c0ffee"), gain_db=-3.5
                    ),
                    UnitEdit(
                        unit=2,
                        component=UnitComponent(decomposition_id="d2", unit=1),
                        reverse=True,
                        stretch=2.0,
                        shift_frames=-4,
                    ),
                ],
            ),
        ),
        "welcome": Welcome(
            request_id=1,
            protocol_version=PROTOCOL_VERSION,
            server_version="0.1.0",
            max_upload_bytes=1000,
            max_duration_s=60.0,
            max_frame_bytes=4096,
        ),
        "error": Error(
            request_id=9, code="bad_parameter", message="n_components=0 must be in [1, 64]"
        ),
        "spectrogram_tile": SpectrogramTile(
            request_id=3, frame_start=128, n_frames=2, n_rows=3, data=bytes(range(6)), last=True
        ),
        "decomposition": Decomposition(
            request_id=4,
            decomposition_id="d1",
            sound_id="s1",
            n_components=2,
            beta=1.0,
            n_rows=2,
            n_frames=3,
            frame_offset=5,
            hop_s=512 / 44100,
            start_s=0.0,
            end_s=1.5,
            components=struct.pack("<4f", 1.0, 0.5, 0.25, 1.0),
            activations=struct.pack("<6f", 0.0, 1.0, 0.5, 1.0, 0.0, 0.75),
            unit_rms_db=[0.0, -6.02],
            loss=[10.5, 3.25],
            cached=False,
        ),
        "library_changed": LibraryChanged(request_id=0, op="add", component_id="c0ffee", item=item),
        "audio_start": AudioStart(request_id=7, sample_rate=44100, channels=2, n_frames=4096),
        "render_notes": RenderNotes(
            request_id=11,
            render=NoteRender(
                parts=[NotePart(notes=[
                    MidiNote(pitch=60, start_s=0.0, end_s=0.5, velocity=90),
                    MidiNote(pitch=64, start_s=0.5, end_s=1.0,
                             bends=struct.pack("<4f", 0.0, 0.0, 0.25, 0.5)),
                ], program=33, name="bass", tempo_bpm=120.0)],
                synth="sampler",
                preset="grain",
                tuning="19-edo",
                instrument=UnitComponent(decomposition_id="d1", unit=3),
                with_source=SoundSource(sound_id="s1", start_s=1.0, end_s=3.0),
            ),
        ),
        "transcription": Transcription(
            request_id=12,
            source=UnitComponent(decomposition_id="d1", unit=3),
            backend="nmf",
            part=NotePart(notes=[MidiNote(pitch=45, start_s=0.25, end_s=0.75, velocity=101)]),
            sound_id="s1",
            start_s=1.0,
            duration_s=2.0,
            key="A minor",
            seconds=0.125,
        ),
        "start_grid": StartGrid(
            request_id=13,
            sound_id="s1",
            sweeps=[GridSweep(backend="hpss", params={"margin": [1.0, 3.0]}, stems=["drums"])],
        ),
        "grid_cell": GridCell(
            request_id=13,
            cell_id="c001",
            status="done",
            elapsed_s=0.5,
            hints=GridHints(
                loudness_lufs=-18.5, flatness=0.25, bleed=0.125, transients_per_s=2.0,
                loudness_method="lufs",
            ),
            provenance='{"backend": "hpss", "stem": "drums"}',
            result_id="r1",
            residual_result_id="r2",
        ),
        "create_song": CreateSong(
            request_id=14,
            params=SongParams(
                seed=7, minutes=0.5, criterion="region", region=[[0.0, 0.0], [1.0, 0.0],
                [0.5, 1.5]], grammar="S -> AB\nA -> a\nB -> b", ambience="rain",
            ),
            set_id="set1",
        ),
        "song_added": SongAdded(
            request_id=0,
            song=SongInfo(
                song_id="s9", name="Slow Harbour", album_id="a1", position=3, seed=7,
                model_id="m1", created_at=1700000000.25, duration_s=30.0, loudness_lufs=-23.5,
                structure="XYXZ", thumbnail=bytes(range(6)), thumb_rows=2, thumb_cols=3,
                decision="keep", settings='{"seed": 7}',
            ),
        ),
        "timbre_map": TimbreMapFrame(
            request_id=15,
            map_id="map1",
            model_id="m1",
            set_id=None,
            method="pca",
            points=[
                MapPointInfo(kind="component", item_id="c0ffee", label="warm pad", x=0.5,
                             y=-1.25),
                MapPointInfo(kind="clip", item_id="set1-3", label="pad @ 2.0 s", x=-2.0,
                             y=0.75, flagged=True),
            ],
        ),
        "decided": Decided(request_id=16, kind="song", item_id="s9", decision=None, undone=True),
    }


def write_fixtures(folder: str) -> None:
    """Write every golden frame as ``NAME.msgpack`` (the bytes) and ``NAME.json`` (the value)."""
    from pathlib import Path

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    encoder = msgspec.msgpack.Encoder()
    for name, frame in golden_frames().items():
        (out / f"{name}.msgpack").write_bytes(encoder.encode(frame))
        (out / f"{name}.json").write_bytes(msgspec.json.format(msgspec.json.encode(frame)) + b"\n")
    # One audio frame: 2 stereo frames of PCM.
    pcm = struct.pack("<4f", 0.5, -0.5, 0.25, -0.25)
    (out / "pcm.bin").write_bytes(pack_pcm(7, 0, 44100, pcm, 2))


if (
    __name__ == "__main__"
):  # pragma: no cover - exercised by `make protocol` and CI's freshness check
    import json
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "--fixtures":
        write_fixtures(sys.argv[2])
    else:
        sys.stdout.write(json.dumps(schema(), indent=2, sort_keys=True) + "\n")
