// Rendering of the banner, the connection line, per-source freshness, billing, support and
// incidents. Every value goes in as text (see dom.js).
"use strict";
(function (ns) {
  const { h, fill, byId } = ns.dom;
  const { format, model } = ns;

  function timeEl(date) {
    return h("time", { datetime: date.toISOString() }, format.time(date));
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
    fill(
      byId("last-update"),
      updated ? [timeEl(updated), ` (${format.ago(updated)})`] : "not yet",
    );
  }

  /** The line saying how the page gets its updates and from where. */
  function renderConnection(mode, reachable, base, sameOrigin, pollSeconds) {
    const el = byId("connection");
    el.dataset.mode = reachable ? mode : "down";
    const where = sameOrigin ? "" : ` from ${base}`;
    const text = !reachable
      ? `Cannot reach statusd${where || " "}; retrying. The data below may be out of date.`
      : mode === "live"
        ? `Live: the page updates by itself${where}.`
        : mode === "polling"
          ? `Checking for updates every ${pollSeconds} s${where}.`
          : `Connecting${where}…`;
    el.textContent = text;
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
    const since = last ? [timeEl(last), ` (${format.ago(last)})`] : "never";
    const why = src.error ? ` (${src.error})` : "";
    if (src.state === "ok") {
      fill(el, "Updated ", since);
    } else if (src.state === "failed") {
      fill(el, `Refresh failed${why}; showing data from `, since, ".");
    } else {
      fill(
        el,
        `Stale: no fresh data since `,
        since,
        why,
        hasData ? ". Showing the last data received." : ".",
      );
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
      const text = { up: "Up", down: "Down", unknown: "No data" }[state];
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
      fill(box, h("p", { class: "empty" }, "No data."));
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
        "Load: ",
        h("strong", null, s.label),
        ` (level ${s.load} of 3)`,
      ),
      h("p", { class: "wait" }, "Expected wait: ", h("strong", null, `${s.wait} min`)),
    );
  }

  function renderIncidents(data) {
    const all = model.incidents(data);
    const active = all.filter((i) => i.active).length;
    byId("incidents-summary").textContent = data
      ? `${active} active, ${all.length - active} closed.`
      : "";
    const items = all.map((i) =>
      h(
        "li",
        { class: ["incident", i.active ? "active" : "closed"] },
        h("span", { class: "incident-status" }, i.active ? "Active" : "Resolved"),
        h("span", { class: "incident-topic" }, i.topic),
      ),
    );
    if (!items.length) {
      items.push(h("li", { class: "empty" }, data ? "No incidents reported." : "No data."));
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
  };
})((window.StatusPage = window.StatusPage || {}));
