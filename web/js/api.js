// Talking to statusd: where it is, one request at a time with a deadline, ETag revalidation,
// and live change notification (Server-Sent Events, polling as the fallback).
"use strict";
(function (ns) {
  const DEFAULT_FILE_BASE = "http://127.0.0.1:8080/";
  const REQUEST_TIMEOUT_MS = 8000;

  /**
   * statusd's base URL (ending in "/"): `?api=URL` if given, else the page's own directory
   * when served over http(s), else http://127.0.0.1:8080/ (the page opened as a file).
   */
  function resolveBase(href) {
    const page = new URL(href);
    const override = page.searchParams.get("api");
    if (override) {
      try {
        const url = new URL(override, page.protocol.startsWith("http") ? page : DEFAULT_FILE_BASE);
        if (url.protocol === "http:" || url.protocol === "https:") {
          url.search = "";
          url.hash = "";
          if (!url.pathname.endsWith("/")) url.pathname += "/";
          return url.href;
        }
      } catch (err) {
        if (!(err instanceof TypeError)) throw err;
      }
    }
    if (page.protocol === "http:" || page.protocol === "https:") return new URL(".", page).href;
    return DEFAULT_FILE_BASE;
  }

  /** A positive number of seconds from `?name=`, bounded, else the default. */
  function secondsParam(href, name, fallback, min, max) {
    const raw = new URL(href).searchParams.get(name);
    const value = raw === null ? NaN : Number(raw);
    return Number.isFinite(value) ? Math.min(max, Math.max(min, value)) : fallback;
  }

  /** Error for a request that did not get an HTTP answer (refused, CORS, deadline). */
  class Unreachable extends Error {}

  /**
   * HTTP client for statusd. Requests run strictly one after another (never more than one
   * in flight); named jobs queued while one runs are coalesced, so a burst of change
   * events costs one refresh.
   */
  class Client {
    constructor(base) {
      this.base = base;
      this.jobs = new Map();
      this.running = false;
      this.onJobError = null;
    }

    /** GET base+path as JSON; `etag` makes it conditional. → {status, etag, body}. */
    async get(path, etag) {
      const headers = { Accept: "application/json" };
      if (etag) headers["If-None-Match"] = etag;
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
      let response;
      try {
        response = await fetch(this.base + path, {
          headers,
          cache: "no-store",
          credentials: "omit",
          signal: controller.signal,
        });
        if (response.status === 304) return { status: 304, etag, body: null };
        if (!response.ok) {
          await response.text(); // finish the exchange: one request at a time, really
          return { status: response.status, etag: null, body: null };
        }
        const body = await response.json();
        return { status: response.status, etag: response.headers.get("ETag"), body };
      } catch (err) {
        if (err instanceof SyntaxError) return { status: 0, etag: null, body: null };
        if (err instanceof TypeError || (err && err.name === "AbortError")) {
          throw new Unreachable(String(err.message || err));
        }
        throw err;
      } finally {
        clearTimeout(timer);
      }
    }

    /** Queue `run` under `name` unless that job is already waiting; run jobs one at a time. */
    schedule(name, run) {
      if (!this.jobs.has(name)) this.jobs.set(name, run);
      this.pump();
    }

    async pump() {
      if (this.running) return;
      this.running = true;
      try {
        while (this.jobs.size) {
          const [name, run] = this.jobs.entries().next().value;
          this.jobs.delete(name);
          try {
            await run();
          } catch (err) {
            if (this.onJobError) this.onJobError(err, name);
            else throw err;
          }
        }
      } finally {
        this.running = false;
      }
    }
  }

  const STREAM_OPEN_TIMEOUT_MS = 10000;
  const STREAM_SILENCE_MS = 40000; // statusd sends a keep-alive comment every 15 s
  const RETRY_BASE_MS = 5000; // a stream that broke without a Retry-After
  const RETRY_MAX_MS = 300000;

  /**
   * The wait before the next stream attempt: the server's Retry-After (else 5 s), doubled
   * for each further failure in a row, at most 5 min, times a random factor in [1, 2). The
   * jitter spreads a crowd that lost its streams at the same moment (a replica restarting).
   */
  function retryDelay(retryAfterSeconds, failures, random) {
    const base = retryAfterSeconds > 0 ? retryAfterSeconds * 1000 : RETRY_BASE_MS;
    const backoff = Math.min(RETRY_MAX_MS, base * 2 ** Math.max(0, failures - 1));
    return Math.round(backoff * (1 + random()));
  }

  /** The `data` of each complete Server-Sent Event in `text`, and the unfinished rest. */
  function parseEvents(text) {
    const blocks = text.replace(/\r\n?/g, "\n").split("\n\n");
    const rest = blocks.pop();
    const events = [];
    for (const block of blocks) {
      const data = block
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).replace(/^ /, ""));
      if (data.length) events.push(data.join("\n"));
    }
    return { events, rest };
  }

  /**
   * Change notification. Reads /api/events (each event's data is the new ETag of /api) with
   * fetch and a streaming body reader rather than EventSource, which hides the status code
   * and Retry-After of a refused stream and reconnects on its own schedule. When the
   * stream is refused (503 beyond statusd's max_event_streams), fails or goes silent, the
   * page polls /api every `pollMs` (conditionally, so a cache answers) and tries the stream
   * again after `retryDelay`. `onChange(etag|null)` asks for a refresh, `onTick()` runs
   * every `pollMs` while live (for source freshness), and `onMode(mode)` reports
   * "connecting", "live" or "polling". `retryDelays` records every wait chosen.
   */
  class Live {
    constructor(base, { pollMs, onChange, onTick, onMode, random = Math.random }) {
      this.url = base + "api/events";
      this.pollMs = pollMs;
      this.onChange = onChange;
      this.onTick = onTick;
      this.onMode = onMode;
      this.random = random;
      this.controller = null;
      this.timer = null;
      this.retryTimer = null;
      this.failures = 0;
      this.retryDelays = [];
      this.mode = "connecting";
    }

    start() {
      if (typeof fetch === "function" && typeof ReadableStream === "function") this.connect();
      else this.fallBack(0);
    }

    setMode(mode) {
      this.mode = mode;
      this.onMode(mode);
    }

    async connect() {
      clearTimeout(this.retryTimer);
      this.setMode("connecting");
      const controller = new AbortController();
      this.controller = controller;
      // A stream that neither opens nor fails (a hung server) counts as failed too.
      let watchdog = setTimeout(() => controller.abort(), STREAM_OPEN_TIMEOUT_MS);
      let retryAfter = 0;
      try {
        const response = await fetch(this.url, {
          headers: { Accept: "text/event-stream" },
          cache: "no-store",
          credentials: "omit",
          signal: controller.signal,
        });
        if (!response.ok || !response.body) {
          retryAfter = Number(response.headers.get("Retry-After")) || 0;
          await response.body?.cancel();
          return;
        }
        this.failures = 0;
        this.setMode("live");
        this.onChange(null);
        this.schedule(() => this.tick());
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let pending = "";
        for (;;) {
          clearTimeout(watchdog);
          watchdog = setTimeout(() => controller.abort(), STREAM_SILENCE_MS);
          const { value, done } = await reader.read();
          if (done) return;
          const parsed = parseEvents(pending + value);
          pending = parsed.rest;
          for (const etag of parsed.events) this.onChange(etag);
        }
      } catch (err) {
        if (!(err instanceof TypeError || (err && err.name === "AbortError"))) throw err;
      } finally {
        clearTimeout(watchdog);
        if (this.controller === controller) {
          this.controller = null;
          this.fallBack(retryAfter);
        }
      }
    }

    /** Poll, and try the stream again after a jittered wait. */
    fallBack(retryAfterSeconds) {
      this.failures += 1;
      this.setMode("polling");
      this.schedule(() => this.poll());
      if (typeof fetch !== "function" || typeof ReadableStream !== "function") return;
      const delay = retryDelay(retryAfterSeconds, this.failures, this.random);
      this.retryDelays.push(delay);
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.connect(), delay);
    }

    schedule(next) {
      clearTimeout(this.timer);
      this.timer = setTimeout(next, this.pollMs);
    }

    tick() {
      if (this.mode !== "live") return;
      this.onTick();
      this.schedule(() => this.tick());
    }

    poll() {
      if (this.mode !== "polling") return;
      this.onChange(null);
      this.schedule(() => this.poll());
    }
  }

  ns.api = { resolveBase, secondsParam, Client, Live, Unreachable, retryDelay, parseEvents };
})((window.StatusPage = window.StatusPage || {}));
