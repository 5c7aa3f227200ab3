// Rendering of the banner, the connection line, per-source freshness, billing, support and
// incidents. Every value goes in as text (see dom.js).
"use strict";
(function (ns) {
  const { h, fill, byId } = ns.dom;
  const { format, model, i18n } = ns;
  const { t, tparts } = i18n;

  function timeEl(date) {
    return h("time", { datetime: date.toISOString() }, format.time(date));
  }

  /** "14:03:05 MSK (5 min ago)" as nodes. */
  function timeAgo(date) {
    return tparts("page.time_ago", { time: timeEl(date), ago: format.ago(date) });
  }

  /** The overall banner and the time of the last update. */
  function renderBanner(b, updated) {
    const box = byId("overall");
    box.dataset.level = b.level;
    byId("overall-title").textContent = b.title;
    fill(
      byId("overall-reasons"),
      b.reasons.map((r) => h("li", null, r)),
    );
    const time = updated ? timeAgo(updated) : t("page.banner.never");
    fill(byId("last-update"), tparts("page.banner.updated", { time }));
  }

  /** The line saying how the page gets its updates and from where. */
  function renderConnection(mode, reachable, base, sameOrigin, pollSeconds) {
    const el = byId("connection");
    el.dataset.mode = reachable ? mode : "down";
    const state = !reachable ? "down" : mode === "live" || mode === "polling" ? mode : "connecting";
    const key = "page.connection." + state + (sameOrigin ? "" : "_from");
    el.textContent = t(key, { base, seconds: i18n.number(pollSeconds) });
  }

  /** The freshness note of one source, next to the section that shows its data. */
  function freshness(el, src, hasData) {
    el.dataset.state = src ? src.state : "none";
    if (!src) {
      el.textContent = "";
      el.hidden = true;
      return;
    }
    el.hidden = false;
    const last = src.lastSuccess;
    const fields = { since: last ? timeAgo(last) : t("page.fresh.never"), error: src.error };
    const why = src.error ? "_why" : "";
    if (src.state === "ok") fill(el, tparts("page.fresh.ok", fields));
    else if (src.state === "failed") fill(el, tparts("page.fresh.failed" + why, fields));
    else {
      fill(el, tparts("page.fresh.stale" + why, fields));
      if (hasData) el.append(" " + t("page.fresh.kept"));
    }
  }

  /** Every element with data-source gets that source's freshness note. */
  function renderFreshness(sources, hasData) {
    for (const el of document.querySelectorAll(".freshness[data-source]")) {
      freshness(el, sources.get(el.dataset.source), hasData);
    }
  }

  const MARK = { up: "✓", down: "✕", unknown: "?" };

  function renderBilling(data) {
    const items = model.billing(data).map((f) => {
      const state = f.up === null ? "unknown" : f.up ? "up" : "down";
      const text = t("page.billing." + state);
      return h(
        "li",
        { class: ["billing-fn", state] },
        h("span", { class: "dot", "aria-hidden": "true" }, MARK[state]),
        h("span", { class: "fn-name" }, f.label),
        h("span", { class: "fn-state" }, text),
      );
    });
    fill(byId("billing-list"), items);
  }

  function renderSupport(data) {
    const s = model.support(data);
    const box = byId("support-body");
    if (!s) {
      fill(box, h("p", { class: "empty" }, t("page.nodata")));
      return;
    }
    box.dataset.load = String(s.load);
    const meter = h(
      "span",
      { class: "meter", "aria-hidden": "true" },
      [1, 2, 3].map((i) => h("span", { class: ["seg", i <= s.load && "on"] })),
    );
    fill(
      box,
      h(
        "p",
        { class: ["load", "load-" + s.load] },
        meter,
        tparts("page.support.load", {
          level: h("strong", null, s.label),
          n: i18n.number(s.load),
        }),
      ),
      h(
        "p",
        { class: "wait" },
        tparts("page.support.wait", { minutes: h("strong", null, format.unit("min", s.wait)) }),
      ),
    );
  }

  function renderIncidents(data) {
    const all = model.incidents(data);
    const active = all.filter((i) => i.active).length;
    byId("incidents-summary").textContent = data
      ? t("page.incidents.summary", {
          active: i18n.number(active),
          closed: i18n.number(all.length - active),
        })
      : "";
    const items = all.map((i) =>
      h(
        "li",
        { class: ["incident", i.active ? "active" : "closed"] },
        h("span", { class: "incident-status" }, t(i.active ? "page.incidents.active" : "page.incidents.resolved")),
        h("span", { class: "incident-topic" }, i.topic),
      ),
    );
    if (!items.length) {
      items.push(h("li", { class: "empty" }, t(data ? "page.incidents.none" : "page.nodata")));
    }
    fill(byId("incident-list"), items);
  }

  ns.viewStatus = {
    renderBanner,
    renderConnection,
    renderFreshness,
    renderBilling,
    renderSupport,
    renderIncidents,
    timeEl,
    timeAgo,
  };
})((window.StatusPage = window.StatusPage || {}));
