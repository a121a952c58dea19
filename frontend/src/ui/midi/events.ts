/**
 * "Take this to the MIDI room": the studio asks with a window event, so that neither room imports
 * the other.
 */
export const TO_MIDI = "residue:to-midi";

export interface ToMidiDetail {
  readonly decompositionId: string;
  readonly unit: number;
  /** "demo bass unit 2" */
  readonly label: string;
}

/** Open the MIDI room with a unit of a decomposition. */
export function requestToMidi(detail: ToMidiDetail): void {
  window.dispatchEvent(new CustomEvent<ToMidiDetail>(TO_MIDI, { detail }));
}

/** Listen for {@link requestToMidi}; returns the unsubscribe function. */
export function onToMidi(fn: (detail: ToMidiDetail) => void): () => void {
  const listener = (e: Event): void => {
    if (e instanceof CustomEvent) fn(e.detail as ToMidiDetail);
  };
  window.addEventListener(TO_MIDI, listener);
  return () => window.removeEventListener(TO_MIDI, listener);
}
