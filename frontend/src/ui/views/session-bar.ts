/**
 * The session bar: the session's name, who is here (a colour each, and what they listen to),
 * sharing and revoking links (the owner), joining by a link, and your display name. When a link
 * is refused the bar says so and offers the way back to your own studio.
 */
import { h, replaceChildren } from "../dom";
import type { SessionController } from "../session";

export function sessionBar(session: SessionController): HTMLElement {
  const title = h("span", { class: "session-name", "data-testid": "session-name" });
  const people = h("ul", { class: "members", "aria-label": "People in this session", "data-testid": "members" });
  const nameInput = h("input", {
    type: "text",
    maxLength: 40,
    class: "name-input",
    "aria-label": "Your name in the session",
    "data-testid": "name-input",
    onchange: () => session.rename(nameInput.value),
  });
  const share = h("button", { class: "button small primary", "data-testid": "share-button", title: "Make a link that lets someone into this session, and copy it", onclick: () => void session.share() }, "Share");
  const linkOut = h("input", { type: "text", readOnly: true, class: "share-link", "aria-label": "Sharing link", "data-testid": "share-link", hidden: true, onfocus: () => linkOut.select() });
  const invites = h("ul", { class: "invites", "aria-label": "Sharing links", "data-testid": "invites" });
  const linksButton = h("button", { class: "button small", "data-testid": "invites-button", "aria-expanded": "false", onclick: () => toggle(panel, linksButton) }, "Links");
  const joinInput = h("input", { type: "text", placeholder: "paste a link", "aria-label": "A residue link to join", "data-testid": "join-input" });
  const joinForm = h(
    "form",
    {
      class: "join-form",
      onsubmit: (e: SubmitEvent) => {
        e.preventDefault();
        if (joinInput.value.trim()) session.joinLink(joinInput.value);
      },
    },
    joinInput,
    h("button", { class: "button small", type: "submit", "data-testid": "join-button" }, "Join"),
  );
  const newName = h("input", { type: "text", placeholder: "new session name", maxLength: 60, "aria-label": "Name of a new session", "data-testid": "new-session-name" });
  const newForm = h(
    "form",
    {
      class: "join-form",
      onsubmit: (e: SubmitEvent) => {
        e.preventDefault();
        void session.newSession(newName.value);
      },
    },
    newName,
    h("button", { class: "button small", type: "submit", "data-testid": "new-session-button" }, "New session"),
  );
  const leave = h("button", { class: "button small", "data-testid": "leave-button", title: "Back to your own studio", onclick: () => session.leave() }, "My studio");
  const panel = h("div", { class: "session-panel panel", hidden: true, "data-testid": "session-panel" }, h("h3", {}, "Sharing links"), invites, newForm);
  const refused = h(
    "div",
    { class: "refused panel", role: "alert", hidden: true, "data-testid": "refused" },
    h("p", { class: "refused-text" }),
    h("button", { class: "button primary", onclick: () => session.leave() }, "Open my own studio"),
  );

  session.store.watch([], (s) => {
    title.textContent = s.joined ? s.sessionName : s.refused ? "not in a session" : "connecting…";
    title.title = s.sessionId ? `session ${s.sessionId}` : "";
    if (document.activeElement !== nameInput) nameInput.value = s.name;
    share.hidden = linksButton.hidden = s.role !== "admin" || !s.joined;
    leave.hidden = s.sessionId === null || s.sessionId === "default";
    if (s.link) {
      linkOut.hidden = false;
      linkOut.value = s.link;
    }
    replaceChildren(
      people,
      s.members.map((m) =>
        h(
          "li",
          { class: `member${m.member_id === s.memberId ? " me" : ""}`, "data-testid": "member", "data-name": m.name, "data-playing": m.playing ?? "", title: m.playing ? `${m.name} is listening to ${m.playing}` : m.name },
          h("span", { class: "dot", style: `background:${m.colour}`, "aria-hidden": "true" }),
          h("span", { class: "member-name" }, m.member_id === s.memberId ? `${m.name} (you)` : m.name),
          m.playing ? h("span", { class: "member-playing", "data-testid": "member-playing" }, `▶ ${m.playing}`) : null,
        ),
      ),
    );
    replaceChildren(
      invites,
      s.invites.length === 0
        ? h("li", { class: "muted small" }, "No links yet: Share makes one.")
        : s.invites.map((i) =>
            h(
              "li",
              { class: `invite${i.revoked ? " revoked" : ""}`, "data-testid": "invite-item", "data-invite-id": i.invite_id },
              h("span", {}, i.label || i.invite_id),
              i.revoked ? h("span", { class: "muted small" }, "revoked") : h("button", { class: "button small danger", "data-testid": "revoke-button", onclick: () => void session.revoke(i) }, "Revoke"),
            ),
          ),
    );
    refused.hidden = s.refused === null;
    const text = refused.querySelector(".refused-text");
    if (text) text.textContent = s.refused ? `You were not let into this session: ${s.refused}` : "";
  });

  return h(
    "div",
    { class: "session-wrap" },
    h(
      "section",
      { class: "session-bar", "aria-label": "Session", "data-testid": "session-bar" },
      h("span", { class: "session-label muted small" }, "session"),
      title,
      people,
      h("label", { class: "small muted name-label" }, "you ", nameInput),
      share,
      linkOut,
      linksButton,
      joinForm,
      leave,
    ),
    panel,
    refused,
  );
}

function toggle(panel: HTMLElement, button: HTMLElement): void {
  panel.hidden = !panel.hidden;
  button.setAttribute("aria-expanded", panel.hidden ? "false" : "true");
}
