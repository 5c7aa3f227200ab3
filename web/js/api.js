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

  /**
   * Change notification. Subscribes to /api/events (each event's data is the new ETag of
   * /api); if the stream fails, polls every `pollMs` and retries the stream every few polls.
   * `onChange(etag|null)` asks for a refresh, `onTick()` runs every `pollMs` while live (for
   * source freshness), and `onMode(mode)` reports "connecting", "live" or "polling".
   */
  class Live {
    constructor(base, { pollMs, onChange, onTick, onMode }) {
      this.url = base + "api/events";
      this.pollMs = pollMs;
      this.onChange = onChange;
      this.onTick = onTick;
      this.onMode = onMode;
      this.source = null;
      this.timer = null;
      this.polls = 0;
      this.mode = "connecting";
    }

    start() {
      if (typeof EventSource === "function") this.connect();
      else this.poll();
    }

    setMode(mode) {
      this.mode = mode;
      this.onMode(mode);
    }

    connect() {
      this.setMode("connecting");
      const source = new EventSource(this.url);
      this.source = source;
      const changed = (event) => this.onChange(typeof event.data === "string" ? event.data : null);
      source.addEventListener("open", () => {
        this.setMode("live");
        this.onChange(null);
        this.schedule(() => this.tick());
      });
      source.addEventListener("message", changed);
      source.addEventListener("change", changed);
      source.addEventListener("error", () => this.fail(source));
      // A stream that neither opens nor fails (a hung server) counts as failed too.
      this.schedule(() => {
        if (this.source === source && this.mode === "connecting") this.fail(source);
      });
    }

    /** Give up on `source` and poll; EventSource's own reconnection is not used. */
    fail(source) {
      source.close();
      if (this.source !== source) return;
      this.source = null;
      this.polls = 0;
      this.setMode("polling");
      this.schedule(() => this.poll());
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
      this.polls += 1;
      this.onChange(null);
      if (typeof EventSource === "function" && this.polls % 6 === 0) {
        this.connect();
        return;
      }
      this.schedule(() => this.poll());
    }
  }

  ns.api = { resolveBase, secondsParam, Client, Live, Unreachable };
})((window.StatusPage = window.StatusPage || {}));
