// "Past incidents (90 days)" from /api/incidents: newest first with start, end and duration,
// each linkable (#incident-<id>); one seen active again after a close links the one before.
"use strict";
(function (ns) {
  const { h, fill, byId, reveal } = ns.dom;
  const { i18n } = ns;
  const WHEN = { dateStyle: "medium", timeStyle: "short" };
  let client = null;
  let shown = null; // the last list, drawn again in another language

  /** A time with its zone named: "Nov 24, 2026, 2:05 PM EST" / "24 нояб. 2026 г., 14:05 MSK". */
  function stamp(text) {
    const at = new Date(text);
    const zone = i18n.dateParts(at, { timeZoneName: "short" }).find((p) => p.type === "timeZoneName");
    const label = i18n.date(at, WHEN) + (zone ? " " + zone.value : "");
    return h("time", { datetime: text }, label);
  }

  function item(i, ids) {
    const open = i.resolved_at === null;
    return h(
      "li",
      { class: "past-incident", id: "incident-" + i.id, "data-status": i.status, tabindex: "-1" },
      h("h3", {}, String(i.name)),
      h(
        "p",
        { class: "incident-when" },
        i18n.tparts(open ? "page.past.open" : "page.past.closed", {
          start: stamp(i.started_at),
          end: open ? null : stamp(i.resolved_at),
          duration: ns.format.duration(Number(i.duration_seconds) || 0),
        }),
      ),
      ids.has(i.reopens) &&
        h(
          "p",
          {},
          i18n.tparts("page.past.reopens", {
            link: h("a", { href: "#incident-" + i.reopens }, i18n.t("page.past.earlier")),
          }),
        ),
    );
  }

  function render() {
    const list = shown;
    byId("past-incidents").hidden = !list;
    if (!list) return;
    const ids = new Set(list.map((i) => i.id));
    byId("past-incidents-summary").textContent = list.length
      ? i18n.tp("page.past.summary", list.length)
      : i18n.t("page.past.none");
    fill(byId("past-incidents-list"), list.map((i) => item(i, ids)));
    reveal("incident-");
  }

  async function load() {
    try {
      const r = await client.get("api/incidents?days=90", null);
      shown = r.body && Array.isArray(r.body.incidents) ? r.body.incidents : null;
      render();
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

  ns.incidentsView = { start, render };
})((window.StatusPage = window.StatusPage || {}));
