package controllers

import "strings"

// The HTTP headers of the API beyond the ones every response has. Handlers
// read and write them by these names, and the CORS policy (corsPolicy) is
// built from the two lists below, so a header added to the API is one a
// browser on an allowed origin can send or read: a request header missing
// from the preflight makes the browser refuse the whole request before it
// is sent, and a response header that is not exposed is invisible to the
// page's script. TestCORSCoversTheDocument holds the lists to what
// apidocs/openapi.yaml names.
const (
	headerAuthorization      = "Authorization"
	headerContentType        = "Content-Type"
	headerIfMatch            = "If-Match"
	headerIfNoneMatch        = "If-None-Match"
	headerIdempotencyKey     = "Idempotency-Key"
	headerRequestID          = "X-Request-ID"
	headerLastEventID        = "Last-Event-ID"
	headerETag               = "ETag"
	headerLocation           = "Location"
	headerRetryAfter         = "Retry-After"
	headerWWWAuthenticate    = "WWW-Authenticate"
	headerIdempotentReplayed = "Idempotent-Replayed"
)

// requestHeaders are the headers a browser may send: they pass the CORS
// preflight. Last-Event-ID is what a reconnecting event stream sends.
var requestHeaders = []string{
	headerAuthorization,
	headerContentType,
	headerIfMatch,
	headerIfNoneMatch,
	headerIdempotencyKey,
	headerRequestID,
	headerLastEventID,
}

// responseHeaders are the headers a page's script may read
// (Access-Control-Expose-Headers). The CORS-safelisted ones (Content-Type,
// Cache-Control, ...) need no listing.
var responseHeaders = []string{
	headerETag,
	headerLocation,
	headerRequestID,
	headerRetryAfter,
	headerWWWAuthenticate,
	headerIdempotentReplayed,
}

// listHas tells whether a comma-separated header value (Allow, Vary, ...)
// names item; header names and methods compare case-insensitively.
func listHas(list, item string) bool {
	for _, v := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(v), item) {
			return true
		}
	}
	return false
}
