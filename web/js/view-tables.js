// The all-countries section: SMS and MMS tables in either prepared order, the voice table,
// and email fastest/slowest per country as inline SVG bar charts.
"use strict";
(function (ns) {
  const { h, s, fill, byId } = ns.dom;
  const { geo, model } = ns;

  /** A country cell: flag (decorative) and name; `code` may be null for an unknown name. */
  function countryCell(tag, code, name) {
    return h(
      tag,
      tag === "th" ? { scope: "row", class: "country" } : { class: "country" },
      code ? h("span", { class: "flag", "aria-hidden": "true" }, geo.flag(code)) : null,
      name,
    );
  }

  function num(text, unit) {
    const suffix = unit ? h("span", { class: "unit" }, unit) : null;
    return h("td", { class: "num" }, String(text), suffix);
  }

  /** Connection stability with two decimals (0.5 → "0.50", 1 → "1.00"). */
  function stability(value) {
    return typeof value === "number" ? value.toFixed(2) : String(value);
  }

  function emptyRow(columns, data) {
    const text = data ? "No rows." : "No data.";
    return h("tr", null, h("td", { colspan: columns, class: "empty" }, text));
  }

  /** SMS or MMS rows in the prepared order `order` (0: by provider, 1: by country). */
  function renderMessaging(source, data, order) {
    const rows = model.orderedRows(data, source, order).map((r) =>
      h(
        "tr",
        null,
        countryCell("th", geo.codeOfName(r.country), r.country),
        h("td", null, r.provider),
        num(r.bandwidth, " %"),
        num(r.response_time, " ms"),
      ),
    );
    fill(byId(source + "-rows"), rows.length ? rows : emptyRow(4, data));
    for (const button of document.querySelectorAll(`[data-order-for="${source}"]`)) {
      button.setAttribute("aria-pressed", String(Number(button.dataset.order) === order));
    }
  }

  function renderVoice(data) {
    const rows = (data && Array.isArray(data.voice_call) ? data.voice_call : []).map((r) =>
      h(
        "tr",
        null,
        countryCell("th", r.country, geo.nameOf(r.country)),
        h("td", null, r.provider),
        num(r.bandwidth, " %"),
        num(r.response_time, " ms"),
        num(stability(r.connection_stability)),
        num(r.ttfb, " ms"),
        num(r.voice_purity),
        num(r.median_of_calls_time, " min"),
      ),
    );
    fill(byId("voice-rows"), rows.length ? rows : emptyRow(8, data));
  }

  /**
   * A horizontal bar chart of email providers and delivery times as inline SVG, scaled to
   * `max` so that charts of different countries compare. Text is also in aria-label.
   */
  function emailChart(records, max, kind) {
    const rowH = 18;
    const labelW = 78;
    const barW = 112;
    const height = Math.max(1, records.length) * rowH;
    const items = records.map((r) => `${r.provider} ${r.delivery_time} ms`);
    const label = `${kind}: ${items.join(", ")}`;
    const bars = records.map((r, i) => {
      const w = Math.max(2, Math.round((barW * r.delivery_time) / Math.max(1, max)));
      const y = i * rowH;
      return s(
        "g",
        null,
        s("text", { x: 0, y: y + 13, class: "chart-label" }, r.provider),
        s("rect", {
          x: labelW,
          y: y + 3,
          width: w,
          height: rowH - 6,
          rx: 2,
          class: ["bar", kind.toLowerCase()],
        }),
        s("text", { x: labelW + w + 4, y: y + 13, class: "chart-value" }, `${r.delivery_time} ms`),
      );
    });
    return s(
      "svg",
      {
        class: "chart",
        viewBox: `0 0 ${labelW + barW + 60} ${height}`,
        role: "img",
        "aria-label": label,
        focusable: "false",
      },
      s("title", null, label),
      bars,
    );
  }

  /** The largest delivery time of the whole email object (the common scale of the charts). */
  function emailMax(email) {
    let max = 1;
    for (const pair of Object.values(email || {})) {
      for (const list of Array.isArray(pair) ? pair : []) {
        for (const r of Array.isArray(list) ? list : []) {
          if (typeof r.delivery_time === "number" && r.delivery_time > max) max = r.delivery_time;
        }
      }
    }
    return max;
  }

  function renderEmail(data) {
    const email = data && data.email && typeof data.email === "object" ? data.email : {};
    const max = emailMax(email);
    const codes = Object.keys(email).sort((a, b) => geo.nameOf(a).localeCompare(geo.nameOf(b)));
    const rows = codes.map((code) => {
      const region = model.regionRows(data, code).email;
      return h(
        "tr",
        null,
        countryCell("th", code, geo.nameOf(code)),
        h("td", null, region ? emailChart(region.fastest, max, "Fastest") : "—"),
        h("td", null, region ? emailChart(region.slowest, max, "Slowest") : "—"),
      );
    });
    fill(byId("email-rows"), rows.length ? rows : emptyRow(3, data));
  }

  ns.viewTables = { renderMessaging, renderVoice, renderEmail, emailChart, stability };
})((window.StatusPage = window.StatusPage || {}));
