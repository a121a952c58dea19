import { describe, expect, it } from "vitest";
import { DEFAULT_MANIP, manipRequest } from "./manip";

const none = (): string | null => null;

describe("manipRequest", () => {
  it("asks for what is missing", () => {
    expect(manipRequest(DEFAULT_MANIP, null, none)).toEqual({ ok: false, problem: "Pick a sound first." });
    expect(manipRequest({ ...DEFAULT_MANIP, op: "blend", soundId: "a" }, null, none)).toMatchObject({ ok: false, problem: /second sound/ });
    expect(manipRequest({ ...DEFAULT_MANIP, op: "nmf_stretch", soundId: "a" }, null, none, () => "loop")).toMatchObject({ ok: false, problem: /loop.*Studio/ });
  });

  it("builds each op's frame with clamped values and a key that changes with them", () => {
    const s = manipRequest({ ...DEFAULT_MANIP, soundId: "a", factor: 100 }, "m1", none);
    expect(s).toMatchObject({ ok: true, frame: { type: "manipulate", op: "stretch", sound_id: "a", factor: 8, model_id: "m1" } });
    const b = manipRequest({ ...DEFAULT_MANIP, op: "blend", soundId: "a", otherSoundId: "b", mix: 0.25 }, null, none);
    expect(b).toMatchObject({ ok: true, frame: { op: "blend", sound_id: "a", other_sound_id: "b", mix: 0.25 } });
    const b2 = manipRequest({ ...DEFAULT_MANIP, op: "blend", soundId: "a", otherSoundId: "b", mix: 0.5 }, null, none);
    expect(b.ok && b2.ok && b.key !== b2.key).toBe(true);
    const x = manipRequest({ ...DEFAULT_MANIP, op: "crossfade", soundId: "a", otherSoundId: "b", crossfadeS: -3 }, null, none);
    expect(x).toMatchObject({ ok: true, frame: { op: "crossfade", crossfade_s: 0 } });
    const n = manipRequest({ ...DEFAULT_MANIP, op: "nmf_stretch", soundId: "a", factor: 0.5 }, null, () => "d1");
    expect(n).toMatchObject({ ok: true, frame: { op: "nmf_stretch", decomposition_id: "d1", factor: 0.5 } });
  });
});
