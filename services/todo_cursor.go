package services

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// cursor is the position after the last row of a page.
type cursor struct {
	Sort    string `json:"s"`
	Filters string `json:"f"`
	// Value is the sort column of the last row, as its sortKey writes it;
	// nil for a NULL.
	Value any   `json:"v"`
	ID    int64 `json:"i"`
}

// maxCursorLength bounds what decode reads: the longest cursor (a 255
// character title of control characters, each escaped to six bytes) is
// about 2,200 characters.
const maxCursorLength = 4096

// cursorCodec signs cursors so that a tampered one is refused rather than
// trusted: base64url(JSON) "." base64url(HMAC-SHA256[:16]).
type cursorCodec struct {
	key []byte
}

func (cc cursorCodec) encode(c cursor) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keeps cursors of titles full of <>& short
	enc.Encode(c)
	payload := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(cc.sign(payload))
}

func (cc cursorCodec) sign(payload []byte) []byte {
	mac := hmac.New(sha256.New, cc.key)
	mac.Write([]byte("todo-api cursor v1\x00"))
	mac.Write(payload)
	return mac.Sum(nil)[:16]
}

// decode checks the signature and returns the cursor. Numbers in Value
// come back as json.Number, exact for any int64.
func (cc cursorCodec) decode(s string) (cursor, error) {
	var c cursor
	if len(s) > maxCursorLength {
		return c, fmt.Errorf("cursor too long")
	}
	body, sig, ok := strings.Cut(s, ".")
	if !ok {
		return c, fmt.Errorf("malformed cursor")
	}
	payload, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return c, err
	}
	given, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return c, err
	}
	if !hmac.Equal(given, cc.sign(payload)) {
		return c, fmt.Errorf("cursor signature mismatch")
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		return c, err
	}
	return c, nil
}
