// Live updates for the map and the dashboard (CivicLive.watch), loaded as a file (the CSP allows no inline script).
//
// CivicLive.watch(url, onChange, options) calls onChange(reason, events) when the data behind
// a page may have changed (reason "event" with the events gathered since the last call, or
// "timer", "visible", "manual" with none):
// - with the server's event stream at `url` (an EventSource; "case" and "alert" events), soon
//   after each event, several events in a row giving one call (debounced);
// - without it (the server has no such endpoint, or the stream is down), every
//   `fallbackSeconds`; and every `clockSeconds` even with it, since a case turns yellow or red
//   when its deadline nears, with no event at all.
// A missing endpoint is not an error: the page quietly falls back to fetching on a timer.
"use strict";

(function () {
  function watch(url, onChange, options) {
    const settings = Object.assign(
      { debounceMs: 1500, fallbackSeconds: 30, clockSeconds: 120, events: ["case", "alert"] },
      options || {},
    );
    let source = null;
    let pending = null;
    let pendingReason = null;
    let events = [];
    let live = false;
    let timer = null;

    function changed(reason, event) {
      if (event) { events.push(event); }
      // A timer or a return to the page refreshes everything, whatever the events said.
      if (reason !== "event" || !pendingReason) { pendingReason = reason; }
      if (pending) { return; }
      pending = setTimeout(() => {
        const gathered = events;
        const why = pendingReason;
        pending = null;
        pendingReason = null;
        events = [];
        try { onChange(why, why === "event" ? gathered : []); } catch (error) { /* the next change tries again */ }
      }, reason === "event" ? settings.debounceMs : 0);
    }

    function schedule() {
      if (timer) { clearInterval(timer); }
      const seconds = live ? settings.clockSeconds : settings.fallbackSeconds;
      timer = setInterval(() => { if (!document.hidden) { changed("timer"); } }, seconds * 1000);
    }

    function connect() {
      if (!url || typeof EventSource === "undefined") { return; }
      try {
        source = new EventSource(url, { withCredentials: true });
      } catch (error) {
        source = null;
        return;
      }
      source.addEventListener("open", () => { live = true; schedule(); });
      source.addEventListener("error", () => {
        // A 404 (no live endpoint) or a wrong content type closes the stream for good; a
        // dropped connection is retried by the browser. Either way: back to the timer.
        if (live) { live = false; schedule(); }
        if (source && source.readyState === EventSource.CLOSED) { source = null; }
      });
      for (const name of settings.events) {
        source.addEventListener(name, (message) => {
          let data = null;
          try { data = JSON.parse(message.data); } catch (error) { data = null; }
          changed("event", { type: name, data: data });
        });
      }
    }

    schedule();
    connect();
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) { changed("visible"); }
    });
    return {
      get live() { return live; },
      refresh() { changed("manual"); },
      close() {
        if (source) { source.close(); source = null; }
        if (timer) { clearInterval(timer); timer = null; }
      },
    };
  }

  window.CivicLive = { watch: watch };
})();
