// Live updates on the workbench pages (loaded as a file: the CSP allows no inline script).
// Subscribes to the server's event stream (GET /live/events, the page session's cookie):
// a case that changes and may be in the open queue refreshes the queue (htmx), and the
// navigation's unread badge follows new alerts. The browser reconnects by itself and sends
// the last event id, so nothing is missed; without this script the pages work as before.
"use strict";

(() => {
  const url = document.body && document.body.dataset.live;
  if (!url || !("EventSource" in window)) { return; }
  const source = new EventSource(url);
  const badge = document.getElementById("unread-badge");
  const queue = document.getElementById("queue");
  // Refreshes are gathered: a burst of changes costs one request.
  const DELAY_MS = 250;
  let timer = null;

  const setUnread = (count) => {
    if (!badge || typeof count !== "number") { return; }
    badge.dataset.unread = String(count);
    badge.textContent = count > 99 ? "99+" : String(count);
    badge.hidden = count <= 0;
    const onPage = document.getElementById("page-unread");
    if (onPage) { onPage.textContent = String(count); }
  };

  const refreshQueue = () => {
    timer = null;
    if (!queue || !window.htmx) { return; }
    // The header tells the server this refresh is not someone using the page (idle timeout).
    window.htmx.ajax("GET", window.location.pathname + window.location.search,
      { target: "#queue", swap: "innerHTML", headers: { "X-Civicgrid-Live": "1" } });
  };

  const soon = () => { if (timer === null) { timer = window.setTimeout(refreshQueue, DELAY_MS); } };

  // Whether a changed case is, or may now be, in the queue on screen: it is shown, or it
  // entered one of the queue's states (a queue of every state takes any case).
  const concerns = (change) => {
    if (!queue || !change || typeof change.number !== "string") { return false; }
    for (const link of queue.querySelectorAll("a.case-link[data-number]")) {
      if (link.dataset.number === change.number) { return true; }
    }
    const states = (queue.dataset.liveStates || "").split(",").filter(Boolean);
    return states.length === 0 || states.includes(change.state);
  };

  const read = (event) => {
    try { return JSON.parse(event.data); } catch (error) { return null; }
  };

  // The stream's state, for the styles (and the page tests): open, connecting, closed.
  const state = (name) => { document.body.dataset.liveState = name; };
  source.addEventListener("open", () => state("open"));
  source.addEventListener("error", () => {
    state(source.readyState === EventSource.CLOSED ? "closed" : "connecting");
  });

  source.addEventListener("case", (event) => { if (concerns(read(event))) { soon(); } });
  source.addEventListener("alert", (event) => {
    const alert = read(event);
    if (alert) { setUnread(alert.unread); }
  });
  source.addEventListener("unread", (event) => {
    const state = read(event);
    if (state) { setUnread(state.unread); }
  });
  // Too much was missed to replay: show the queue afresh.
  source.addEventListener("reset", () => { if (queue) { soon(); } });
  window.addEventListener("pagehide", () => source.close());
})();
