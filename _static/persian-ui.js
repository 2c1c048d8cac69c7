/* Persian for the few interface strings that extensions build in JavaScript, in English only:
 * sphinx-copybutton's tooltips (its message table has no "fa") and sphinx-togglebutton's
 * button label. Runs on every page (Jupyter Book loads every .js of _static/); no-op where absent. */
(() => {
  if (typeof messages !== "undefined" && typeof locale !== "undefined" && document.documentElement.lang === "fa") {
    messages.fa = {
      copy: "رونوشت",
      copy_to_clipboard: "رونوشت در حافظهٔ موقت",
      copy_success: "رونوشت شد",
      copy_failure: "رونوشت نشد",
    };
    locale = "fa";  // copybutton.js chose "en" when it loaded
  }
  const label = () => {
    for (const button of document.querySelectorAll("button.toggle-button[aria-label='Toggle hidden content']")) {
      button.setAttribute("aria-label", "باز و بسته کردن");
    }
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", label);
  else label();
})();
