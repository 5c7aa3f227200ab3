// The country picker: an ARIA 1.2 combobox with a list of matches (name, common name or
// code), operable with the keyboard alone.
"use strict";
(function (ns) {
  const { h, fill } = ns.dom;
  const { geo, i18n } = ns;

  /**
   * Wire the combobox `input` + `listbox`. `withData()` returns the Set of codes that have
   * data; `onPick(code)` is called when the user chooses a country.
   */
  class Picker {
    constructor(input, listbox, { withData, onPick }) {
      this.input = input;
      this.listbox = listbox;
      this.withData = withData;
      this.onPick = onPick;
      this.matches = [];
      this.active = -1;
      this.chosen = null;
      input.addEventListener("input", () => this.open());
      input.addEventListener("focus", () => input.select());
      input.addEventListener("keydown", (event) => this.key(event));
      input.addEventListener("blur", () => this.close(true));
      // mousedown would blur the input before the click lands; keep the focus.
      listbox.addEventListener("mousedown", (event) => event.preventDefault());
      listbox.addEventListener("click", (event) => {
        const option = event.target.closest("[role=option]");
        if (option) this.pick(option.dataset.code);
      });
    }

    /** Show `code` as the current choice without calling onPick. */
    show(code) {
      this.chosen = code;
      this.input.value = code ? i18n.t("page.picker.value", { country: geo.nameOf(code), code }) : "";
    }

    open() {
      this.matches = geo.search(this.input.value, this.withData(), 50);
      this.active = this.matches.length ? 0 : -1;
      this.render();
    }

    close(restore) {
      this.listbox.hidden = true;
      this.input.setAttribute("aria-expanded", "false");
      this.input.removeAttribute("aria-activedescendant");
      if (restore) this.show(this.chosen);
    }

    pick(code) {
      if (!code) return;
      this.show(code);
      this.close(false);
      this.onPick(code);
    }

    key(event) {
      const expanded = !this.listbox.hidden;
      switch (event.key) {
        case "ArrowDown":
        case "ArrowUp": {
          event.preventDefault();
          if (!expanded) return this.open();
          const step = event.key === "ArrowDown" ? 1 : -1;
          const n = this.matches.length;
          if (n) this.active = (this.active + step + n) % n;
          return this.render();
        }
        case "Enter":
          if (expanded && this.active >= 0) {
            event.preventDefault();
            this.pick(this.matches[this.active].code);
          }
          return undefined;
        case "Escape":
          if (expanded) {
            event.preventDefault();
            this.close(true);
          }
          return undefined;
        default:
          return undefined;
      }
    }

    render() {
      const options = this.matches.map((m, i) =>
        h(
          "li",
          {
            role: "option",
            id: "country-option-" + m.code,
            "data-code": m.code,
            "aria-selected": String(i === this.active),
            class: ["option", i === this.active && "active"],
          },
          h("span", { class: "flag", "aria-hidden": "true" }, geo.flag(m.code)),
          h("span", { class: "option-name" }, m.name),
          h("span", { class: "code" }, m.code),
          m.hasData ? null : h("span", { class: "no-data" }, i18n.t("page.picker.no_data")),
        ),
      );
      if (!options.length) {
        const none = i18n.t("page.picker.no_match");
        options.push(h("li", { class: "option empty", "aria-disabled": "true" }, none));
      }
      fill(this.listbox, options);
      this.listbox.hidden = false;
      this.input.setAttribute("aria-expanded", "true");
      if (this.active >= 0) {
        const id = "country-option-" + this.matches[this.active].code;
        this.input.setAttribute("aria-activedescendant", id);
        document.getElementById(id).scrollIntoView({ block: "nearest" });
      } else this.input.removeAttribute("aria-activedescendant");
    }
  }

  ns.Picker = Picker;
})((window.StatusPage = window.StatusPage || {}));
