// "Your region": for one country, SMS, MMS, voice and email with statusd's verdict, the rule
// behind it, the provider rows, and a 90-day history bar per product.
"use strict";
(function (ns) {
  const { h, s, fill, byId, nextId } = ns.dom;
  const { geo, model, format, viewTables } = ns;

  const ICON = {
    operational: "✓",
    degraded_performance: "!",
    partial_outage: "!",
    major_outage: "✕",
    unknown: "?",
    under_maintenance: "⚙",
  };

  /** Capitalised, with a full stop. */
  function sentence(text) {
    return text.charAt(0).toUpperCase() + text.slice(1).replace(/\.?$/, ".");
  }

  /** The sentences of a verdict's tooltip: the rule with its thresholds, then the facts. */
  function tooltipLines(product, cell, ctx) {
    if (!ctx.verdicts) {
      return [
        ctx.verdictsState === "pending"
          ? "Waiting for statusd's verdict."
          : "statusd did not give a verdict (/api/verdicts is unavailable); " +
            "this page does not compute one.",
      ];
    }
    const rules = ctx.verdicts.rules;
    const lines = [];
    const rule = model.ruleText(rules, product);
    if (rule) lines.push(sentence(/^good when/i.test(rule) ? "A provider is " + rule : rule));
    lines.push(
      sentence(
        model.ruleText(rules, "country") ||
          "operational when at least one provider is good, degraded when none is",
      ),
    );
    if (!cell) return lines;
    if (cell.verdict === "under_maintenance") {
      const data = model.VERDICTS[cell.data_verdict];
      lines.push("Planned maintenance is under way" + (data ? `; the data says: ${data}.` : "."));
    } else if (cell.verdict === "unknown") {
      lines.push(sentence(model.ruleText(rules, "unknown") || "unknown: no fresh data"));
    } else if (Array.isArray(cell.good_providers)) {
      const good = cell.good_providers.length;
      const total = typeof cell.providers === "number" ? cell.providers : good;
      lines.push(
        `Good providers: ${good ? cell.good_providers.join(", ") : "none"} (${good} of ${total}).`,
      );
    }
    if (typeof cell.age_seconds === "number") {
      lines.push(`Data age: ${format.duration(cell.age_seconds)}.`);
    }
    return lines;
  }

  /** The verdict pill of (product, country) with its rule in a tooltip (hover or focus). */
  function verdictPill(product, cell, hasRows, ctx) {
    let verdict;
    let text;
    if (!ctx.verdicts) {
      verdict = "none";
      text = ctx.verdictsState === "pending" ? "Verdict pending" : "Verdict unavailable";
    } else if (cell && typeof cell.verdict === "string") {
      verdict = cell.verdict;
      text = model.VERDICTS[verdict] || verdict;
    } else {
      verdict = "none";
      text = hasRows ? "No verdict" : "No data";
    }
    const tipId = nextId("tip");
    return h(
      "span",
      { class: "has-tip" },
      h(
        "span",
        {
          class: ["verdict", "v-" + verdict],
          tabindex: "0",
          "aria-describedby": tipId,
          "data-verdict": verdict,
          "data-focus-key": "verdict-" + product,
        },
        h("span", { class: "verdict-icon", "aria-hidden": "true" }, ICON[verdict] || "–"),
        text,
      ),
      h(
        "span",
        { class: "tooltip", role: "tooltip", id: tipId },
        tooltipLines(product, cell, ctx).map((line) => h("span", { class: "tip-line" }, line)),
      ),
    );
  }

  function table(caption, heads, rows) {
    return h(
      "div",
      {
        class: "scroll",
        tabindex: "0",
        role: "region",
        "aria-label": caption,
        "data-focus-key": caption,
      },
      h(
        "table",
        { class: "compact" },
        h("caption", { class: "visually-hidden" }, caption),
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            heads.map((t, i) =>
              h("th", { scope: "col", class: i && t !== "Status" ? "num" : null }, t),
            ),
          ),
        ),
        h("tbody", null, rows),
      ),
    );
  }

  /** "Good" / "Not good" per provider, from statusd's good_providers (never computed). */
  function goodCell(cell, provider) {
    if (!cell || !Array.isArray(cell.good_providers) || cell.verdict === "unknown") return null;
    const good = cell.good_providers.includes(provider);
    return h("td", { class: good ? "good" : "bad" }, good ? "Good" : "Not good");
  }

  function goodHead(cell) {
    const marked = cell && Array.isArray(cell.good_providers) && cell.verdict !== "unknown";
    return marked ? ["Status"] : [];
  }

  function messagingBody(label, rows, cell) {
    return table(
      `${label} providers`,
      ["Provider", "Bandwidth", "Response time", ...goodHead(cell)],
      rows.map((r) =>
        h(
          "tr",
          null,
          h("th", { scope: "row" }, r.provider),
          h("td", { class: "num" }, `${r.bandwidth} %`),
          h("td", { class: "num" }, `${r.response_time} ms`),
          goodCell(cell, r.provider),
        ),
      ),
    );
  }

  function voiceBody(rows, cell) {
    return table(
      "Voice providers",
      ["Provider", "Load", "Stability", "TTFB", "Purity", "Median call", ...goodHead(cell)],
      rows.map((r) =>
        h(
          "tr",
          null,
          h("th", { scope: "row" }, r.provider),
          h("td", { class: "num" }, `${r.bandwidth} %`),
          h("td", { class: "num" }, viewTables.stability(r.connection_stability)),
          h("td", { class: "num" }, `${r.ttfb} ms`),
          h("td", { class: "num" }, String(r.voice_purity)),
          h("td", { class: "num" }, `${r.median_of_calls_time} min`),
          goodCell(cell, r.provider),
        ),
      ),
    );
  }

  function emailBody(email) {
    const all = email.fastest.concat(email.slowest);
    const max = Math.max(1, ...all.map((r) => r.delivery_time));
    return h(
      "div",
      { class: "email-pair" },
      ["Fastest", "Slowest"].map((kind) =>
        h(
          "figure",
          null,
          h("figcaption", null, `${kind} providers`),
          viewTables.emailChart(email[kind.toLowerCase()], max, kind),
        ),
      ),
    );
  }

  function dayTitle(day) {
    const parts = Object.entries(day.seconds)
      .filter(([, n]) => typeof n === "number" && n > 0)
      .map(([v, n]) => `${(model.VERDICTS[v] || v).replace(/:.*/, "")} ${format.duration(n)}`);
    const known = day.uptime !== null && day.uptime !== undefined;
    const up = known ? `${format.percent(day.uptime)} up` : "no data";
    return `${day.date}: ${up}` + (parts.length ? ` (${parts.join(", ")})` : "");
  }

  /** The 90-day bar: one rect a day, coloured by uptime, grey for unknown, a title each. */
  function historyBlock(label, entry, off) {
    if (!entry) return off ? null : h("p", { class: "history-note" }, "Loading history…");
    if (entry.status !== "ok" || !entry.data) return null;
    const { days, uptime, outageDays } = entry.data;
    const n = Math.max(days.length, 1);
    const summary =
      uptime === null
        ? `${label}: no history yet.`
        : `${label}: ${format.percent(uptime)} uptime over the last ${days.length} days` +
          (outageDays ? `, ${outageDays} ${outageDays === 1 ? "day" : "days"} with outages.` : ".");
    return h(
      "div",
      { class: "history" },
      s(
        "svg",
        {
          class: "history-bars",
          viewBox: `0 0 ${n * 4} 24`,
          preserveAspectRatio: "none",
          role: "img",
          "aria-label": summary,
          focusable: "false",
        },
        days.map((d, i) =>
          s(
            "rect",
            { x: i * 4, y: 0, width: 3, height: 24, class: ["day", "d-" + d.cls] },
            s("title", null, dayTitle(d)),
          ),
        ),
      ),
      h(
        "p",
        { class: "history-legend" },
        h("span", null, `${days.length} days ago`),
        h(
          "span",
          { class: "history-summary" },
          uptime === null ? "No history yet" : `${format.percent(uptime)} uptime`,
        ),
        h("span", null, "Today"),
      ),
    );
  }

  function card(product, rows, ctx, code) {
    const cell = ctx.verdicts ? ctx.verdicts.cells.get(product.key + "/" + code) : null;
    const list = product.key === "email" ? rows.email : rows[product.key];
    const hasRows = product.key === "email" ? Boolean(list) : list.length > 0;
    const titleId = "card-" + product.key;
    let body;
    if (!hasRows) {
      const why = ctx.data ? `No ${product.label} provider reports on this country.` : "No data.";
      body = h("p", { class: "empty" }, why);
    } else if (product.key === "email") body = emailBody(list);
    else if (product.key === "voice") body = voiceBody(list, cell);
    else body = messagingBody(product.label, list, cell);
    return h(
      "article",
      { class: "card", "aria-labelledby": titleId, "data-product": product.key },
      h(
        "div",
        { class: "card-head" },
        h("h4", { id: titleId }, product.label),
        verdictPill(product.key, cell, hasRows, ctx),
      ),
      h("p", { class: "freshness", "data-source": product.source }),
      body,
      hasRows
        ? historyBlock(product.label, ctx.history.get(code + "/" + product.key), ctx.historyOff)
        : null,
    );
  }

  /** Products of `code` that have rows (the ones worth a history request and a badge). */
  function productsWithRows(data, code) {
    const rows = model.regionRows(data, code);
    return model.PRODUCTS.filter((p) =>
      p.key === "email" ? Boolean(rows.email) : rows[p.key].length > 0,
    );
  }

  /**
   * Render the region of `code` (or the prompt when none is chosen). `ctx` holds data,
   * verdicts, verdictsState, history (Map "CC/product" → entry), historyOff (not
   * served) and base (statusd URL).
   */
  function renderRegion(code, ctx) {
    const view = byId("region-view");
    const badge = byId("badge-box");
    if (!code) {
      badge.hidden = true;
      const prompt =
        "Choose your country to see whether SMS, MMS, voice calls and email work there.";
      fill(view, h("p", { class: "prompt" }, prompt));
      return;
    }
    const rows = model.regionRows(ctx.data, code);
    const name = geo.nameOf(code);
    // Redrawing must not take the keyboard focus away from a verdict or a table.
    const focused = document.activeElement;
    const focusKey = view.contains(focused) ? focused.dataset.focusKey : null;
    fill(
      view,
      h(
        "h3",
        { class: "region-name" },
        h("span", { class: "flag", "aria-hidden": "true" }, geo.flag(code)),
        name,
        " ",
        h("span", { class: "code" }, code),
      ),
      h("div", { class: "cards" }, model.PRODUCTS.map((p) => card(p, rows, ctx, code))),
    );
    if (focusKey) {
      const again = view.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`);
      if (again) again.focus({ preventScroll: true });
    }
    const products = productsWithRows(ctx.data, code);
    badge.hidden = products.length === 0;
    const lines = products.map(
      (p) =>
        `[![${p.label} in ${name}](${ctx.base}badge/${p.key}/${code}.svg)]` +
        `(${ctx.base}#country=${code})`,
    );
    const snippet = byId("badge-snippet");
    if (snippet.value === lines.join("\n")) return;
    snippet.value = lines.join("\n");
    snippet.rows = Math.max(2, lines.length);
    fill(
      byId("badge-preview"),
      products.map((p) =>
        h("img", {
          src: `${ctx.base}badge/${p.key}/${code}.svg`,
          alt: `${p.label} in ${name}: status badge`,
          loading: "lazy",
          height: "20",
        }),
      ),
    );
  }

  ns.viewRegion = { renderRegion, productsWithRows, historyBlock };
})((window.StatusPage = window.StatusPage || {}));
