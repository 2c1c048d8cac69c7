/* pydata-sphinx-theme 0.17 and sphinx-book-theme 1.3 bind their sidebar
 * handlers to the FIRST .primary-toggle/.secondary-toggle in the page, a navbar
 * button that sphinx-book-theme hides; the visible article-header buttons then
 * do nothing (pydata-sphinx-theme#2451). Forward their clicks to the bound one. */
document.addEventListener("DOMContentLoaded", () => {
  for (const selector of [".primary-toggle", ".secondary-toggle"]) {
    const [bound, ...others] = document.querySelectorAll(selector);
    for (const button of others) {
      button.addEventListener("click", (event) => {
        event.preventDefault();
        event.stopPropagation();
        bound.click();
      });
    }
  }
});
