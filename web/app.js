// The status page: holds what statusd last said, asks for more when it changes, and renders.
// Loaded as a classic deferred script after js/*.js (ES modules do not load from file://).
"use strict";
(function (ns) {
  const { api, model, geo, dom, i18n, viewStatus, viewTables, viewRegion } = ns;

  const HISTORY_DAYS = 90;
  const HISTORY_MAX_AGE_MS = 5 * 60 * 1000;
  const VERDICTS_RETRY_MS = 5 * 60 * 1000;
  const RECHECK_MS = 500;
  const RECHECKS = 3;
  const WORDS_RETRY_MS = [1000, 2000, 5000, 10000, 30000];
  const LIVE_REVALIDATE_TICKS = 3;
  let ticks = 0;

  const href = window.location.href;
  const base = api.resolveBase(href);
  const sameOrigin = new URL(base).origin === window.location.origin;
  const pollMs = api.secondsParam(href, "poll", 10, 1, 300) * 1000;
  const client = new api.Client(base);

  const state = {
    docStatus: null, // null: no answer yet; true/false: /api's `status`
    data: null, // the last good `data` (kept while /api says status false)
    etag: null,
    docKey: null, // the ETag, or the body when the ETag cannot be read
    receivedAt: null,
    reachable: true,
    mode: "connecting",
    verdicts: null,
    verdictsState: "pending", // "pending" | "available" | "unavailable"
    verdictsEtag: null,
    verdictsTriedAt: 0,
    sources: new Map(),
    announced: null, // the ETag the newest event named
    wanted: null, // the version the next /api fetch asks for (an event's, or its recheck's)
    revalidate: false, // the next /api fetch must ask even when the page holds `wanted`
    history: new Map(), // "CC/product" → {status, data, at}
    historyOff: 0, // time until which /api/history is not asked again (it answered 404)
    country: null,
    order: { sms: 0, mms: 0 },
  };

  /**
   * Compare ETags whatever their quoting ("W/" prefix and quotes ignored) and encoding:
   * statusd's gzip answer carries the event's ETag with "-gz" (http_cache.gzip_etag), and
   * the same document must not look new on every event.
   */
  function sameTag(a, b) {
    return Boolean(a) && Boolean(b) && bareTag(a) === bareTag(b);
  }

  /** The document an ETag names, without "W/", quotes or the gzip "-gz". */
  function bareTag(tag) {
    return String(tag || "")
      .replace(/^W\//, "")
      .replace(/"/g, "")
      .replace(/-gz$/, "");
  }

  function sourceStates() {
    return [...state.sources.values()].map((s) => s.name + ":" + s.state).join(",");
  }

  /** Verdicts change only with the document or a source's state: ask then (`changed`). */
  async function fetchVerdicts(changed) {
    const now = Date.now();
    const due =
      state.verdictsState === "pending" ||
      (state.verdictsState === "available" && changed) ||
      (state.verdictsState === "unavailable" && now - state.verdictsTriedAt >= VERDICTS_RETRY_MS);
    if (!due) return;
    state.verdictsTriedAt = now;
    const r = await client.get("api/verdicts", state.verdicts ? state.verdictsEtag : null);
    if (r.status === 304) return;
    const verdicts = r.status === 200 ? model.readVerdicts(r.body) : null;
    state.verdicts = verdicts;
    state.verdictsEtag = verdicts ? r.etag : null;
    state.verdictsState = verdicts ? "available" : "unavailable";
  }

  async function fetchSources() {
    const r = await client.get("api/sources", null);
    state.sources = r.status === 200 ? model.readSources(r.body, state.docStatus) : new Map();
  }

  /**
   * /api, conditional; after an event naming a document the page does not hold (and at
   * each of its rechecks), /api?v=<that ETag>: a cache in front keeps that URL apart from
   * /api, so it cannot answer with the body it held before the change (nginx sends one
   * request upstream and the others wait for it). 404: no replica has made that version
   * yet, plain /api then.
   */
  async function fetchDocument() {
    const { wanted, revalidate } = state;
    state.wanted = null;
    state.revalidate = false;
    if (wanted && !sameTag(wanted, state.etag)) {
      const r = await client.get("api?v=" + encodeURIComponent(bareTag(wanted)), state.etag);
      if (r.status !== 404) return r;
    } else if (!revalidate) {
      return null; // the event's document came with the answer before (the other replica's)
    }
    return client.get("api", state.etag);
  }

  /** The full refresh: /api (conditional), then verdicts and source freshness. */
  async function refreshAll() {
    const r = await fetchDocument();
    if (r === null) return;
    state.reachable = true;
    let changed = false;
    if (r.status === 200) {
      const doc = model.readDocument(r.body);
      if (doc) {
        // Cross-origin (file://, ?api=) the ETag header is readable only if statusd
        // exposes it; without it the body itself tells whether anything changed.
        const key = r.etag || JSON.stringify(doc);
        changed = key !== state.docKey;
        state.docKey = key;
        state.etag = r.etag;
        state.receivedAt = new Date();
        state.docStatus = doc.status;
        if (doc.status) state.data = doc.data;
      }
    }
    await fetchVerdicts(changed);
    await fetchSources();
    render(changed);
    if (changed) announce();
    if (state.country && changed) scheduleHistory(false);
  }

  /** Between changes: source freshness (and the verdicts when a source changed state). */
  async function refreshSources() {
    const before = sourceStates();
    await fetchSources();
    state.reachable = true;
    if (before !== sourceStates()) await fetchVerdicts(true);
    render(false);
  }

  /** The 90-day history of every product the chosen country has. */
  async function refreshHistory(force) {
    const code = state.country;
    if (!code || !state.data || Date.now() < state.historyOff) return;
    for (const product of viewRegion.productsWithRows(state.data, code)) {
      const key = code + "/" + product.key;
      const old = state.history.get(key);
      if (!force && old && Date.now() - old.at < HISTORY_MAX_AGE_MS) continue;
      const q = `api/history?product=${product.key}&country=${code}&days=${HISTORY_DAYS}`;
      const r = await client.get(q, null);
      if (r.status === 404) {
        // Not served (yet): the region shows no history instead of asking every time.
        state.historyOff = Date.now() + VERDICTS_RETRY_MS;
        if (state.country === code) renderRegionOnly();
        return;
      }
      const data = r.status === 200 ? model.history(r.body) : null;
      state.history.set(key, { status: data ? "ok" : "unavailable", data, at: Date.now() });
      if (state.country === code) renderRegionOnly();
    }
  }

  function scheduleHistory(force) {
    client.schedule("history", () => refreshHistory(force));
  }

  /** Revalidate /api (and whatever depends on it). */
  function refresh() {
    state.revalidate = true;
    client.schedule("api", refreshAll);
  }

  /** Fetch the document an event named, unless the page holds it by then. */
  function refreshFor(etag) {
    state.wanted = etag;
    client.schedule("api", refreshAll);
  }

  client.onJobError = (err) => {
    if (!(err instanceof api.Unreachable)) throw err;
    state.reachable = false;
    render(false);
  };

  function regionContext() {
    return {
      data: state.data,
      verdicts: state.verdicts,
      verdictsState: state.verdictsState,
      history: state.history,
      historyOff: Date.now() < state.historyOff,
      base,
    };
  }

  function renderRegionOnly() {
    viewRegion.renderRegion(state.country, regionContext());
    ns.maintenanceView.renderRegion(state.country);
    viewStatus.renderFreshness(state.sources, state.data !== null);
    subscribe.follow(state.country, viewRegion.productsWithRows(state.data, state.country));
  }

  function renderConnection() {
    viewStatus.renderConnection(state.mode, state.reachable, base, sameOrigin, pollMs / 1000);
  }

  function currentBanner() {
    const { docStatus, data, verdicts, sources, reachable } = state;
    return model.banner(docStatus, data, verdicts, sources, reachable);
  }

  /** Render everything; the big tables only when the document changed. */
  function render(docChanged) {
    const main = dom.byId("main");
    const b = currentBanner();
    viewStatus.renderBanner(b, model.lastUpdate(state.sources, state.verdicts, state.receivedAt));
    renderConnection();
    const held = state.docStatus === false && state.data !== null;
    main.dataset.held = String(held);
    const notice = dom.byId("held-notice");
    notice.hidden = !held;
    if (held) {
      const time = state.receivedAt ? viewStatus.timeEl(state.receivedAt) : null;
      dom.fill(notice, i18n.tparts(time ? "page.held" : "page.held_no_time", { time }));
    }
    if (state.etag) main.dataset.etag = state.etag;
    main.dataset.docStatus = String(state.docStatus);
    if (docChanged) {
      viewStatus.renderBilling(state.data);
      viewStatus.renderSupport(state.data);
      viewStatus.renderIncidents(state.data);
      viewTables.renderMessaging("sms", state.data, state.order.sms);
      viewTables.renderMessaging("mms", state.data, state.order.mms);
      viewTables.renderVoice(state.data);
      viewTables.renderEmail(state.data);
      if (!state.country) presetFromLocale();
    }
    renderRegionOnly();
  }

  /** Tell screen readers (aria-live) that the data changed, and what the banner says now. */
  function announce() {
    const b = currentBanner();
    const time = ns.format.time(new Date());
    dom.byId("live-region").textContent = i18n.t("page.announce", { time, title: b.title });
  }

  // The country: #country=CC (or #CC) in the URL, else the browser's locale when it matches.

  function countryFromHash() {
    const m = /^#(?:country=)?([A-Za-z]{2})$/.exec(window.location.hash);
    const code = m ? m[1].toUpperCase() : null;
    return code && geo.isCountry(code) ? code : null;
  }

  function presetFromLocale() {
    const region = geo.localeRegion(navigator.languages || [navigator.language]);
    if (region && model.countriesWithData(state.data).has(region)) choose(region, false);
  }

  /** Show `code`; remember it in the hash when the user chose it. */
  function choose(code, remember) {
    if (code === state.country) return;
    state.country = code;
    picker.show(code);
    if (remember && countryFromHash() !== code) window.location.hash = "country=" + code;
    renderRegionOnly();
    scheduleHistory(false);
  }

  // Set by boot(), once the page has its words.
  let subscribe = null;
  let picker = null;

  /** The language switcher: every language statusd has a catalog for, each in its own name. */
  function renderLanguages() {
    const select = dom.byId("lang-select");
    const options = i18n.languages().map((code) => {
      const name = i18n.nameIn("language", code, code) || code;
      const label = name.charAt(0).toLocaleUpperCase(code) + name.slice(1);
      return dom.h("option", { value: code, lang: code }, label);
    });
    dom.fill(select, options);
    select.value = i18n.lang();
    select.parentElement.hidden = options.length < 2;
  }

  /** Everything drawn again in the language just loaded; the country and the hash stay. */
  function relabel() {
    i18n.translate(document);
    renderLanguages();
    apiLinks();
    picker.show(state.country);
    subscribe.relabel();
    render(true);
    ns.maintenanceView.render();
    ns.incidentsView.render();
  }

  /** Links to statusd's documents; the feed's in the page's language (?lang=). */
  function apiLinks() {
    const lang = i18n.lang() === "en" ? "" : "?lang=" + i18n.lang();
    for (const link of document.querySelectorAll("[data-api-link]")) {
      link.href = base + link.dataset.apiLink + ("langParam" in link.dataset ? lang : "");
    }
  }

  async function switchLanguage(lang) {
    try {
      await i18n.choose(base, lang);
    } catch (err) {
      if (!(err instanceof api.Unreachable)) throw err;
      dom.byId("lang-select").value = i18n.lang(); // statusd did not answer: stay
      return;
    }
    relabel();
  }

  /** The catalog of ?lang=, the stored choice, the browser's languages or English; asked
   *  again after a growing wait while statusd does not answer. */
  async function loadWords() {
    const want = i18n.wanted(href, i18n.stored(), navigator.languages || [navigator.language]);
    for (let attempt = 0; ; attempt += 1) {
      try {
        await i18n.load(base, want);
        return;
      } catch (err) {
        if (!(err instanceof api.Unreachable)) throw err;
      }
      const wait = WORDS_RETRY_MS[Math.min(attempt, WORDS_RETRY_MS.length - 1)];
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  async function boot() {
    await loadWords();
    i18n.translate(document);
    renderLanguages();
    dom.byId("lang-select").addEventListener("change", (event) => switchLanguage(event.target.value));
    subscribe = ns.viewSubscribe.mount(dom.byId("subscribe-box"), client, sameOrigin);
    picker = new ns.Picker(dom.byId("country-input"), dom.byId("country-list"), {
      withData: () => model.countriesWithData(state.data),
      onPick: (code) => choose(code, true),
    });

    window.addEventListener("hashchange", () => {
      const code = countryFromHash();
      if (code) choose(code, false);
    });

    // In-page links move the focus without touching the hash, which holds the country.
    document.addEventListener("click", (event) => {
      const link = event.target.closest('a[href^="#"]');
      if (!link || link.getAttribute("href").startsWith("#country=")) return;
      const target = document.getElementById(link.getAttribute("href").slice(1));
      if (!target) return;
      event.preventDefault();
      target.scrollIntoView({ block: "start" });
      target.focus({ preventScroll: true });
    });

    for (const button of document.querySelectorAll("[data-order-for]")) {
      button.addEventListener("click", () => {
        const source = button.dataset.orderFor;
        state.order[source] = Number(button.dataset.order);
        viewTables.renderMessaging(source, state.data, state.order[source]);
      });
    }

    dom.byId("badge-copy").addEventListener("click", () => {
      dom.copyValue(dom.byId("badge-snippet"), (copied) => {
        dom.byId("badge-copied").textContent = i18n.t(copied ? "page.badge.copied" : "page.badge.selected");
      });
    });

    apiLinks();

    const initial = countryFromHash();
    if (initial) choose(initial, false);
    render(true);
    refresh();
    live.start();
    ns.maintenanceView.start(client);
    ns.incidentsView.start(client);
  }

  /**
   * An event named an ETag the page still does not hold after asking for it (no replica
   * served that version yet, as when the one that announced it stopped or was marked down
   * by nginx, which then answers /api): ask again after 0.5–1 s (jittered, so a crowd does
   * not come back at once), at most 3 times, while it is the newest event.
   */
  function recheck(etag, attempt) {
    if (attempt > RECHECKS) return;
    setTimeout(
      () => {
        if (sameTag(etag, state.etag) || etag !== state.announced) return;
        refreshFor(etag);
        recheck(etag, attempt + 1);
      },
      RECHECK_MS * (1 + Math.random()),
    );
  }

  const live = new api.Live(base, {
    pollMs,
    onChange: (etag) => {
      if (!etag) {
        refresh();
        return;
      }
      if (sameTag(etag, state.etag)) return;
      state.announced = etag;
      refreshFor(etag);
      recheck(etag, 1);
    },
    // Every third tick revalidates /api too (a 304, from the cache): a page that missed an
    // event, or whose rechecks met a stale cache, is never stale for long.
    onTick: () => {
      ticks += 1;
      if (ticks % LIVE_REVALIDATE_TICKS === 0) refresh();
      else client.schedule("sources", refreshSources);
    },
    onMode: (mode) => {
      state.mode = mode;
      renderConnection();
    },
  });
  boot();
  // Verdicts change at a maintenance window's start and end, /api does not.
  const refreshVerdicts = () =>
    client.schedule("verdicts", async () => {
      await fetchVerdicts(true);
      render(false);
    });
  ns.app = { state, base, client, live, refreshVerdicts };
})((window.StatusPage = window.StatusPage || {}));
