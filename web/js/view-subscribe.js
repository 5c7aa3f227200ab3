// "Get notified": the sign-up form of the region view (SPEC §8), pre-filled with the picked
// country and its products. It sends JSON to POST api/subscriptions through the page's one
// request queue and shows what statusd answers: pending, the webhook's secret, or the reason.
"use strict";
(function (ns) {
  const { h, fill, nextId } = ns.dom;

  const { i18n } = ns;
  const { t, tp } = i18n;

  /** "40 minutes", "1 hour 1 minute", "1 second": a Retry-After in words. */
  function wait(s) {
    if (s < 60) return tp("page.sub.seconds", Math.max(1, Math.ceil(s)));
    const m = Math.ceil(s / 60);
    const hours = Math.floor(m / 60) ? tp("page.sub.hours", Math.floor(m / 60)) : "";
    return [hours, m % 60 ? tp("page.sub.minutes", m % 60) : ""].filter(Boolean).join(" ");
  }

  const PRODUCTS = ["sms", "mms", "voice", "email", "billing", "support", "incidents"];
  const FORMATS = ["json", "slack"];
  const DEADLINE_MS = 8000;
  const FIELDS = { product: "products", products: "products", country: "countries" };

  /** The field a reason of statusd concerns: its first word names the key ("email must…",
   *  "unknown product 'fax'", "webhook URL…"); null when it concerns the whole sign-up. */
  function fieldOf(reason) {
    const m = /^(?:unknown )?(email|webhook|products?|countr(?:y|ies)|format)\b/.exec(reason);
    return m ? FIELDS[m[1]] || m[1] : null;
  }

  /** One radio or checkbox inside its label. */
  function choice(type, name, value, text) {
    return h("label", { class: "sub-choice" }, h("input", { type, name, value }), " ", text);
  }

  /** A group of choices with its legend and an error line (aria-describedby). */
  function group(key, legend, ...choices) {
    const error = h("p", { class: "sub-error", id: "sub-error-" + key, hidden: true });
    return h(
      "fieldset",
      { class: "sub-group", "data-field": key, "aria-describedby": error.id },
      h("legend", null, legend),
      h("div", { class: "sub-choices" }, choices),
      error,
    );
  }

  /** A text field with its label, an optional hint and an error line. */
  function field(key, type, label, attrs, hint) {
    const id = "sub-" + key;
    const hintId = hint ? nextId("sub-hint") : null;
    const error = h("p", { class: "sub-error", id: "sub-error-" + key, hidden: true });
    const described = (hint ? hintId + " " : "") + error.id;
    return h(
      "div",
      { class: "sub-field", "data-field": key },
      h("label", { for: id }, label),
      hint ? h("p", { class: "hint", id: hintId }, hint) : null,
      h("input", { id, name: key, type, ...attrs, "aria-describedby": described }),
      error,
    );
  }

  /** POST `value` as JSON under a deadline → {status, headers, body|null}; throws Unreachable. */
  async function post(url, value) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), DEADLINE_MS);
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(value),
        cache: "no-store",
        credentials: "omit",
        signal: controller.signal,
      });
      const text = await response.text();
      let body = null;
      try {
        body = JSON.parse(text);
      } catch (err) {
        if (!(err instanceof SyntaxError)) throw err;
      }
      return { status: response.status, headers: response.headers, body };
    } catch (err) {
      if (err instanceof TypeError || (err && err.name === "AbortError")) {
        throw new ns.api.Unreachable(String(err.message || err));
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Run `run` as a job of the page's queue (one request at a time); → its result. */
  function queued(client, name, run) {
    return new Promise((resolve, reject) => {
      client.schedule(name, () => run().then(resolve, reject));
    });
  }

  class Subscribe {
    /** Build the form into `box`; it stays hidden until statusd said what it offers. (Not a
     *  <details>: Chromium's Tab from a focused last child of one goes back to its start.) */
    constructor(box, client) {
      this.box = box;
      this.client = client;
      this.country = null;
      this.prefilled = null;
      this.touched = false;
      this.options = null;
      this.build();
      box.hidden = true;
    }

    /** (Re)build the form in the page's language. */
    build() {
      this.status = h("div", { class: "sub-status", role: "status", tabindex: "-1" });
      this.button = h("button", { type: "submit", class: "sub-submit" }, t("page.sub.submit"));
      this.onlyLabel = h("span", null, "");
      const only = h(
        "label",
        { class: "sub-choice" },
        h("input", { type: "radio", name: "scope", value: "one" }),
        " ",
        this.onlyLabel,
      );
      const formats = FORMATS.map((k) => choice("radio", "format", k, t("page.sub.format." + k)));
      const all = choice("radio", "scope", "all", t("page.sub.all_countries"));
      this.form = h(
        "form",
        { class: "sub-form", novalidate: true, "aria-labelledby": "subscribe-title" },
        h("p", null, t("page.sub.intro")),
        group(
          "products",
          t("page.sub.products"),
          PRODUCTS.map((p) => choice("checkbox", "product", p, t("page.sub.product." + p))),
        ),
        group("countries", t("page.sub.countries"), only, all),
        group(
          "channel",
          t("page.sub.channel"),
          choice("radio", "channel", "email", t("page.sub.by_email")),
          choice("radio", "channel", "webhook", t("page.sub.by_webhook")),
        ),
        field("email", "email", t("page.sub.email"), { autocomplete: "email", spellcheck: "false" }),
        field("webhook", "url", t("page.sub.webhook"), { spellcheck: "false" }, t("page.sub.webhook_hint")),
        group("format", t("page.sub.format"), formats),
        h("p", null, this.button),
        this.status,
      );
      this.form.elements.scope.value = "one";
      this.form.elements.format.value = "json";
      this.form.addEventListener("submit", (event) => {
        event.preventDefault();
        this.submit();
      });
      this.form.addEventListener("change", (event) => {
        if (event.target.name === "product") this.touched = true;
        if (event.target.name === "channel") this.showChannel();
      });
      fill(this.box, h("h3", { id: "subscribe-title" }, t("page.sub.title")), this.form);
    }

    /** Draw the form again in the page's language, keeping what the visitor entered. */
    relabel() {
      const old = this.form.elements;
      const kept = {
        products: [...old.product].filter((b) => b.checked).map((b) => b.value),
        values: ["scope", "channel", "format", "email", "webhook"].map((k) => [k, old[k].value]),
        hidden: [...this.form.querySelectorAll("[data-field]")].map((el) => el.hidden),
      };
      this.build();
      const el = this.form.elements;
      for (const box of el.product) box.checked = kept.products.includes(box.value);
      for (const [key, value] of kept.values) el[key].value = value;
      this.form.querySelectorAll("[data-field]").forEach((node, i) => {
        node.hidden = kept.hidden[i];
      });
      if (this.country) this.labelCountry(this.country);
    }

    labelCountry(code) {
      fill(this.onlyLabel, t("page.sub.only_country", { country: ns.geo.nameOf(code), code }));
    }

    /** Ask statusd which channels it offers; without an answer the form stays hidden. */
    async start() {
      try {
        const r = await queued(this.client, "subscribe-options", () =>
          this.client.get("api/subscriptions/options", null),
        );
        if (r.status !== 200 || !r.body || typeof r.body.email !== "boolean") return;
        this.options = { email: r.body.email, webhook: r.body.webhook !== false };
      } catch (err) {
        if (!(err instanceof ns.api.Unreachable)) throw err;
        return;
      }
      const channels = this.form.elements.channel;
      channels.value = this.options.email ? "email" : "webhook";
      const both = this.options.email && this.options.webhook;
      this.form.querySelector('[data-field="channel"]').hidden = !both;
      this.showChannel();
      this.follow(this.country, this.products || []);
    }

    showChannel() {
      const byEmail = this.form.elements.channel.value === "email";
      for (const key of ["email", "webhook", "format"]) {
        this.form.querySelector(`[data-field="${key}"]`).hidden = byEmail !== (key === "email");
      }
    }

    /** The picked country and the products it has: pre-fill the scope when the country
     *  changes (or its products do, as long as the visitor has not changed the ticks). */
    follow(code, products) {
      this.country = code;
      this.products = products;
      this.box.hidden = !code || !this.options;
      if (!code) return;
      const keys = products.map((p) => p.key);
      const key = code + ":" + keys.join(",");
      if (key === this.prefilled) return;
      const moved = !this.prefilled || !this.prefilled.startsWith(code + ":");
      if (!moved && this.touched) return;
      this.prefilled = key;
      this.touched = false;
      this.labelCountry(code);
      if (moved) this.form.elements.scope.value = "one";
      for (const box of this.form.elements.product) box.checked = keys.includes(box.value);
    }

    /** The JSON body of the sign-up, from the form as it is now. */
    request() {
      const el = this.form.elements;
      const products = [...el.product].filter((b) => b.checked).map((b) => b.value);
      const common = {
        products,
        countries: el.scope.value === "one" ? [this.country] : [],
        lang: i18n.lang(),
      };
      if (el.channel.value === "email") return { email: el.email.value.trim(), ...common };
      return { webhook: el.webhook.value.trim(), format: el.format.value, ...common };
    }

    async submit() {
      if (this.form.getAttribute("aria-busy") === "true") return;
      this.clearErrors();
      const value = this.request();
      if (!value.products.length) {
        this.fail("products", t("page.sub.no_product"));
        return;
      }
      this.form.setAttribute("aria-busy", "true");
      this.button.disabled = true;
      fill(this.button, t("page.sub.sending"));
      fill(this.status);
      this.status.dataset.state = "sending";
      try {
        const url = this.client.base + "api/subscriptions";
        const r = await queued(this.client, "subscribe", () => post(url, value));
        this.answer(r, value);
      } catch (err) {
        if (!(err instanceof ns.api.Unreachable)) throw err;
        this.fail(null, t("page.sub.offline"));
      } finally {
        this.form.removeAttribute("aria-busy");
        this.button.disabled = false;
        fill(this.button, t("page.sub.submit"));
      }
    }

    answer(r, value) {
      const reason = r.body && typeof r.body.error === "string" ? r.body.error : null;
      if (r.status === 202) this.done(t("page.sub.pending", { address: value.email }));
      else if (r.status === 201 && r.body && r.body.secret) this.done(t("page.sub.created"), r.body);
      else if (r.status === 429) {
        const after = Number(r.headers.get("Retry-After"));
        const words = after > 0 ? wait(after) : t("page.sub.later");
        this.fail(null, t("page.sub.too_many", { wait: words }));
      } else if (reason) this.fail(fieldOf(reason), reason);
      else this.fail(null, t("page.sub.failed", { status: r.status }));
    }

    /** Success: the message, and a webhook's id, secret and token with a Copy button. */
    done(message, created) {
      this.status.dataset.state = "ok";
      const parts = [h("p", null, message)];
      if (created) {
        const id = nextId("sub-secret");
        const said = h("span", { "aria-live": "polite" });
        const attrs = { id, class: "sub-secret", readonly: true, rows: "3", spellcheck: "false" };
        const text = h("textarea", attrs);
        text.value = `id: ${created.id}\nsecret: ${created.secret}\ntoken: ${created.token}`;
        const copy = h("button", { type: "button" }, t("page.badge.copy"));
        copy.addEventListener("click", () =>
          ns.dom.copyValue(text, (ok) => fill(said, t(ok ? "page.badge.copied" : "page.badge.selected"))),
        );
        parts.push(h("label", { for: id }, t("page.sub.secret_label")), text, h("p", null, copy, " ", said));
      }
      fill(this.status, parts);
      this.status.focus();
    }

    /** An error: next to its field when it concerns one (aria-invalid), and in the status. */
    fail(key, reason) {
      this.status.dataset.state = "error";
      const target = key && this.form.querySelector(`[data-field="${key}"]:not([hidden])`);
      if (target) {
        const error = target.querySelector(".sub-error");
        fill(error, reason);
        error.hidden = false;
        const input = target.querySelector("input:not([type=radio]):not([type=checkbox])");
        (input || target).setAttribute("aria-invalid", "true");
      }
      const anchor = target ? target.querySelector("input") : null;
      if (anchor && !anchor.id) anchor.id = nextId("sub-in");
      const shown = anchor ? h("a", { href: "#" + anchor.id }, reason) : reason;
      fill(this.status, h("p", null, i18n.tparts("page.sub.not_sent", { reason: shown })));
      this.status.focus();
    }

    clearErrors() {
      for (const error of this.form.querySelectorAll(".sub-error")) error.hidden = true;
      for (const bad of this.form.querySelectorAll("[aria-invalid]")) {
        bad.removeAttribute("aria-invalid");
      }
    }
  }

  /** The form in `box`; it asks statusd for its channels only when the page is statusd's
   *  own (the write routes take no cross-origin requests). */
  function mount(box, client, sameOrigin) {
    const form = new Subscribe(box, client);
    if (sameOrigin) form.start();
    return form;
  }

  ns.viewSubscribe = { mount, fieldOf };
})((window.StatusPage = window.StatusPage || {}));
