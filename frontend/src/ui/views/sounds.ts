/**
 * The sounds panel: the list, a file picker and the upload progress.
 */
import { formatTime, h, icon, ICONS, replaceChildren } from "../dom";
import type { Studio } from "../studio";

export const AUDIO_ACCEPT = "audio/*,.wav,.flac,.mp3,.ogg,.oga,.aif,.aiff,.m4a";

export function soundsPanel(studio: Studio): HTMLElement {
  const list = h("ul", { class: "sound-list", "aria-label": "Sounds", "data-testid": "sound-list" });
  const input = h("input", {
    type: "file",
    accept: AUDIO_ACCEPT,
    multiple: true,
    class: "visually-hidden",
    id: "upload-input",
    "data-testid": "upload-input",
    onchange: () => {
      for (const file of Array.from(input.files ?? [])) void studio.upload(file);
      input.value = "";
    },
  });
  const pickButton = h(
    "label",
    { class: "button", for: "upload-input", title: "Add audio files (or drop them anywhere)" },
    icon(ICONS.upload),
    h("span", {}, "Add sound"),
  );
  const progress = h("progress", { class: "upload-progress", max: 1, value: 0, "aria-label": "Upload progress", "data-testid": "upload-progress" });
  const progressLabel = h("span", { class: "upload-label" });
  const progressRow = h("div", { class: "upload-row", hidden: true }, progressLabel, progress);

  studio.store.watch(["upload"], (s) => {
    progressRow.hidden = s.upload === null;
    if (s.upload) {
      progress.value = s.upload.fraction;
      progressLabel.textContent = `Sending ${s.upload.name} ${Math.round(s.upload.fraction * 100)}%`;
    }
  });

  studio.store.watch(["sounds", "soundId", "currentBySound", "connection"], (s) => {
    if (s.sounds.length === 0) {
      replaceChildren(list, h("li", { class: "empty" }, s.connection === "open" ? "No sounds yet: drop audio files here." : "Connecting…"));
      return;
    }
    replaceChildren(
      list,
      s.sounds.map((sound) => {
        const selected = sound.sound_id === s.soundId;
        const decomposed = s.currentBySound[sound.sound_id] !== undefined;
        const item = h(
          "button",
          {
            class: `sound-item${selected ? " selected" : ""}`,
            "aria-pressed": selected ? "true" : "false",
            "data-testid": "sound-item",
            "data-sound-id": sound.sound_id,
            "data-sound-name": sound.name,
            onclick: () => studio.selectSound(sound.sound_id),
          },
          h("span", { class: "sound-name" }, sound.name),
          h(
            "span",
            { class: "sound-meta" },
            formatTime(sound.duration_s),
            sound.tempo_bpm ? ` · ${Math.round(sound.tempo_bpm)} bpm` : "",
            sound.origin === "demo" ? " · demo" : "",
            decomposed ? " · units" : "",
          ),
        );
        const li = h("li", { class: "sound-row" });
        const normal = (): void => replaceChildren(li, item, del);
        const del = h(
          "button",
          {
            class: "icon-button danger",
            "aria-label": `Delete ${sound.name}`,
            title: "Delete this sound (components kept from it stay in the library)",
            "data-testid": "sound-delete",
            onclick: () =>
              replaceChildren(
                li,
                h(
                  "div",
                  { class: "inline-edit" },
                  h("span", {}, `Delete “${sound.name}” and its units?`),
                  h("button", { class: "button small danger", "data-testid": "confirm-delete-sound", onclick: () => void studio.deleteSound(sound.sound_id) }, "Delete"),
                  h("button", { class: "button small", onclick: normal }, "Keep it"),
                ),
              ),
          },
          icon(ICONS.trash),
        );
        normal();
        return li;
      }),
    );
  });

  return h(
    "section",
    { class: "panel sounds-panel", "aria-labelledby": "sounds-title" },
    h("div", { class: "panel-head" }, h("h2", { id: "sounds-title" }, "Sounds"), pickButton, input),
    progressRow,
    list,
  );
}
