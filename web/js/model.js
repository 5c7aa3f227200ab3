// Pure functions from statusd's JSON documents to what the page shows. No DOM, no I/O:
// the page never computes a verdict; it only reads statusd's (/api/verdicts) and the facts
// of /api.
"use strict";
(function (ns) {
  const { geo, i18n } = ns;
  const { t, tp } = i18n;

  /** The four products of the region view and the /api key of their source; the label is the
   *  catalog's page.product.<key>. */
  const PRODUCTS = [
    { key: "sms", source: "sms" },
    { key: "mms", source: "mms" },
    { key: "voice", source: "voice_call" },
    { key: "email", source: "email" },
  ];

  /** The seven sources in /api order (labels: page.source.<name>). */
  const SOURCES = ["sms", "mms", "voice_call", "email", "billing", "support", "incident"];

  /** The six billing functions in bit order; `reccuring` is the contract's spelling. */
  const BILLING = [
    "create_customer",
    "purchase",
    "payout",
    "reccuring",
    "fraud_control",
    "checkout_page",
  ];

  const VERDICTS = [
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "unknown",
    "under_maintenance",
  ];

  /** A product's label in the page's language. */
  const productLabel = (key) => t("page.product." + key);

  /** A verdict as its pill says it ("Operational"), or as a sentence uses it ("operational"). */
  function verdictLabel(verdict, inSentence) {
    if (!VERDICTS.includes(verdict)) return verdict;
    return t((inSentence ? "page.state." : "page.verdict.") + verdict);
  }

  function isObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  /** The /api document if it has the ResultT shape (SPEC §3), else null. */
  function readDocument(json) {
    if (!isObject(json) || typeof json.status !== "boolean") return null;
    if (json.status && !isObject(json.data)) return null;
    return json;
  }

  function asDate(value) {
    if (typeof value !== "string" || !value) return null;
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? null : date;
  }

  function num(value) {
    return typeof value === "number" && Number.isFinite(value) ? value : null;
  }

  /**
   * Per-source freshness from /api/sources, keyed by source name. Accepts the entries as an
   * object keyed by name or a list with `name`/`source`, optionally under `sources`.
   * `state` is "ok", "failed" (the last collection failed, the data is still fresh) or
   * "stale" (no good result younger than stale_after; statusd no longer serves the data).
   */
  function readSources(json, docStatus) {
    const out = new Map();
    let entries = isObject(json) && "sources" in json ? json.sources : json;
    const staleAfterAll = isObject(json) ? num(json.stale_after) : null;
    if (Array.isArray(entries)) {
      entries = Object.fromEntries(
        entries.filter(isObject).map((e) => [String(e.name || e.source || ""), e]),
      );
    }
    if (!isObject(entries)) return out;
    for (const name of SOURCES) {
      const e = entries[name];
      if (!isObject(e)) continue;
      const ok = e.ok === true;
      const lastSuccess = asDate(e.last_success);
      const age = num(e.age_seconds);
      const staleAfter = num(e.stale_after) ?? staleAfterAll;
      let stale;
      if (typeof e.fresh === "boolean") stale = !e.fresh;
      else if (typeof e.stale === "boolean") stale = e.stale;
      else if (lastSuccess === null) stale = true;
      else if (staleAfter !== null && age !== null) stale = age > staleAfter;
      else stale = !ok && docStatus === false;
      out.set(name, {
        name,
        state: stale ? "stale" : ok ? "ok" : "failed",
        lastSuccess,
        lastAttempt: asDate(e.last_attempt),
        ageSeconds: age,
        error: typeof e.error === "string" && e.error ? e.error : null,
        records: num(e.records),
      });
    }
    return out;
  }

  /** /api/verdicts as {indicator, description, updatedAt, rules, cells: Map "product/key"}. */
  function readVerdicts(json) {
    if (!isObject(json) || !Array.isArray(json.cells)) return null;
    const cells = new Map();
    for (const cell of json.cells) {
      if (isObject(cell) && typeof cell.product === "string" && typeof cell.key === "string") {
        cells.set(cell.product + "/" + cell.key, cell);
      }
    }
    return {
      indicator: typeof json.indicator === "string" ? json.indicator : null,
      description: typeof json.description === "string" ? json.description : "",
      updatedAt: asDate(json.updated_at),
      rules: isObject(json.rules) ? json.rules : {},
      cells,
    };
  }

  function list(value) {
    return Array.isArray(value) ? value.filter(isObject) : [];
  }

  /** The by_provider (0) or by_country (1) list of SMS or MMS rows. */
  function orderedRows(data, source, order) {
    const pair = data ? data[source] : null;
    return Array.isArray(pair) ? list(pair[order]) : [];
  }

  /** Every country the document has data for (SMS/MMS by name, voice and email by code). */
  function countriesWithData(data) {
    const codes = new Set();
    if (!data) return codes;
    for (const source of ["sms", "mms"]) {
      for (const row of orderedRows(data, source, 1)) {
        const code = geo.codeOfName(row.country);
        if (code) codes.add(code);
      }
    }
    for (const row of list(data.voice_call)) codes.add(row.country);
    if (isObject(data.email)) for (const code of Object.keys(data.email)) codes.add(code);
    return codes;
  }

  /** The rows of one country: {sms, mms, voice, email: {fastest, slowest} | null}. */
  function regionRows(data, code) {
    const name = geo.isoName(code);
    const email = data && isObject(data.email) ? data.email[code] : null;
    return {
      sms: orderedRows(data, "sms", 1).filter((r) => r.country === name),
      mms: orderedRows(data, "mms", 1).filter((r) => r.country === name),
      voice: data ? list(data.voice_call).filter((r) => r.country === code) : [],
      email:
        Array.isArray(email) && email.length === 2
          ? { fastest: list(email[0]), slowest: list(email[1]) }
          : null,
    };
  }

  /** Billing functions as [{key, label, up: true|false|null}]. */
  function billing(data) {
    const b = data && isObject(data.billing) ? data.billing : {};
    return BILLING.map((key) => ({
      key,
      label: t("page.function." + key),
      up: typeof b[key] === "boolean" ? b[key] : null,
    }));
  }

  /** Support as {load: 1..3, wait: minutes} or null. */
  function support(data) {
    const s = data ? data.support : null;
    if (!Array.isArray(s) || s.length !== 2) return null;
    const [load, wait] = s;
    if (![1, 2, 3].includes(load) || num(wait) === null) return null;
    return { load, wait, label: t("page.load." + load) };
  }

  /** Incidents, active first (statusd already orders them so), with a boolean `active`. */
  function incidents(data) {
    const all = data ? list(data.incident) : [];
    const active = all.filter((i) => i.status === "active");
    const rest = all.filter((i) => i.status !== "active");
    return active.concat(rest).map((i) => ({
      topic: String(i.topic ?? ""),
      status: String(i.status ?? ""),
      active: i.status === "active",
    }));
  }

  /** Non-operational cells of statusd's verdicts, summarised per product. */
  function verdictReasons(verdicts) {
    const counts = new Map();
    for (const cell of verdicts.cells.values()) {
      if (cell.verdict === "operational" || typeof cell.verdict !== "string") continue;
      if (cell.product === "billing" || cell.product === "support") continue;
      const key = cell.product + "/" + cell.verdict;
      counts.set(key, (counts.get(key) || 0) + 1);
    }
    const out = [];
    for (const [key, n] of counts) {
      const [product, verdict] = key.split("/");
      const label = PRODUCTS.some((x) => x.key === product) ? productLabel(product) : product;
      const what = verdictLabel(verdict, true);
      out.push(tp("page.reason.cells", n, { product: label, verdict: what }));
    }
    return out;
  }

  /**
   * The overall banner: {level, title, reasons}. Level is "ok", "degraded", "major",
   * "unavailable" or "loading". statusd's indicator decides when /api/verdicts answers;
   * otherwise the facts of issue 5 do (billing down, active incident, support load 3,
   * a stale or failing source). The reasons are the facts, listed either way.
   */
  function banner(docStatus, data, verdicts, sources, reachable) {
    if (docStatus === null) {
      return reachable
        ? { level: "loading", title: t("page.banner.loading"), reasons: [] }
        : {
            level: "unavailable",
            title: t("page.banner.unreachable"),
            reasons: [t("page.reason.unreachable")],
          };
    }
    const reasons = reachable ? [] : [t("page.reason.unreachable_stale")];
    for (const s of sources.values()) {
      const source = t("page.source." + s.name);
      if (s.state === "stale") reasons.push(t("page.reason.stale", { source }));
      else if (s.state === "failed") reasons.push(t("page.reason.failed", { source }));
    }
    const title = (level) => ({ level, title: t("page.banner." + level), reasons });
    if (docStatus === false) return title("unavailable");
    const down = billing(data).filter((f) => f.up === false);
    if (down.length) {
      reasons.push(t("page.reason.billing_down", { functions: i18n.list(down.map((f) => f.label)) }));
    }
    const active = incidents(data).filter((i) => i.active).length;
    if (active) reasons.push(tp("page.reason.incidents", active));
    const sup = support(data);
    if (sup && sup.load === 3) {
      reasons.push(t("page.reason.support_high", { minutes: ns.format.unit("min", sup.wait) }));
    }
    if (verdicts && verdicts.indicator) {
      // statusd's indicator decides; its description is the Statuspage API's (English), so
      // the title is the catalog's for the level.
      const levels = { none: "ok", minor: "degraded", major: "major", critical: "unavailable" };
      reasons.push(...verdictReasons(verdicts));
      return title(levels[verdicts.indicator] || "degraded");
    }
    return title(reasons.length ? "degraded" : "ok");
  }

  /** When the shown data was last refreshed: the newest good collection, else a fallback. */
  function lastUpdate(sources, verdicts, fallback) {
    let best = null;
    for (const s of sources.values()) {
      if (s.lastSuccess && (!best || s.lastSuccess > best)) best = s.lastSuccess;
    }
    return best || (verdicts && verdicts.updatedAt) || fallback || null;
  }

  /** The thresholds of /api/verdicts `rules`, in the order the rule sentence names them. */
  const THRESHOLDS = [
    "max_response_time",
    "min_bandwidth",
    "min_connection_stability",
    "min_voice_purity",
    "max_ttfb",
    "max_bandwidth",
    "max_delivery_time",
  ];

  /** The sentence of a product's rule with its thresholds from /api/verdicts `rules`, in the
   *  page's language (statusd's own `text` is English, like the rest of its API), or null. */
  function ruleText(rules, product) {
    const r = isObject(rules) ? rules[product] : null;
    if (!isObject(r)) return null;
    const conditions = THRESHOLDS.filter((name) => name in r).map((name) =>
      t("page.rule." + name, { value: i18n.number(r[name]) }),
    );
    return conditions.length ? t("page.rule.provider", { conditions: i18n.list(conditions) }) : null;
  }

  /** The colour class of one day's uptime (null: unknown). */
  function uptimeClass(uptime) {
    if (uptime === null || uptime === undefined) return "unknown";
    if (uptime >= 0.999) return "up";
    if (uptime >= 0.95) return "minor";
    if (uptime >= 0.5) return "partial";
    return "major";
  }

  /**
   * /api/history ({uptime, buckets: [{date, uptime, seconds}]}) as {days: [{date, uptime,
   * cls, seconds}], uptime, outageDays}; `uptime` is statusd's, else the days' known
   * seconds weighed (null if nothing is known).
   */
  function history(json) {
    const buckets = Array.isArray(json) ? json : isObject(json) ? json.buckets : null;
    if (!Array.isArray(buckets)) return null;
    let up = 0;
    let known = 0;
    let outageDays = 0;
    const days = buckets.filter(isObject).map((b) => {
      const seconds = isObject(b.seconds) ? b.seconds : {};
      const uptime = num(b.uptime);
      for (const [verdict, n] of Object.entries(seconds)) {
        if (num(n) === null || verdict === "unknown" || verdict === "under_maintenance") continue;
        known += n;
        if (verdict === "operational" || verdict === "degraded_performance") up += n;
      }
      const cls = uptimeClass(uptime);
      if (cls === "partial" || cls === "major") outageDays += 1;
      return { date: String(b.date ?? ""), uptime, cls, seconds };
    });
    const total = isObject(json) && "uptime" in json ? num(json.uptime) : known ? up / known : null;
    return { days, uptime: total, outageDays };
  }

  ns.model = {
    PRODUCTS,
    SOURCES,
    BILLING,
    VERDICTS,
    productLabel,
    verdictLabel,
    readDocument,
    readSources,
    readVerdicts,
    orderedRows,
    countriesWithData,
    regionRows,
    billing,
    support,
    incidents,
    banner,
    lastUpdate,
    ruleText,
    uptimeClass,
    history,
  };
})((window.StatusPage = window.StatusPage || {}));
