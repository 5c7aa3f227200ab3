// The all-countries section: SMS and MMS tables in either prepared order, the voice table,
// and email fastest/slowest per country as inline SVG bar charts.
"use strict";
(function (ns) {
  const { h, s, fill, byId } = ns.dom;
  const { geo, model, i18n, format } = ns;
  const { t } = i18n;

  /** A country cell: flag (decorative) and name (the page's language when `code` is known,
   *  else /api's own); `code` may be null for an unknown name. */
  function countryCell(tag, code, name) {
    return h(
      tag,
      tag === "th" ? { scope: "row", class: "country" } : { class: "country" },
      code ? h("span", { class: "flag", "aria-hidden": "true" }, geo.flag(code)) : null,
      name,
    );
  }

  /** A number cell: the value with its unit (page.unit.<unit>), or the bare number. */
  function num(value, unit) {
    return h("td", { class: "num" }, unit ? format.unit(unit, value) : plain(value));
  }

  /** A number as the language writes it ("1,200" / "1 200"); anything else as text. */
  function plain(value) {
    return typeof value === "number" ? i18n.number(value) : String(value);
  }

  /** Connection stability with two decimals (0.5 → "0.50", 1 → "1.00"). */
  function stability(value) {
    const two = { minimumFractionDigits: 2, maximumFractionDigits: 2 };
    return typeof value === "number" ? i18n.number(value, two) : String(value);
  }

  function emptyRow(columns, data) {
    const text = t(data ? "page.table.no_rows" : "page.nodata");
    return h("tr", null, h("td", { colspan: columns, class: "empty" }, text));
  }

  function countryLabel(isoName) {
    const code = geo.codeOfName(isoName);
    return code ? geo.nameOf(code) : isoName;
  }

  /** SMS or MMS rows in the prepared order `order` (0: by provider, 1: by country). */
  function renderMessaging(source, data, order) {
    const rows = model.orderedRows(data, source, order).map((r) =>
      h(
        "tr",
        null,
        countryCell("th", geo.codeOfName(r.country), countryLabel(r.country)),
        h("td", null, r.provider),
        num(r.bandwidth, "percent"),
        num(r.response_time, "ms"),
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
        num(r.bandwidth, "percent"),
        num(r.response_time, "ms"),
        h("td", { class: "num" }, stability(r.connection_stability)),
        num(r.ttfb, "ms"),
        num(r.voice_purity),
        num(r.median_of_calls_time, "min"),
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
    const ms = (r) => format.unit("ms", r.delivery_time);
    const items = records.map((r) => t("page.chart.item", { provider: r.provider, value: ms(r) }));
    const label = t("page.chart." + kind, { items: items.join(", ") });
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
          class: ["bar", kind],
        }),
        s("text", { x: labelW + w + 4, y: y + 13, class: "chart-value" }, ms(r)),
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
    const order = (a, b) => geo.nameOf(a).localeCompare(geo.nameOf(b), i18n.lang());
    const codes = Object.keys(email).sort(order);
    const rows = codes.map((code) => {
      const region = model.regionRows(data, code).email;
      return h(
        "tr",
        null,
        countryCell("th", code, geo.nameOf(code)),
        h("td", null, region ? emailChart(region.fastest, max, "fastest") : "—"),
        h("td", null, region ? emailChart(region.slowest, max, "slowest") : "—"),
      );
    });
    fill(byId("email-rows"), rows.length ? rows : emptyRow(3, data));
  }

  ns.viewTables = { renderMessaging, renderVoice, renderEmail, emailChart, stability, plain };
})((window.StatusPage = window.StatusPage || {}));
