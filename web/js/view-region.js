// "Your region": for one country, SMS, MMS, voice and email with statusd's verdict, the rule
// behind it, the provider rows, and a 90-day history bar per product.
"use strict";
(function (ns) {
  const { h, s, fill, byId, nextId } = ns.dom;
  const { geo, model, format, viewTables, i18n } = ns;
  const { t, tp } = i18n;

  const ICON = {
    operational: "✓",
    degraded_performance: "!",
    partial_outage: "!",
    major_outage: "✕",
    unknown: "?",
    under_maintenance: "⚙",
  };

  /** The sentences of a verdict's tooltip: the rule with its thresholds, then the facts. */
  function tooltipLines(product, cell, ctx) {
    if (!ctx.verdicts) {
      return [t(ctx.verdictsState === "pending" ? "page.tip.pending" : "page.tip.unavailable")];
    }
    const rules = ctx.verdicts.rules;
    const lines = [];
    const rule = model.ruleText(rules, product);
    if (rule) lines.push(rule);
    lines.push(t("page.rule.country"));
    if (!cell) return lines;
    if (cell.verdict === "under_maintenance") {
      const data = model.VERDICTS.includes(cell.data_verdict);
      const verdict = data ? model.verdictLabel(cell.data_verdict, true) : null;
      lines.push(t(data ? "page.tip.maintenance_data" : "page.tip.maintenance", { verdict }));
    } else if (cell.verdict === "unknown") {
      lines.push(t("page.rule.unknown"));
    } else if (Array.isArray(cell.good_providers)) {
      const good = cell.good_providers.length;
      const total = i18n.number(typeof cell.providers === "number" ? cell.providers : good);
      const providers = cell.good_providers.join(", ");
      lines.push(
        good
          ? t("page.tip.good", { providers, good: i18n.number(good), total })
          : t("page.tip.good_none", { total }),
      );
    }
    if (typeof cell.age_seconds === "number") {
      lines.push(t("page.tip.age", { duration: format.duration(cell.age_seconds) }));
    }
    return lines;
  }

  /** The verdict pill of (product, country) with its rule in a tooltip (hover or focus). */
  function verdictPill(product, cell, hasRows, ctx) {
    let verdict;
    let text;
    if (!ctx.verdicts) {
      verdict = "none";
      text = t(ctx.verdictsState === "pending" ? "page.pill.pending" : "page.pill.unavailable");
    } else if (cell && typeof cell.verdict === "string") {
      verdict = cell.verdict;
      text = model.verdictLabel(verdict);
    } else {
      verdict = "none";
      text = t(hasRows ? "page.pill.none" : "page.pill.nodata");
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

  /** A compact table; `heads` are catalog keys of page.col.*, the first one is text. */
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
            heads.map((key, i) =>
              h(
                "th",
                { scope: "col", class: i && key !== "status" ? "num" : null },
                t("page.col." + key),
              ),
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
    return h("td", { class: good ? "good" : "bad" }, t(good ? "page.region.good" : "page.region.bad"));
  }

  function goodHead(cell) {
    const marked = cell && Array.isArray(cell.good_providers) && cell.verdict !== "unknown";
    return marked ? ["status"] : [];
  }

  function messagingBody(key, rows, cell) {
    return table(
      t("page.region.table." + key),
      ["provider", "bandwidth", "response_time", ...goodHead(cell)],
      rows.map((r) =>
        h(
          "tr",
          null,
          h("th", { scope: "row" }, r.provider),
          h("td", { class: "num" }, format.unit("percent", r.bandwidth)),
          h("td", { class: "num" }, format.unit("ms", r.response_time)),
          goodCell(cell, r.provider),
        ),
      ),
    );
  }

  function voiceBody(rows, cell) {
    return table(
      t("page.region.table.voice"),
      ["provider", "load", "stability", "ttfb", "purity", "median_call", ...goodHead(cell)],
      rows.map((r) =>
        h(
          "tr",
          null,
          h("th", { scope: "row" }, r.provider),
          h("td", { class: "num" }, format.unit("percent", r.bandwidth)),
          h("td", { class: "num" }, viewTables.stability(r.connection_stability)),
          h("td", { class: "num" }, format.unit("ms", r.ttfb)),
          h("td", { class: "num" }, viewTables.plain(r.voice_purity)),
          h("td", { class: "num" }, format.unit("min", r.median_of_calls_time)),
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
      ["fastest", "slowest"].map((kind) =>
        h(
          "figure",
          null,
          h("figcaption", null, t("page.region." + kind)),
          viewTables.emailChart(email[kind], max, kind),
        ),
      ),
    );
  }

  /** A history day's date ("2026-11-25") as the language writes it; the text if not one. */
  function dayDate(text) {
    const at = new Date(text + "T00:00:00Z");
    if (Number.isNaN(at.getTime())) return text;
    return i18n.date(at, { dateStyle: "medium", timeZone: "UTC" });
  }

  function dayTitle(day) {
    const parts = Object.entries(day.seconds)
      .filter(([, n]) => typeof n === "number" && n > 0)
      .map(([v, n]) =>
        t("page.history.day_part", {
          verdict: model.verdictLabel(v, true),
          duration: format.duration(n),
        }),
      );
    const known = day.uptime !== null && day.uptime !== undefined;
    const date = dayDate(day.date);
    const summary = known
      ? t("page.history.day", { date, uptime: format.percent(day.uptime) })
      : t("page.history.day_unknown", { date });
    return parts.length ? t("page.history.day_detail", { summary, parts: parts.join(", ") }) : summary;
  }

  /** The 90-day bar: one rect a day, coloured by uptime, grey for unknown, a title each. */
  function historyBlock(label, entry, off) {
    if (!entry) return off ? null : h("p", { class: "history-note" }, t("page.history.loading"));
    if (entry.status !== "ok" || !entry.data) return null;
    const { days, uptime, outageDays } = entry.data;
    const n = Math.max(days.length, 1);
    const fields = { product: label, uptime: uptime === null ? "" : format.percent(uptime) };
    let summary =
      uptime === null
        ? t("page.history.none", fields)
        : tp("page.history.summary", days.length, fields);
    if (uptime !== null && outageDays) summary += " " + tp("page.history.outages", outageDays);
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
        h("span", null, tp("page.history.ago", days.length)),
        h(
          "span",
          { class: "history-summary" },
          uptime === null ? t("page.history.empty") : t("page.history.uptime", fields),
        ),
        h("span", null, t("page.history.today")),
      ),
    );
  }

  function card(product, rows, ctx, code) {
    const cell = ctx.verdicts ? ctx.verdicts.cells.get(product.key + "/" + code) : null;
    const list = product.key === "email" ? rows.email : rows[product.key];
    const hasRows = product.key === "email" ? Boolean(list) : list.length > 0;
    const titleId = "card-" + product.key;
    const label = model.productLabel(product.key);
    let body;
    if (!hasRows) {
      const why = ctx.data ? t("page.region.none." + product.key) : t("page.nodata");
      body = h("p", { class: "empty" }, why);
    } else if (product.key === "email") body = emailBody(list);
    else if (product.key === "voice") body = voiceBody(list, cell);
    else body = messagingBody(product.key, list, cell);
    return h(
      "article",
      { class: "card", "aria-labelledby": titleId, "data-product": product.key },
      h(
        "div",
        { class: "card-head" },
        h("h4", { id: titleId }, label),
        verdictPill(product.key, cell, hasRows, ctx),
      ),
      h("p", { class: "freshness", "data-source": product.source }),
      body,
      hasRows
        ? historyBlock(label, ctx.history.get(code + "/" + product.key), ctx.historyOff)
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
      fill(view, h("p", { class: "prompt" }, t("page.region.prompt")));
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
    const badgeText = (p) => ({ product: model.productLabel(p.key), country: name });
    const lines = products.map(
      (p) =>
        `[![${t("page.badge.text", badgeText(p))}](${ctx.base}badge/${p.key}/${code}.svg)]` +
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
          alt: t("page.badge.alt", badgeText(p)),
          loading: "lazy",
          height: "20",
        }),
      ),
    );
  }

  ns.viewRegion = { renderRegion, productsWithRows, historyBlock };
})((window.StatusPage = window.StatusPage || {}));
