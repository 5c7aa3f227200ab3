// "Past incidents (90 days)" from /api/incidents: newest first with start, end and duration,
// each linkable (#incident-<id>); one seen active again after a close links the one before.
"use strict";
(function (ns) {
  const { h, fill, byId, reveal } = ns.dom;
  const when = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  let client = null;

  const stamp = (text) => h("time", { datetime: text }, when.format(new Date(text)));

  function item(i, ids) {
    const open = i.resolved_at === null;
    return h(
      "li",
      { class: "past-incident", id: "incident-" + i.id, "data-status": i.status, tabindex: "-1" },
      h("h3", {}, String(i.name)),
      h(
        "p",
        { class: "incident-when" },
        "Started ",
        stamp(i.started_at),
        open ? ", still open" : [" · Resolved ", stamp(i.resolved_at)],
        ` · ${open ? "Open for" : "Lasted"} ${ns.format.duration(Number(i.duration_seconds) || 0)}`,
      ),
      ids.has(i.reopens) &&
        h("p", {}, "Seen again after ", h("a", { href: "#incident-" + i.reopens }, "an earlier incident"), " was resolved."),
    );
  }

  async function load() {
    try {
      const r = await client.get("api/incidents?days=90", null);
      const list = r.body && Array.isArray(r.body.incidents) ? r.body.incidents : null;
      byId("past-incidents").hidden = !list;
      if (!list) return;
      const ids = new Set(list.map((i) => i.id));
      byId("past-incidents-summary").textContent = list.length
        ? `${list.length} in the last 90 days, newest first.`
        : "No incidents in the last 90 days.";
      fill(byId("past-incidents-list"), list.map((i) => item(i, ids)));
      reveal("incident-");
    } catch (err) {
      // unreachable: keep what is shown
    }
  }

  function start(pageClient) {
    client = pageClient;
    const queue = () => client.schedule("past-incidents", load);
    queue();
    setInterval(queue, 60e3);
  }

  ns.incidentsView = { start };
})((window.StatusPage = window.StatusPage || {}));
