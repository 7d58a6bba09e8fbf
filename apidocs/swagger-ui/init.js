// Starts Swagger UI on the embedded OpenAPI document. Authorize with the
// OAuth2 password form (username + password) or paste a bearer token.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true,
  displayRequestDuration: true,
  tryItOutEnabled: true,
});
