// Pure functions from statusd's JSON documents to what the page shows. No DOM, no I/O:
// the page never computes a verdict; it only reads statusd's (/api/verdicts) and the facts
// of /api.
"use strict";
(function (ns) {
  const geo = ns.geo;

  /** The four products of the region view, the /api key of their source, and their label. */
  const PRODUCTS = [
    { key: "sms", source: "sms", label: "SMS" },
    { key: "mms", source: "mms", label: "MMS" },
    { key: "voice", source: "voice_call", label: "Voice calls" },
    { key: "email", source: "email", label: "Email" },
  ];

  /** The seven sources in /api order, with the label of the section that shows each. */
  const SOURCES = [
    { name: "sms", label: "SMS" },
    { name: "mms", label: "MMS" },
    { name: "voice_call", label: "Voice calls" },
    { name: "email", label: "Email" },
    { name: "billing", label: "Billing" },
    { name: "support", label: "Support" },
    { name: "incident", label: "Incidents" },
  ];

  /** The six billing functions in bit order; `reccuring` is the contract's spelling. */
  const BILLING = [
    { key: "create_customer", label: "Create customer" },
    { key: "purchase", label: "Purchase" },
    { key: "payout", label: "Payout" },
    { key: "reccuring", label: "Recurring payments" },
    { key: "fraud_control", label: "Fraud control" },
    { key: "checkout_page", label: "Checkout page" },
  ];

  const VERDICTS = {
    operational: "Operational",
    degraded_performance: "Degraded performance",
    partial_outage: "Partial outage",
    major_outage: "Major outage",
    unknown: "Unknown: no fresh data",
    under_maintenance: "Under maintenance",
  };

  const LOAD = { 1: "Low", 2: "Moderate", 3: "High" };

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
    for (const { name } of SOURCES) {
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
    const name = geo.nameOf(code);
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
    return BILLING.map(({ key, label }) => ({
      key,
      label,
      up: typeof b[key] === "boolean" ? b[key] : null,
    }));
  }

  /** Support as {load: 1..3, wait: minutes} or null. */
  function support(data) {
    const s = data ? data.support : null;
    if (!Array.isArray(s) || s.length !== 2) return null;
    const [load, wait] = s;
    if (![1, 2, 3].includes(load) || num(wait) === null) return null;
    return { load, wait, label: LOAD[load] };
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
      const p = PRODUCTS.find((x) => x.key === product);
      const label = p ? p.label : product;
      const what = (VERDICTS[verdict] || verdict).replace(/:.*/, "").toLowerCase();
      out.push(`${label}: ${what} in ${n} ${n === 1 ? "country" : "countries"}`);
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
        ? { level: "loading", title: "Loading status…", reasons: [] }
        : { level: "unavailable", title: "Status unavailable", reasons: ["Cannot reach statusd."] };
    }
    const reasons = reachable ? [] : ["Cannot reach statusd: the data below may be out of date."];
    for (const s of sources.values()) {
      const label = SOURCES.find((x) => x.name === s.name).label;
      if (s.state === "stale") reasons.push(`${label} data is stale`);
      else if (s.state === "failed") reasons.push(`${label} data could not be refreshed`);
    }
    if (docStatus === false) {
      return { level: "unavailable", title: "Data unavailable", reasons };
    }
    const down = billing(data).filter((f) => f.up === false);
    if (down.length) reasons.push("Billing down: " + down.map((f) => f.label).join(", "));
    const active = incidents(data).filter((i) => i.active).length;
    if (active) reasons.push(`${active} active ${active === 1 ? "incident" : "incidents"}`);
    const sup = support(data);
    if (sup && sup.load === 3) reasons.push(`Support load is high (${sup.wait} min wait)`);
    if (verdicts && verdicts.indicator) {
      const levels = { none: "ok", minor: "degraded", major: "major", critical: "unavailable" };
      const level = levels[verdicts.indicator] || "degraded";
      const titles = {
        ok: "All systems operational",
        degraded: "Degraded service",
        major: "Partial outage",
        unavailable: "Data unavailable",
      };
      return {
        level,
        title: verdicts.description || titles[level],
        reasons: reasons.concat(verdictReasons(verdicts)),
      };
    }
    return reasons.length
      ? { level: "degraded", title: "Degraded service", reasons }
      : { level: "ok", title: "All systems operational", reasons };
  }

  /** When the shown data was last refreshed: the newest good collection, else a fallback. */
  function lastUpdate(sources, verdicts, fallback) {
    let best = null;
    for (const s of sources.values()) {
      if (s.lastSuccess && (!best || s.lastSuccess > best)) best = s.lastSuccess;
    }
    return best || (verdicts && verdicts.updatedAt) || fallback || null;
  }

  /** A rule sentence with its thresholds, from /api/verdicts `rules` (statusd's text first). */
  function ruleText(rules, product) {
    const r = isObject(rules) ? rules[product] : null;
    if (!isObject(r)) return null;
    if (typeof r.text === "string" && r.text) return r.text;
    const parts = [];
    if ("max_response_time" in r) parts.push(`response time ≤ ${r.max_response_time} ms`);
    if ("min_bandwidth" in r) parts.push(`bandwidth ≥ ${r.min_bandwidth} %`);
    if ("min_connection_stability" in r) {
      parts.push(`connection stability ≥ ${r.min_connection_stability}`);
    }
    if ("min_voice_purity" in r) parts.push(`voice purity ≥ ${r.min_voice_purity}`);
    if ("max_ttfb" in r) parts.push(`TTFB ≤ ${r.max_ttfb} ms`);
    if ("max_bandwidth" in r) parts.push(`load ≤ ${r.max_bandwidth} %`);
    if ("max_delivery_time" in r) parts.push(`delivery time ≤ ${r.max_delivery_time} ms`);
    return parts.length ? "A provider is good when " + parts.join(" and ") : null;
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
