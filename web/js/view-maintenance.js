// Planned maintenance (SPEC §9): running and upcoming windows in the overview (linkable,
// #maintenance-<id>) and the picked country's in the region view; times in the visitor's zone.
"use strict";
(function (ns) {
  const { h, fill, byId, reveal } = ns.dom;
  const BY_COUNTRY = ["sms", "mms", "voice", "email"];
  const { i18n } = ns;
  const state = { client: null, windows: [], timer: null, country: null, seen: "" };
  const DAY = { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" };
  const CLOCK = { hour: "2-digit", minute: "2-digit" };

  // "Sun, 1 Mar, 02:00 – 04:00 CET", in the page's language and the visitor's zone
  function range(a, b) {
    const part = i18n.dateParts(a, { timeZoneName: "short" }).find((p) => p.type === "timeZoneName");
    const end = i18n.date(b, a.toDateString() === b.toDateString() ? CLOCK : DAY);
    return `${i18n.date(a, DAY)} – ${end} ${part ? part.value : ""}`.trim();
  }

  function read(m) {
    const x = (m && m.statusd) || {};
    const w = { id: x.id, name: String(m.name), products: x.products || [] };
    w.countries = x.countries || [];
    w.functions = x.functions || [];
    w.start = new Date(m.scheduled_for);
    w.end = new Date(m.scheduled_until);
    return typeof w.id === "string" && !isNaN(w.start) && !isNaN(w.end) ? w : null;
  }

  // "SMS in Russia (RU); Billing: Payout" in the page's language (statusd's `scope` is English)
  function scope(w) {
    const { t, list } = i18n;
    const products = w.products.length ? w.products : [...BY_COUNTRY, "billing", "support"];
    const parts = [];
    const here = BY_COUNTRY.filter((p) => products.includes(p)).map((p) => t("page.product." + p));
    if (here.length) {
      const countries = w.countries.map((cc) => `${ns.geo.nameOf(cc)} (${cc})`);
      const fields = { products: list(here), countries: list(countries) };
      parts.push(t(countries.length ? "page.maintenance.scope_in" : "page.maintenance.scope_all", fields));
    }
    if (products.includes("billing")) {
      const keys = w.functions.length ? w.functions : ns.model.BILLING;
      const names = keys.map((f) => t("page.function." + (f === "recurring" ? "reccuring" : f)));
      parts.push(t("page.maintenance.scope_billing", { functions: list(names) }));
    }
    if (products.includes("support")) parts.push(t("page.maintenance.scope_support"));
    return parts.join("; ");
  }

  const status = (w, now) => (now < w.start ? "scheduled" : now < w.end ? "in_progress" : null);

  // its country's cells, or billing/support (no country)
  function concerns(w, cc) {
    const products = w.products.length ? w.products : ["billing"];
    return products.some((p) => !BY_COUNTRY.includes(p) || !w.countries.length || w.countries.includes(cc));
  }

  function current(now) {
    const rank = (w) => (status(w, now) === "in_progress" ? 0 : 1);
    return state.windows.filter((w) => status(w, now)).sort((a, b) => rank(a) - rank(b) || a.start - b.start);
  }

  function item(w, now, anchored) {
    const st = status(w, now);
    const id = anchored ? "maintenance-" + w.id : null;
    return h(
      "li",
      { class: "maintenance-item", id, "data-status": st, tabindex: id && "-1" },
      h("h3", {}, h("span", { class: "maintenance-state" }, i18n.t("page.maintenance." + st)), w.name),
      h("p", { class: "maintenance-when" }, h("time", { datetime: w.start.toISOString() }, range(w.start, w.end))),
      h("p", {}, i18n.t("page.maintenance.affects", { scope: scope(w) })),
    );
  }

  function renderRegion(cc) {
    state.country = cc;
    const now = new Date();
    const shown = cc ? current(now).filter((w) => concerns(w, cc)) : [];
    const box = byId("region-maintenance");
    box.hidden = !shown.length;
    fill(
      box,
      shown.length &&
        h("h3", { id: "region-maintenance-title" }, i18n.t("page.maintenance.in", { country: ns.geo.nameOf(cc) })),
      shown.length &&
        h("ul", { class: "maintenance-list", "aria-labelledby": "region-maintenance-title" }, shown.map((w) => item(w, now))),
    );
  }

  // statusd's verdicts change at each start and end, and with the file: ask again.
  function verdictsChanged() {
    if (ns.app) ns.app.refreshVerdicts();
  }

  function render(transition) {
    if (transition === true) verdictsChanged();
    const now = new Date();
    const shown = current(now);
    byId("maintenance").hidden = !shown.length;
    fill(byId("maintenance-list"), shown.map((w) => item(w, now, true)));
    renderRegion(state.country);
    const next = state.windows.flatMap((w) => [w.start - now, w.end - now]).filter((t) => t > 0);
    clearTimeout(state.timer);
    if (next.length) state.timer = setTimeout(render, Math.min(...next, 3600e3) + 1000, true);
    reveal("maintenance-");
  }

  async function load() {
    try {
      const r = await state.client.get("api/v2/scheduled-maintenances.json", null);
      const list = r.body && r.body.scheduled_maintenances;
      if (r.status === 200 && Array.isArray(list)) {
        state.windows = list.map(read).filter(Boolean);
        const seen = JSON.stringify(list.map((m) => [m.id, m.scheduled_for, m.scheduled_until]));
        if (state.seen && seen !== state.seen) verdictsChanged();
        state.seen = seen;
      }
    } catch (err) {
      // unreachable: keep what is shown
    }
    render();
  }

  function start(client) {
    state.client = client;
    const queue = () => client.schedule("maintenance", load);
    queue();
    setInterval(queue, 60e3);
  }

  ns.maintenanceView = { start, renderRegion, render };
})((window.StatusPage = window.StatusPage || {}));
