// The API description at /docs: Swagger UI (from the swagger-ui-py package, served under
// /static/swagger-ui/) started here rather than by an inline script, so the page keeps the
// console's Content-Security-Policy. "Try it out" sends the session's CSRF token like the
// console does; nothing is fetched from anywhere but the console itself.
"use strict";

window.addEventListener("DOMContentLoaded", function () {
  const body = document.body;
  window.SwaggerUIBundle({
    url: body.dataset.openapi,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    requestInterceptor: function (request) {
      request.headers["X-CSRF-Token"] = body.dataset.csrf;
      return request;
    },
  });
});
