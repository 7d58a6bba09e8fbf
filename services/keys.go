package services

import (
	"crypto/hmac"
	"crypto/sha256"
)

// DeriveKey is the key for one purpose, derived from the service's secret
// (BETTER_AUTH_SECRET): HMAC-SHA256 of the purpose under the secret. Each
// use of the secret beyond signing tokens (pagination cursors, the keys of
// the rate limit and failure counter rows) takes its own, so that no two
// uses ever share a key and none reveals the secret.
func DeriveKey(secret []byte, purpose string) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(purpose))
	return mac.Sum(nil)
}
