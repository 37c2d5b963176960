// Base URL of the imgpipe HTTP API. "" means the same origin that served this page
// (as under `imgpipe serve`). For a static deployment set it to the API's URL,
// e.g. "https://abc123.execute-api.eu-west-1.amazonaws.com".
export const API_URL = "";
