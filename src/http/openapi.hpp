// The OpenAPI 3.1 description of /v1 (docs/openapi-v1.json), built into the program and
// served at GET /v1/openapi.json.
#pragma once

namespace haineko {

extern const char* const kOpenApiV1;

}  // namespace haineko
